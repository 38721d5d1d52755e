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

/* C (M,N) += A (M,K) W (K,N), W's rows ld apart: the product of every step
 * (M = B sequences; N = K = H for the Elman cell, N = 4H or 3H forward and
 * K = 4H or 3H backward for the gated ones). With `backwards`, the sum over
 * k runs from K-1 down. Alternating the direction from step to step finds
 * the rows of W the last step read last still in L1 (measured: 15-30 %
 * faster for H = 96..160, where W is a little larger than L1). */
static void FN(recurrent_product)(const FN(crnn_kernels) *kern, real *C,
                                  const real *A, const real *W, ptrdiff_t ld,
                                  ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, int backwards) {
    if (backwards)
        kern->matmul(C, N, A + (K - 1), K, -1, W + (K - 1) * ld, -ld, M, N, K);
    else
        kern->matmul(C, N, A, K, 1, W, ld, M, N, K);
}

/* W^T (C,R) of W (R,C) at the start of workspace, aligned, its rows
 * padded_ld(R) apart; returns it. */
static real *FN(transpose_aligned)(const FN(crnn_kernels) *kern, real *workspace,
                                   const real *W, ptrdiff_t R, ptrdiff_t C) {
    real *WT = (real *)align_up(workspace);
    kern->transpose(WT, padded_ld(R), W, R, C);
    return WT;
}
