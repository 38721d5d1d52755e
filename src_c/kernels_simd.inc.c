/*
 * SIMD kernels, a template: kernels_x86.c includes this file once per floating
 * type and instruction set, inside a `target` pragma, with these defined:
 *   real, FN(name)                 the type and the name suffix
 *   VEC, W                         a vector type and its lanes
 *   VZERO() VLOAD(p) VSTORE(p, v) VSET1(x) VFMA(a, b, c) = a*b + c, VADD(a, b)
 *   MASK_T, VMASK(n)               a mask of the first n lanes
 *   VMASKLOAD(p, m) VMASKSTORE(p, m, v)
 *   MR, NV                         a tile is MR rows by NV vectors
 *   RV                             rows left over go NV..RV vectors at a time
 *   KC, MC                         cache blocks of the sum and of the rows
 *
 * One product serves every shape: C (M,N) += A (M,K) B (K,N), where element
 * (i,k) of A is A[i*rs + k*cs]; so A is read as it is, or transposed (rs = 1),
 * without a copy. B and C are row-major. A tile keeps its MR x NV*W block of C
 * in registers while it runs along k: each step loads NV vectors of one row of
 * B and broadcasts MR numbers of A. Rows left over (and a batch of one, the
 * recurrence of a single sequence) go one row at a time with up to RV vectors
 * in registers, so the FMA chains stay independent. The last columns of a row
 * use masked loads and stores. Sums run along k in the same order whatever the
 * blocking, so results do not depend on how rows are split.
 */


/* C[r, 0 : NVEC*W] += sum_k A(r, k) B[k, 0 : NVEC*W] for the R rows r; with
 * MASKED the last vector holds only the lanes in `mask`. Defined twice, with
 * the accumulators sized for a tile (MR x NV) and for a row (1 x RV).
 * (With a masked load in the loop, gcc keeps wide rows' accumulators in
 * memory and stores them on every step; measured, that costs nothing here:
 * copying the masked columns out first removed the stores and was slower.) */
#define CRNN_DEFINE_BLOCK(name, ROWS, VECS)                                       \
CRNN_INLINE void name(const int R, const int NVEC, const int MASKED, real *C,     \
                      ptrdiff_t ldc, const real *A, ptrdiff_t rs, ptrdiff_t cs,   \
                      const real *B, ptrdiff_t ldb, ptrdiff_t K, MASK_T mask) {   \
    const int NFULL = NVEC - MASKED; /* the masked vector has its own variable */ \
    VEC acc[ROWS][VECS], acc_tail[ROWS];                                          \
    for (int r = 0; r < R; r++) {                                                 \
        for (int v = 0; v < NFULL; v++) acc[r][v] = VZERO();                      \
        acc_tail[r] = VZERO();                                                    \
    }                                                                             \
    for (ptrdiff_t k = 0; k < K; k++) {                                           \
        const real *b = B + k * ldb;                                              \
        const real *a = A + k * cs;                                               \
        VEC bv[VECS];                                                             \
        for (int v = 0; v < NFULL; v++) bv[v] = VLOAD(b + v * W);                 \
        const VEC b_tail = MASKED ? VMASKLOAD(b + NFULL * W, mask) : VZERO();     \
        for (int r = 0; r < R; r++) {                                             \
            const VEC ar = VSET1(a[r * rs]);                                      \
            for (int v = 0; v < NFULL; v++) acc[r][v] = VFMA(ar, bv[v], acc[r][v]); \
            if (MASKED) acc_tail[r] = VFMA(ar, b_tail, acc_tail[r]);              \
        }                                                                         \
    }                                                                             \
    for (int r = 0; r < R; r++) {                                                 \
        real *c = C + r * ldc;                                                    \
        for (int v = 0; v < NFULL; v++)                                           \
            VSTORE(c + v * W, VADD(VLOAD(c + v * W), acc[r][v]));                 \
        if (MASKED)                                                               \
            VMASKSTORE(c + NFULL * W, mask,                                       \
                       VADD(VMASKLOAD(c + NFULL * W, mask), acc_tail[r]));        \
    }                                                                             \
}
CRNN_DEFINE_BLOCK(FN(tile_block), MR, NV)
CRNN_DEFINE_BLOCK(FN(row_block), 1, RV)
#undef CRNN_DEFINE_BLOCK

#define CRNN_BLOCK_ARGS C, ldc, A, rs, cs, B, ldb, K, mask
#define CRNN_CASE(block, rows, n)                                                 \
    case n:                                                                       \
        if (masked) block(rows, n, 1, CRNN_BLOCK_ARGS);                           \
        else block(rows, n, 0, CRNN_BLOCK_ARGS);                                  \
        break;

/* an MR-row tile of nvec (<= NV) vectors */
static void FN(tile)(int nvec, int masked, real *C, ptrdiff_t ldc, const real *A,
                     ptrdiff_t rs, ptrdiff_t cs, const real *B, ptrdiff_t ldb,
                     ptrdiff_t K, MASK_T mask) {
    switch (nvec) {
        CRNN_CASE(FN(tile_block), MR, 1)
        CRNN_CASE(FN(tile_block), MR, 2)
#if NV >= 3
        CRNN_CASE(FN(tile_block), MR, 3)
#endif
    }
}

/* one row of nvec (<= RV) vectors */
static void FN(row)(int nvec, int masked, real *C, ptrdiff_t ldc, const real *A,
                    ptrdiff_t rs, ptrdiff_t cs, const real *B, ptrdiff_t ldb,
                    ptrdiff_t K, MASK_T mask) {
    switch (nvec) {
        CRNN_CASE(FN(row_block), 1, 1) CRNN_CASE(FN(row_block), 1, 2)
        CRNN_CASE(FN(row_block), 1, 3) CRNN_CASE(FN(row_block), 1, 4)
        CRNN_CASE(FN(row_block), 1, 5) CRNN_CASE(FN(row_block), 1, 6)
        CRNN_CASE(FN(row_block), 1, 7) CRNN_CASE(FN(row_block), 1, 8)
        CRNN_CASE(FN(row_block), 1, 9) CRNN_CASE(FN(row_block), 1, 10)
        CRNN_CASE(FN(row_block), 1, 11) CRNN_CASE(FN(row_block), 1, 12)
#if RV >= 16
        CRNN_CASE(FN(row_block), 1, 13) CRNN_CASE(FN(row_block), 1, 14)
        CRNN_CASE(FN(row_block), 1, 15) CRNN_CASE(FN(row_block), 1, 16)
#endif
    }
}

#undef CRNN_CASE
#undef CRNN_BLOCK_ARGS

/* C (M,N) += A (M,K) B (K,N), element (i,k) of A at A[i*rs + k*cs] */
CRNN_INLINE void FN(matmul_strided)(real *C, ptrdiff_t ldc, const real *A,
                                    ptrdiff_t rs, ptrdiff_t cs, const real *B,
                                    ptrdiff_t ldb, ptrdiff_t M, ptrdiff_t N,
                                    ptrdiff_t K) {
    const ptrdiff_t M_tiles = M - M % MR; /* rows covered by full MR-row tiles */
    for (ptrdiff_t pc = 0; pc < K; pc += KC) {
        const ptrdiff_t kc = K - pc < KC ? K - pc : KC;
        const real *A_p = A + pc * cs, *B_p = B + pc * ldb;
        for (ptrdiff_t ic = 0; ic < M_tiles; ic += MC) {
            const ptrdiff_t ic_end = ic + MC < M_tiles ? ic + MC : M_tiles;
            for (ptrdiff_t jc = 0; jc < N; jc += NV * W) {
                const ptrdiff_t nc = N - jc < NV * W ? N - jc : NV * W;
                const int nvec = (int)((nc + W - 1) / W), tail = (int)(nc % W);
                const MASK_T mask = VMASK(tail ? tail : W);
                for (ptrdiff_t ir = ic; ir < ic_end; ir += MR)
                    FN(tile)(nvec, tail != 0, C + ir * ldc + jc, ldc, A_p + ir * rs, rs,
                             cs, B_p + jc, ldb, kc, mask);
            }
        }
        for (ptrdiff_t i = M_tiles; i < M; i++)
            for (ptrdiff_t jc = 0; jc < N; jc += RV * W) {
                const ptrdiff_t nc = N - jc < RV * W ? N - jc : RV * W;
                const int nvec = (int)((nc + W - 1) / W), tail = (int)(nc % W);
                const MASK_T mask = VMASK(tail ? tail : W);
                FN(row)(nvec, tail != 0, C + i * ldc + jc, ldc, A_p + i * rs, rs, cs,
                        B_p + jc, ldb, kc, mask);
            }
    }
}

/* The two ways the operations read A, each compiled with its unit stride known:
 * measured, the generic strides cost 10-60 % on small products. */
static void FN(matmul_one_thread)(real *C, ptrdiff_t ldc, const real *A,
                                  ptrdiff_t rs, ptrdiff_t cs, const real *B,
                                  ptrdiff_t ldb, ptrdiff_t M, ptrdiff_t N,
                                  ptrdiff_t K) {
    if (cs == 1) FN(matmul_strided)(C, ldc, A, rs, 1, B, ldb, M, N, K);
    else if (rs == 1) FN(matmul_strided)(C, ldc, A, 1, cs, B, ldb, M, N, K);
    else FN(matmul_strided)(C, ldc, A, rs, cs, B, ldb, M, N, K);
}

/* Large products split the rows of C between threads, in whole tiles. Every
 * element is still summed over k in the same order, by one thread, so the
 * result is the same bit for bit whatever the number of threads. */
static void FN(matmul)(real *C, ptrdiff_t ldc, const real *A, ptrdiff_t rs,
                       ptrdiff_t cs, const real *B, ptrdiff_t ldb, ptrdiff_t M,
                       ptrdiff_t N, ptrdiff_t K) {
    const int threads = crnn_threads_for((double)M * (double)N * (double)K, M / MR);
    if (threads <= 1) {
        FN(matmul_one_thread)(C, ldc, A, rs, cs, B, ldb, M, N, K);
        return;
    }
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
    {
        const ptrdiff_t n = omp_get_num_threads(), t = omp_get_thread_num();
        const ptrdiff_t tiles = M / MR;
        const ptrdiff_t first = tiles * t / n * MR;
        const ptrdiff_t end = t == n - 1 ? M : tiles * (t + 1) / n * MR;
        FN(matmul_one_thread)(C + first * ldc, ldc, A + first * rs, rs, cs, B, ldb,
                              end - first, N, K);
    }
#endif
}

