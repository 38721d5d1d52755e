/*
 * A vectorized tanh for double, a template: kernels_x86.c includes it inside a
 * `target` pragma with the macros of tanh_simd.inc.c defined for double.
 *
 * After Cephes' tanh: below |x| = 0.625, x + x^3 P(x^2)/Q(x^2); above,
 * 1 - 2 / (exp(2|x|) + 1) with the sign of x, where exp(z) = 2^n exp(r),
 * |r| <= ln(2)/2, and exp(r) = 1 + 2 r P(r^2) / (Q(r^2) - r P(r^2)) (Cephes'
 * exp). Both within a few ulp; the tests measure it on every path. 2^n is
 * built in the exponent field: n + 2^52 + 1023 holds n + 1023 in the low
 * bits of its mantissa, and a shift by 52 moves them into the exponent.
 */
static void FN(tanh)(real *x, ptrdiff_t n) {
    const VEC one = VSET1(1.0), two = VSET1(2.0);
    for (ptrdiff_t i = 0; i < n; i += W) {
        const int tail = n - i < W ? (int)(n - i) : W;
        const MASK_T mask = VMASK(tail);
        const VEC v = tail == W ? VLOAD(x + i) : VMASKLOAD(x + i, mask);
        const VEC a = VABS(v);
        /* |x| < 0.625 */
        const VEC s = VMUL(v, v);
        VEC p = VSET1(-9.64399179425052238628e-1);
        p = VFMA(p, s, VSET1(-9.92877231001918586564e1));
        p = VFMA(p, s, VSET1(-1.61468768441708447952e3));
        VEC q = VADD(s, VSET1(1.12811678491632931402e2));
        q = VFMA(q, s, VSET1(2.23548839060100448583e3));
        q = VFMA(q, s, VSET1(4.84406305325125486048e3));
        const VEC small = VFMA(VMUL(v, s), VDIV(p, q), v);
        /* |x| >= 0.625: exp(z), z = 2|x| clamped where tanh is 1 in double */
        const VEC z = VMIN(VSET1(40.0), VMUL(two, a));
        const VEC k = VROUND(VMUL(z, VSET1(1.4426950408889634073599)));
        VEC r = VFMA(k, VSET1(-6.93145751953125e-1), z);
        r = VFMA(k, VSET1(-1.42860682030941723212e-6), r);
        const VEC rr = VMUL(r, r);
        VEC ep = VSET1(1.26177193074810590878e-4);
        ep = VFMA(ep, rr, VSET1(3.02994407707441961300e-2));
        ep = VFMA(ep, rr, VSET1(9.99999999999999999910e-1));
        ep = VMUL(ep, r);
        VEC eq = VSET1(3.00198505138664455042e-6);
        eq = VFMA(eq, rr, VSET1(2.52448340349684104192e-3));
        eq = VFMA(eq, rr, VSET1(2.27265548208155028766e-1));
        eq = VFMA(eq, rr, VSET1(2.00000000000000000009e0));
        VEC e = VFMA(two, VDIV(ep, VSUB(eq, ep)), one);
        e = VMUL(e, VPOW2(k));
        const VEC large = VCOPYSIGN(VSUB(one, VDIV(two, VADD(e, one))), v);
        const VEC t = VSELECT_LT(a, VSET1(0.625), small, large);
        if (tail == W) VSTORE(x + i, t);
        else VMASKSTORE(x + i, mask, t);
    }
}
