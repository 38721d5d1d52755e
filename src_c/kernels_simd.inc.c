/*
 * SIMD kernels, a template: kernels_x86.c includes this file once per floating
 * type and instruction set, inside a `target` pragma, with these defined:
 *   real, FN(name)                 the type and the name suffix
 *   VEC, W                         a vector type and its lanes
 *   VZERO() VLOAD(p) VSTORE(p, v) VSET1(x) VFMA(a, b, c) = a*b + c, VADD(a, b)
 *   MASK_T, VMASK(n)               a mask of the first n lanes (0 < n <= W)
 *   VMASK_LAST(n)                  a mask of the last n lanes
 *   VMASKLOAD(p, m) VMASKSTORE(p, m, v)
 *   MR, NV                         a tile is MR rows by NV vectors
 *   RV                             a lone row goes up to RV vectors at a time
 *   KC, MC_IN_PLACE                cache blocks of the sum and of the rows of
 *                                  A, a panel of B (KC x NR) on the stack
 *   KC_A, MC                       the same for a transposed A, packed on the
 *                                  stack (MC x KC_A; with the panel, at most
 *                                  96 KB: the stack of any thread holds it)
 *
 * One product serves every shape: C (M,N) += A (M,K) B (K,N), where element
 * (i,k) of A is A[i*rs + k*cs]; so A is read as it is, or transposed (rs = 1).
 * B and C are row-major. It is the BLIS design cut to what
 * an RNN multiplies: B is packed, NR = NV*W columns at a time, into panels
 * that a tile reads as one contiguous stream; a tile keeps its MR x NR block
 * of C in registers while it runs along k, each step loading NV vectors of
 * the panel and broadcasting MR numbers of A. A transposed A is packed too.
 * The weights of a recurrence are packed once per call (pack, matmul_packed)
 * and serve every step. Products of fewer rows than a tile (a batch of one)
 * go row by row with up to RV vectors in registers, B read in place. Sums
 * run along k in the same order whatever the blocking, so results do not
 * depend on how rows are split between threads.
 */


#define NR (NV * W) /* the columns of a tile, and of a packed panel of B */

/* panel (kc, NR) <- B (kc, nr), its rows ldb apart (ldb < 0 walks B upwards),
 * with zeros in the columns past nr: a tile then reads its columns of B in
 * one contiguous stream, whatever B's stride. Measured on AVX2: with B's rows
 * 4 KB apart (H = 1024), reading B in place mapped every row of a tile's
 * strip to one set of L1 and ran products at 60-70 % of the unit's peak. */
static void FN(pack_panel)(real *restrict panel, const real *B, ptrdiff_t ldb,
                           ptrdiff_t kc, ptrdiff_t nr) {
    const int full = (int)(nr / W), tail = (int)(nr % W);
    const MASK_T mask = VMASK(tail ? tail : W);
    for (ptrdiff_t k = 0; k < kc; k++) {
        const real *b = B + k * ldb;
        real *p = panel + k * NR;
        PREFETCH(b + 8 * ldb); /* rows often pages apart, so no prefetcher */
        PREFETCH(b + 8 * ldb + NR - 1);
        if (nr == NR) {
            for (int v = 0; v < NV; v++) VSTORE(p + v * W, VLOAD(b + v * W));
            continue;
        }
        for (int v = 0; v < NV; v++)
            VSTORE(p + v * W, v < full ? VLOAD(b + v * W)
                              : v == full && tail ? VMASKLOAD(b + v * W, mask) : VZERO());
    }
}

/* C[r, 0 : nr] += sum_k A(r, k) panel[k, :] for the ROWS rows r of a tile,
 * row k of the panel at panel + k*ps: MR x NV accumulators stay in registers
 * while it runs along k, each step loading NV vectors of the panel and
 * broadcasting ROWS numbers of A; the last columns of C go through a masked
 * store. */
CRNN_INLINE void FN(tile_block)(const int ROWS, real *C, ptrdiff_t ldc, const real *A,
                                ptrdiff_t rs, ptrdiff_t cs, const real *panel,
                                ptrdiff_t ps, ptrdiff_t kc, ptrdiff_t nr) {
    VEC acc[MR][NV];
    for (int r = 0; r < ROWS; r++) {
        PREFETCH(C + r * ldc); /* its rows are apart: no prefetcher finds them */
        PREFETCH(C + r * ldc + NR - 1);
        for (int v = 0; v < NV; v++) acc[r][v] = VZERO();
    }
    CRNN_UNROLL_4 /* measured: 3-9 % on AVX2, 0-5 % on AVX-512 (2 or 8 no better) */
    for (ptrdiff_t k = 0; k < kc; k++) {
        const real *a = A + k * cs;
        VEC bv[NV];
        for (int v = 0; v < NV; v++) bv[v] = VLOAD(panel + k * ps + v * W);
        for (int r = 0; r < ROWS; r++) {
            const VEC ar = VSET1(a[r * rs]);
            for (int v = 0; v < NV; v++) acc[r][v] = VFMA(ar, bv[v], acc[r][v]);
        }
    }
    const int full = (int)(nr / W), tail = (int)(nr % W);
    const MASK_T mask = VMASK(tail ? tail : W);
    for (int r = 0; r < ROWS; r++) {
        real *c = C + r * ldc;
        for (int v = 0; v < NV; v++) {
            if (v < full) VSTORE(c + v * W, VADD(VLOAD(c + v * W), acc[r][v]));
            else if (v == full && tail)
                VMASKSTORE(c + v * W, mask, VADD(VMASKLOAD(c + v * W, mask), acc[r][v]));
        }
    }
}

/* a tile of R (1..MR) rows, each R compiled with its accumulators known */
CRNN_INLINE void FN(tile)(int R, real *C, ptrdiff_t ldc, const real *A, ptrdiff_t rs,
                          ptrdiff_t cs, const real *panel, ptrdiff_t ps, ptrdiff_t kc,
                          ptrdiff_t nr) {
#define CRNN_ROWS(n) \
    case n: FN(tile_block)(n, C, ldc, A, rs, cs, panel, ps, kc, nr); break;
    switch (R) {
        CRNN_ROWS(1) CRNN_ROWS(2) CRNN_ROWS(3) CRNN_ROWS(4) CRNN_ROWS(5) CRNN_ROWS(6)
#if MR >= 8
        CRNN_ROWS(7) CRNN_ROWS(8)
#endif
    }
#undef CRNN_ROWS
}

/* block (kc, MR) per MR rows <- A(ic.., pc..) read transposed in place (rs = 1):
 * each k's MR numbers are contiguous there, but k steps cs apart, often a
 * multiple of 4 KB (cs = H): unpacked, every step of a tile missed L1 and
 * crossed a page the prefetcher would not follow (AVX2, dW of H = 1024:
 * 59 GFLOP/s). */
static void FN(pack_transposed)(real *restrict block, const real *A, ptrdiff_t cs,
                                ptrdiff_t rows, ptrdiff_t kc) {
    /* k by k, each k's numbers read as the contiguous run they are. Tile by
     * tile instead (a tile's MR numbers of every k, then the next tile's),
     * a tile's kc reads lay cs apart, often a multiple of 4 KB: all in one
     * set of L1, where the next tile missed them again. Measured (perf) on
     * AVX-512, dW of the input weights (1024 x 64 over 3200 rows): the copy
     * took a third of the product's time that way, an eighth this way. */
    for (ptrdiff_t k = 0; k < kc; k++) {
        const real *a = A + k * cs;
        for (ptrdiff_t i = 0; i < rows; i += 64 / (ptrdiff_t)sizeof(real))
            PREFETCH(a + 8 * cs + i);
        ptrdiff_t ir = 0;
        for (; ir + MR <= rows; ir += MR) /* MR known: copied in registers, no call */
            for (int r = 0; r < MR; r++) block[ir * kc + k * MR + r] = a[ir + r];
        for (ptrdiff_t r = 0; ir + r < rows; r++) block[ir * kc + k * MR + r] = a[ir + r];
    }
}

/* C[0, 0 : nc] += sum_k A(0, k) B[k, 0 : nc] for one row of NVEC vectors,
 * reading B in place: a product of fewer rows than a tile (a batch of one,
 * the recurrence of a single sequence) uses each number of B once, so
 * packing it would only add a pass. Up to RV vectors keep as many FMA chains
 * independent. With MASKED (nc % W lanes left), the last vector is the whole
 * one that ends at column nc, B[k, nc-W : nc] (inside the row, which holds W
 * columns or more, though it may start in the block before), and only its
 * last lanes, those no other vector holds, are added to C: a masked load in this
 * loop made gcc store every accumulator to the stack on every step (AVX-512,
 * 1 x 100 x 100: 30 % slower), and copying those columns out cost as much. */
CRNN_INLINE void FN(row_block)(const int NVEC, const int MASKED, real *C, const real *A,
                               ptrdiff_t cs, const real *B, ptrdiff_t ldb, ptrdiff_t K,
                               ptrdiff_t nc, MASK_T last_lanes) {
    const int NFULL = NVEC - MASKED; /* vectors whose lanes are all in the row */
    VEC acc[RV];
    for (int v = 0; v < NVEC; v++) acc[v] = VZERO();
    for (ptrdiff_t k = 0; k < K; k++) {
        const real *b = B + k * ldb;
        const VEC ar = VSET1(A[k * cs]);
        for (int v = 0; v < NFULL; v++) acc[v] = VFMA(ar, VLOAD(b + v * W), acc[v]);
        if (MASKED) acc[NFULL] = VFMA(ar, VLOAD(b + nc - W), acc[NFULL]);
    }
    for (int v = 0; v < NFULL; v++) VSTORE(C + v * W, VADD(VLOAD(C + v * W), acc[v]));
    if (MASKED)
        VMASKSTORE(C + nc - W, last_lanes, VADD(VLOAD(C + nc - W), acc[NFULL]));
}

/* one row of nvec (<= RV) vectors */
static void FN(row)(int nvec, int masked, real *C, const real *A, ptrdiff_t cs,
                    const real *B, ptrdiff_t ldb, ptrdiff_t K, ptrdiff_t nc,
                    MASK_T last_lanes) {
#define CRNN_VECS(n)                                                          \
    case n:                                                                   \
        if (masked) FN(row_block)(n, 1, C, A, cs, B, ldb, K, nc, last_lanes); \
        else FN(row_block)(n, 0, C, A, cs, B, ldb, K, nc, last_lanes);       \
        break;
    switch (nvec) {
        CRNN_VECS(1) CRNN_VECS(2) CRNN_VECS(3) CRNN_VECS(4) CRNN_VECS(5) CRNN_VECS(6)
        CRNN_VECS(7) CRNN_VECS(8) CRNN_VECS(9) CRNN_VECS(10) CRNN_VECS(11) CRNN_VECS(12)
#if RV >= 16
        CRNN_VECS(13) CRNN_VECS(14) CRNN_VECS(15) CRNN_VECS(16)
#endif
    }
#undef CRNN_VECS
}

/* C[0, 0 : n] += sum_k A(0, k) B[k, 0 : n] for a row narrower than a vector */
static void FN(row_narrow)(real *C, const real *A, ptrdiff_t cs, const real *B, ptrdiff_t ldb,
                           ptrdiff_t K, ptrdiff_t n) {
    const MASK_T mask = VMASK((int)n);
    VEC acc = VZERO();
    for (ptrdiff_t k = 0; k < K; k++)
        acc = VFMA(VSET1(A[k * cs]), VMASKLOAD(B + k * ldb, mask), acc);
    VMASKSTORE(C, mask, VADD(VMASKLOAD(C, mask), acc));
}

/* C (M,N) += A (M,K) B (K,N) for M < MR: whole rows, B read in place. The
 * blocks of a row's columns end where the row does, so a last vector that
 * ends at column N starts inside the row whenever N >= W. */
CRNN_INLINE void FN(matmul_rows)(real *C, ptrdiff_t ldc, const real *A, ptrdiff_t rs,
                                 ptrdiff_t cs, const real *B, ptrdiff_t ldb, ptrdiff_t M,
                                 ptrdiff_t N, ptrdiff_t K) {
    /* blocks of equal vector counts: a last block of one or two vectors ran
     * its sum as a chain of dependent FMAs (AVX2, N = 100 in 7 + 6 vectors
     * rather than 12 + 1: 1 x 100 x 100 6 % faster) */
    const ptrdiff_t vectors = (N + W - 1) / W, blocks = (vectors + RV - 1) / RV;
    const ptrdiff_t block = (vectors + blocks - 1) / blocks * W;
    for (ptrdiff_t pc = 0; pc < K; pc += KC) {
        const ptrdiff_t kc = K - pc < KC ? K - pc : KC;
        for (ptrdiff_t i = 0; i < M; i++) {
            real *C_row = C + i * ldc;
            const real *A_row = A + i * rs + pc * cs, *B_block = B + pc * ldb;
            if (N < W) {
                FN(row_narrow)(C_row, A_row, cs, B_block, ldb, kc, N);
                continue;
            }
            for (ptrdiff_t jc = 0; jc < N; jc += block) {
                const ptrdiff_t nc = N - jc < block ? N - jc : block;
                const int nvec = (int)((nc + W - 1) / W), lanes = (int)(nc % W);
                FN(row)(nvec, lanes != 0, C_row + jc, A_row, cs, B_block + jc, ldb, kc, nc,
                        VMASK_LAST(lanes ? lanes : W));
            }
        }
    }
}

/* C (M,N) += A (M,K) B (K,N), element (i,k) of A at A[i*rs + k*cs], M >= MR.
 * In blocks of KC along k and MC rows, each NR columns of B's block are
 * packed once into a panel (KC x NR, in L1) that every tile of the row block
 * reads; a transposed A (rs = 1) is packed too, its block (MC x KC_A) then
 * read by every panel, and its sums in blocks of KC_A (measured on AVX2, dW
 * of H = 1024: 128 x 144 ran 5 % faster than 256 x 48). Both on the stack. */
CRNN_INLINE void FN(matmul_tiles)(real *C, ptrdiff_t ldc, const real *A, ptrdiff_t rs,
                                  ptrdiff_t cs, const real *B, ptrdiff_t ldb, ptrdiff_t M,
                                  ptrdiff_t N, ptrdiff_t K) {
    const int pack_A = rs == 1 && cs != 1;
    const ptrdiff_t mc = pack_A ? MC : MC_IN_PLACE, kb = pack_A ? KC_A : KC;
    real panel_space[KC * NR + 64 / sizeof(real)], block_space[MC * KC_A + 64 / sizeof(real)];
    real *panel = (real *)(((uintptr_t)panel_space + 63) & ~(uintptr_t)63);
    real *block = (real *)(((uintptr_t)block_space + 63) & ~(uintptr_t)63);
    for (ptrdiff_t pc = 0; pc < K; pc += kb) {
        const ptrdiff_t kc = K - pc < kb ? K - pc : kb;
        for (ptrdiff_t ic = 0; ic < M; ic += mc) {
            const ptrdiff_t ic_end = ic + mc < M ? ic + mc : M;
            if (pack_A) FN(pack_transposed)(block, A + ic + pc * cs, cs, ic_end - ic, kc);
            for (ptrdiff_t jc = 0; jc < N; jc += NR) {
                const ptrdiff_t nr = N - jc < NR ? N - jc : NR;
                FN(pack_panel)(panel, B + pc * ldb + jc, ldb, kc, nr);
                for (ptrdiff_t ir = ic; ir < ic_end; ir += MR) {
                    const int R = (int)(ic_end - ir < MR ? ic_end - ir : MR);
                    real *C_tile = C + ir * ldc + jc;
                    if (pack_A)
                        FN(tile)(R, C_tile, ldc, block + (ir - ic) * kc, 1, MR, panel, NR, kc, nr);
                    else
                        FN(tile)(R, C_tile, ldc, A + ir * rs + pc * cs, rs, cs, panel, NR, kc, nr);
                }
            }
        }
    }
}

/* The layout of a packed B (K,N): for each block of KC rows pc, its panels
 * (kc, NR) one after the other, the block starting at pc * (N rounded up to
 * NR); the columns past N are zeros. */
static ptrdiff_t FN(packed_width)(ptrdiff_t N) { return (N + NR - 1) / NR * NR; }
/* (crnn.c sizes packed weights for every path's NR at once: a multiple of
 * NR is one of CRNN_PACK_COLUMNS, and MC is whole tiles) */
typedef char FN(nr_divides_pack_columns)[CRNN_PACK_COLUMNS % NR == 0 ? 1 : -1];
typedef char FN(mc_holds_whole_tiles)[MC % MR == 0 && MC_IN_PLACE % MR == 0 ? 1 : -1];
typedef char FN(stack_within_96_kb)[(MC * KC_A + KC * NR) * sizeof(real) <= 96 * 1024 ? 1 : -1];

/* packed <- B (K,N), element (k,n) at B[k*ldk + n*ldn], once for every
 * product of a call (the weights of a recurrence, used on every step) */
static void FN(pack)(real *restrict packed, const real *B, ptrdiff_t ldk, ptrdiff_t ldn,
                     ptrdiff_t K, ptrdiff_t N) {
    for (ptrdiff_t pc = 0; pc < K; pc += KC) {
        const ptrdiff_t kc = K - pc < KC ? K - pc : KC;
        real *block = packed + pc * FN(packed_width)(N);
        for (ptrdiff_t jc = 0; jc < N; jc += NR) {
            const ptrdiff_t nr = N - jc < NR ? N - jc : NR;
            real *panel = block + jc * kc;
            if (ldn == 1) { /* rows of B: vectors, tails masked */
                FN(pack_panel)(panel, B + pc * ldk + jc, ldk, kc, nr);
                continue;
            }
            for (ptrdiff_t n = 0; n < NR; n++) /* columns of B: each a run along k */
                for (ptrdiff_t k = 0; k < kc; k++)
                    panel[k * NR + n] = n < nr ? B[(pc + k) * ldk + (jc + n) * ldn] : 0;
        }
    }
}

/* C (M,N) += A (M,K) B (K,N) with B packed by pack and A's rows lda apart;
 * with `backwards`, every sum runs from k = K-1 down (blocks and panels in
 * reverse too), so that alternating steps find in cache what the step before
 * read last. */
static void FN(matmul_packed_one_thread)(real *C, ptrdiff_t ldc, const real *A, ptrdiff_t lda,
                                         const real *packed, ptrdiff_t M, ptrdiff_t N,
                                         ptrdiff_t K, int backwards) {
    const ptrdiff_t blocks = (K + KC - 1) / KC, panels = (N + NR - 1) / NR;
    for (ptrdiff_t ib = 0; ib < blocks; ib++) {
        const ptrdiff_t pc = (backwards ? blocks - 1 - ib : ib) * KC;
        const ptrdiff_t kc = K - pc < KC ? K - pc : KC;
        const real *block = packed + pc * FN(packed_width)(N);
        for (ptrdiff_t ic = 0; ic < M; ic += MC_IN_PLACE) {
            const ptrdiff_t ic_end = ic + MC_IN_PLACE < M ? ic + MC_IN_PLACE : M;
            for (ptrdiff_t jp = 0; jp < panels; jp++) {
                const ptrdiff_t jc = (backwards ? panels - 1 - jp : jp) * NR;
                const ptrdiff_t nr = N - jc < NR ? N - jc : NR;
                const real *panel = block + jc * kc;
                for (ptrdiff_t ir = ic; ir < ic_end; ir += MR) {
                    const int R = (int)(ic_end - ir < MR ? ic_end - ir : MR);
                    const real *A_tile = A + ir * lda + pc;
                    if (backwards)
                        FN(tile)(R, C + ir * ldc + jc, ldc, A_tile + kc - 1, lda, -1,
                                 panel + (kc - 1) * NR, -NR, kc, nr);
                    else
                        FN(tile)(R, C + ir * ldc + jc, ldc, A_tile, lda, 1, panel, NR, kc, nr);
                }
            }
        }
    }
}

/* The two ways the operations read A, each compiled with its unit stride known:
 * measured, the generic strides cost 10-60 % on small products. */
static void FN(matmul_rows_any)(real *C, ptrdiff_t ldc, const real *A, ptrdiff_t rs,
                                ptrdiff_t cs, const real *B, ptrdiff_t ldb, ptrdiff_t M,
                                ptrdiff_t N, ptrdiff_t K) {
    if (cs == 1) FN(matmul_rows)(C, ldc, A, rs, 1, B, ldb, M, N, K);
    else FN(matmul_rows)(C, ldc, A, rs, cs, B, ldb, M, N, K);
}

/* (a function of its own, so that the panels' stack frame is taken only
 * where tiles run, not by the row path of the smallest products) */
static void FN(matmul_tiles_any)(real *C, ptrdiff_t ldc, const real *A, ptrdiff_t rs,
                                 ptrdiff_t cs, const real *B, ptrdiff_t ldb, ptrdiff_t M,
                                 ptrdiff_t N, ptrdiff_t K) {
    if (cs == 1) FN(matmul_tiles)(C, ldc, A, rs, 1, B, ldb, M, N, K);
    else if (rs == 1) FN(matmul_tiles)(C, ldc, A, 1, cs, B, ldb, M, N, K);
    else FN(matmul_tiles)(C, ldc, A, rs, cs, B, ldb, M, N, K);
}

static void FN(matmul_one_thread)(real *C, ptrdiff_t ldc, const real *A,
                                  ptrdiff_t rs, ptrdiff_t cs, const real *B,
                                  ptrdiff_t ldb, ptrdiff_t M, ptrdiff_t N,
                                  ptrdiff_t K) {
    if (M < MR) FN(matmul_rows_any)(C, ldc, A, rs, cs, B, ldb, M, N, K);
    else FN(matmul_tiles_any)(C, ldc, A, rs, cs, B, ldb, M, N, K);
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
        ptrdiff_t first, end;
        crnn_thread_rows(M, MR, &first, &end);
        FN(matmul_one_thread)(C + first * ldc, ldc, A + first * rs, rs, cs, B, ldb,
                              end - first, N, K);
    }
#endif
}


/* the packed product, its rows split between threads as matmul's */
static void FN(matmul_packed)(real *C, ptrdiff_t ldc, const real *A, ptrdiff_t lda,
                              const real *packed, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,
                              int backwards) {
    const int threads = crnn_threads_for((double)M * (double)N * (double)K, M / MR);
    if (threads <= 1) {
        FN(matmul_packed_one_thread)(C, ldc, A, lda, packed, M, N, K, backwards);
        return;
    }
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
    {
        ptrdiff_t first, end;
        crnn_thread_rows(M, MR, &first, &end);
        FN(matmul_packed_one_thread)(C + first * ldc, ldc, A + first * lda, lda, packed,
                                     end - first, N, K, backwards);
    }
#endif
}


/* The sum of a vector's lanes: the path's own reduction (VHSUM) where it has
 * one, else the lanes stored and added pairwise */
#ifdef VHSUM
#define CRNN_HSUM(v) VHSUM(v)
#else
CRNN_INLINE real FN(hsum)(VEC v) {
    real lanes[W];
    VSTORE(lanes, v);
    for (int width = W / 2; width > 0; width /= 2)
        for (int i = 0; i < width; i++) lanes[i] += lanes[i + width];
    return lanes[0];
}
#define CRNN_HSUM(v) FN(hsum)(v)
#endif

/* C (M,N) += A (M,K) Wt^T for a row-major Wt (N,K), rows ldw apart: each
 * element the dot product of a row of A and a row of Wt, both read where they
 * lie, four rows of Wt at a time. For the few rows of a one-step call (a
 * stream's), where transposing Wt for matmul would cost more than the
 * product. Each sum runs in W lanes along k, then across them. */
static void FN(matmul_nt)(real *C, ptrdiff_t ldc, const real *A, ptrdiff_t lda,
                          const real *Wt, ptrdiff_t ldw, ptrdiff_t M, ptrdiff_t N,
                          ptrdiff_t K) {
    const ptrdiff_t K_full = K - K % W;
    const MASK_T tail = VMASK(K % W ? K % W : W);
    for (ptrdiff_t i = 0; i < M; i++) {
        const real *a = A + i * lda;
        real *c = C + i * ldc;
        ptrdiff_t n = 0;
        for (; n + 4 <= N; n += 4) {
            const real *w0 = Wt + n * ldw, *w1 = w0 + ldw, *w2 = w1 + ldw, *w3 = w2 + ldw;
            VEC s0 = VZERO(), s1 = VZERO(), s2 = VZERO(), s3 = VZERO();
            for (ptrdiff_t k = 0; k < K_full; k += W) {
                const VEC av = VLOAD(a + k);
                s0 = VFMA(av, VLOAD(w0 + k), s0);
                s1 = VFMA(av, VLOAD(w1 + k), s1);
                s2 = VFMA(av, VLOAD(w2 + k), s2);
                s3 = VFMA(av, VLOAD(w3 + k), s3);
            }
            if (K_full < K) {
                const VEC av = VMASKLOAD(a + K_full, tail);
                s0 = VFMA(av, VMASKLOAD(w0 + K_full, tail), s0);
                s1 = VFMA(av, VMASKLOAD(w1 + K_full, tail), s1);
                s2 = VFMA(av, VMASKLOAD(w2 + K_full, tail), s2);
                s3 = VFMA(av, VMASKLOAD(w3 + K_full, tail), s3);
            }
            c[n] += CRNN_HSUM(s0);
            c[n + 1] += CRNN_HSUM(s1);
            c[n + 2] += CRNN_HSUM(s2);
            c[n + 3] += CRNN_HSUM(s3);
        }
        for (; n < N; n++) {
            const real *w = Wt + n * ldw;
            VEC s = VZERO();
            for (ptrdiff_t k = 0; k < K_full; k += W) s = VFMA(VLOAD(a + k), VLOAD(w + k), s);
            if (K_full < K)
                s = VFMA(VMASKLOAD(a + K_full, tail), VMASKLOAD(w + K_full, tail), s);
            c[n] += CRNN_HSUM(s);
        }
    }
}
#undef CRNN_HSUM
