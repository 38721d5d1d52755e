/*
 * A vectorized tanh, a template: kernels_x86.c includes it inside a `target`
 * pragma, after kernels_simd.inc.c, with its macros and these defined:
 *   VMUL VSUB VDIV VMIN (a, b)   VABS(x)   VCOPYSIGN(magnitude, sign)
 *   VSELECT_LT(x, limit, a, b): a where x < limit, else b (b where x is NaN)
 *   VROUND(x): to the nearest integer   VPOW2(n): 2^n for integral n
 *   CRNN_DOUBLE: 1 for double, 0 for float
 *
 * After Cephes' tanhf and tanh: below |x| = 0.625 an odd polynomial (float)
 * or rational function (double) in x; above, 1 - 2 / (exp(2|x|) + 1) with
 * the sign of x, where exp(z) = 2^n exp(r), |r| <= ln(2)/2, exp(r) from
 * Cephes' expf polynomial or exp Pade form. Within 1.3 ulp of the exact value
 * here (the tests measure every path). VMIN takes the argument to clamp
 * first, so that a NaN passes through; z is clamped where tanh is 1.
 */

#if CRNN_DOUBLE
/* |x| < 0.625: x + x^3 P(x^2) / Q(x^2) */
CRNN_INLINE VEC FN(tanh_small)(VEC v) {
    const VEC s = VMUL(v, v);
    VEC p = VSET1(-9.64399179425052238628e-1);
    p = VFMA(p, s, VSET1(-9.92877231001918586564e1));
    p = VFMA(p, s, VSET1(-1.61468768441708447952e3));
    VEC q = VADD(s, VSET1(1.12811678491632931402e2));
    q = VFMA(q, s, VSET1(2.23548839060100448583e3));
    q = VFMA(q, s, VSET1(4.84406305325125486048e3));
    return VFMA(VMUL(v, s), VDIV(p, q), v);
}

/* exp(z) for -708 <= z <= 709: 2^k (1 + 2 r P(r^2) / (Q(r^2) - r P(r^2))) */
CRNN_INLINE VEC FN(exp_reduced)(VEC z) {
    const VEC k = VROUND(VMUL(z, VSET1(1.4426950408889634073599)));
    VEC r = VFMA(k, VSET1(-6.93145751953125e-1), z);
    r = VFMA(k, VSET1(-1.42860682030941723212e-6), r);
    const VEC rr = VMUL(r, r);
    VEC p = VSET1(1.26177193074810590878e-4);
    p = VFMA(p, rr, VSET1(3.02994407707441961300e-2));
    p = VFMA(p, rr, VSET1(9.99999999999999999910e-1));
    p = VMUL(p, r);
    VEC q = VSET1(3.00198505138664455042e-6);
    q = VFMA(q, rr, VSET1(2.52448340349684104192e-3));
    q = VFMA(q, rr, VSET1(2.27265548208155028766e-1));
    q = VFMA(q, rr, VSET1(2.00000000000000000009e0));
    return VMUL(VFMA(VSET1(2.0), VDIV(p, VSUB(q, p)), VSET1(1.0)), VPOW2(k));
}
#else
/* |x| < 0.625: x + x^3 P(x^2) */
CRNN_INLINE VEC FN(tanh_small)(VEC v) {
    const VEC s = VMUL(v, v);
    VEC p = VSET1(-5.70498872745e-3f);
    p = VFMA(p, s, VSET1(2.06390887954e-2f));
    p = VFMA(p, s, VSET1(-5.37397155531e-2f));
    p = VFMA(p, s, VSET1(1.33314422036e-1f));
    p = VFMA(p, s, VSET1(-3.33332819422e-1f));
    return VFMA(VMUL(v, s), p, v);
}

/* exp(z) for -87 <= z <= 88: 2^k (1 + r + r^2 P(r)) */
CRNN_INLINE VEC FN(exp_reduced)(VEC z) {
    const VEC k = VROUND(VMUL(z, VSET1(1.44269504088896341f)));
    VEC r = VFMA(k, VSET1(-0.693359375f), z);
    r = VFMA(k, VSET1(2.12194440e-4f), r);
    VEC e = VSET1(1.9875691500e-4f);
    e = VFMA(e, r, VSET1(1.3981999507e-3f));
    e = VFMA(e, r, VSET1(8.3334519073e-3f));
    e = VFMA(e, r, VSET1(4.1665795894e-2f));
    e = VFMA(e, r, VSET1(1.6666665459e-1f));
    e = VFMA(e, r, VSET1(5.0000001201e-1f));
    e = VFMA(VMUL(e, r), r, VADD(r, VSET1(1.0f)));
    return VMUL(e, VPOW2(k));
}
#endif

/* tanh of every lane */
CRNN_INLINE VEC FN(tanh_vec)(VEC v) {
    const VEC one = VSET1((real)1), two = VSET1((real)2), a = VABS(v);
    const VEC e = FN(exp_reduced)(VMIN(VSET1((real)40), VMUL(two, a)));
    const VEC large = VCOPYSIGN(VSUB(one, VDIV(two, VADD(e, one))), v);
    return VSELECT_LT(a, VSET1((real)0.625), FN(tanh_small)(v), large);
}

static void FN(tanh)(real *x, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i += W) {
        const int tail = n - i < W ? (int)(n - i) : W;
        const MASK_T mask = VMASK(tail);
        const VEC t = FN(tanh_vec)(tail == W ? VLOAD(x + i) : VMASKLOAD(x + i, mask));
        if (tail == W) VSTORE(x + i, t);
        else VMASKSTORE(x + i, mask, t);
    }
}

/* x (n) <- 1 / (1 + exp(-x)) = 1 / (1 + e) with e = exp(-|x|), and
 * e / (1 + e) for x < 0, so the small side keeps its relative accuracy (one
 * division either way: e * (1 / (1 + e)) measured 3.0 ulp, this 2.3). -|x| is clamped
 * at the exponent's range (-87 in float, -708 in double): below it the
 * result is under the smallest normal number anyway. */
CRNN_INLINE VEC FN(sigmoid_vec)(VEC v) {
    const VEC one = VSET1((real)1), zero = VZERO();
    const VEC low = VSET1(CRNN_DOUBLE ? (real)-708 : (real)-87);
    const VEC e = FN(exp_reduced)(VMAX(low, VSUB(zero, VABS(v)))); /* a NaN passes VMAX */
    return VDIV(VSELECT_LT(v, zero, e, one), VADD(one, e));
}

static void FN(sigmoid)(real *x, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i += W) {
        const int tail = n - i < W ? (int)(n - i) : W;
        const MASK_T mask = VMASK(tail);
        const VEC t = FN(sigmoid_vec)(tail == W ? VLOAD(x + i) : VMASKLOAD(x + i, mask));
        if (tail == W) VSTORE(x + i, t);
        else VMASKSTORE(x + i, mask, t);
    }
}

/* d (n) <- exp(y - shift), arguments clamped below at the exponent's range
 * (-87 in float, -708 in double): exp of less is below the smallest normal
 * number, and adds nothing to a softmax's sum of at least 1. */
static void FN(exp_shifted)(real *d, const real *y, ptrdiff_t n, real shift) {
    const VEC s = VSET1(shift), low = VSET1(CRNN_DOUBLE ? (real)-708 : (real)-87);
    for (ptrdiff_t i = 0; i < n; i += W) {
        const int tail = n - i < W ? (int)(n - i) : W;
        const MASK_T mask = VMASK(tail);
        const VEC v = tail == W ? VLOAD(y + i) : VMASKLOAD(y + i, mask);
        const VEC e = FN(exp_reduced)(VMAX(low, VSUB(v, s))); /* a NaN passes VMAX */
        if (tail == W) VSTORE(d + i, e);
        else VMASKSTORE(d + i, mask, e);
    }
}
