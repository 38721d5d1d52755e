/*
 * Element-wise SIMD kernels over flat arrays, a template: kernels_x86.c
 * includes it after tanh_simd.inc.c, with the same macros, plus VSQRT and
 * VMAX. The optimizers' updates and gradient clipping: one pass over every
 * parameter, with full vectors and a masked tail. Their formulas are those of
 * the portable versions in kernels_portable.inc.c (crnn.h states them); the
 * products here are fused (FMA), so the last bits may differ.
 */

/* Each loop runs over the vectors of an n-element array: `full` says whether
 * the vector at i has all W lanes, `mask` which lanes it has. */
#define LOADV(p) (full ? VLOAD(p) : VMASKLOAD(p, mask))
#define STOREV(p, v)                                                              \
    do {                                                                          \
        if (full) VSTORE(p, v);                                                   \
        else VMASKSTORE(p, mask, v);                                              \
    } while (0)

static void FN(clip)(real *g, ptrdiff_t n, double limit) {
    const VEC hi = VSET1((real)limit), lo = VSET1(-(real)limit);
    /* VMAX/VMIN return their second argument when either is NaN: NaN stays */
    for (ptrdiff_t i = 0; i < n; i += W) {
        const int full = n - i >= W;
        const MASK_T mask = VMASK(full ? W : (int)(n - i));
        STOREV(g + i, VMIN(hi, VMAX(lo, LOADV(g + i))));
    }
}

static void FN(adagrad)(real *p, real *memory, const real *g, ptrdiff_t n, double lr,
                        double eps) {
    const VEC a = VSET1((real)lr), e = VSET1((real)eps);
    for (ptrdiff_t i = 0; i < n; i += W) {
        const int full = n - i >= W;
        const MASK_T mask = VMASK(full ? W : (int)(n - i));
        const VEC gv = LOADV(g + i);
        const VEC m = VFMA(gv, gv, LOADV(memory + i));
        STOREV(memory + i, m);
        STOREV(p + i, VSUB(LOADV(p + i), VDIV(VMUL(a, gv), VSQRT(VADD(m, e)))));
    }
}

static void FN(rmsprop)(real *p, real *mean_square, const real *g, ptrdiff_t n, double lr,
                        double rho, double eps) {
    const VEC a = VSET1((real)lr), r = VSET1((real)rho), r1 = VSET1((real)(1 - rho));
    const VEC e = VSET1((real)eps);
    for (ptrdiff_t i = 0; i < n; i += W) {
        const int full = n - i >= W;
        const MASK_T mask = VMASK(full ? W : (int)(n - i));
        const VEC gv = LOADV(g + i);
        const VEC ms = VFMA(VMUL(r1, gv), gv, VMUL(r, LOADV(mean_square + i)));
        STOREV(mean_square + i, ms);
        STOREV(p + i, VSUB(LOADV(p + i), VDIV(VMUL(a, gv), VADD(VSQRT(ms), e))));
    }
}

static void FN(adam)(real *p, real *m, real *v, const real *g, ptrdiff_t n, double lr,
                     double beta1, double beta2, double eps, double weight_decay,
                     int decoupled, int64_t step) {
    const double c1 = 1 - pow(beta1, (double)step), c2 = 1 - pow(beta2, (double)step);
    const VEC a = VSET1((real)(lr * sqrt(c2) / c1)), e = VSET1((real)(eps * sqrt(c2)));
    const VEC b1 = VSET1((real)beta1), b1c = VSET1((real)(1 - beta1));
    const VEC b2 = VSET1((real)beta2), b2c = VSET1((real)(1 - beta2));
    const VEC wd = VSET1((real)weight_decay), shrink = VSET1((real)(lr * weight_decay));
    for (ptrdiff_t i = 0; i < n; i += W) {
        const int full = n - i >= W;
        const MASK_T mask = VMASK(full ? W : (int)(n - i));
        VEC pv = LOADV(p + i), gv = LOADV(g + i);
        if (decoupled) pv = VSUB(pv, VMUL(shrink, pv));
        else gv = VFMA(wd, pv, gv);
        const VEC mv = VFMA(b1c, gv, VMUL(b1, LOADV(m + i)));
        const VEC vv = VFMA(VMUL(b2c, gv), gv, VMUL(b2, LOADV(v + i)));
        STOREV(m + i, mv);
        STOREV(v + i, vv);
        STOREV(p + i, VSUB(pv, VDIV(VMUL(a, mv), VADD(VSQRT(vv), e))));
    }
}

#undef LOADV
#undef STOREV
