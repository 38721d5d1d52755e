/*
 * The shapes of product the operations use, over the kernel table's one
 * strided matmul (kernels.h), a template: crnn.c includes this file once per
 * floating type, after kernels_portable.inc.c.
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

/* Calls of at most this many rows (T*B) read a row-major W (N,K) in place,
 * as the dot products of matmul_nt, rather than transpose it for matmul: a
 * stream's step (T = B = 1) then costs its arithmetic. Measured on an AMD
 * EPYC (Zen 4), a GRU of 100 units with an output layer of 65, float32: one
 * step alone 8.3 us with the transposes of Whh and Why, 3.3 without. Longer
 * calls keep the transpose, made once for all their steps: a step of
 * matmul_nt ends each sum across lanes, which cost more than the transpose
 * saved at H = 100 (25 steps, B = 1: 2.85 us a step against 2.09). */
#define CRNN_FEW_ROWS 4

/* The weights a recurrence multiplies by on every step, W (K,N), made ready
 * once per call of T steps of B rows: the forward's Whh read in place by
 * matmul_nt when T*B <= CRNN_FEW_ROWS, packed into the kernel's panels when the batch fills a
 * tile (measured on AVX2, B = 64, H = 1024: the step's product at 105 GFLOP/s,
 * against 85-89 packing each panel on every step), else row-major, its rows
 * ld apart (a batch smaller than a tile reads each number once a step). */
typedef struct {
    const real *W;
    ptrdiff_t ld; /* when not packed */
    int packed;
    int in_place; /* W is the forward's Whh (N,K) as it lies: matmul_nt */
} FN(step_weights);

/* The forward's Whh^T (transposed: W (K,N) = Whh^T, Whh (N,K)) or the
 * backward's Whh itself (W = Whh (K,N)), for B rows a step; a copy goes in
 * space, step_weights_size(H, G) elements for a cell of G gates. */
static FN(step_weights) FN(step_weights_prepare)(const FN(crnn_kernels) *kern, real *space,
                                                 const real *Whh, ptrdiff_t K, ptrdiff_t N,
                                                 int transposed, ptrdiff_t B, ptrdiff_t T) {
    real *copy = (real *)align_up(space);
    FN(step_weights) w = {copy, padded_ld(N), 0, 0};
    if (transposed && T * B <= CRNN_FEW_ROWS) { /* read in place: nothing to make */
        w.W = Whh;
        w.ld = K;
        w.in_place = 1;
    } else if (kern->packed_rows && B >= kern->packed_rows) {
        kern->pack(copy, Whh, transposed ? 1 : N, transposed ? K : 1, K, N);
        w.packed = 1;
    } else if (transposed) {
        kern->transpose(copy, padded_ld(N), Whh, N, K);
    } else {
        w.W = Whh;
        w.ld = N;
    }
    return w;
}

/* C (M,N) += A (M,K) W (K,N): the product of every step (M = B sequences;
 * N = K = H for the Elman cell, N = 4H or 3H forward and K = 4H or 3H
 * backward for the gated ones). With `backwards`, the sum over k runs from
 * K-1 down. Alternating the direction from step to step finds the rows of W
 * the last step read last still in L1 (measured: 15-30 % faster for
 * H = 96..160, where W is a little larger than L1). */
static void FN(recurrent_product)(const FN(crnn_kernels) *kern, real *C, const real *A,
                                  const FN(step_weights) *w, ptrdiff_t M, ptrdiff_t N,
                                  ptrdiff_t K, int backwards) {
    if (w->in_place)
        kern->matmul_nt(C, N, A, K, w->W, w->ld, M, N, K);
    else if (w->packed)
        kern->matmul_packed(C, N, A, K, w->W, M, N, K, backwards);
    else if (backwards)
        kern->matmul(C, N, A + (K - 1), K, -1, w->W + (K - 1) * w->ld, -w->ld, M, N, K);
    else
        kern->matmul(C, N, A, K, 1, w->W, w->ld, M, N, K);
}

/* W^T (C,R) of W (R,C) at the start of workspace, aligned, its rows
 * padded_ld(R) apart; returns it. */
static real *FN(transpose_aligned)(const FN(crnn_kernels) *kern, real *workspace,
                                   const real *W, ptrdiff_t R, ptrdiff_t C) {
    real *WT = (real *)align_up(workspace);
    kern->transpose(WT, padded_ld(R), W, R, C);
    return WT;
}
