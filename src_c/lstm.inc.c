/*
 * The LSTM recurrence of one layer in one direction, forward and backward, a
 * template (crnn.c includes it once per floating type). PyTorch's nn.LSTM,
 * gates i, f, g, o stacked in that order in Wxh, Whh and bh (4H rows each):
 *
 *   [i f g o]_t = x_t Wxh^T + bh + h_prev Whh^T      (the pre-activations)
 *   i, f, o = sigmoid(.), g = tanh(.)
 *   c_t = f * c_prev + i * g
 *   h_t = o * tanh(c_t)
 *
 * As for the Elman cell, the input projection of all gates comes made (one
 * product over all T*B rows), and lengths, reverse and the longest-first
 * rows are handled as there (states.inc.c), for c as for h.
 */

void FN(crnn_lstm_forward)(real *gates, real *hidden_states, real *cells, real *h_n, real *c_n,
                           const real *h0, const real *c0, const real *Whh,
                           const int64_t *lengths, real *workspace, ptrdiff_t T, ptrdiff_t B,
                           ptrdiff_t H, int reverse) {
    const FN(crnn_kernels) *kern = FN(crnn_active_kernels)();
    FN(gated_workspace) w = FN(gated_workspace_at)(workspace, B, H, 4);
    const FN(step_weights) Whh_step =
        FN(step_weights_prepare)(kern, w.weights, Whh, H, 4 * H, 1, B, T);
    const real *h_prev = h0, *c_prev = c0; /* NULL: zero states */
    for (ptrdiff_t s = 0; s < T; s++) {
        const ptrdiff_t t = step_at(s, T, reverse);
        real *g = gates + t * B * 4 * H, *h = hidden_states + t * B * H, *c = cells + t * B * H;
        /* in reverse, h_prev and c_prev are the rows of step t+1 */
        real *h_next = reverse && s > 0 ? h + B * H : NULL, *c_next = h_next ? c + B * H : NULL;
        if (lengths && h0 && h_next) FN(states_restart)(h_next, h0, lengths, t, B, H);
        if (lengths && c0 && c_next) FN(states_restart)(c_next, c0, lengths, t, B, H);
        const ptrdiff_t rows = rows_at(lengths, t, B);
        /* [i f g o] += h_prev Whh^T, then the cell in one pass */
        if (h_prev) FN(recurrent_product)(kern, g, h_prev, &Whh_step, rows, 4 * H, H, s % 2);
        kern->lstm_cell(g, h, c, c_prev, rows, H);
        if (lengths) {
            FN(states_settle)(h, h_n, h0 ? h_next : NULL, lengths, t, rows, B, H, reverse);
            FN(states_settle)(c, c_n, c0 ? c_next : NULL, lengths, t, rows, B, H, reverse);
        }
        h_prev = h;
        c_prev = c;
    }
    FN(states_final)(h_n, hidden_states, lengths, T, B, H, reverse);
    FN(states_final)(c_n, cells, lengths, T, B, H, reverse);
}

/* One step of BPTT, over the rows up to `rows`: d_gates of step t, and the
 * carries of the sequences that have it; d_first <- the rows of each
 * sequence's first step. */
static void FN(lstm_step_backward)(FN(gated_workspace) *w, real *d_gates, const real *d_hidden,
                                   const real *gates, const real *cells, const real *c_before,
                                   const real *c0, const int64_t *lengths, ptrdiff_t t,
                                   ptrdiff_t s, ptrdiff_t rows, ptrdiff_t B, ptrdiff_t H,
                                   int reverse, const FN(crnn_kernels) *kern) {
    memset(d_gates + rows * 4 * H, 0, (size_t)((B - rows) * 4 * H) * sizeof(real));
    for (ptrdiff_t b = 0; b < rows; b++) {
        real *dg_b = d_gates + b * 4 * H;
        if (lengths && t >= lengths[b]) { /* not a step of this sequence: carried over */
            memset(dg_b, 0, (size_t)(4 * H) * sizeof(real));
            continue;
        }
        const int first = first_step(lengths, t, s, b, reverse);
        kern->lstm_cell_backward(dg_b, w->carry_h + b * H, w->carry_c + b * H,
                                 d_hidden + b * H, gates + b * 4 * H, cells + b * H,
                                 FN(state_before)(c_before, c0, w->zeros, first, b, H), H);
        if (first) memcpy(w->d_first + b * 4 * H, dg_b, (size_t)(4 * H) * sizeof(real));
    }
}

void FN(crnn_lstm_backward)(real *dWhh, real *dh0, real *dc0, real *d_gates,
                            const real *d_hidden, const real *dh_n, const real *dc_n,
                            const real *h0, const real *c0, const real *gates,
                            const real *hidden_states, const real *cells, const real *Whh,
                            const int64_t *lengths, real *workspace, ptrdiff_t T, ptrdiff_t B,
                            ptrdiff_t H, int reverse) {
    const FN(crnn_kernels) *kern = FN(crnn_active_kernels)();
    FN(gated_workspace) w = FN(gated_workspace_at)(workspace, B, H, 4);
    const FN(step_weights) Whh_step =
        FN(step_weights_prepare)(kern, w.weights, Whh, 4 * H, H, 0, B, T);
    FN(carry_start)(w.carry_h, dh_n, B, H);
    FN(carry_start)(w.carry_c, dc_n, B, H);
    for (ptrdiff_t s = T - 1; s >= 0; s--) { /* the forward's steps, last first */
        const ptrdiff_t t = step_at(s, T, reverse);
        const ptrdiff_t rows = rows_at(lengths, t, B);
        real *dg = d_gates + t * B * 4 * H;
        const real *c_before = s > 0 ? cells + step_at(s - 1, T, reverse) * B * H : NULL;
        FN(lstm_step_backward)(&w, dg, d_hidden + t * B * H, gates + t * B * 4 * H,
                               cells + t * B * H, c_before, c0, lengths, t, s, rows, B, H,
                               reverse, kern);
        /* G_h_prev += G_gates Whh (rows past a sequence's length add 0) */
        if (s > 0 || dh0)
            FN(recurrent_product)(kern, w.carry_h, dg, &Whh_step, rows, H, 4 * H, s % 2);
    }
    FN(carry_end)(dh0, w.carry_h, B, H);
    FN(carry_end)(dc0, w.carry_c, B, H);
    /* G_Whh += sum_t G_gates_t^T h_prev */
    FN(recurrent_weight_gradient)(kern, dWhh, d_gates, hidden_states, w.d_first, h0, T, B, H, 4,
                                  reverse);
}
