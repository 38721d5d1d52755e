/*
 * crnn.c: instantiates the templates for float and double, so both types
 * share one source: the portable kernels, then one file per operation
 * (linear, one-hot input, activations, the Elman recurrence, training).
 */
#include "crnn.h"
#include "kernels.h"

#include <math.h>
#include <stdlib.h>
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

/* dst (rows of B, each `row` bytes) <- src's rows, in w's running order when
 * it reorders: dst's row b of each block is src's row order[b] */
static void gather_rows(const crnn_workspace *w, void *dst, const void *src, ptrdiff_t blocks,
                        ptrdiff_t B, size_t row) {
    if (!w->reordered) {
        memcpy(dst, src, (size_t)(blocks * B) * row);
        return;
    }
    for (ptrdiff_t k = 0; k < blocks; k++)
        for (ptrdiff_t b = 0; b < B; b++)
            memcpy((char *)dst + (size_t)(k * B + b) * row,
                   (const char *)src + (size_t)(k * B + w->order[b]) * row, row);
}

/* rows (blocks of B, each `row` bytes, in running order) back into the
 * caller's order, in place, through w's unsort buffer */
static void unsort_rows(const crnn_workspace *w, void *rows, ptrdiff_t blocks, ptrdiff_t B,
                        size_t row) {
    if (!w->reordered) return;
    for (ptrdiff_t k = 0; k < blocks; k++) {
        char *block = (char *)rows + (size_t)(k * B) * row;
        memcpy(w->unsort, block, (size_t)B * row);
        for (ptrdiff_t b = 0; b < B; b++)
            memcpy(block + (size_t)w->order[b] * row, (const char *)w->unsort + (size_t)b * row,
                   row);
    }
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
    const ptrdiff_t widest = net->I > O ? (net->I > DH ? net->I : DH) : (O > DH ? O : DH);
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
        {(size_t)batch, sizeof(int64_t), w ? (void **)&w->order : NULL},
        {(size_t)(2 * LD * batch * H), item, w ? &w->d_states : NULL},
        {(size_t)(batch * widest), item, w ? &w->unsort : NULL},
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
        w->item = item;
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

/* qsort's order of sort keys: ascending */
static int ascending(const void *a, const void *b) {
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* w->order: the B sequences longest first, ties in the caller's order, from
 * lengths (B) in [1,T]; w->reordered when that is not the caller's order */
static int sort_longest_first(crnn_workspace *w, const int64_t *lengths, ptrdiff_t T,
                              ptrdiff_t B) {
    w->reordered = 0;
    for (ptrdiff_t b = 0; b < B; b++) {
        if (lengths[b] < 1 || lengths[b] > T) return CRNN_ERR_LENGTH;
        if (b > 0 && lengths[b] > lengths[b - 1]) w->reordered = 1;
    }
    if (!w->reordered) return CRNN_OK;
    /* one key per sequence, (T - length) * B + b < T*B: sorting the keys
     * sorts by length, longest first, then by position */
    for (ptrdiff_t b = 0; b < B; b++) w->order[b] = (T - lengths[b]) * B + b;
    qsort(w->order, (size_t)B, sizeof(int64_t), ascending);
    for (ptrdiff_t b = 0; b < B; b++) w->order[b] %= B;
    return CRNN_OK;
}

int crnn_workspace_load(crnn_workspace *w, const crnn_network *net, const void *x,
                         int tokens, int batch_major, const void *h0, const void *c0,
                         const int64_t *lengths, ptrdiff_t T, ptrdiff_t B, size_t item) {
    const size_t row = tokens ? sizeof(int64_t) : (size_t)net->I * item; /* a step of one */
    const ptrdiff_t LD = net->L * net->D;
    const size_t state = (size_t)(LD * B * net->H) * item;
    char *to = tokens ? (char *)w->ids : (char *)w->inputs;
    const char *from = (const char *)x;
    w->reordered = 0;
    if (lengths && sort_longest_first(w, lengths, T, B) != CRNN_OK) {
        w->T = w->B = 0;
        return CRNN_ERR_LENGTH;
    }
    if (!x) { /* the inputs are in w already */
    } else if (batch_major) { /* (B,T,...) into (T,B,...) */
        for (ptrdiff_t b = 0; b < B; b++) {
            const ptrdiff_t from_b = w->reordered ? w->order[b] : b;
            for (ptrdiff_t t = 0; t < T; t++)
                memcpy(to + (t * B + b) * row, from + (from_b * T + t) * row, row);
        }
    } else {
        gather_rows(w, to, from, T, B, row);
    }
    /* a zero state is multiplied like any other, as PyTorch does: with a NaN
     * in Whh the first step is NaN whether the zeros were given or not */
    const size_t state_row = (size_t)net->H * item;
    if (h0) gather_rows(w, w->h0, h0, LD, B, state_row);
    else memset(w->h0, 0, state);
    if (net->cell == CRNN_CELL_LSTM) {
        if (c0) gather_rows(w, w->c0, c0, LD, B, state_row);
        else memset(w->c0, 0, state);
    }
    w->has_h0 = 1;
    w->has_c0 = net->cell == CRNN_CELL_LSTM;
    w->T = w->T_run = T;
    w->B = B;
    w->tokens = tokens;
    w->has_lengths = lengths != NULL;
    if (lengths) {
        gather_rows(w, w->lengths, lengths, 1, B, sizeof(int64_t));
        w->T_run = w->lengths[0]; /* the longest */
    }
    /* a layer's two directions at once, a thread each, when each has work
     * enough to pay for waking a thread (measured on 2 cores: medium,
     * bidirectional, 35.6 -> 23.9 ms; small, 47 -> 58 us forward) */
    const ptrdiff_t DH = net->D * net->H, in = net->I < DH ? net->I : DH;
    const double work = (double)T * (double)B * (double)(net->G * net->H) * (double)(in + net->H);
    w->parallel_directions = net->D == 2 && crnn_threads_for(work, 2) >= 2;
    return CRNN_OK;
}

int crnn_network_forward(const crnn_network *net, const void *params, crnn_workspace *w,
                         void *Y, void *top, void *h_n, void *c_n) {
    if (w->item == sizeof(float))
        return crnn_network_forward_f32(net, (const float *)params, w, (float *)Y, (float *)top,
                                        (float *)h_n, (float *)c_n);
    return crnn_network_forward_f64(net, (const double *)params, w, (double *)Y, (double *)top,
                                    (double *)h_n, (double *)c_n);
}

int crnn_network_backward(const crnn_network *net, const void *params, void *grads,
                          crnn_workspace *w, const void *dY, const void *dh, const void *dc,
                          void *dh0, void *dc0, void *dX) {
    if (w->item == sizeof(float))
        return crnn_network_backward_f32(net, (const float *)params, (float *)grads, w,
                                         (const float *)dY, (const float *)dh,
                                         (const float *)dc, (float *)dh0, (float *)dc0,
                                         (float *)dX);
    return crnn_network_backward_f64(net, (const double *)params, (double *)grads, w,
                                     (const double *)dY, (const double *)dh, (const double *)dc,
                                     (double *)dh0, (double *)dc0, (double *)dX);
}

int crnn_network_step(const crnn_network *net, const void *params, crnn_workspace *w,
                      const void *x, int tokens, void *out, void *next) {
    if (w->item == sizeof(float))
        return crnn_network_step_f32(net, (const float *)params, w, x, tokens, (float *)out,
                                     (float *)next);
    return crnn_network_step_f64(net, (const double *)params, w, x, tokens, (double *)out,
                                 (double *)next);
}
