/*
 * The gated cells' element-wise work in one pass, a template: simd_instance.inc.c
 * includes it after tanh_simd.inc.c (whose tanh_vec and sigmoid_vec it uses),
 * with the same macros. Each vector of hidden units loads its gates, takes
 * their activations and makes the new states while they are in registers:
 * the separate passes this replaces (sigmoid, tanh, the state update, the
 * tanh of c) read and wrote every gate three or four times a step. The
 * formulas, and the shapes, are those of kernels.h.
 */

/* the `lanes` elements at p: a whole vector, or its first lanes through mask */
#define CELL_LOAD(p) (lanes == W ? VLOAD(p) : VMASKLOAD(p, mask))
#define CELL_STORE(p, v)                      \
    do {                                      \
        if (lanes == W) VSTORE(p, v);         \
        else VMASKSTORE(p, mask, v);          \
    } while (0)
/* the hidden units of a row, a vector (or the last lanes) at a time */
#define CELL_UNITS(H) for (ptrdiff_t j = 0; j < (H); j += W)
#define CELL_LANES(H)                                    \
    const int lanes = (H) - j < W ? (int)((H) - j) : W; \
    const MASK_T mask = VMASK(lanes)

static void FN(lstm_cell)(real *gates, real *h, real *c, const real *c_prev, ptrdiff_t rows,
                          ptrdiff_t H) {
    for (ptrdiff_t b = 0; b < rows; b++) {
        real *i = gates + b * 4 * H, *f = i + H, *g = i + 2 * H, *o = i + 3 * H;
        real *c_b = c + b * H, *h_b = h + b * H;
        const real *cp = c_prev ? c_prev + b * H : NULL;
        CELL_UNITS(H) {
            CELL_LANES(H);
            const VEC vi = FN(sigmoid_vec)(CELL_LOAD(i + j));
            const VEC vf = FN(sigmoid_vec)(CELL_LOAD(f + j));
            const VEC vg = FN(tanh_vec)(CELL_LOAD(g + j));
            const VEC vo = FN(sigmoid_vec)(CELL_LOAD(o + j));
            const VEC vc = cp ? VFMA(vf, CELL_LOAD(cp + j), VMUL(vi, vg)) : VMUL(vi, vg);
            CELL_STORE(i + j, vi);
            CELL_STORE(f + j, vf);
            CELL_STORE(g + j, vg);
            CELL_STORE(o + j, vo);
            CELL_STORE(c_b + j, vc);
            CELL_STORE(h_b + j, VMUL(vo, FN(tanh_vec)(vc)));
        }
    }
}

static void FN(gru_cell)(real *gates, real *h, real *hn, const real *recurrent,
                         const real *h_prev, const real *bhn, ptrdiff_t rows, ptrdiff_t H) {
    const VEC one = VSET1((real)1);
    for (ptrdiff_t b = 0; b < rows; b++) {
        real *r = gates + b * 3 * H, *z = r + H, *n = r + 2 * H;
        real *hn_b = hn + b * H, *h_b = h + b * H;
        const real *rec = recurrent + b * 3 * H, *hp = h_prev ? h_prev + b * H : NULL;
        CELL_UNITS(H) {
            CELL_LANES(H);
            const VEC vr = FN(sigmoid_vec)(VADD(CELL_LOAD(r + j), CELL_LOAD(rec + j)));
            const VEC vz = FN(sigmoid_vec)(VADD(CELL_LOAD(z + j), CELL_LOAD(rec + H + j)));
            VEC vhn = CELL_LOAD(rec + 2 * H + j);
            if (bhn) vhn = VADD(vhn, CELL_LOAD(bhn + j));
            const VEC vn = FN(tanh_vec)(VFMA(vr, vhn, CELL_LOAD(n + j)));
            const VEC keep = hp ? VMUL(vz, CELL_LOAD(hp + j)) : VZERO();
            CELL_STORE(r + j, vr);
            CELL_STORE(z + j, vz);
            CELL_STORE(n + j, vn);
            CELL_STORE(hn_b + j, vhn);
            CELL_STORE(h_b + j, VFMA(VSUB(one, vz), vn, keep));
        }
    }
}

static void FN(lstm_cell_backward)(real *restrict d_gates, real *restrict carry_h,
                                   real *restrict carry_c, const real *restrict dh,
                                   const real *restrict gates, const real *restrict c,
                                   const real *restrict c_prev, ptrdiff_t H) {
    const real *i = gates, *f = gates + H, *g = gates + 2 * H, *o = gates + 3 * H;
    const VEC one = VSET1((real)1);
    CELL_UNITS(H) {
        CELL_LANES(H);
        const VEC vi = CELL_LOAD(i + j), vf = CELL_LOAD(f + j), vg = CELL_LOAD(g + j);
        const VEC vo = CELL_LOAD(o + j), tc = FN(tanh_vec)(CELL_LOAD(c + j));
        const VEC d_h = VADD(CELL_LOAD(dh + j), CELL_LOAD(carry_h + j));
        /* G_c = through c_(t+1) + G_h o tanh'(c_t) */
        const VEC d_c = VFMA(VMUL(d_h, vo), VSUB(one, VMUL(tc, tc)), CELL_LOAD(carry_c + j));
        CELL_STORE(d_gates + 3 * H + j, VMUL(VMUL(VMUL(d_h, tc), vo), VSUB(one, vo)));
        CELL_STORE(d_gates + j, VMUL(VMUL(VMUL(d_c, vg), vi), VSUB(one, vi)));
        CELL_STORE(d_gates + H + j,
                   VMUL(VMUL(VMUL(d_c, CELL_LOAD(c_prev + j)), vf), VSUB(one, vf)));
        CELL_STORE(d_gates + 2 * H + j, VMUL(VMUL(d_c, vi), VSUB(one, VMUL(vg, vg))));
        CELL_STORE(carry_c + j, VMUL(d_c, vf));
        CELL_STORE(carry_h + j, VZERO());
    }
}

static void FN(gru_cell_backward)(real *restrict d_gates, real *restrict d_recurrent,
                                  real *restrict carry_h, const real *restrict dh,
                                  const real *restrict gates, const real *restrict hn,
                                  const real *restrict h_prev, ptrdiff_t H) {
    const real *r = gates, *z = gates + H, *n = gates + 2 * H;
    const VEC one = VSET1((real)1);
    CELL_UNITS(H) {
        CELL_LANES(H);
        const VEC vr = CELL_LOAD(r + j), vz = CELL_LOAD(z + j), vn = CELL_LOAD(n + j);
        const VEC d_h = VADD(CELL_LOAD(dh + j), CELL_LOAD(carry_h + j));
        const VEC d_n = VMUL(VMUL(d_h, VSUB(one, vz)), VSUB(one, VMUL(vn, vn))); /* pre-tanh */
        const VEC d_r = VMUL(VMUL(VMUL(d_n, CELL_LOAD(hn + j)), vr), VSUB(one, vr));
        const VEC d_z = VMUL(VMUL(VMUL(d_h, VSUB(CELL_LOAD(h_prev + j), vn)), vz), VSUB(one, vz));
        CELL_STORE(d_gates + j, d_r);
        CELL_STORE(d_recurrent + j, d_r);
        CELL_STORE(d_gates + H + j, d_z);
        CELL_STORE(d_recurrent + H + j, d_z);
        CELL_STORE(d_gates + 2 * H + j, d_n);
        CELL_STORE(d_recurrent + 2 * H + j, VMUL(d_n, vr));
        CELL_STORE(carry_h + j, VMUL(d_h, vz));
    }
}

#undef CELL_LOAD
#undef CELL_STORE
#undef CELL_UNITS
#undef CELL_LANES
