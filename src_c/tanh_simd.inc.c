/*
 * A vectorized tanh for float, a template: kernels_x86.c includes it inside a
 * `target` pragma with the macros of kernels_simd.inc.c and these defined
 * (tanh_simd_f64.inc.c, for double, uses the same ones):
 *   VMUL VSUB VDIV VMIN VMAX (a, b)   VABS(x)   VCOPYSIGN(magnitude, sign)
 *   VSELECT_LT(x, limit, a, b): a where x < limit, else b (b where x is NaN)
 *   VROUND(x): to the nearest integer   VPOW2(n): 2^n for integral n in [-126, 127]
 *
 * After Cephes' tanhf: below |x| = 0.625 an odd polynomial, x + x^3 P(x^2);
 * above, 1 - 2 / (exp(2|x|) + 1) with the sign of x, where exp is reduced to
 * 2^n exp(r), |r| <= ln(2)/2, and a degree-6 polynomial. Both are accurate to a
 * few ulp (the tests measure it against the C library on every path). VMIN
 * takes the argument to clamp first, so that a NaN passes through.
 */
static void FN(tanh)(real *x, ptrdiff_t n) {
    const VEC one = VSET1(1.0f), two = VSET1(2.0f);
    for (ptrdiff_t i = 0; i < n; i += W) {
        const int tail = n - i < W ? (int)(n - i) : W;
        const MASK_T mask = VMASK(tail);
        const VEC v = tail == W ? VLOAD(x + i) : VMASKLOAD(x + i, mask);
        const VEC a = VABS(v);
        /* |x| < 0.625 */
        const VEC s = VMUL(v, v);
        VEC p = VSET1(-5.70498872745e-3f);
        p = VFMA(p, s, VSET1(2.06390887954e-2f));
        p = VFMA(p, s, VSET1(-5.37397155531e-2f));
        p = VFMA(p, s, VSET1(1.33314422036e-1f));
        p = VFMA(p, s, VSET1(-3.33332819422e-1f));
        const VEC small = VFMA(VMUL(v, s), p, v);
        /* |x| >= 0.625: exp(z), z = 2|x| clamped where tanh is 1 in float */
        const VEC z = VMIN(VSET1(40.0f), VMUL(two, a));
        const VEC k = VROUND(VMUL(z, VSET1(1.44269504088896341f)));
        VEC r = VFMA(k, VSET1(-0.693359375f), z);
        r = VFMA(k, VSET1(2.12194440e-4f), r);
        VEC e = VSET1(1.9875691500e-4f);
        e = VFMA(e, r, VSET1(1.3981999507e-3f));
        e = VFMA(e, r, VSET1(8.3334519073e-3f));
        e = VFMA(e, r, VSET1(4.1665795894e-2f));
        e = VFMA(e, r, VSET1(1.6666665459e-1f));
        e = VFMA(e, r, VSET1(5.0000001201e-1f));
        e = VFMA(VMUL(e, r), r, VADD(r, one));
        e = VMUL(e, VPOW2(k));
        const VEC large = VCOPYSIGN(VSUB(one, VDIV(two, VADD(e, one))), v);
        const VEC t = VSELECT_LT(a, VSET1(0.625f), small, large);
        if (tail == W) VSTORE(x + i, t);
        else VMASKSTORE(x + i, mask, t);
    }
}
