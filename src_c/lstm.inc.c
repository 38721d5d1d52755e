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

/* The cell of one step, over `rows` sequences: gates (rows,4H), the
 * pre-activations on entry, i f g o on exit; h, c (rows,H) <- h_t, c_t;
 * c_prev (rows,H), or NULL for zeros. */
static void FN(lstm_cell_forward)(const FN(crnn_kernels) *kern, real *gates, real *h, real *c,
                                  const real *c_prev, ptrdiff_t rows, ptrdiff_t H) {
    for (ptrdiff_t b = 0; b < rows; b++) {
        real *i = gates + b * 4 * H, *f = i + H, *g = i + 2 * H, *o = i + 3 * H;
        real *c_b = c + b * H, *h_b = h + b * H;
        kern->sigmoid(i, 2 * H); /* i and f */
        kern->tanh(g, H);
        kern->sigmoid(o, H);
        for (ptrdiff_t j = 0; j < H; j++) {
            c_b[j] = (c_prev ? f[j] * c_prev[b * H + j] : 0) + i[j] * g[j];
            h_b[j] = c_b[j];
        }
    }
    kern->tanh(h, rows * H); /* tanh(c_t), every row at once */
    for (ptrdiff_t b = 0; b < rows; b++)
        for (ptrdiff_t j = 0; j < H; j++) h[b * H + j] *= gates[b * 4 * H + 3 * H + j];
}

void FN(crnn_lstm_forward)(real *gates, real *hidden_states, real *cells, real *h_n, real *c_n,
                           const real *h0, const real *c0, const real *Whh,
                           const int64_t *lengths, real *workspace, ptrdiff_t T, ptrdiff_t B,
                           ptrdiff_t H, int reverse) {
    const FN(crnn_kernels) *kern = FN(crnn_active_kernels)();
    FN(gated_workspace) w = FN(gated_workspace_at)(workspace, B, H, 4);
    const FN(step_weights) Whh_step =
        FN(step_weights_prepare)(kern, w.weights, Whh, H, 4 * H, 1, B);
    const real *h_prev = h0, *c_prev = c0; /* NULL: zero states */
    for (ptrdiff_t s = 0; s < T; s++) {
        const ptrdiff_t t = step_at(s, T, reverse);
        real *g = gates + t * B * 4 * H, *h = hidden_states + t * B * H, *c = cells + t * B * H;
        /* in reverse, h_prev and c_prev are the rows of step t+1 */
        real *h_next = reverse && s > 0 ? h + B * H : NULL, *c_next = h_next ? c + B * H : NULL;
        if (lengths && h0 && h_next) FN(states_restart)(h_next, h0, lengths, t, B, H);
        if (lengths && c0 && c_next) FN(states_restart)(c_next, c0, lengths, t, B, H);
        const ptrdiff_t rows = rows_at(lengths, t, B);
        /* [i f g o] += h_prev Whh^T, then the cell */
        if (h_prev) FN(recurrent_product)(kern, g, h_prev, &Whh_step, rows, 4 * H, H, s % 2);
        FN(lstm_cell_forward)(kern, g, h, c, c_prev, rows, H);
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

/* The cell's backward for one sequence at one step. gates (4H): i f g o;
 * tanh_c (H): tanh(c_t); c_prev (H). dh (H): dLoss/dh_t from above; carry_h,
 * carry_c (H): through h_t and c_t from the step after, on entry; carry_c <-
 * dLoss/dc_prev, carry_h <- 0 (the recurrent product adds dLoss/dh_prev).
 * d_gates (4H) <- dLoss/d(pre-activations). */
static void FN(lstm_cell_backward)(real *restrict d_gates, real *restrict carry_h,
                                   real *restrict carry_c, const real *restrict dh,
                                   const real *restrict gates, const real *restrict tanh_c,
                                   const real *restrict c_prev, ptrdiff_t H) {
    const real *i = gates, *f = gates + H, *g = gates + 2 * H, *o = gates + 3 * H;
    real *di = d_gates, *df = d_gates + H, *dg = d_gates + 2 * H, *d_o = d_gates + 3 * H;
    for (ptrdiff_t j = 0; j < H; j++) {
        const real d_h = dh[j] + carry_h[j];
        /* G_c = through c_(t+1) + G_h o tanh'(c_t) */
        const real d_c = carry_c[j] + d_h * o[j] * ((real)1 - tanh_c[j] * tanh_c[j]);
        d_o[j] = d_h * tanh_c[j] * o[j] * ((real)1 - o[j]);
        di[j] = d_c * g[j] * i[j] * ((real)1 - i[j]);
        df[j] = d_c * c_prev[j] * f[j] * ((real)1 - f[j]);
        dg[j] = d_c * i[j] * ((real)1 - g[j] * g[j]);
        carry_c[j] = d_c * f[j];
        carry_h[j] = 0;
    }
}

/* One step of BPTT, over the rows up to `rows`: d_gates of step t, and the
 * carries of the sequences that have it; d_first <- the rows of each
 * sequence's first step. */
static void FN(lstm_step_backward)(FN(gated_workspace) *w, real *d_gates, const real *d_hidden,
                                   const real *gates, const real *cells, const real *c_before,
                                   const real *c0, const int64_t *lengths, ptrdiff_t t,
                                   ptrdiff_t s, ptrdiff_t rows, ptrdiff_t B, ptrdiff_t H,
                                   int reverse, const FN(crnn_kernels) *kern) {
    real *tanh_c = w->step;
    memcpy(tanh_c, cells, (size_t)(rows * H) * sizeof(real));
    kern->tanh(tanh_c, rows * H);
    memset(d_gates + rows * 4 * H, 0, (size_t)((B - rows) * 4 * H) * sizeof(real));
    for (ptrdiff_t b = 0; b < rows; b++) {
        real *dg_b = d_gates + b * 4 * H;
        if (lengths && t >= lengths[b]) { /* not a step of this sequence: carried over */
            memset(dg_b, 0, (size_t)(4 * H) * sizeof(real));
            continue;
        }
        const int first = first_step(lengths, t, s, b, reverse);
        FN(lstm_cell_backward)(dg_b, w->carry_h + b * H, w->carry_c + b * H, d_hidden + b * H,
                               gates + b * 4 * H, tanh_c + b * H,
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
        FN(step_weights_prepare)(kern, w.weights, Whh, 4 * H, H, 0, B);
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
