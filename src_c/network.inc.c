/*
 * The walk over a whole network, a template (crnn.c includes it once per
 * floating type): for each layer, each direction's input projection and
 * recurrence (the two at once when the workspace says so), the directions
 * joined, dropout into the layer above; then the output layer. The backward
 * runs the same in reverse. Shapes in crnn.h (crnn_network, crnn_workspace).
 */

/* direction d's per-direction workspace: each has its own, so both can run
 * at once */
static real *FN(direction_work)(const crnn_workspace *w, ptrdiff_t d) {
    return (real *)w->work + d * w->work_size;
}

/* layer and direction k's rows (B,H) of (L*D,B,H) states, or NULL */
static real *FN(state_of)(const void *states, ptrdiff_t k, const crnn_workspace *w,
                          ptrdiff_t H, int present) {
    return present && states ? (real *)states + k * w->B * H : NULL;
}

/* layer l's output (T,B,D*H): its states, or both directions' joined */
static real *FN(layer_output)(const crnn_network *net, const crnn_workspace *w, ptrdiff_t l) {
    const ptrdiff_t N = w->T_run * w->B;
    if (net->D == 1) return (real *)w->hidden + l * N * net->H;
    return (real *)w->outputs + l * N * 2 * net->H;
}

/* what layer l read: the inputs, or the layer below's output (after dropout) */
static const real *FN(layer_input)(const crnn_network *net, const crnn_workspace *w,
                                   ptrdiff_t l) {
    const ptrdiff_t N = w->T_run * w->B;
    if (l == 0) return (const real *)w->inputs;
    if (w->masks) return (const real *)w->dropped + (l - 1) * N * net->D * net->H;
    return FN(layer_output)(net, w, l - 1);
}

/* Y (T,B,C): the rows of steps t >= lengths[b] <- 0 */
static void FN(zero_rows_past_lengths)(real *Y, const int64_t *lengths, ptrdiff_t T,
                                       ptrdiff_t B, ptrdiff_t C) {
    for (ptrdiff_t t = 0; t < T; t++)
        for (ptrdiff_t b = 0; b < B; b++)
            if (t >= lengths[b]) memset(Y + (t * B + b) * C, 0, (size_t)C * sizeof(real));
}

/* y <- x times layer l's dropout mask (rows of D*H): the caller's masks
 * (L-1,T,B,D*H) are in the caller's order, read in the running order */
static void FN(drop)(real *y, const real *x, const crnn_workspace *w, ptrdiff_t l,
                     ptrdiff_t DH) {
    const real *mask = (const real *)w->masks + l * w->T * w->B * DH;
    if (!w->reordered) {
        FN(crnn_multiply)(y, x, mask, w->T_run * w->B * DH, 0);
        return;
    }
    for (ptrdiff_t t = 0; t < w->T_run; t++)
        for (ptrdiff_t b = 0; b < w->B; b++) {
            const ptrdiff_t n = t * w->B + b;
            FN(crnn_multiply)(y + n * DH, x + n * DH, mask + (t * w->B + w->order[b]) * DH,
                              DH, 0);
        }
}

/* Layer l, direction d: the input projection of all T*B rows (every gate's),
 * then the recurrence, into its states and its rows of h_n (and c_n) */
static int FN(direction_forward)(const crnn_network *net, const real *params,
                                 crnn_workspace *w, ptrdiff_t l, ptrdiff_t d,
                                 const real *layer_input, real *h_n, real *c_n) {
    const ptrdiff_t B = w->B, N = w->T_run * w->B, H = net->H, GH = net->G * net->H;
    const ptrdiff_t k = l * net->D + d;
    const ptrdiff_t *off = net->offsets + 4 * k;
    real *hs = (real *)w->hidden + k * N * H;
    real *cs = net->G > 1 ? (real *)w->cells + k * N * H : NULL;
    real *gates = net->G > 1 ? (real *)w->gates + k * N * GH : hs;
    real *ws = FN(direction_work)(w, d);
    const real *bias = off[2] >= 0 ? params + off[2] : NULL;
    const real *h0 = FN(state_of)(w->h0, k, w, H, w->has_h0);
    const int64_t *lengths = w->has_lengths ? w->lengths : NULL;
    real *h_n_k = h_n ? h_n + k * B * H : NULL;
    if (l == 0 && w->tokens) {
        if (FN(crnn_onehot_forward)(gates, w->ids, params + off[0], bias, N, net->I, GH)
            != CRNN_OK)
            return CRNN_ERR_TOKEN_ID;
    } else {
        FN(crnn_linear_forward)(gates, layer_input, params + off[0], bias, ws, N,
                                l == 0 ? net->I : net->D * H, GH);
    }
    if (net->cell == CRNN_CELL_LSTM)
        FN(crnn_lstm_forward)(gates, hs, cs, h_n_k, c_n ? c_n + k * B * H : NULL, h0,
                              FN(state_of)(w->c0, k, w, H, w->has_c0), params + off[1],
                              lengths, ws, w->T_run, B, H, (int)d);
    else if (net->cell == CRNN_CELL_GRU)
        FN(crnn_gru_forward)(gates, hs, cs, h_n_k, h0, params + off[1],
                             off[3] >= 0 ? params + off[3] : NULL, lengths, ws, w->T_run, B,
                             H, (int)d);
    else
        FN(crnn_elman_forward)(hs, h_n_k, h0, params + off[1], lengths, ws, w->T_run, B, H,
                               net->activation, (int)d);
    return CRNN_OK;
}

int FN(crnn_network_forward)(const crnn_network *net, const real *params, crnn_workspace *w,
                             real *Y, real *top, real *h_n, real *c_n) {
    const ptrdiff_t T = w->T_run, B = w->B, N = w->T_run * w->B, H = net->H, D = net->D;
    const ptrdiff_t DH = D * H;
    const int64_t *lengths = w->has_lengths ? w->lengths : NULL;
    const real *layer_input = (const real *)w->inputs;
    real *out = FN(layer_output)(net, w, 0);
    for (ptrdiff_t l = 0; l < net->L; l++) {
        int status[2] = {CRNN_OK, CRNN_OK};
        if (w->parallel_directions) { /* the two directions at once, one thread each */
#ifdef _OPENMP
#pragma omp parallel for num_threads(2) schedule(static)
#endif
            for (int d = 0; d < 2; d++)
                status[d] = FN(direction_forward)(net, params, w, l, d, layer_input, h_n, c_n);
        } else {
            for (ptrdiff_t d = 0; d < D; d++)
                status[d] = FN(direction_forward)(net, params, w, l, d, layer_input, h_n, c_n);
        }
        if (status[0] != CRNN_OK || status[1] != CRNN_OK) return CRNN_ERR_TOKEN_ID;
        out = FN(layer_output)(net, w, l);
        if (D == 2) { /* out (N,2H) <- [forward (N,H), reverse (N,H)] side by side */
            const real *forward = (const real *)w->hidden + 2 * l * N * H;
            const real *reverse = (const real *)w->hidden + (2 * l + 1) * N * H;
            for (ptrdiff_t n = 0; n < N; n++) {
                memcpy(out + 2 * n * H, forward + n * H, (size_t)H * sizeof(real));
                memcpy(out + (2 * n + 1) * H, reverse + n * H, (size_t)H * sizeof(real));
            }
        }
        layer_input = out;
        if (w->masks && l < net->L - 1) { /* dropout on every output but the top's */
            real *dropped = (real *)w->dropped + l * N * DH;
            FN(drop)(dropped, out, w, l, DH);
            layer_input = dropped;
        }
    }
    if (w->last_only) { /* the seed API: the last step only */
        memcpy(top, out + (T - 1) * B * DH, (size_t)(B * DH) * sizeof(real));
    } else {
        memcpy(top, out, (size_t)(N * DH) * sizeof(real));
        memset(top + N * DH, 0, (size_t)((w->T - T) * B * DH) * sizeof(real));
    }
    if (net->O) {
        real *ws = FN(direction_work)(w, 0);
        if (w->last_only) {
            FN(crnn_linear_forward)(Y, out + (T - 1) * B * DH, params + net->out_W,
                                    params + net->out_b, ws, B, DH, net->O);
        } else {
            FN(crnn_linear_forward)(Y, out, params + net->out_W, params + net->out_b, ws, N,
                                    DH, net->O);
            memset(Y + N * net->O, 0, (size_t)((w->T - T) * B * net->O) * sizeof(real));
            if (lengths) FN(zero_rows_past_lengths)(Y, lengths, T, B, net->O);
            unsort_rows(w, Y, T, B, (size_t)net->O * sizeof(real));
        }
    }
    if (!w->last_only) unsort_rows(w, top, T, B, (size_t)DH * sizeof(real));
    const size_t state_row = (size_t)H * sizeof(real);
    if (h_n) unsort_rows(w, h_n, net->L * D, B, state_row);
    if (c_n) unsort_rows(w, c_n, net->L * D, B, state_row);
    return CRNN_OK;
}

int FN(crnn_network_step)(const crnn_network *net, const real *params, crnn_workspace *w,
                          const void *x, int tokens, real *out, real *next) {
    const ptrdiff_t state = net->L * w->B * net->H;
    memcpy(tokens ? (void *)w->ids : w->inputs, x,
           (size_t)w->B * (tokens ? sizeof(int64_t) : (size_t)net->I * sizeof(real)));
    w->T = w->T_run = 1;
    w->tokens = tokens;
    const int status = FN(crnn_network_forward)(net, params, w, net->O ? out : NULL,
                                                net->O ? next + 2 * state : out, next,
                                                next + state);
    if (status == CRNN_OK) {
        memcpy(w->h0, next, (size_t)state * sizeof(real));
        if (net->cell == CRNN_CELL_LSTM)
            memcpy(w->c0, next + state, (size_t)state * sizeof(real));
    }
    return status;
}

/* Direction d's dLoss/d(input projection) (T,B,G*H), once its recurrence's
 * backward has run: the gated cells' d_gates, the Elman cell's states' own
 * buffer (d_top, or its half of it) */
static real *FN(d_projection)(const crnn_network *net, const crnn_workspace *w, ptrdiff_t d,
                              real *d_top) {
    const ptrdiff_t N = w->T_run * w->B;
    if (net->G > 1) return (real *)w->d_gates + d * N * net->G * net->H;
    return net->D == 1 ? d_top : (real *)w->d_hidden + d * N * net->H;
}

/* BPTT of layer l, direction d, from dLoss/d(its states) (d_top, or its half
 * of it, split already) into the gradients, its rows of dh0 (and dc0) and,
 * unless NULL, d_input += dLoss/d(what the layer read) */
static int FN(direction_backward)(const crnn_network *net, const real *params, real *grads,
                                  crnn_workspace *w, ptrdiff_t l, ptrdiff_t d, real *d_top,
                                  const real *dh, const real *dc, real *dh0, real *dc0,
                                  real *d_input) {
    const ptrdiff_t B = w->B, N = w->T_run * w->B, H = net->H, GH = net->G * net->H;
    const ptrdiff_t k = l * net->D + d;
    const ptrdiff_t *off = net->offsets + 4 * k;
    real *d_hs = net->D == 1 ? d_top : (real *)w->d_hidden + d * N * H;
    real *d_proj = FN(d_projection)(net, w, d, d_top);
    real *d_bias = off[2] >= 0 ? grads + off[2] : NULL;
    const real *h0 = FN(state_of)(w->h0, k, w, H, w->has_h0);
    const int64_t *lengths = w->has_lengths ? w->lengths : NULL;
    const real *hs = (const real *)w->hidden + k * N * H;
    const real *cs = net->G > 1 ? (const real *)w->cells + k * N * H : NULL;
    const real *gates = net->G > 1 ? (const real *)w->gates + k * N * GH : NULL;
    real *ws = FN(direction_work)(w, d);
    real *dh0_k = dh0 ? dh0 + k * B * H : NULL;
    const real *dh_k = dh ? dh + k * B * H : NULL;
    if (net->cell == CRNN_CELL_LSTM)
        FN(crnn_lstm_backward)(grads + off[1], dh0_k, dc0 ? dc0 + k * B * H : NULL, d_proj,
                               d_hs, dh_k, dc ? dc + k * B * H : NULL, h0,
                               FN(state_of)(w->c0, k, w, H, w->has_c0), gates, hs, cs,
                               params + off[1], lengths, ws, w->T_run, B, H, (int)d);
    else if (net->cell == CRNN_CELL_GRU)
        FN(crnn_gru_backward)(grads + off[1], off[3] >= 0 ? grads + off[3] : NULL, dh0_k,
                              d_proj, (real *)w->d_cells + d * N * H, d_hs, dh_k, h0, gates, hs,
                              cs, params + off[1], lengths, ws, w->T_run, B, H, (int)d);
    else /* d_hs becomes dLoss/da, the projection's gradient, in place */
        FN(crnn_elman_backward)(grads + off[1], dh0_k, d_hs, dh_k, h0, hs, params + off[1],
                                lengths, ws, w->T_run, B, H, net->activation, (int)d);
    /* through the input projection */
    if (l == 0 && w->tokens)
        return FN(crnn_onehot_backward)(grads + off[0], d_bias, d_proj, w->ids, N, net->I, GH);
    FN(crnn_linear_backward)(d_input, grads + off[0], d_bias, d_proj,
                             FN(layer_input)(net, w, l), params + off[0], N,
                             l == 0 ? net->I : net->D * H, GH);
    return CRNN_OK;
}

int FN(crnn_network_backward)(const crnn_network *net, const real *params, real *grads,
                              crnn_workspace *w, const real *dY, const real *dh,
                              const real *dc, real *dh0, real *dc0, real *dX) {
    const ptrdiff_t T = w->T_run, B = w->B, N = w->T_run * w->B, H = net->H, D = net->D;
    const ptrdiff_t DH = D * H;
    const int64_t *lengths = w->has_lengths ? w->lengths : NULL;
    const ptrdiff_t LD = net->L * D;
    const size_t state_row = (size_t)H * sizeof(real);
    real *d_top = (real *)w->d_top, *d_below = (real *)w->d_below;
    const real *top = FN(layer_output)(net, w, net->L - 1);
    if (w->reordered) { /* dh and dc into the order the sequences ran */
        real *d_states = (real *)w->d_states;
        if (dh) gather_rows(w, d_states, dh, LD, B, state_row);
        if (dc) gather_rows(w, d_states + LD * B * H, dc, LD, B, state_row);
        dh = dh ? d_states : NULL;
        dc = dc ? d_states + LD * B * H : NULL;
    }
    /* dLoss/d(top layer's output), from the output layer or given */
    if (!net->O) {
        gather_rows(w, d_top, dY, T, B, (size_t)DH * sizeof(real));
    } else {
        memset(d_top, 0, (size_t)(N * DH) * sizeof(real));
        if (w->last_only) {
            FN(crnn_linear_backward)(d_top + (T - 1) * B * DH, grads + net->out_W,
                                     grads + net->out_b, dY, top + (T - 1) * B * DH,
                                     params + net->out_W, B, DH, net->O);
        } else {
            if (lengths) { /* steps past a sequence's length have no output */
                real *dY_valid = (real *)w->dY_valid;
                gather_rows(w, dY_valid, dY, T, B, (size_t)net->O * sizeof(real));
                FN(zero_rows_past_lengths)(dY_valid, lengths, T, B, net->O);
                dY = dY_valid;
            }
            FN(crnn_linear_backward)(d_top, grads + net->out_W, grads + net->out_b, dY, top,
                                     params + net->out_W, N, DH, net->O);
        }
    }
    for (ptrdiff_t l = net->L - 1; l >= 0; l--) {
        if (D == 2) { /* d_hidden's halves <- d_top (N,2H) split by direction */
            real *forward = (real *)w->d_hidden, *reverse = forward + N * H;
            for (ptrdiff_t n = 0; n < N; n++) {
                memcpy(forward + n * H, d_top + 2 * n * H, (size_t)H * sizeof(real));
                memcpy(reverse + n * H, d_top + (2 * n + 1) * H, (size_t)H * sizeof(real));
            }
        }
        real *d_input = l > 0 ? d_below : dX; /* dLoss/d(what layer l read), or NULL */
        if (l > 0) memset(d_below, 0, (size_t)(N * DH) * sizeof(real));
        int status[2] = {CRNN_OK, CRNN_OK};
        if (w->parallel_directions) {
            /* the two recurrences at once; their sum into d_input after, in the
             * order one thread takes, so that the bits do not change */
#ifdef _OPENMP
#pragma omp parallel for num_threads(2) schedule(static)
#endif
            for (int d = 0; d < 2; d++)
                status[d] = FN(direction_backward)(net, params, grads, w, l, d, d_top, dh, dc,
                                                   dh0, dc0, NULL);
            if (d_input && !(l == 0 && w->tokens))
                for (ptrdiff_t d = 0; d < 2; d++)
                    FN(crnn_linear_backward)(d_input, NULL, NULL,
                                             FN(d_projection)(net, w, d, d_top),
                                             FN(layer_input)(net, w, l),
                                             params + net->offsets[4 * (l * 2 + d)], N,
                                             l == 0 ? net->I : DH, net->G * H);
        } else {
            for (ptrdiff_t d = 0; d < D; d++)
                status[d] = FN(direction_backward)(net, params, grads, w, l, d, d_top, dh, dc,
                                                   dh0, dc0, d_input);
        }
        if (status[0] != CRNN_OK || status[1] != CRNN_OK) return CRNN_ERR_TOKEN_ID;
        if (l > 0) { /* d_below is dLoss/d(layer l-1's output, after dropout) */
            if (w->masks) {
                FN(drop)(d_top, d_below, w, l - 1, DH);
            } else {
                real *swap = d_top;
                d_top = d_below;
                d_below = swap;
            }
        }
    }
    /* what goes back to the caller, in the caller's order */
    if (dh0) unsort_rows(w, dh0, LD, B, state_row);
    if (dc0) unsort_rows(w, dc0, LD, B, state_row);
    if (dX) unsort_rows(w, dX, T, B, (size_t)net->I * sizeof(real));
    return CRNN_OK;
}
