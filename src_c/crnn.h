/*
 * crnn: the C core of a one-layer Elman RNN, on raw buffers, no Python.
 *
 *   a_t = x_t Wxh^T + h_(t-1) Whh^T + bh      (pre-activation)
 *   h_t = tanh(a_t)
 *   y_t = h_t Why^T + by
 *
 * Sizes, the same letters everywhere in crnn:
 *   T  sequence length (time steps)
 *   B  batch size (independent sequences, advanced together)
 *   I  input size (features per step, or vocabulary size for token ids)
 *   H  hidden size
 *   O  output size
 *   N  rows of a product over all steps at once, N = T*B
 *
 * Every array is row-major and contiguous; (T,B,H) means index [t][b][h].
 * Parameters are stored as the Python class stores them:
 *   Wxh (H,I), Whh (H,H), bh (H), Why (O,H), by (O).
 *
 * Conventions (from llm.c): outputs first, then inputs, then parameters, then
 * scratch, sizes last. Backward functions ADD into their gradient outputs; the
 * caller zeroes them. A NULL h0 means a zero initial state; other optional
 * arguments say so. No function allocates memory.
 *
 * Every function exists for float (suffix _f32) and double (suffix _f64),
 * generated from one source (crnn.c includes the *.inc.c templates twice).
 */
#ifndef CRNN_H
#define CRNN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Returned by the token-id functions when an id is outside [0, I). Nothing is
 * written before the ids are checked. */
#define CRNN_OK 0
#define CRNN_ERR_TOKEN_ID (-1)
#define CRNN_ERR_KERNEL (-2)

/* Kernel paths. Every build has the portable C loops; x86-64 builds made with
 * gcc or clang also hold AVX2+FMA and AVX-512 paths, chosen at run time and
 * only when the CPU (and OS) support them. The best available one is the
 * default. Switch paths only while no other thread is computing. */
#define CRNN_KERNEL_PORTABLE 0
#define CRNN_KERNEL_AVX2 1
#define CRNN_KERNEL_AVX512 2
#define CRNN_KERNEL_COUNT 3
/* "portable", "avx2", "avx512"; NULL for a number out of range */
const char *crnn_kernel_name(int kernel);
/* 1 when the path is in this build and this CPU can run it, else 0 */
int crnn_kernel_available(int kernel);
/* CRNN_OK, or CRNN_ERR_KERNEL (nothing changes) when it is not available */
int crnn_set_kernel(int kernel);
int crnn_get_kernel(void);

/* Threads for large products (OpenMP builds; otherwise always 1). Results do
 * not depend on the number. The default follows OMP_NUM_THREADS. Set it only
 * while no other thread is computing. Returns the number now in use. */
int crnn_set_num_threads(int n);
int crnn_get_num_threads(void);

/* x (n) <- tanh(x) with the active path's kernel (exposed for its tests) */
void crnn_tanh_f32(float *x, ptrdiff_t n);
void crnn_tanh_f64(double *x, ptrdiff_t n);

/* Elements of workspace the forward functions need: Wxh^T (I,H) and Whh^T (H,H). */
size_t crnn_rnn_forward_workspace(ptrdiff_t I, ptrdiff_t H);
/* Elements of workspace crnn_output_forward needs: Why^T (H,O). */
size_t crnn_output_forward_workspace(ptrdiff_t H, ptrdiff_t O);

#define CRNN_DECLARE(real, sfx)                                                   \
/* hidden_states (T,B,H) <- h_t = tanh(X_t Wxh^T + h_(t-1) Whh^T + bh)          \
 * X (T,B,I), h0 (B,H) or NULL, workspace as crnn_rnn_forward_workspace */      \
void crnn_rnn_forward_##sfx(real *hidden_states, const real *X, const real *h0, \
    const real *Wxh, const real *Whh, const real *bh, real *workspace,          \
    ptrdiff_t T, ptrdiff_t B, ptrdiff_t I, ptrdiff_t H);                        \
/* the same with token ids (T,B) in [0, I): x_t Wxh^T is column ids[t,b] of Wxh */ \
int crnn_rnn_forward_tokens_##sfx(real *hidden_states, const int64_t *ids,      \
    const real *h0, const real *Wxh, const real *Whh, const real *bh,           \
    real *workspace, ptrdiff_t T, ptrdiff_t B, ptrdiff_t I, ptrdiff_t H);       \
/* Y (N,O) <- hidden_states (N,H) Why^T + by; workspace as                      \
 * crnn_output_forward_workspace */                                             \
void crnn_output_forward_##sfx(real *Y, const real *hidden_states,              \
    const real *Why, const real *by, real *workspace,                           \
    ptrdiff_t N, ptrdiff_t H, ptrdiff_t O);                                     \
/* d_hidden (N,H) += dY Why;  dWhy (O,H) += dY^T hidden_states;                 \
 * dby (O) += sum over rows of dY.  dY (N,O) */                                 \
void crnn_output_backward_##sfx(real *d_hidden, real *dWhy, real *dby,          \
    const real *dY, const real *hidden_states, const real *Why,                 \
    ptrdiff_t N, ptrdiff_t H, ptrdiff_t O);                                     \
/* Backpropagation through time.                                                \
 * d_hidden (T,B,H): on entry dLoss/dh_t from above (the output layer); on      \
 * exit dLoss/da_t, the gradient of the pre-activations.                        \
 * dh_last (B,H) or NULL: a further gradient of the last hidden state.          \
 * dWxh (H,I) += da^T X;  dWhh (H,H) += da_t^T h_(t-1);  dbh (H) += sum da;     \
 * dh0 (B,H) += da_0 Whh (may be NULL);  dX (T,B,I) += da Wxh (may be NULL,     \
 * which skips that product). X (T,B,I), h0 (B,H) or NULL,                      \
 * hidden_states (T,B,H) as crnn_rnn_forward left them. */                      \
void crnn_rnn_backward_##sfx(real *dWxh, real *dWhh, real *dbh, real *dh0,      \
    real *dX, real *d_hidden, const real *dh_last, const real *X,               \
    const real *h0, const real *hidden_states, const real *Wxh,                 \
    const real *Whh, ptrdiff_t T, ptrdiff_t B, ptrdiff_t I, ptrdiff_t H);       \
/* the same with token ids (T,B): dWxh[:, ids[t,b]] += da_t[b]; no dX */        \
int crnn_rnn_backward_tokens_##sfx(real *dWxh, real *dWhh, real *dbh,           \
    real *dh0, real *d_hidden, const real *dh_last, const int64_t *ids,         \
    const real *h0, const real *hidden_states, const real *Whh,                 \
    ptrdiff_t T, ptrdiff_t B, ptrdiff_t I, ptrdiff_t H);                        \
                                                                                \
/* ---- training: loss, clipping, optimizer steps over flat arrays (n) ---- */  \
/* Softmax cross-entropy of the rows of Y (N,O) against targets (N) in         \
 * [0, O): *loss = scale * sum_n (logsumexp(Y[n]) - Y[n, t_n]) and             \
 * dY = scale * (softmax(Y) - onehot(t)), in one pass. scale = 1 sums over the \
 * rows, 1/N averages. */                                                       \
int crnn_softmax_xent_##sfx(real *dY, double *loss, const real *Y,              \
    const int64_t *targets, ptrdiff_t N, ptrdiff_t O, double scale);            \
/* g <- g clipped to [-limit, limit], element by element */                    \
void crnn_clip_##sfx(real *g, ptrdiff_t n, double limit);                       \
/* sum of g^2, accumulated in double (for clipping by global norm) */          \
double crnn_sum_squares_##sfx(const real *g, ptrdiff_t n);                      \
/* SGD: g' = g + weight_decay p; with velocity (not NULL) v = momentum v + g', \
 * p -= lr (nesterov ? g' + momentum v : v); without, p -= lr g' */             \
void crnn_sgd_##sfx(real *p, real *velocity, const real *g, ptrdiff_t n,        \
    double lr, double momentum, int nesterov, double weight_decay);             \
/* Adagrad as min-char-rnn: memory += g^2, p -= lr g / sqrt(memory + eps) */   \
void crnn_adagrad_##sfx(real *p, real *memory, const real *g, ptrdiff_t n,      \
    double lr, double eps);                                                     \
/* RMSprop: ms = rho ms + (1 - rho) g^2, p -= lr g / (sqrt(ms) + eps) */        \
void crnn_rmsprop_##sfx(real *p, real *mean_square, const real *g, ptrdiff_t n, \
    double lr, double rho, double eps);                                         \
/* Adam (decoupled = 0: weight decay added to g) and AdamW (decoupled = 1:     \
 * p -= lr weight_decay p first), step = 1, 2, ... for the bias correction */   \
void crnn_adam_##sfx(real *p, real *m, real *v, const real *g, ptrdiff_t n,     \
    double lr, double beta1, double beta2, double eps, double weight_decay,     \
    int decoupled, int64_t step);

CRNN_DECLARE(float, f32)
CRNN_DECLARE(double, f64)

#undef CRNN_DECLARE

#ifdef __cplusplus
}
#endif

#endif /* CRNN_H */
