/*
 * The Elman RNN forward pass and backpropagation through time, a template:
 * crnn.c includes this file once per floating type, after kernels_portable.inc.c.
 * Products and tanh go through the kernel table `kern` (kernels.h).
 * Shapes and conventions are documented in crnn.h.
 *
 * Work that does not depend on the previous step is hoisted out of the time
 * loop into one product over all N = T*B rows: the input projection before the
 * loop, the weight gradients and the input gradient after it. Inside the loop
 * are only the recurrent product, tanh and its derivative.
 */

/* C (M,N) += A (M,K) B (K,N), all row-major and contiguous */
static void FN(matmul_nn)(const FN(crnn_kernels) *kern, real *C, const real *A,
                          const real *Bm, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K) {
    kern->matmul(C, N, A, K, 1, Bm, N, M, N, K);
}

/* C (N,K) += A^T B, with A (M,N) and B (M,K): A's transpose read in place */
static void FN(matmul_tn)(const FN(crnn_kernels) *kern, real *C, const real *A,
                          const real *Bm, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K) {
    kern->matmul(C, K, A, 1, N, Bm, K, N, K, M);
}

/* C (B,H) += A (B,H) W (H,H), W's rows ld apart: the product of every step.
 * With `backwards`, the sum over k runs from H-1 down. Alternating the
 * direction from step to step finds the rows of W the last step read last
 * still in L1 (measured: 15-30 % faster for H = 96..160, where W is a little
 * larger than L1). */
static void FN(recurrent_product)(const FN(crnn_kernels) *kern, real *C,
                                  const real *A, const real *W, ptrdiff_t ld,
                                  ptrdiff_t B, ptrdiff_t H, int backwards) {
    if (backwards)
        kern->matmul(C, H, A + (H - 1), H, -1, W + (H - 1) * ld, -ld, B, H, H);
    else
        kern->matmul(C, H, A, H, 1, W, ld, B, H, H);
}

/* On entry hidden_states (T,B,H) holds x_t Wxh^T + bh; on exit h_t.
 * h_t = tanh(hidden_states[t] + h_(t-1) Whh^T), with WhhT = Whh^T, (H,H), its
 * rows ld apart. */
static void FN(recurrence_forward)(const FN(crnn_kernels) *kern,
                                   real *hidden_states, const real *h0,
                                   const real *WhhT, ptrdiff_t ld, ptrdiff_t T,
                                   ptrdiff_t B, ptrdiff_t H) {
    const real *h_prev = h0; /* NULL: a zero state adds nothing */
    for (ptrdiff_t t = 0; t < T; t++) {
        real *h = hidden_states + t * B * H;
        if (h_prev) FN(recurrent_product)(kern, h, h_prev, WhhT, ld, B, H, t % 2);
        kern->tanh(h, B * H);
        h_prev = h;
    }
}

/* The forward workspace: Wxh^T (I,H) and Whh^T (H,H), their rows ld apart,
 * both aligned as the widest vector loads like. */
static void FN(transpose_weights)(const FN(crnn_kernels) *kern, real **WxhT,
                                  real **WhhT, const real *Wxh, const real *Whh,
                                  real *workspace, ptrdiff_t I, ptrdiff_t H) {
    const ptrdiff_t ld = padded_ld(H);
    *WxhT = (real *)align_up(workspace);
    *WhhT = *WxhT + I * ld;
    kern->transpose(*WxhT, ld, Wxh, H, I);
    kern->transpose(*WhhT, ld, Whh, H, H);
}

void FN(crnn_rnn_forward)(real *hidden_states, const real *X, const real *h0,
                          const real *Wxh, const real *Whh, const real *bh,
                          real *workspace, ptrdiff_t T, ptrdiff_t B,
                          ptrdiff_t I, ptrdiff_t H) {
    const FN(crnn_kernels) *kern = FN(crnn_active_kernels)();
    const ptrdiff_t ld = padded_ld(H);
    real *WxhT, *WhhT;
    FN(transpose_weights)(kern, &WxhT, &WhhT, Wxh, Whh, workspace, I, H);
    /* input projection of all N = T*B rows: hidden_states = X Wxh^T + bh */
    FN(fill_rows)(hidden_states, bh, T * B, H);
    kern->matmul(hidden_states, H, X, I, 1, WxhT, ld, T * B, H, I);
    FN(recurrence_forward)(kern, hidden_states, h0, WhhT, ld, T, B, H);
}

int FN(crnn_rnn_forward_tokens)(real *hidden_states, const int64_t *ids,
                                const real *h0, const real *Wxh, const real *Whh,
                                const real *bh, real *workspace, ptrdiff_t T,
                                ptrdiff_t B, ptrdiff_t I, ptrdiff_t H) {
    if (!ids_in_range(ids, T * B, I)) return CRNN_ERR_TOKEN_ID;
    const FN(crnn_kernels) *kern = FN(crnn_active_kernels)();
    const ptrdiff_t ld = padded_ld(H);
    real *WxhT, *WhhT; /* row v of WxhT is column v of Wxh */
    FN(transpose_weights)(kern, &WxhT, &WhhT, Wxh, Whh, workspace, I, H);
    /* a one-hot x_t picks one column of Wxh: a gather, no product */
    for (ptrdiff_t n = 0; n < T * B; n++) {
        real *a = hidden_states + n * H;
        const real *column = WxhT + ids[n] * ld;
        for (ptrdiff_t j = 0; j < H; j++) a[j] = column[j] + bh[j];
    }
    FN(recurrence_forward)(kern, hidden_states, h0, WhhT, ld, T, B, H);
    return CRNN_OK;
}

void FN(crnn_output_forward)(real *Y, const real *hidden_states, const real *Why,
                             const real *by, real *workspace, ptrdiff_t N,
                             ptrdiff_t H, ptrdiff_t O) {
    const FN(crnn_kernels) *kern = FN(crnn_active_kernels)();
    const ptrdiff_t ld = padded_ld(O);
    real *WhyT = (real *)align_up(workspace); /* (H,O), rows ld apart */
    kern->transpose(WhyT, ld, Why, O, H);
    FN(fill_rows)(Y, by, N, O);
    kern->matmul(Y, O, hidden_states, H, 1, WhyT, ld, N, O, H);
}

void FN(crnn_output_backward)(real *d_hidden, real *dWhy, real *dby,
                              const real *dY, const real *hidden_states,
                              const real *Why, ptrdiff_t N, ptrdiff_t H,
                              ptrdiff_t O) {
    const FN(crnn_kernels) *kern = FN(crnn_active_kernels)();
    FN(matmul_nn)(kern, d_hidden, dY, Why, N, H, O);       /* G_h   += G_y Why   */
    FN(matmul_tn)(kern, dWhy, dY, hidden_states, N, O, H); /* G_Why += G_y^T h   */
    FN(sum_rows)(dby, dY, N, O);                           /* G_by  += sum G_y   */
}

/* The only sequential part of BPTT. On entry d_hidden[t] holds dLoss/dh_t from
 * the output layer; on exit, da_t = dLoss/da_t, through
 *   dh_t = d_hidden[t] + da_(t+1) Whh   (+ dh_last at t = T-1)
 *   da_t = dh_t * (1 - h_t^2)           (tanh' from the stored output)
 * and finally dh0 += da_0 Whh. */
static void FN(recurrence_backward)(const FN(crnn_kernels) *kern,
                                    real *d_hidden, real *dh0,
                                    const real *dh_last,
                                    const real *hidden_states, const real *Whh,
                                    ptrdiff_t T, ptrdiff_t B, ptrdiff_t H) {
    for (ptrdiff_t t = T - 1; t >= 0; t--) {
        real *da = d_hidden + t * B * H;
        const real *h = hidden_states + t * B * H;
        if (t == T - 1) {
            if (dh_last)
                for (ptrdiff_t i = 0; i < B * H; i++) da[i] += dh_last[i];
        } else {
            /* G_h_t += G_a_(t+1) Whh */
            FN(recurrent_product)(kern, da, da + B * H, Whh, H, B, H, t % 2);
        }
        for (ptrdiff_t i = 0; i < B * H; i++) da[i] *= (real)1 - h[i] * h[i];
    }
    if (dh0) FN(matmul_nn)(kern, dh0, d_hidden, Whh, B, H, H); /* G_h0 += G_a_0 Whh */
}

/* The parameter gradients that do not depend on the input kind. */
static void FN(recurrent_weight_grads)(const FN(crnn_kernels) *kern,
                                       real *dWhh, real *dbh,
                                       const real *d_pre, const real *h0,
                                       const real *hidden_states, ptrdiff_t T,
                                       ptrdiff_t B, ptrdiff_t H) {
    FN(sum_rows)(dbh, d_pre, T * B, H); /* G_bh += sum G_a */
    /* G_Whh += sum_t G_a_t^T h_(t-1): steps 1..T-1 in one product, then h0 */
    FN(matmul_tn)(kern, dWhh, d_pre + B * H, hidden_states, (T - 1) * B, H, H);
    if (h0) FN(matmul_tn)(kern, dWhh, d_pre, h0, B, H, H);
}

void FN(crnn_rnn_backward)(real *dWxh, real *dWhh, real *dbh, real *dh0,
                           real *dX, real *d_hidden, const real *dh_last,
                           const real *X, const real *h0,
                           const real *hidden_states, const real *Wxh,
                           const real *Whh, ptrdiff_t T, ptrdiff_t B,
                           ptrdiff_t I, ptrdiff_t H) {
    const FN(crnn_kernels) *kern = FN(crnn_active_kernels)();
    FN(recurrence_backward)(kern, d_hidden, dh0, dh_last, hidden_states, Whh, T, B, H);
    const real *d_pre = d_hidden; /* now dLoss/da, (T,B,H) */
    FN(recurrent_weight_grads)(kern, dWhh, dbh, d_pre, h0, hidden_states, T, B, H);
    FN(matmul_tn)(kern, dWxh, d_pre, X, T * B, H, I);         /* G_Wxh += G_a^T X  */
    if (dX) FN(matmul_nn)(kern, dX, d_pre, Wxh, T * B, I, H); /* G_X   += G_a Wxh  */
}

int FN(crnn_rnn_backward_tokens)(real *dWxh, real *dWhh, real *dbh, real *dh0,
                                 real *d_hidden, const real *dh_last,
                                 const int64_t *ids, const real *h0,
                                 const real *hidden_states, const real *Whh,
                                 ptrdiff_t T, ptrdiff_t B, ptrdiff_t I,
                                 ptrdiff_t H) {
    if (!ids_in_range(ids, T * B, I)) return CRNN_ERR_TOKEN_ID;
    const FN(crnn_kernels) *kern = FN(crnn_active_kernels)();
    FN(recurrence_backward)(kern, d_hidden, dh0, dh_last, hidden_states, Whh, T, B, H);
    const real *d_pre = d_hidden;
    FN(recurrent_weight_grads)(kern, dWhh, dbh, d_pre, h0, hidden_states, T, B, H);
    /* G_Wxh[:, id] += G_a: the one-hot product is a scatter into one column */
    for (ptrdiff_t n = 0; n < T * B; n++) {
        const real *da = d_pre + n * H;
        real *column = dWxh + ids[n];
        for (ptrdiff_t j = 0; j < H; j++) column[j * I] += da[j];
    }
    return CRNN_OK;
}
