/*
 * Internal to the C core: the kernels the RNN is built from, as one table of
 * function pointers per floating type and per instruction set. The operations call
 * through the table that dispatch.c selected at run time, so one build runs on
 * every CPU of its platform and uses the widest SIMD the CPU has.
 */
#ifndef CRNN_KERNELS_H
#define CRNN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* MSVC's C compiler spells C99's restrict its own way */
#if defined(_MSC_VER) && !defined(__clang__) && !defined(restrict)
#define restrict __restrict
#endif

/* every path's packed columns (NR: 16 or 64 floats, 8 or 32 doubles on x86,
 * 12 or 6 on NEON) divide this */
#define CRNN_PACK_COLUMNS 192

#define CRNN_DECLARE_KERNELS(real, sfx)                                           \
typedef struct {                                                                  \
    /* C (M,N) += A (M,K) B (K,N). Element (i,k) of A is A[i*rs + k*cs]: rs = K,  \
     * cs = 1 reads a row-major A, rs = 1 and cs = M reads the transpose of a     \
     * row-major (K,M) array in place. Row k of B starts at B + k*ldb, row i     \
     * of C at C + i*ldc. Each element sums over k in increasing order. */      \
    void (*matmul)(real *C, ptrdiff_t ldc, const real *A, ptrdiff_t rs,          \
                   ptrdiff_t cs, const real *B, ptrdiff_t ldb, ptrdiff_t M,       \
                   ptrdiff_t N, ptrdiff_t K);                                     \
    /* C (M,N) += A (M,K) Wt^T, Wt (N,K) row-major: A's rows lda apart, Wt's   \
     * ldw, C's ldc. For the few rows of a one-step call, whose product costs   \
     * less than transposing Wt for matmul. Each element sums over k in an      \
     * order of the path's own (lanes, then across them), the same every call. */ \
    void (*matmul_nt)(real *C, ptrdiff_t ldc, const real *A, ptrdiff_t lda,       \
                      const real *Wt, ptrdiff_t ldw, ptrdiff_t M, ptrdiff_t N,    \
                      ptrdiff_t K);                                               \
    /* The weights of a recurrence, packed once per call for the products of   \
     * every step: packed_rows is the fewest rows of A for which that pays      \
     * (a tile's), 0 when this path has no packed product. pack: packed <- B    \
     * (K,N), element (k,n) at B[k*ldk + n*ldn], in at most K * (N rounded up   \
     * to CRNN_PACK_COLUMNS) elements. matmul_packed: C (M,N) += A (M,K) B,      \
     * A's rows lda apart; each element sums over k in increasing order, or    \
     * from K-1 down with `backwards`. */                                        \
    ptrdiff_t packed_rows;                                                        \
    void (*pack)(real *packed, const real *B, ptrdiff_t ldk, ptrdiff_t ldn,       \
                 ptrdiff_t K, ptrdiff_t N);                                        \
    void (*matmul_packed)(real *C, ptrdiff_t ldc, const real *A, ptrdiff_t lda,   \
                          const real *packed, ptrdiff_t M, ptrdiff_t N,           \
                          ptrdiff_t K, int backwards);                            \
    /* x (n) <- tanh(x), accurate to a few ulp, NaN in gives NaN out */           \
    void (*tanh)(real *x, ptrdiff_t n);                                           \
    /* x (n) <- 1 / (1 + exp(-x)), accurate to a few ulp; below x = -87 (float)  \
     * or -708 (double), where it is under 2e-38 or 4e-308, a path may return    \
     * its value at that bound. NaN gives NaN. */                                \
    void (*sigmoid)(real *x, ptrdiff_t n);                                        \
    /* The gated cells' element-wise work of one step, in one pass (lstm.inc.c \
     * and gru.inc.c give the formulas). lstm_cell: gates (rows,4H), the        \
     * pre-activations i f g o on entry, their activations on exit; c (rows,H)  \
     * <- f c_prev + i g, h (rows,H) <- o tanh(c); c_prev NULL for zeros.        \
     * gru_cell: gates (rows,3H), the input projection on entry, r z n on exit; \
     * recurrent (rows,3H) = h_prev Whh^T; hn (rows,H) <- its n part + bhn;     \
     * h (rows,H) <- (1 - z) n + z h_prev; h_prev, bhn NULL for zeros. */      \
    void (*lstm_cell)(real *gates, real *h, real *c, const real *c_prev,          \
                      ptrdiff_t rows, ptrdiff_t H);                               \
    void (*gru_cell)(real *gates, real *h, real *hn, const real *recurrent,       \
                     const real *h_prev, const real *bhn, ptrdiff_t rows,         \
                     ptrdiff_t H);                                                \
    /* Their backward for one sequence at one step. lstm: gates (4H) i f g o,  \
     * c, c_prev (H); dh (H) from above; carry_h, carry_c (H) through h_t and   \
     * c_t from the step after, on entry; carry_c <- dLoss/dc_prev, carry_h <-  \
     * 0 (the recurrent product adds dLoss/dh_prev); d_gates (4H) <-            \
     * dLoss/d(pre-activations). gru: gates (3H) r z n, hn, h_prev (H); carry_h \
     * <- z G_h, the direct part of dLoss/dh_prev; d_gates (3H) <-               \
     * dLoss/d(input projection); d_recurrent (3H) <- the same for the          \
     * recurrent product but for n, r G_n. */                                   \
    void (*lstm_cell_backward)(real *d_gates, real *carry_h, real *carry_c,       \
                               const real *dh, const real *gates, const real *c,  \
                               const real *c_prev, ptrdiff_t H);                  \
    void (*gru_cell_backward)(real *d_gates, real *d_recurrent, real *carry_h,    \
                              const real *dh, const real *gates, const real *hn,  \
                              const real *h_prev, ptrdiff_t H);                   \
    /* dst (C,R), its rows ldd apart <- src (R,C)^T */                            \
    void (*transpose)(real *dst, ptrdiff_t ldd, const real *src, ptrdiff_t R,     \
                      ptrdiff_t C);                                               \
    /* d (n) <- exp(y - shift), for y <= shift (a softmax); where y - shift is \
     * below the exponent's range, any value under its smallest normal */       \
    void (*exp_shifted)(real *d, const real *y, ptrdiff_t n, real shift);        \
    /* element-wise training updates over flat arrays, as crnn.h states them */  \
    void (*clip)(real *g, ptrdiff_t n, double limit);                             \
    void (*adagrad)(real *p, real *memory, const real *g, ptrdiff_t n, double lr, \
                    double eps);                                                  \
    void (*rmsprop)(real *p, real *mean_square, const real *g, ptrdiff_t n,       \
                    double lr, double rho, double eps);                           \
    void (*adam)(real *p, real *m, real *v, const real *g, ptrdiff_t n, double lr, \
                 double beta1, double beta2, double eps, double weight_decay,     \
                 int decoupled, int64_t step);                                    \
} crnn_kernels_##sfx;                                                             \
extern const crnn_kernels_##sfx crnn_kernels_portable_##sfx;                      \
extern const crnn_kernels_##sfx crnn_kernels_avx2_##sfx;                          \
extern const crnn_kernels_##sfx crnn_kernels_avx512_##sfx;                        \
extern const crnn_kernels_##sfx crnn_kernels_neon_##sfx;                          \
/* the table in use: the one crnn_set_kernel chose, or the best available */     \
const crnn_kernels_##sfx *crnn_active_kernels_##sfx(void);

CRNN_DECLARE_KERNELS(float, f32)
CRNN_DECLARE_KERNELS(double, f64)

#undef CRNN_DECLARE_KERNELS


/* 1 when this build holds the x86 SIMD tables: gcc or clang on x86 (they
 * compile each table for its instruction set under a target pragma), or
 * MSVC on x64 (it compiles any intrinsic without one). Not built with MSVC
 * here: see the README's kernel paths. */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define CRNN_HAVE_X86_KERNELS 1
#elif defined(_MSC_VER) && defined(_M_X64)
#define CRNN_HAVE_X86_KERNELS 1
#else
#define CRNN_HAVE_X86_KERNELS 0
#endif

/* 1 when this build holds the NEON tables (gcc or clang on 64-bit ARM; MSVC's
 * ARM64 compiler is not tried: its intrinsics header and inlining differ) */
#if defined(__aarch64__) && defined(__GNUC__)
#define CRNN_HAVE_NEON_KERNELS 1
#else
#define CRNN_HAVE_NEON_KERNELS 0
#endif

#endif /* CRNN_KERNELS_H */
