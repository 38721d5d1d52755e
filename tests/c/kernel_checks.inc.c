/*
 * The checks of one floating type's kernel table, a template: test_kernels.c
 * includes it once per type with `real`, EPS (its unit roundoff), SFX and FN(name)
 * defined. Each check runs a table's kernel on random data and compares it
 * with a plain reference computed in double (or long double for products).
 */

/* C (M,N) += A B over random shapes, both ways of reading A, padded rows */
/* The worst error of C (M,N, rows ldc apart) against the exact sums, in
 * units of what rounding may cost each one */
static double FN(product_error)(const real *C, ptrdiff_t ldc, const long double *expected,
                                const double *scale, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K) {
    double worst = 0;
    for (ptrdiff_t i = 0; i < M; i++)
        for (ptrdiff_t j = 0; j < N; j++) {
            const double error = fabs((double)(C[i * ldc + j] - expected[i * N + j]));
            const double allowed = (K + 2) * EPS * scale[i * N + j] + 1e-300;
            if (error / allowed > worst) worst = error / allowed;
        }
    return worst;
}

/* Products over random shapes and the edges, each as matmul runs it (A read
 * as it is or transposed), as matmul_nt runs it (dot products with the rows
 * of B^T) and, on a path that packs, with B packed from its rows or from its
 * transpose and summed forwards or backwards. */
static void FN(check_matmul)(const char *path, const FN(kernels) *kern, unsigned *seed) {
    /* N past a path's widest row block (RV*W: 32 to 256) by a few lanes, and
     * N whose blocks of equal vector counts leave a last block of under one
     * vector (RV*RV*W + 3 for each path and type), on one to three rows: the
     * row path's last vector then starts in the block before */
    static const int edges_m[] = {1, 2, 7, 8, 9, 97};
    static const int edges_n[] = {1, 3, 4, 5, 17, 49, 200, 35, 51, 67, 99, 131, 259,
                                  515, 579, 1027, 1155, 2051, 4099};
    static const int edges_k[] = {1, 2, 255, 256, 257};
    const int n_edges = (int)(sizeof edges_n / sizeof edges_n[0]);
    for (int trial = 0; trial < 120; trial++) {
        const ptrdiff_t M = trial < 6 ? edges_m[trial]
                            : trial < n_edges ? 1 + trial % 3 : 1 + (int)(next(seed) % 40);
        const ptrdiff_t N = trial < n_edges ? edges_n[trial] : 1 + (int)(next(seed) % 70);
        const ptrdiff_t K = trial < 5 ? edges_k[trial] : 1 + (int)(next(seed) % 60);
        const int transposed = trial % 2;
        const ptrdiff_t ldb = N + trial % 3, ldc = N + trial % 5;
        real *A = malloc(sizeof(real) * M * K), *Bm = malloc(sizeof(real) * K * ldb);
        real *BT = malloc(sizeof(real) * N * K); /* B^T (N,K), to pack from its columns */
        real *C0 = malloc(sizeof(real) * M * ldc), *C = malloc(sizeof(real) * M * ldc);
        real *packed = malloc(sizeof(real) * K * ((N + CRNN_PACK_COLUMNS - 1) /
                                                   CRNN_PACK_COLUMNS * CRNN_PACK_COLUMNS));
        for (ptrdiff_t i = 0; i < M * K; i++) A[i] = (real)uniform(seed);
        for (ptrdiff_t i = 0; i < K * ldb; i++) Bm[i] = (real)uniform(seed);
        for (ptrdiff_t i = 0; i < M * ldc; i++) C0[i] = (real)uniform(seed);
        for (ptrdiff_t k = 0; k < K; k++)
            for (ptrdiff_t j = 0; j < N; j++) BT[j * K + k] = Bm[k * ldb + j];
        const ptrdiff_t rs = transposed ? 1 : K, cs = transposed ? M : 1;
        long double *expected = malloc(sizeof(long double) * M * N);
        double *scale = malloc(sizeof(double) * M * N);
        for (ptrdiff_t i = 0; i < M; i++)
            for (ptrdiff_t j = 0; j < N; j++) {
                long double sum = C0[i * ldc + j];
                double magnitude = fabs((double)C0[i * ldc + j]);
                for (ptrdiff_t k = 0; k < K; k++) {
                    sum += (long double)A[i * rs + k * cs] * Bm[k * ldb + j];
                    magnitude += fabs((double)A[i * rs + k * cs] * Bm[k * ldb + j]);
                }
                expected[i * N + j] = sum;
                scale[i * N + j] = magnitude;
            }
        char what[128];
        memcpy(C, C0, sizeof(real) * M * ldc);
        kern->matmul(C, ldc, A, rs, cs, Bm, ldb, M, N, K);
        snprintf(what, sizeof what, "matmul M=%d N=%d K=%d%s", (int)M, (int)N, (int)K,
                 transposed ? " (A^T)" : "");
        double worst = FN(product_error)(C, ldc, expected, scale, M, N, K);
        report(path, SFX, what, worst <= 1.0, worst);
        /* the packed product reads A by rows: the transposed trials' A is
         * then another (M,K) matrix, so they pack B^T's columns instead */
        if (kern->packed_rows && !transposed) {
            for (int backwards = 0; backwards < 2; backwards++) {
                const int from_columns = (trial / 2 + backwards) % 2;
                if (from_columns) kern->pack(packed, BT, 1, K, K, N);
                else kern->pack(packed, Bm, ldb, 1, K, N);
                memcpy(C, C0, sizeof(real) * M * ldc);
                kern->matmul_packed(C, ldc, A, K, packed, M, N, K, backwards);
                snprintf(what, sizeof what, "matmul_packed M=%d N=%d K=%d%s%s", (int)M, (int)N,
                         (int)K, from_columns ? " (from B^T)" : "",
                         backwards ? " backwards" : "");
                worst = FN(product_error)(C, ldc, expected, scale, M, N, K);
                report(path, SFX, what, worst <= 1.0, worst);
            }
        }
        if (!transposed) { /* the same product as dot products with B^T's rows */
            memcpy(C, C0, sizeof(real) * M * ldc);
            kern->matmul_nt(C, ldc, A, K, BT, K, M, N, K);
            snprintf(what, sizeof what, "matmul_nt M=%d N=%d K=%d", (int)M, (int)N, (int)K);
            worst = FN(product_error)(C, ldc, expected, scale, M, N, K);
            report(path, SFX, what, worst <= 1.0, worst);
        }
        free(A); free(Bm); free(BT); free(C0); free(C); free(packed); free(expected);
        free(scale);
    }
}

static void FN(check_activations)(const char *path, const FN(kernels) *kern, unsigned *seed) {
    for (ptrdiff_t n = 1; n <= 67; n += (n < 20 ? 1 : 23)) {
        real *x = malloc(sizeof(real) * n), *t = malloc(sizeof(real) * n);
        real *s = malloc(sizeof(real) * n);
        for (ptrdiff_t i = 0; i < n; i++) {
            x[i] = (real)(uniform(seed) * (i % 7 == 3 ? 40.0 : 4.0));
            t[i] = s[i] = x[i];
        }
        kern->tanh(t, n);
        kern->sigmoid(s, n);
        double worst_t = 0, worst_s = 0;
        for (ptrdiff_t i = 0; i < n; i++) {
            const double rt = tanh((double)x[i]), rs = 1.0 / (1.0 + exp(-(double)x[i]));
            worst_t = fmax(worst_t, fabs(t[i] - rt) / (16 * EPS * fmax(fabs(rt), 1e-30)));
            worst_s = fmax(worst_s, fabs(s[i] - rs) / (16 * EPS * fmax(fabs(rs), 1e-30)));
        }
        char what[64];
        snprintf(what, sizeof what, "tanh n=%d", (int)n);
        report(path, SFX, what, worst_t <= 1.0, worst_t);
        snprintf(what, sizeof what, "sigmoid n=%d", (int)n);
        report(path, SFX, what, worst_s <= 1.0, worst_s);
        free(x); free(t); free(s);
    }
    real nan_in[5] = {0, (real)NAN, 1, (real)NAN, -2}, nan_s[5];
    memcpy(nan_s, nan_in, sizeof nan_in);
    kern->tanh(nan_in, 5);
    kern->sigmoid(nan_s, 5);
    report(path, SFX, "tanh and sigmoid of NaN are NaN",
           isnan(nan_in[1]) && isnan(nan_in[3]) && isnan(nan_s[1]) && isnan(nan_s[3])
           && !isnan(nan_in[0]) && !isnan(nan_s[4]), 0);
}

/* transpose, exp_shifted and the training updates */
static void FN(check_elementwise)(const char *path, const FN(kernels) *kern,
                                  const FN(kernels) *portable, unsigned *seed) {
    for (ptrdiff_t R = 1; R <= 19; R += 6)
        for (ptrdiff_t C = 1; C <= 21; C += 4) {
            real *src = malloc(sizeof(real) * R * C), *dst = malloc(sizeof(real) * C * (R + 2));
            for (ptrdiff_t i = 0; i < R * C; i++) src[i] = (real)uniform(seed);
            kern->transpose(dst, R + 2, src, R, C);
            int same = 1;
            for (ptrdiff_t r = 0; r < R; r++)
                for (ptrdiff_t c = 0; c < C; c++) same &= dst[c * (R + 2) + r] == src[r * C + c];
            char what[64];
            snprintf(what, sizeof what, "transpose %dx%d", (int)R, (int)C);
            report(path, SFX, what, same, 0);
            free(src); free(dst);
        }
    for (ptrdiff_t n = 1; n <= 45; n += 11) {
        real y[45], d[45], shift = 3;
        for (ptrdiff_t i = 0; i < n; i++) y[i] = (real)(shift - fabs(uniform(seed)) * 30);
        kern->exp_shifted(d, y, n, shift);
        double worst = 0;
        for (ptrdiff_t i = 0; i < n; i++) {
            const double r = exp((double)(real)(y[i] - shift)); /* the difference in real */
            worst = fmax(worst, fabs(d[i] - r) / (16 * EPS * r));
        }
        char what[64];
        snprintf(what, sizeof what, "exp_shifted n=%d", (int)n);
        report(path, SFX, what, worst <= 1.0, worst);
    }
    /* the updates against the portable path, the reference, over three steps */
    for (ptrdiff_t n = 1; n <= 41; n += 8) {
        real p[2][41], a[2][41], b[2][41], g[41];
        double worst = 0;
        const FN(kernels) *tables[2] = {kern, portable};
        for (int which = 0; which < 4; which++) {
            for (ptrdiff_t i = 0; i < n; i++) {
                p[0][i] = p[1][i] = (real)uniform(seed);
                a[0][i] = a[1][i] = b[0][i] = b[1][i] = 0;
            }
            for (int step = 1; step <= 3; step++) {
                for (ptrdiff_t i = 0; i < n; i++) g[i] = (real)(uniform(seed) * 3);
                for (int t = 0; t < 2; t++) {
                    real gt[41];
                    memcpy(gt, g, sizeof(real) * n);
                    if (which == 0) {
                        tables[t]->clip(gt, n, 1.5);
                        for (ptrdiff_t i = 0; i < n; i++) p[t][i] = gt[i];
                    } else if (which == 1) {
                        tables[t]->adagrad(p[t], a[t], gt, n, 0.1, 1e-8);
                    } else if (which == 2) {
                        tables[t]->rmsprop(p[t], a[t], gt, n, 0.01, 0.9, 1e-8);
                    } else {
                        tables[t]->adam(p[t], a[t], b[t], gt, n, 0.01, 0.9, 0.999, 1e-8, 0.01,
                                        step % 2, step);
                    }
                }
            }
            for (ptrdiff_t i = 0; i < n; i++)
                worst = fmax(worst, fabs(p[0][i] - p[1][i]) / (64 * EPS * fmax(fabs(p[1][i]), 1)));
        }
        char what[64];
        snprintf(what, sizeof what, "clip, adagrad, rmsprop, adam n=%d", (int)n);
        report(path, SFX, what, worst <= 1.0, worst);
    }
}

/* worst |x - ref| over n, in units of 64 ulp of max(|ref|, 1) */
static double FN(worst_apart)(const real *x, const real *ref, ptrdiff_t n) {
    double worst = 0;
    for (ptrdiff_t i = 0; i < n; i++)
        worst = fmax(worst, fabs(x[i] - ref[i]) / (64 * EPS * fmax(fabs(ref[i]), 1)));
    return worst;
}

/* The gated cells' fused passes, forward and backward, against the portable
 * table's (the reference), with H across the vector tails, rows 1 and 3,
 * zero and given previous states; every output the caller reads is compared */
static void FN(check_cells)(const char *path, const FN(kernels) *kern,
                            const FN(kernels) *portable, unsigned *seed) {
    enum { MAX_ROWS = 3, MAX_H = 37 };
    for (ptrdiff_t H = 1; H <= MAX_H; H += (H < 18 ? 1 : 19))
        for (ptrdiff_t rows = 1; rows <= MAX_ROWS; rows += 2)
            for (int given = 0; given < 2; given++) {
                const ptrdiff_t n = rows * H;
                real in[MAX_ROWS * 4 * MAX_H], rec[MAX_ROWS * 3 * MAX_H], prev[MAX_ROWS * MAX_H];
                real bhn[MAX_H], dh[MAX_H], carry[2][2][MAX_H];
                real g[2][MAX_ROWS * 4 * MAX_H], h[2][MAX_ROWS * MAX_H];
                real c[2][MAX_ROWS * MAX_H], d_gates[2][4 * MAX_H], d_rec[2][3 * MAX_H];
                for (ptrdiff_t i = 0; i < 4 * n; i++) in[i] = (real)(uniform(seed) * 6);
                for (ptrdiff_t i = 0; i < 3 * n; i++) rec[i] = (real)(uniform(seed) * 3);
                for (ptrdiff_t i = 0; i < n; i++) prev[i] = (real)uniform(seed);
                for (ptrdiff_t j = 0; j < H; j++) {
                    bhn[j] = (real)uniform(seed);
                    dh[j] = (real)uniform(seed);
                }
                const FN(kernels) *tables[2] = {kern, portable};
                double worst = 0;
                for (int t = 0; t < 2; t++) { /* the LSTM, then its backward on row 0 */
                    memcpy(g[t], in, sizeof(real) * 4 * n);
                    tables[t]->lstm_cell(g[t], h[t], c[t], given ? prev : NULL, rows, H);
                    for (ptrdiff_t j = 0; j < H; j++) {
                        carry[t][0][j] = dh[H - 1 - j];
                        carry[t][1][j] = (real)0.5 * dh[j];
                    }
                    tables[t]->lstm_cell_backward(d_gates[t], carry[t][0], carry[t][1], dh,
                                                  g[t], c[t], prev, H);
                }
                worst = fmax(worst, FN(worst_apart)(g[0], g[1], 4 * n));
                worst = fmax(worst, FN(worst_apart)(h[0], h[1], n));
                worst = fmax(worst, FN(worst_apart)(c[0], c[1], n));
                worst = fmax(worst, FN(worst_apart)(d_gates[0], d_gates[1], 4 * H));
                worst = fmax(worst, FN(worst_apart)(carry[0][0], carry[1][0], H));
                worst = fmax(worst, FN(worst_apart)(carry[0][1], carry[1][1], H));
                char what[80];
                snprintf(what, sizeof what, "lstm cell H=%d rows=%d c_prev %s", (int)H,
                         (int)rows, given ? "given" : "zero");
                report(path, SFX, what, worst <= 1.0, worst);
                worst = 0;
                for (int t = 0; t < 2; t++) { /* the GRU, then its backward on row 0 */
                    memcpy(g[t], in, sizeof(real) * 3 * n);
                    tables[t]->gru_cell(g[t], h[t], c[t], rec, given ? prev : NULL,
                                        given ? bhn : NULL, rows, H);
                    for (ptrdiff_t j = 0; j < H; j++) carry[t][0][j] = dh[H - 1 - j];
                    tables[t]->gru_cell_backward(d_gates[t], d_rec[t], carry[t][0], dh, g[t],
                                                 c[t], prev, H);
                }
                worst = fmax(worst, FN(worst_apart)(g[0], g[1], 3 * n));
                worst = fmax(worst, FN(worst_apart)(h[0], h[1], n));
                worst = fmax(worst, FN(worst_apart)(c[0], c[1], n));
                worst = fmax(worst, FN(worst_apart)(d_gates[0], d_gates[1], 3 * H));
                worst = fmax(worst, FN(worst_apart)(d_rec[0], d_rec[1], 3 * H));
                worst = fmax(worst, FN(worst_apart)(carry[0][0], carry[1][0], H));
                snprintf(what, sizeof what, "gru cell H=%d rows=%d h_prev %s", (int)H,
                         (int)rows, given ? "given" : "zero");
                report(path, SFX, what, worst <= 1.0, worst);
            }
}
