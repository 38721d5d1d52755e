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

/* C (B,H) += A (B,H) W (H,H), W's rows ld apart: the product of every step.
 * With `backwards`, the sum over k runs from H-1 down. Alternating the
 * direction from step to step finds the rows of W the last step read last
 * still in L1 (measured: 15-30 % faster for H = 96..160, where W is a little
 * larger than L1). */
static void FN(recurrent_product)(const FN(crnn_kernels) *kern, real *C,
                                  const real *A, const real *W, ptrdiff_t ld,
                                  ptrdiff_t B, ptrdiff_t H, int backwards) {
    if (backwards)
        kern->matmul(C, H, A + (H - 1), H, -1, W + (H - 1) * ld, -ld, B, H, H);
    else
        kern->matmul(C, H, A, H, 1, W, ld, B, H, H);
}

/* W^T (C,R) of W (R,C) at the start of workspace, aligned, its rows
 * padded_ld(R) apart; returns it. */
static real *FN(transpose_aligned)(const FN(crnn_kernels) *kern, real *workspace,
                                   const real *W, ptrdiff_t R, ptrdiff_t C) {
    real *WT = (real *)align_up(workspace);
    kern->transpose(WT, padded_ld(R), W, R, C);
    return WT;
}
