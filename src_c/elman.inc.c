/*
 * The Elman recurrence of one layer in one direction, forward and backward,
 * a template (crnn.c includes it once per floating type). It takes the input
 * projection already made (crnn_linear_forward or crnn_onehot_forward over
 * all T*B rows), so only what depends on the previous step is in its time
 * loop: one (B,H)x(H,H) product and the activation. An LSTM or GRU
 * recurrence is one more file of this shape.
 *
 * Variable lengths: sequence b has step t when t < lengths[b]. Each step runs
 * the rows up to the last sequence that has it (rows_at: with lengths sorted
 * longest first, as the Engine orders them, exactly those); the rows of the
 * steps a sequence does not have are zeroed and get no gradient, and its
 * state carries over them, so the reverse direction of each sequence starts
 * at its own last step, from h0.
 */

/* Workspace: the step weights, then the two (B,H) arrays the backward with
 * lengths uses. */
static void FN(elman_workspace)(real *workspace, ptrdiff_t B, ptrdiff_t H, real **carry,
                                real **da_first) {
    *carry = workspace + step_weights_size(H, 1);
    *da_first = *carry + B * H;
}

/* With lengths, see states.inc.c. */
void FN(crnn_elman_forward)(real *hidden_states, real *h_n, const real *h0,
                            const real *Whh, const int64_t *lengths, real *workspace,
                            ptrdiff_t T, ptrdiff_t B, ptrdiff_t H, int activation,
                            int reverse) {
    const FN(crnn_kernels) *kern = FN(crnn_active_kernels)();
    const FN(step_weights) Whh_step = FN(step_weights_prepare)(kern, workspace, Whh, H, H, 1, B, T);
    const real *h_prev = h0; /* NULL: a zero state adds nothing */
    for (ptrdiff_t s = 0; s < T; s++) {
        const ptrdiff_t t = step_at(s, T, reverse);
        real *h = hidden_states + t * B * H;
        real *h_next_row = reverse && s > 0 ? h + B * H : NULL; /* h_prev, in reverse */
        if (lengths && h0 && h_next_row) FN(states_restart)(h_next_row, h0, lengths, t, B, H);
        /* a_t += h_prev Whh^T;  h_t = act(a_t), over the rows that may run */
        const ptrdiff_t rows = rows_at(lengths, t, B);
        if (h_prev) FN(recurrent_product)(kern, h, h_prev, &Whh_step, rows, H, H, s % 2);
        FN(activate)(kern, h, rows * H, activation);
        if (lengths)
            FN(states_settle)(h, h_n, h0 ? h_next_row : NULL, lengths, t, rows, B, H, reverse);
        h_prev = h;
    }
    FN(states_final)(h_n, hidden_states, lengths, T, B, H, reverse);
}

/* Without lengths every sequence has every step: each step's gradient
 * G_h_prev = G_a_t Whh goes straight into the row block of the step before
 * it, and dh_n into the last step's (measured: the carried (B,H) buffer of
 * the general case costs 10 % on a single sequence of 100 steps, H = 64). */
static void FN(elman_backward_full)(const FN(crnn_kernels) *kern, real *dh0,
                                    real *d_hidden, const real *dh_n,
                                    const real *hidden_states,
                                    const FN(step_weights) *Whh_step,
                                    ptrdiff_t T, ptrdiff_t B, ptrdiff_t H,
                                    int activation, int reverse) {
    for (ptrdiff_t s = T - 1; s >= 0; s--) { /* the forward's steps, last first */
        real *da = d_hidden + step_at(s, T, reverse) * B * H;
        if (s == T - 1 && dh_n)
            for (ptrdiff_t i = 0; i < B * H; i++) da[i] += dh_n[i];
        /* G_a_t = G_h_t * act'(a_t) */
        FN(activation_derivative)(da, hidden_states + step_at(s, T, reverse) * B * H,
                                  B * H, activation);
        /* G_h_prev += G_a_t Whh: into the step before, or into dh0 */
        real *d_prev = s > 0 ? d_hidden + step_at(s - 1, T, reverse) * B * H : dh0;
        if (d_prev) FN(recurrent_product)(kern, d_prev, da, Whh_step, B, H, H, s % 2);
    }
}

/* With lengths: carry (B,H) holds each sequence's dLoss/dh on its way back,
 * passed unchanged through the steps it does not have. da_first (B,H)
 * receives each sequence's G_a at its first step, the one that read h0. */
static void FN(elman_backward_lengths)(const FN(crnn_kernels) *kern, real *dh0,
                                       real *d_hidden, const real *dh_n,
                                       const real *hidden_states,
                                       const FN(step_weights) *Whh_step,
                                       const int64_t *lengths, real *carry,
                                       real *da_first, ptrdiff_t T, ptrdiff_t B,
                                       ptrdiff_t H, int activation, int reverse) {
    const size_t row_bytes = (size_t)H * sizeof(real);
    FN(carry_start)(carry, dh_n, B, H);
    for (ptrdiff_t s = T - 1; s >= 0; s--) {
        const ptrdiff_t t = step_at(s, T, reverse);
        real *da = d_hidden + t * B * H;
        const real *h = hidden_states + t * B * H;
        const ptrdiff_t rows = rows_at(lengths, t, B);
        memset(da + rows * H, 0, (size_t)(B - rows) * row_bytes); /* none has step t */
        for (ptrdiff_t b = 0; b < rows; b++) {
            real *da_b = da + b * H, *carry_b = carry + b * H;
            if (t >= lengths[b]) { /* not a step of this sequence */
                memset(da_b, 0, row_bytes);
                continue;
            }
            /* G_h_t = from above + through h_(next);  G_a_t = G_h_t * act'(a_t) */
            for (ptrdiff_t j = 0; j < H; j++) da_b[j] += carry_b[j];
            FN(activation_derivative)(da_b, h + b * H, H, activation);
            memset(carry_b, 0, row_bytes);
            if (t == (reverse ? lengths[b] - 1 : 0)) memcpy(da_first + b * H, da_b, row_bytes);
        }
        /* G_h_prev = G_a_t Whh (rows past a sequence's length add 0) */
        if (s > 0 || dh0) FN(recurrent_product)(kern, carry, da, Whh_step, rows, H, H, s % 2);
    }
    FN(carry_end)(dh0, carry, B, H);
}

void FN(crnn_elman_backward)(real *dWhh, real *dh0, real *d_hidden,
                             const real *dh_n, const real *h0,
                             const real *hidden_states, const real *Whh,
                             const int64_t *lengths, real *workspace, ptrdiff_t T,
                             ptrdiff_t B, ptrdiff_t H, int activation, int reverse) {
    const FN(crnn_kernels) *kern = FN(crnn_active_kernels)();
    real *carry, *da_first;
    FN(elman_workspace)(workspace, B, H, &carry, &da_first);
    const FN(step_weights) Whh_step = FN(step_weights_prepare)(kern, workspace, Whh, H, H, 0, B, T);
    if (lengths) {
        FN(elman_backward_lengths)(kern, dh0, d_hidden, dh_n, hidden_states, &Whh_step,
                                   lengths, carry, da_first, T, B, H, activation, reverse);
    } else {
        FN(elman_backward_full)(kern, dh0, d_hidden, dh_n, hidden_states, &Whh_step, T, B, H,
                                activation, reverse);
        da_first = d_hidden + step_at(0, T, reverse) * B * H; /* every first step */
    }
    /* G_Whh += sum_t G_a_t^T h_prev */
    FN(recurrent_weight_gradient)(kern, dWhh, d_hidden, hidden_states, da_first, h0, T, B, H, 1,
                                  reverse);
}
