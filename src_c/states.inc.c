/*
 * What every cell's recurrence does alike (a template: crnn.c includes it
 * once per floating type): its states under variable lengths; the backward's
 * carried state gradient and the recurrent weight's gradient; a gated
 * cell's workspace.
 *
 * Variable lengths: sequence b has step t when t < lengths[b]. A step's rows of the sequences that do not have it are
 * zeroed, so the next step reads a zero state there: what the reverse
 * direction of a sequence must start from, when its initial state is zero.
 * So only two things need rows copied, once per sequence, not once per step:
 * the final state, taken at each sequence's last step, and a given initial
 * state in reverse, put in the (zero) row the sequence's first step reads,
 * and zeroed again after.
 */

/* In reverse, before step t: sequence b starts at t = lengths[b]-1 from
 * state0 (B,H), so its row of `next` (B,H), the states of step t+1 that step
 * t reads, takes state0's. */
static void FN(states_restart)(real *next, const real *state0, const int64_t *lengths,
                               ptrdiff_t t, ptrdiff_t B, ptrdiff_t H) {
    for (ptrdiff_t b = 0; b < B; b++)
        if (t == lengths[b] - 1) memcpy(next + b * H, state0 + b * H, (size_t)H * sizeof(real));
}

/* After step t, whose rows up to `rows` ran: state (B,H) <- 0 in the rows of
 * the sequences that do not have step t; state_n (B,H, or NULL) <- the rows
 * of those whose last step it is (forward); and, when states_restart wrote
 * into next (not NULL), those rows of it <- 0 again. */
static void FN(states_settle)(real *state, real *state_n, real *next, const int64_t *lengths,
                              ptrdiff_t t, ptrdiff_t rows, ptrdiff_t B, ptrdiff_t H,
                              int reverse) {
    const size_t row_bytes = (size_t)H * sizeof(real);
    memset(state + rows * H, 0, (size_t)(B - rows) * row_bytes);
    for (ptrdiff_t b = 0; b < rows; b++) {
        if (t >= lengths[b]) memset(state + b * H, 0, row_bytes);
        else if (state_n && !reverse && t == lengths[b] - 1)
            memcpy(state_n + b * H, state + b * H, row_bytes);
        if (next && t == lengths[b] - 1) memset(next + b * H, 0, row_bytes);
    }
}

/* Without lengths, or in reverse, every sequence's last step is the
 * direction's last: state_n (B,H) <- the states of that step. */
static void FN(states_final)(real *state_n, const real *states, const int64_t *lengths,
                             ptrdiff_t T, ptrdiff_t B, ptrdiff_t H, int reverse) {
    if (state_n && (reverse || !lengths))
        memcpy(state_n, states + (reverse ? 0 : (T - 1) * B * H),
               (size_t)(B * H) * sizeof(real));
}

/* The state a sequence's step read before it, in a backward pass: its
 * initial state's row (zeros when none) at its first step, else the row of
 * the step before (prev, the (B,H) states of that step). */
static const real *FN(state_before)(const real *prev, const real *state0, const real *zeros,
                                    int first, ptrdiff_t b, ptrdiff_t H) {
    if (!first) return prev + b * H;
    return state0 ? state0 + b * H : zeros;
}

/* ---- the backward ----
 * The carried gradient (B,H) of a state: at the start dLoss/d(the
 * final state), state_n_grad, or zeros without one. */
static void FN(carry_start)(real *carry, const real *state_n_grad, ptrdiff_t B, ptrdiff_t H) {
    if (state_n_grad) memcpy(carry, state_n_grad, (size_t)(B * H) * sizeof(real));
    else memset(carry, 0, (size_t)(B * H) * sizeof(real));
}

/* At the end, the carry is dLoss/d(the initial state): state0_grad (B,H, or
 * NULL to skip) += it. */
static void FN(carry_end)(real *state0_grad, const real *carry, ptrdiff_t B, ptrdiff_t H) {
    for (ptrdiff_t k = 0; state0_grad && k < B * H; k++) state0_grad[k] += carry[k];
}

/* G_Whh (G*H,H) += sum_t G_t^T h_prev for a recurrence whose recurrent
 * gradient G_t (T,B,G*H) is its whole gate gradient (the Elman cell's, G = 1,
 * and the LSTM's, G = 4): every step but each sequence's first reads the
 * state of the step before, in one product (a row zeroed past a sequence's
 * length adds 0); the first steps read h0, with their G in d_first (B,G*H). */
static void FN(recurrent_weight_gradient)(const FN(crnn_kernels) *kern, real *dWhh,
                                          const real *d_gates, const real *hidden_states,
                                          const real *d_first, const real *h0, ptrdiff_t T,
                                          ptrdiff_t B, ptrdiff_t H, ptrdiff_t G, int reverse) {
    const ptrdiff_t later_rows = (T - 1) * B;
    if (reverse) FN(matmul_tn)(kern, dWhh, d_gates, hidden_states + B * H, later_rows, G * H, H);
    else FN(matmul_tn)(kern, dWhh, d_gates + B * G * H, hidden_states, later_rows, G * H, H);
    if (h0) FN(matmul_tn)(kern, dWhh, d_first, h0, B, G * H, H);
}

/* The workspace of a gated recurrence (G = 4 gates for the LSTM, 3 for the
 * GRU), as crnn_lstm_workspace and crnn_gru_workspace size it. */
typedef struct {
    real *weights; /* the step weights (step_weights_prepare) */
    real *carry_h; /* (B,H): each sequence's dLoss/dh on its way back */
    real *carry_c; /* (B,H): the LSTM's dLoss/dc on its way back */
    real *d_first; /* (B,G*H): the recurrent gate gradients at each first step */
    real *step;    /* (B,G*H): one step's scratch */
    real *zeros;   /* (H): the zero state */
} FN(gated_workspace);

static FN(gated_workspace) FN(gated_workspace_at)(real *workspace, ptrdiff_t B, ptrdiff_t H,
                                                  ptrdiff_t G) {
    FN(gated_workspace) w;
    w.weights = workspace;
    w.carry_h = workspace + step_weights_size(H, G);
    w.carry_c = w.carry_h + B * H;
    w.d_first = w.carry_c + B * H;
    w.step = w.d_first + B * G * H;
    w.zeros = w.step + B * G * H;
    memset(w.zeros, 0, (size_t)H * sizeof(real));
    return w;
}
