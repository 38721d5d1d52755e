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

/* C (M,N) += A (M,K) B (K,N), with the strides of kernels.h */
static void FN(matmul_portable)(real *restrict C, ptrdiff_t ldc,
                                const real *restrict A, ptrdiff_t rs,
                                ptrdiff_t cs, const real *restrict Bm,
                                ptrdiff_t ldb, ptrdiff_t M, ptrdiff_t N,
                                ptrdiff_t K) {
    if (cs == 1) { /* A read by rows: one row of C at a time */
        for (ptrdiff_t i = 0; i < M; i++) {
            real *restrict c_row = C + i * ldc;
            for (ptrdiff_t k = 0; k < K; k++) {
                const real a = A[i * rs + k];
                const real *restrict b_row = Bm + k * ldb;
                for (ptrdiff_t j = 0; j < N; j++) c_row[j] += a * b_row[j];
            }
        }
    } else { /* A read by columns (a transpose): one row of B at a time, a
              * sum of K outer products */
        for (ptrdiff_t k = 0; k < K; k++) {
            const real *restrict b_row = Bm + k * ldb;
            for (ptrdiff_t i = 0; i < M; i++) {
                const real a = A[i * rs + k * cs];
                real *restrict c_row = C + i * ldc;
                for (ptrdiff_t j = 0; j < N; j++) c_row[j] += a * b_row[j];
            }
        }
    }
}

/* C (M,N) += A (M,K) Wt^T, Wt (N,K) row-major: dot products of rows, each
 * summed over k in increasing order, four rows of Wt at a time (four sums
 * in flight, not one waiting on the last addition) */
static void FN(matmul_nt_portable)(real *restrict C, ptrdiff_t ldc, const real *restrict A,
                                   ptrdiff_t lda, const real *restrict Wt, ptrdiff_t ldw,
                                   ptrdiff_t M, ptrdiff_t N, ptrdiff_t K) {
    for (ptrdiff_t i = 0; i < M; i++) {
        const real *a = A + i * lda;
        ptrdiff_t n = 0;
        for (; n + 4 <= N; n += 4) {
            const real *w = Wt + n * ldw;
            real s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            for (ptrdiff_t k = 0; k < K; k++) {
                s0 += a[k] * w[k];
                s1 += a[k] * w[ldw + k];
                s2 += a[k] * w[2 * ldw + k];
                s3 += a[k] * w[3 * ldw + k];
            }
            C[i * ldc + n] += s0;
            C[i * ldc + n + 1] += s1;
            C[i * ldc + n + 2] += s2;
            C[i * ldc + n + 3] += s3;
        }
        for (; n < N; n++) {
            real sum = 0;
            for (ptrdiff_t k = 0; k < K; k++) sum += a[k] * Wt[n * ldw + k];
            C[i * ldc + n] += sum;
        }
    }
}

/* dst (C,R), rows ldd apart <- src (R,C)^T */
static void FN(transpose)(real *restrict dst, ptrdiff_t ldd,
                          const real *restrict src, ptrdiff_t R, ptrdiff_t C) {
    for (ptrdiff_t r = 0; r < R; r++)
        for (ptrdiff_t c = 0; c < C; c++) dst[c * ldd + r] = src[r * C + c];
}

/* x (n) <- tanh(x), with the C library's tanh */
static void FN(tanh_portable)(real *x, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) x[i] = TANH(x[i]);
}

/* 1 / (1 + exp(-x)), with the C library's exp; for x < 0 as exp(x) / (1 +
 * exp(x)), which keeps its relative accuracy where it is small */
static real FN(sigmoid_one)(real x) {
    const real e = EXP(-(x < 0 ? -x : x)); /* exp(-|x|), NaN stays */
    return x < 0 ? e / (1 + e) : 1 / (1 + e);
}

/* x (n) <- 1 / (1 + exp(-x)) */
static void FN(sigmoid_portable)(real *x, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) x[i] = FN(sigmoid_one)(x[i]);
}

static void FN(clip_portable)(real *g, ptrdiff_t n, double limit) {
    const real c = (real)limit;
    for (ptrdiff_t i = 0; i < n; i++) g[i] = g[i] > c ? c : (g[i] < -c ? -c : g[i]);
}

static void FN(adagrad_portable)(real *p, real *memory, const real *g, ptrdiff_t n,
                                 double lr, double eps) {
    const real a = (real)lr, e = (real)eps;
    for (ptrdiff_t i = 0; i < n; i++) {
        memory[i] += g[i] * g[i];
        p[i] -= a * g[i] / SQRT(memory[i] + e);
    }
}

static void FN(rmsprop_portable)(real *p, real *mean_square, const real *g, ptrdiff_t n,
                      double lr, double rho, double eps) {
    const real a = (real)lr, r = (real)rho, e = (real)eps;
    for (ptrdiff_t i = 0; i < n; i++) {
        mean_square[i] = r * mean_square[i] + (1 - r) * g[i] * g[i];
        p[i] -= a * g[i] / (SQRT(mean_square[i]) + e);
    }
}

static void FN(adam_portable)(real *p, real *m, real *v, const real *g, ptrdiff_t n, double lr,
                   double beta1, double beta2, double eps, double weight_decay,
                   int decoupled, int64_t step) {
    const real b1 = (real)beta1, b2 = (real)beta2;
    /* the bias corrections folded into the step size, as in Adam's paper */
    const double c1 = 1 - pow(beta1, (double)step), c2 = 1 - pow(beta2, (double)step);
    const real a = (real)(lr * sqrt(c2) / c1), e_hat = (real)(eps * sqrt(c2));
    const real wd = (real)weight_decay, shrink = (real)(lr * weight_decay);
    for (ptrdiff_t i = 0; i < n; i++) {
        real grad = g[i];
        if (decoupled) p[i] -= shrink * p[i]; /* AdamW: decay apart from the gradient */
        else grad += wd * p[i];               /* Adam: L2 in the gradient */
        m[i] = b1 * m[i] + (1 - b1) * grad;
        v[i] = b2 * v[i] + (1 - b2) * grad * grad;
        p[i] -= a * m[i] / (SQRT(v[i]) + e_hat);
    }
}

static void FN(exp_shifted_portable)(real *d, const real *y, ptrdiff_t n, real shift) {
    for (ptrdiff_t i = 0; i < n; i++) d[i] = EXP(y[i] - shift);
}

#include "cells_portable.inc.c"

const FN(crnn_kernels) FN(crnn_kernels_portable) = {
    .matmul = FN(matmul_portable),
    .matmul_nt = FN(matmul_nt_portable),
    .packed_rows = 0, /* the reference multiplies as given */
    .tanh = FN(tanh_portable),
    .sigmoid = FN(sigmoid_portable),
    .lstm_cell = FN(lstm_cell_portable),
    .gru_cell = FN(gru_cell_portable),
    .lstm_cell_backward = FN(lstm_cell_backward_portable),
    .gru_cell_backward = FN(gru_cell_backward_portable),
    .transpose = FN(transpose),
    .exp_shifted = FN(exp_shifted_portable),
    .clip = FN(clip_portable),
    .adagrad = FN(adagrad_portable),
    .rmsprop = FN(rmsprop_portable),
    .adam = FN(adam_portable),
};

/* Helpers that every path shares: they are O(size of the data), not products. */

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
