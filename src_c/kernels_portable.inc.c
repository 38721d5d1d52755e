/*
 * Portable kernels, a template: crnn.c includes this file once per floating
 * type, with `real`, TANH and FN(name) defined. They are the reference every
 * SIMD path is tested against, and the fallback on CPUs without one.
 *
 * Every inner loop runs along a contiguous row of the output (axpy shape), so
 * a compiler vectorizes it without reassociating a sum: no -ffast-math needed,
 * and each output element is summed in the same order on every run.
 * Products of the form A B^T are done as A (B^T) after an explicit transpose.
 */

/* C (M,N) += A (M,K) B (K,N) */
static void FN(matmul_nn)(real *restrict C, const real *restrict A,
                          const real *restrict Bm, ptrdiff_t M, ptrdiff_t N,
                          ptrdiff_t K) {
    for (ptrdiff_t i = 0; i < M; i++) {
        real *restrict c_row = C + i * N;
        for (ptrdiff_t k = 0; k < K; k++) {
            const real a = A[i * K + k];
            const real *restrict b_row = Bm + k * N;
            for (ptrdiff_t j = 0; j < N; j++) c_row[j] += a * b_row[j];
        }
    }
}

/* C (N,K) += A^T B, with A (M,N) and B (M,K): a sum of M outer products */
static void FN(matmul_tn)(real *restrict C, const real *restrict A,
                          const real *restrict Bm, ptrdiff_t M, ptrdiff_t N,
                          ptrdiff_t K) {
    for (ptrdiff_t m = 0; m < M; m++) {
        const real *restrict a_row = A + m * N;
        const real *restrict b_row = Bm + m * K;
        for (ptrdiff_t n = 0; n < N; n++) {
            const real a = a_row[n];
            real *restrict c_row = C + n * K;
            for (ptrdiff_t k = 0; k < K; k++) c_row[k] += a * b_row[k];
        }
    }
}

/* x (n) <- tanh(x), with the C library's tanh */
static void FN(tanh_portable)(real *x, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) x[i] = TANH(x[i]);
}

const FN(crnn_kernels) FN(crnn_kernels_portable) = {
    FN(matmul_nn), FN(matmul_tn), FN(tanh_portable),
};

/* Helpers that every path shares: they are O(size of the data), not products. */

/* dst (C,R) <- src (R,C)^T */
static void FN(transpose)(real *restrict dst, const real *restrict src,
                          ptrdiff_t R, ptrdiff_t C) {
    for (ptrdiff_t r = 0; r < R; r++)
        for (ptrdiff_t c = 0; c < C; c++) dst[c * R + r] = src[r * C + c];
}

/* every row of Y (M,N) <- v (N) */
static void FN(fill_rows)(real *restrict Y, const real *restrict v, ptrdiff_t M,
                          ptrdiff_t N) {
    for (ptrdiff_t i = 0; i < M; i++) memcpy(Y + i * N, v, (size_t)N * sizeof(real));
}

/* out (N) += sum over the rows of A (M,N) */
static void FN(sum_rows)(real *restrict out, const real *restrict A, ptrdiff_t M,
                         ptrdiff_t N) {
    for (ptrdiff_t i = 0; i < M; i++)
        for (ptrdiff_t j = 0; j < N; j++) out[j] += A[i * N + j];
}
