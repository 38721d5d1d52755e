/*
 * The gated cells' element-wise work, portable: kernels_portable.inc.c
 * includes it before its table. One pass over each row's hidden units, in
 * the order of the formulas of lstm.inc.c and gru.inc.c; the reference the
 * SIMD paths (cells_simd.inc.c) are tested against. Shapes in kernels.h.
 */

static void FN(lstm_cell_portable)(real *gates, real *h, real *c, const real *c_prev,
                                   ptrdiff_t rows, ptrdiff_t H) {
    for (ptrdiff_t b = 0; b < rows; b++) {
        real *i = gates + b * 4 * H, *f = i + H, *g = i + 2 * H, *o = i + 3 * H;
        for (ptrdiff_t j = 0; j < H; j++) {
            i[j] = FN(sigmoid_one)(i[j]);
            f[j] = FN(sigmoid_one)(f[j]);
            g[j] = TANH(g[j]);
            o[j] = FN(sigmoid_one)(o[j]);
            const real c_j = (c_prev ? f[j] * c_prev[b * H + j] : 0) + i[j] * g[j];
            c[b * H + j] = c_j;
            h[b * H + j] = o[j] * TANH(c_j);
        }
    }
}

static void FN(gru_cell_portable)(real *gates, real *h, real *hn, const real *recurrent,
                                  const real *h_prev, const real *bhn, ptrdiff_t rows,
                                  ptrdiff_t H) {
    for (ptrdiff_t b = 0; b < rows; b++) {
        real *r = gates + b * 3 * H, *z = r + H, *n = r + 2 * H;
        const real *rec = recurrent + b * 3 * H;
        for (ptrdiff_t j = 0; j < H; j++) {
            r[j] = FN(sigmoid_one)(r[j] + rec[j]);
            z[j] = FN(sigmoid_one)(z[j] + rec[H + j]);
            const real hn_j = rec[2 * H + j] + (bhn ? bhn[j] : 0);
            n[j] = TANH(n[j] + r[j] * hn_j);
            hn[b * H + j] = hn_j;
            h[b * H + j] = ((real)1 - z[j]) * n[j] + (h_prev ? z[j] * h_prev[b * H + j] : 0);
        }
    }
}

static void FN(lstm_cell_backward_portable)(real *restrict d_gates, real *restrict carry_h,
                                            real *restrict carry_c, const real *restrict dh,
                                            const real *restrict gates,
                                            const real *restrict c,
                                            const real *restrict c_prev, ptrdiff_t H) {
    const real *i = gates, *f = gates + H, *g = gates + 2 * H, *o = gates + 3 * H;
    real *di = d_gates, *df = d_gates + H, *dg = d_gates + 2 * H, *d_o = d_gates + 3 * H;
    for (ptrdiff_t j = 0; j < H; j++) {
        const real tanh_c = TANH(c[j]), d_h = dh[j] + carry_h[j];
        /* G_c = through c_(t+1) + G_h o tanh'(c_t) */
        const real d_c = carry_c[j] + d_h * o[j] * ((real)1 - tanh_c * tanh_c);
        d_o[j] = d_h * tanh_c * o[j] * ((real)1 - o[j]);
        di[j] = d_c * g[j] * i[j] * ((real)1 - i[j]);
        df[j] = d_c * c_prev[j] * f[j] * ((real)1 - f[j]);
        dg[j] = d_c * i[j] * ((real)1 - g[j] * g[j]);
        carry_c[j] = d_c * f[j];
        carry_h[j] = 0;
    }
}

static void FN(gru_cell_backward_portable)(real *restrict d_gates, real *restrict d_recurrent,
                                           real *restrict carry_h, const real *restrict dh,
                                           const real *restrict gates,
                                           const real *restrict hn,
                                           const real *restrict h_prev, ptrdiff_t H) {
    const real *r = gates, *z = gates + H, *n = gates + 2 * H;
    for (ptrdiff_t j = 0; j < H; j++) {
        const real d_h = dh[j] + carry_h[j];
        const real d_n = d_h * ((real)1 - z[j]) * ((real)1 - n[j] * n[j]); /* pre-tanh */
        const real d_r = d_n * hn[j] * r[j] * ((real)1 - r[j]);
        const real d_z = d_h * (h_prev[j] - n[j]) * z[j] * ((real)1 - z[j]);
        d_gates[j] = d_recurrent[j] = d_r;
        d_gates[H + j] = d_recurrent[H + j] = d_z;
        d_gates[2 * H + j] = d_n;
        d_recurrent[2 * H + j] = d_n * r[j];
        carry_h[j] = d_h * z[j];
    }
}
