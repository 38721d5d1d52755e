/*
 * The GRU recurrence of one layer in one direction, forward and backward, a
 * template (crnn.c includes it once per floating type). PyTorch's nn.GRU,
 * gates r, z, n stacked in that order in Wxh, Whh and bh (3H rows each):
 *
 *   r = sigmoid(x_t W_ir^T + b_ir + b_hr + h_prev W_hr^T)
 *   z = sigmoid(x_t W_iz^T + b_iz + b_hz + h_prev W_hz^T)
 *   n = tanh(x_t W_in^T + b_in + r * (h_prev W_hn^T + b_hn))
 *   h_t = (1 - z) * n + z * h_prev
 *
 * bh's r and z rows hold the sums of PyTorch's two biases, its n rows b_in
 * alone; b_hn (bhn) sits inside r * (...), so it stays apart. The input
 * projection comes made, and lengths, reverse and the longest-first rows are
 * handled as for the Elman cell (states.inc.c).
 */

void FN(crnn_gru_forward)(real *gates, real *hidden_states, real *hn, real *h_n,
                          const real *h0, const real *Whh, const real *bhn,
                          const int64_t *lengths, real *workspace, ptrdiff_t T, ptrdiff_t B,
                          ptrdiff_t H, int reverse) {
    const FN(crnn_kernels) *kern = FN(crnn_active_kernels)();
    FN(gated_workspace) w = FN(gated_workspace_at)(workspace, B, H, 3);
    const FN(step_weights) Whh_step =
        FN(step_weights_prepare)(kern, w.weights, Whh, H, 3 * H, 1, B, T);
    const real *h_prev = h0; /* NULL: a zero state */
    for (ptrdiff_t s = 0; s < T; s++) {
        const ptrdiff_t t = step_at(s, T, reverse);
        real *h = hidden_states + t * B * H;
        real *h_next = reverse && s > 0 ? h + B * H : NULL; /* h_prev, in reverse */
        if (lengths && h0 && h_next) FN(states_restart)(h_next, h0, lengths, t, B, H);
        const ptrdiff_t rows = rows_at(lengths, t, B);
        /* recurrent (rows,3H) = h_prev Whh^T, then the cell */
        memset(w.step, 0, (size_t)(rows * 3 * H) * sizeof(real));
        if (h_prev) FN(recurrent_product)(kern, w.step, h_prev, &Whh_step, rows, 3 * H, H, s % 2);
        kern->gru_cell(gates + t * B * 3 * H, h, hn + t * B * H, w.step, h_prev, bhn, rows, H);
        if (lengths) FN(states_settle)(h, h_n, h0 ? h_next : NULL, lengths, t, rows, B, H, reverse);
        h_prev = h;
    }
    FN(states_final)(h_n, hidden_states, lengths, T, B, H, reverse);
}

/* One step of BPTT over the rows up to `rows`: d_gates and d_hn (= the
 * recurrent n part) of step t, w->step <- the recurrent gradients of its
 * rows (0 for a sequence without step t), the carries; d_first <- the rows
 * of each sequence's first step. */
static void FN(gru_step_backward)(FN(gated_workspace) *w, real *d_gates, real *d_hn,
                                  const real *d_hidden, const real *gates, const real *hn,
                                  const real *h_before, const real *h0, const int64_t *lengths,
                                  ptrdiff_t t, ptrdiff_t s, ptrdiff_t rows, ptrdiff_t B,
                                  ptrdiff_t H, int reverse, const FN(crnn_kernels) *kern) {
    const size_t gate_bytes = (size_t)(3 * H) * sizeof(real);
    memset(d_gates + rows * 3 * H, 0, (size_t)(B - rows) * gate_bytes);
    memset(d_hn + rows * H, 0, (size_t)((B - rows) * H) * sizeof(real));
    for (ptrdiff_t b = 0; b < rows; b++) {
        real *dg_b = d_gates + b * 3 * H, *d_rec = w->step + b * 3 * H;
        if (lengths && t >= lengths[b]) { /* not a step of this sequence: carried over */
            memset(dg_b, 0, gate_bytes);
            memset(d_rec, 0, gate_bytes);
            memset(d_hn + b * H, 0, (size_t)H * sizeof(real));
            continue;
        }
        const int first = first_step(lengths, t, s, b, reverse);
        kern->gru_cell_backward(dg_b, d_rec, w->carry_h + b * H, d_hidden + b * H,
                                gates + b * 3 * H, hn + b * H,
                                FN(state_before)(h_before, h0, w->zeros, first, b, H), H);
        memcpy(d_hn + b * H, d_rec + 2 * H, (size_t)H * sizeof(real));
        if (first) memcpy(w->d_first + b * 3 * H, d_rec, gate_bytes);
    }
}

void FN(crnn_gru_backward)(real *dWhh, real *dbhn, real *dh0, real *d_gates, real *d_hn,
                           const real *d_hidden, const real *dh_n, const real *h0,
                           const real *gates, const real *hidden_states, const real *hn,
                           const real *Whh, const int64_t *lengths, real *workspace,
                           ptrdiff_t T, ptrdiff_t B, ptrdiff_t H, int reverse) {
    const FN(crnn_kernels) *kern = FN(crnn_active_kernels)();
    FN(gated_workspace) w = FN(gated_workspace_at)(workspace, B, H, 3);
    const FN(step_weights) Whh_step =
        FN(step_weights_prepare)(kern, w.weights, Whh, 3 * H, H, 0, B, T);
    FN(carry_start)(w.carry_h, dh_n, B, H);
    for (ptrdiff_t s = T - 1; s >= 0; s--) { /* the forward's steps, last first */
        const ptrdiff_t t = step_at(s, T, reverse);
        const ptrdiff_t rows = rows_at(lengths, t, B);
        const real *h_before = s > 0 ? hidden_states + step_at(s - 1, T, reverse) * B * H : NULL;
        FN(gru_step_backward)(&w, d_gates + t * B * 3 * H, d_hn + t * B * H,
                              d_hidden + t * B * H, gates + t * B * 3 * H, hn + t * B * H,
                              h_before, h0, lengths, t, s, rows, B, H, reverse, kern);
        /* G_h_prev += G_recurrent Whh */
        if (s > 0 || dh0)
            FN(recurrent_product)(kern, w.carry_h, w.step, &Whh_step, rows, H, 3 * H, s % 2);
    }
    FN(carry_end)(dh0, w.carry_h, B, H);
    /* G_Whh += sum_t G_recurrent_t^T h_prev: its r and z rows read the r and
     * z columns of d_gates in place (3H apart), its n rows d_hn; every step
     * but each sequence's first reads the step before's state, the first
     * steps h0 (as crnn_elman_backward) */
    const ptrdiff_t later_rows = (T - 1) * B;
    const real *d_later = d_gates + (reverse ? 0 : B * 3 * H);
    const real *dn_later = d_hn + (reverse ? 0 : B * H);
    const real *h_earlier = hidden_states + (reverse ? B * H : 0);
    kern->matmul(dWhh, H, d_later, 1, 3 * H, h_earlier, H, 2 * H, H, later_rows);
    FN(matmul_tn)(kern, dWhh + 2 * H * H, dn_later, h_earlier, later_rows, H, H);
    if (h0) FN(matmul_tn)(kern, dWhh, w.d_first, h0, B, 3 * H, H);
    /* G_bhn += sum over rows of G_hn (0 past each length) */
    for (ptrdiff_t k = 0; dbhn && k < T * B; k++)
        for (ptrdiff_t j = 0; j < H; j++) dbhn[j] += d_hn[k * H + j];
}
