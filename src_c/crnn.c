/*
 * crnn.c: instantiates the templates for float and double, so both types
 * share one source: the portable kernels, then one file per operation
 * (linear, one-hot input, activations, the Elman recurrence, training).
 */
#include "crnn.h"
#include "kernels.h"

#include <math.h>
#include <string.h>

#define CRNN_CAT_(a, b) a##b
#define CRNN_CAT(a, b) CRNN_CAT_(a, b)
#define FN(name) CRNN_CAT(name, CRNN_SUFFIX)

/* 1 when every one of the n token ids is in [0, I) */
static int ids_in_range(const int64_t *ids, ptrdiff_t n, ptrdiff_t I) {
    for (ptrdiff_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= (int64_t)I) return 0;
    return 1;
}

/* the time step of a direction's s-th iteration: t = s, or T-1-s in reverse */
static ptrdiff_t step_at(ptrdiff_t s, ptrdiff_t T, int reverse) {
    return reverse ? T - 1 - s : s;
}

/* Whether step t (the s-th of its direction) is sequence b's first, the one
 * that read its initial state: t = 0 forward, lengths[b]-1 in reverse. */
static int first_step(const int64_t *lengths, ptrdiff_t t, ptrdiff_t s, ptrdiff_t b,
                      int reverse) {
    return lengths && reverse ? t == lengths[b] - 1 : s == 0;
}

/* The rows a step must run: up to the last sequence that has step t (all B
 * without lengths). With lengths sorted longest first, exactly those that
 * have it: the product then shrinks as sequences end. */
static ptrdiff_t rows_at(const int64_t *lengths, ptrdiff_t t, ptrdiff_t B) {
    if (!lengths) return B;
    ptrdiff_t rows = B;
    while (rows > 0 && t >= lengths[rows - 1]) rows--;
    return rows;
}

/* Rows of the transposed weights in the workspace are padded to a multiple
 * of 16 elements and start 64-byte aligned: a vector load then never straddles
 * two cache lines (measured: a 64x64 row product 30 % faster). */
#define CRNN_ALIGN_ELEMENTS 16
static ptrdiff_t padded_ld(ptrdiff_t n) {
    return (n + CRNN_ALIGN_ELEMENTS - 1) / CRNN_ALIGN_ELEMENTS * CRNN_ALIGN_ELEMENTS;
}
/* Packed weights' rows (kernels.h) are their columns rounded up to a
 * multiple of every path's panel width: at least padded_ld's. */
static ptrdiff_t packed_ld(ptrdiff_t n) {
    return (n + CRNN_PACK_COLUMNS - 1) / CRNN_PACK_COLUMNS * CRNN_PACK_COLUMNS;
}
/* The step weights of a recurrence with G gates, forward (Whh^T (H, G*H))
 * or backward (Whh (G*H, H)), transposed or packed for any path, aligned */
static size_t step_weights_size(ptrdiff_t H, ptrdiff_t G) {
    const size_t forward = (size_t)H * (size_t)packed_ld(G * H);
    const size_t backward = (size_t)(G * H) * (size_t)packed_ld(H);
    return (forward > backward ? forward : backward) + CRNN_ALIGN_ELEMENTS;
}

static void *align_up(void *p) {
    return (void *)(((uintptr_t)p + 63) & ~(uintptr_t)63);
}

#define real float
#define CRNN_SUFFIX _f32
#define TANH tanhf
#define EXP expf
#define SQRT sqrtf
#include "kernels_portable.inc.c"
#include "products.inc.c"
#include "linear.inc.c"
#include "onehot.inc.c"
#include "activation.inc.c"
#include "states.inc.c"
#include "elman.inc.c"
#include "lstm.inc.c"
#include "gru.inc.c"
#include "train.inc.c"
#include "network.inc.c"
#undef real
#undef CRNN_SUFFIX
#undef TANH
#undef EXP
#undef SQRT

#define real double
#define CRNN_SUFFIX _f64
#define TANH tanh
#define EXP exp
#define SQRT sqrt
#include "kernels_portable.inc.c"
#include "products.inc.c"
#include "linear.inc.c"
#include "onehot.inc.c"
#include "activation.inc.c"
#include "states.inc.c"
#include "elman.inc.c"
#include "lstm.inc.c"
#include "gru.inc.c"
#include "train.inc.c"
#include "network.inc.c"
#undef real
#undef CRNN_SUFFIX
#undef TANH
#undef EXP
#undef SQRT

/* in elements of either type: the slack of 16 covers 64 bytes of alignment */
size_t crnn_linear_workspace(ptrdiff_t IN, ptrdiff_t OUT) {
    return (size_t)IN * (size_t)padded_ld(OUT) + CRNN_ALIGN_ELEMENTS;
}

size_t crnn_elman_workspace(ptrdiff_t B, ptrdiff_t H) {
    return step_weights_size(H, 1) + 2 * (size_t)B * (size_t)H;
}

/* step weights, two (B,H) carries, two (B,G*H) arrays, a zero row */
static size_t gated_workspace(ptrdiff_t B, ptrdiff_t H, ptrdiff_t G) {
    return step_weights_size(H, G) + 2 * (size_t)B * (size_t)H
           + 2 * (size_t)B * (size_t)(G * H) + (size_t)H;
}

size_t crnn_lstm_workspace(ptrdiff_t B, ptrdiff_t H) {
    return gated_workspace(B, H, 4);
}

size_t crnn_gru_workspace(ptrdiff_t B, ptrdiff_t H) {
    return gated_workspace(B, H, 3);
}

/* The scratch of a workspace, laid out from `base` (aligned) into w, or only
 * measured (w NULL): each buffer's elements, every one 64-byte aligned.
 * Returns the bytes from base to the end. */
static size_t workspace_layout(crnn_workspace *w, const crnn_network *net, char *base,
                               ptrdiff_t rows, ptrdiff_t batch, size_t item) {
    const ptrdiff_t H = net->H, D = net->D, L = net->L, LD = L * D, DH = D * H;
    const ptrdiff_t GH = net->G * H, O = net->O > 0 ? net->O : 1;
    const int gated = net->G > 1, lstm = net->cell == CRNN_CELL_LSTM;
    size_t work = crnn_linear_workspace(net->I, GH);
    const size_t more[3] = {crnn_linear_workspace(DH, GH), crnn_linear_workspace(DH, O),
                            lstm ? crnn_lstm_workspace(batch, H)
                            : net->cell == CRNN_CELL_GRU ? crnn_gru_workspace(batch, H)
                                                         : crnn_elman_workspace(batch, H)};
    for (int i = 0; i < 3; i++) work = more[i] > work ? more[i] : work;
    /* (elements, bytes each, where it goes) */
    struct { size_t n, size; void **to; } parts[] = {
        {(size_t)(rows * net->I), item, w ? &w->inputs : NULL},
        {(size_t)rows, sizeof(int64_t), w ? (void **)&w->ids : NULL},
        {(size_t)(LD * rows * H), item, w ? &w->hidden : NULL},
        {D == 2 ? (size_t)(L * rows * DH) : 1, item, w ? &w->outputs : NULL},
        {(size_t)((L > 1 ? L - 1 : 1) * rows * DH), item, w ? &w->dropped : NULL},
        {(size_t)(rows * DH), item, w ? &w->d_top : NULL},
        {(size_t)(rows * DH), item, w ? &w->d_below : NULL},
        {(size_t)(D * rows * H), item, w ? &w->d_hidden : NULL},
        {gated ? (size_t)(LD * rows * GH) : 1, item, w ? &w->gates : NULL},
        {gated ? (size_t)(LD * rows * H) : 1, item, w ? &w->cells : NULL},
        {gated ? (size_t)(D * rows * GH) : 1, item, w ? &w->d_gates : NULL},
        {net->cell == CRNN_CELL_GRU ? (size_t)(D * rows * H) : 1, item,
         w ? &w->d_cells : NULL},
        {(size_t)(rows * O), item, w ? &w->dY_valid : NULL},
        {(size_t)(LD * batch * H), item, w ? &w->h0 : NULL},
        {lstm ? (size_t)(LD * batch * H) : 1, item, w ? &w->c0 : NULL},
        {(size_t)batch, sizeof(int64_t), w ? (void **)&w->lengths : NULL},
        {(size_t)D * work, item, w ? &w->work : NULL},
    };
    size_t at = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (w) *parts[i].to = base + at;
        at += (parts[i].n * parts[i].size + 63) & ~(size_t)63;
    }
    if (w) {
        w->work_size = (ptrdiff_t)work;
        w->rows = rows;
        w->batch = batch;
    }
    return at;
}

size_t crnn_workspace_size(const crnn_network *net, ptrdiff_t rows, ptrdiff_t batch,
                           size_t item) {
    return workspace_layout(NULL, net, NULL, rows, batch, item) + 64; /* + alignment */
}

void crnn_workspace_bind(crnn_workspace *w, const crnn_network *net, void *memory,
                         ptrdiff_t rows, ptrdiff_t batch, size_t item) {
    workspace_layout(w, net, (char *)align_up(memory), rows, batch, item);
}

void crnn_workspace_load(crnn_workspace *w, const crnn_network *net, const void *x,
                         int tokens, int batch_major, const void *h0, const void *c0,
                         const int64_t *lengths, ptrdiff_t T, ptrdiff_t B, size_t item) {
    const size_t row = tokens ? sizeof(int64_t) : (size_t)net->I * item; /* a step of one */
    const size_t state = (size_t)(net->L * net->D * B * net->H) * item;
    char *to = tokens ? (char *)w->ids : (char *)w->inputs;
    const char *from = (const char *)x;
    if (!x) { /* the inputs are in w already */
    } else if (batch_major) { /* (B,T,...) into (T,B,...) */
        for (ptrdiff_t b = 0; b < B; b++)
            for (ptrdiff_t t = 0; t < T; t++)
                memcpy(to + (t * B + b) * row, from + (b * T + t) * row, row);
    } else {
        memcpy(to, from, (size_t)(T * B) * row);
    }
    /* a zero state is multiplied like any other, as PyTorch does: with a NaN
     * in Whh the first step is NaN whether the zeros were given or not */
    if (h0) memcpy(w->h0, h0, state);
    else memset(w->h0, 0, state);
    if (net->cell == CRNN_CELL_LSTM) {
        if (c0) memcpy(w->c0, c0, state);
        else memset(w->c0, 0, state);
    }
    w->has_h0 = 1;
    w->has_c0 = net->cell == CRNN_CELL_LSTM;
    w->T = w->T_run = T;
    w->B = B;
    w->tokens = tokens;
    w->has_lengths = lengths != NULL;
    if (lengths) {
        memcpy(w->lengths, lengths, (size_t)B * sizeof(int64_t));
        w->T_run = lengths[0]; /* the longest: they come longest first */
    }
    /* a layer's two directions at once, a thread each, when each has work
     * enough to pay for waking a thread (measured on 2 cores: medium,
     * bidirectional, 35.6 -> 23.9 ms; small, 47 -> 58 us forward) */
    const ptrdiff_t DH = net->D * net->H, in = net->I < DH ? net->I : DH;
    const double work = (double)T * (double)B * (double)(net->G * net->H) * (double)(in + net->H);
    w->parallel_directions = net->D == 2 && crnn_threads_for(work, 2) >= 2;
}
