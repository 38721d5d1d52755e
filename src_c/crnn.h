/*
 * crnn: the C core of the recurrent family (Elman RNN, LSTM, GRU), on raw
 * buffers, no Python.
 * One function per operation and direction; a model is a stack of them:
 *
 *   a_t = x_t Wxh^T + bh                 crnn_linear_forward (crnn_onehot_ for ids)
 *   h_t = act(a_t + h_prev Whh^T)        crnn_elman_forward (tanh or ReLU,
 *                                        either direction, variable lengths),
 *                                        or crnn_lstm_forward, crnn_gru_forward
 *   y_t = h_t Why^T + by                 crnn_linear_forward
 *
 * A layer above the first reads the layer below's output, the two directions'
 * states side by side (D*H); dropout between layers is crnn_multiply.
 * crnn_network_forward and _backward walk a whole stack of them on a
 * crnn_network (what a model is) and a crnn_workspace (what a call needs).
 *
 * Sizes, the same letters everywhere in crnn:
 *   T  sequence length (time steps)
 *   B  batch size (independent sequences, advanced together)
 *   I  input size (features per step, or vocabulary size for token ids)
 *   H  hidden size
 *   D  directions (1, or 2 for a bidirectional model)
 *   O  output size
 *   N  rows of a product over all steps at once, N = T*B
 *
 * Every array is row-major and contiguous; (T,B,H) means index [t][b][h].
 * Parameters are stored as the Python class stores them, row-major:
 *   Wxh (G*H,IN), Whh (G*H,H), bh (G*H), Why (O,D*H), by (O); IN = I for the
 *   first layer, D*H above it; G = 1 for the Elman cell, 4 (gates i f g o)
 *   for the LSTM, 3 (r z n) for the GRU, which also has bhn (H).
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

/* Returned by the token-id functions when an id is outside [0, IN). Nothing is
 * written before the ids are checked. */
#define CRNN_OK 0
#define CRNN_ERR_TOKEN_ID (-1)
#define CRNN_ERR_KERNEL (-2)
#define CRNN_ERR_LENGTH (-3)

/* Kernel paths. Every build has the portable C loops; x86-64 builds made with
 * gcc or clang also hold AVX2+FMA and AVX-512 paths, chosen at run time and
 * only when the CPU (and OS) support them; aarch64 builds made with gcc or
 * clang hold a NEON path, which every such CPU runs. The best available one
 * is the default. Switch paths only while no other thread is computing. */
#define CRNN_KERNEL_PORTABLE 0
#define CRNN_KERNEL_AVX2 1
#define CRNN_KERNEL_AVX512 2
#define CRNN_KERNEL_NEON 3
#define CRNN_KERNEL_COUNT 4
/* "portable", "avx2", "avx512", "neon"; NULL for a number out of range */
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
/* How many threads `work` multiply-adds in `parts` independent parts (row
 * tiles of a product, directions of a layer) should use: 1 below the size
 * where threads cost more than they give, else up to the number set. */
int crnn_threads_for(double work, ptrdiff_t parts);

/* x (n) <- tanh(x), and sigmoid(x) = 1 / (1 + exp(-x)), with the active
 * path's kernels (exposed for their tests; sigmoid is for the gated cells) */
void crnn_tanh_f32(float *x, ptrdiff_t n);
void crnn_tanh_f64(double *x, ptrdiff_t n);
void crnn_sigmoid_f32(float *x, ptrdiff_t n);
void crnn_sigmoid_f64(double *x, ptrdiff_t n);

/* Activations of the hidden state (the `activation` arguments). */
#define CRNN_TANH 0
#define CRNN_RELU 1

/* Elements of workspace crnn_linear_forward needs: W^T (IN,OUT), aligned. */
size_t crnn_linear_workspace(ptrdiff_t IN, ptrdiff_t OUT);
/* Elements of workspace crnn_elman_forward and crnn_elman_backward need:
 * Whh^T (H,H), aligned, and two (B,H) states. */
size_t crnn_elman_workspace(ptrdiff_t B, ptrdiff_t H);
/* Elements of workspace the LSTM's and the GRU's recurrences need: Whh^T
 * (H,4H) or (H,3H), aligned, and a few (B,H) and (B,4H) or (B,3H) arrays. */
size_t crnn_lstm_workspace(ptrdiff_t B, ptrdiff_t H);
size_t crnn_gru_workspace(ptrdiff_t B, ptrdiff_t H);

#define CRNN_DECLARE(real, sfx)                                                   \
/* ---- linear layer: the input projection and the output layer ---- */        \
/* Y (N,OUT) <- X (N,IN) W^T + b.  W (OUT,IN), b (OUT) or NULL;                 \
 * workspace as crnn_linear_workspace */                                        \
void crnn_linear_forward_##sfx(real *Y, const real *X, const real *W,           \
    const real *b, real *workspace, ptrdiff_t N, ptrdiff_t IN, ptrdiff_t OUT);  \
/* dX (N,IN) += dY W;  dW (OUT,IN) += dY^T X;  db (OUT) += sum over the rows of \
 * dY.  dY (N,OUT). A NULL dX, dW or db skips its part. */                      \
void crnn_linear_backward_##sfx(real *dX, real *dW, real *db, const real *dY,  \
    const real *X, const real *W, ptrdiff_t N, ptrdiff_t IN, ptrdiff_t OUT);    \
                                                                                \
/* ---- one-hot input: token ids (N) in [0, IN) stand for one-hot rows ---- */ \
/* Y (N,OUT) <- column ids[n] of W (OUT,IN), + b (OUT, or NULL): a gather.      \
 * CRNN_ERR_TOKEN_ID, with nothing written, for an id outside [0, IN). */      \
int crnn_onehot_forward_##sfx(real *Y, const int64_t *ids, const real *W,      \
    const real *b, ptrdiff_t N, ptrdiff_t IN, ptrdiff_t OUT);                   \
/* dW[:, ids[n]] += dY[n] (a scatter); db (OUT, or NULL) += sum of rows of dY */ \
int crnn_onehot_backward_##sfx(real *dW, real *db, const real *dY,             \
    const int64_t *ids, ptrdiff_t N, ptrdiff_t IN, ptrdiff_t OUT);              \
                                                                                \
/* ---- activations (CRNN_TANH, CRNN_RELU); the derivative from the output -- */ \
/* x (n) <- act(x) */                                                           \
void crnn_activation_forward_##sfx(real *x, ptrdiff_t n, int activation);      \
/* d (n) *= act'(a), read from h = act(a): 1 - h^2, or 1 where h > 0 else 0 */ \
void crnn_activation_backward_##sfx(real *d, const real *h, ptrdiff_t n,       \
    int activation);                                                            \
                                                                                \
/* ---- the Elman recurrence: one layer, one direction ---- */                  \
/* h_t = act(hidden_states[t] + h_prev Whh^T) over t = 0..T-1, or T-1..0 with   \
 * `reverse`; h_prev is the state of the step before in that order, h0 (B,H)   \
 * at the first (NULL: zeros).                                                  \
 * hidden_states (T,B,H): on entry the input projection x_t Wxh^T + bh, on      \
 * exit h_t. lengths (B) in [1, T], or NULL for T: sequence b runs over its     \
 * steps t < lengths[b] only (in reverse, from its own last step); at the      \
 * others its row of hidden_states is 0 and its state is carried unchanged.     \
 * h_n (B,H) or NULL <- each sequence's state after its last step.              \
 * workspace as crnn_elman_workspace. */                                        \
void crnn_elman_forward_##sfx(real *hidden_states, real *h_n, const real *h0,  \
    const real *Whh, const int64_t *lengths, real *workspace, ptrdiff_t T,      \
    ptrdiff_t B, ptrdiff_t H, int activation, int reverse);                     \
/* Backpropagation through time of crnn_elman_forward.                          \
 * d_hidden (T,B,H): on entry dLoss/dh_t from above (the output layer or the   \
 * layer above); on exit dLoss/da_t, the gradient of the pre-activations, 0     \
 * past each sequence's length. dh_n (B,H) or NULL: dLoss/dh_n.                 \
 * dWhh (H,H) += sum over steps of da_t^T h_prev;  dh0 (B,H) += dLoss/dh0       \
 * (NULL skips it). h0, hidden_states and lengths as crnn_elman_forward had     \
 * and left them; workspace as crnn_elman_workspace. */                         \
void crnn_elman_backward_##sfx(real *dWhh, real *dh0, real *d_hidden,          \
    const real *dh_n, const real *h0, const real *hidden_states,                \
    const real *Whh, const int64_t *lengths, real *workspace, ptrdiff_t T,      \
    ptrdiff_t B, ptrdiff_t H, int activation, int reverse);                     \
                                                                                \
/* ---- the LSTM recurrence (PyTorch's nn.LSTM): one layer, one direction ---- */ \
/* [i f g o]_t = gates[t] + h_prev Whh^T;  i f o = sigmoid, g = tanh;           \
 * c_t = f c_prev + i g;  h_t = o tanh(c_t), over t in the order of `reverse`.  \
 * gates (T,B,4H): on entry the input projection x_t Wxh^T + bh, on exit the    \
 * gates i f g o (for the backward). hidden_states, cells (T,B,H) <- h_t, c_t. \
 * Whh (4H,H). h0, c0 (B,H) or NULL for zeros; h_n, c_n (B,H) or NULL; lengths \
 * and reverse as crnn_elman_forward (c carried as h is); workspace as         \
 * crnn_lstm_workspace. */                                                      \
void crnn_lstm_forward_##sfx(real *gates, real *hidden_states, real *cells,    \
    real *h_n, real *c_n, const real *h0, const real *c0, const real *Whh,      \
    const int64_t *lengths, real *workspace, ptrdiff_t T, ptrdiff_t B,          \
    ptrdiff_t H, int reverse);                                                  \
/* BPTT of crnn_lstm_forward. d_hidden (T,B,H): dLoss/dh_t from above;          \
 * dh_n, dc_n (B,H) or NULL. d_gates (T,B,4H) <- dLoss/d(pre-activations), 0    \
 * past each length: the gradient of the input projection. dWhh (4H,H) +=;    \
 * dh0, dc0 (B,H) += (NULL skips). The rest as crnn_lstm_forward had and left  \
 * them. */                                                                     \
void crnn_lstm_backward_##sfx(real *dWhh, real *dh0, real *dc0, real *d_gates,   \
    const real *d_hidden, const real *dh_n, const real *dc_n, const real *h0,    \
    const real *c0, const real *gates, const real *hidden_states,               \
    const real *cells, const real *Whh, const int64_t *lengths,                 \
    real *workspace, ptrdiff_t T, ptrdiff_t B, ptrdiff_t H, int reverse);       \
                                                                                \
/* ---- the GRU recurrence (PyTorch's nn.GRU): one layer, one direction ---- */ \
/* r, z = sigmoid(gates[t]_rz + h_prev W_rz^T);                                 \
 * n = tanh(gates[t]_n + r (h_prev W_hn^T + b_hn));  h_t = (1-z) n + z h_prev. \
 * gates (T,B,3H): on entry the input projection x_t Wxh^T + bh (bh's r and z  \
 * rows the sums of both biases, its n rows b_in), on exit r z n. Whh (3H,H);  \
 * bhn (H) or NULL. hidden_states (T,B,H) <- h_t; hn (T,B,H) <- h_prev W_hn^T  \
 * + b_hn (for the backward). The rest as crnn_elman_forward; workspace as     \
 * crnn_gru_workspace. */                                                       \
void crnn_gru_forward_##sfx(real *gates, real *hidden_states, real *hn,         \
    real *h_n, const real *h0, const real *Whh, const real *bhn,                \
    const int64_t *lengths, real *workspace, ptrdiff_t T, ptrdiff_t B,          \
    ptrdiff_t H, int reverse);                                                  \
/* BPTT of crnn_gru_forward. d_hidden (T,B,H): dLoss/dh_t from above; dh_n     \
 * (B,H) or NULL. d_gates (T,B,3H) <- dLoss/d(input projection), d_hn (T,B,H)  \
 * <- dLoss/d(h_prev W_hn^T + b_hn), both 0 past each length. dWhh (3H,H) +=; \
 * dbhn (H) += (NULL skips); dh0 (B,H) += (NULL skips). */                      \
void crnn_gru_backward_##sfx(real *dWhh, real *dbhn, real *dh0, real *d_gates,  \
    real *d_hn, const real *d_hidden, const real *dh_n, const real *h0,         \
    const real *gates, const real *hidden_states, const real *hn,               \
    const real *Whh, const int64_t *lengths, real *workspace, ptrdiff_t T,      \
    ptrdiff_t B, ptrdiff_t H, int reverse);                                     \
                                                                                \
/* ---- dropout: the mask holds 0 or 1/(1-p) ---- */                            \
/* y (n) <- x * mask, or with accumulate y += x * mask (the backward) */        \
void crnn_multiply_##sfx(real *y, const real *x, const real *mask, ptrdiff_t n, \
    int accumulate);                                                            \
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

/* ---- a whole network: the walk over its layers and directions ----------- */

#define CRNN_CELL_RNN 0
#define CRNN_CELL_LSTM 1
#define CRNN_CELL_GRU 2

/* What a model is: L layers of D directions of one cell (G gates: 1, 4 or 3),
 * and an output layer (O = 0: none), their parameters in one flat array at
 * these offsets, in elements (crnn/layers.py lays them out). Read-only while
 * it runs: any number of workspaces run one network at once. */
typedef struct {
    int cell;          /* CRNN_CELL_RNN, CRNN_CELL_LSTM, CRNN_CELL_GRU */
    int activation;    /* the Elman cell's: CRNN_TANH or CRNN_RELU */
    ptrdiff_t I, H, O, D, L, G;
    const ptrdiff_t *offsets; /* (L*D, 4): Wxh, Whh, bh, bhn of layer l, direction d
                               * at row l*D + d; -1 where there is none */
    ptrdiff_t out_W, out_b;   /* the output layer's Why and by, -1 without one */
} crnn_network;

/* What one call needs: scratch for up to `rows` T*B rows and `batch`
 * sequences, laid out in one block by crnn_workspace_bind, and what the call
 * is, set by the caller before a forward. A forward leaves in it what its
 * backward reads. One workspace serves one call at a time. */
typedef struct {
    void *inputs;     /* (T,B,I) the inputs, or ids (T,B) for token ids */
    int64_t *ids;
    void *hidden;     /* (L*D,T,B,H) each layer's and direction's states */
    void *gates;      /* (L*D,T,B,G*H) a gated cell's gates */
    void *cells;      /* (L*D,T,B,H) the LSTM's c_t, the GRU's W_hn h + b_hn */
    void *outputs;    /* (L,T,B,2H) both directions side by side (D = 2) */
    void *dropped;    /* (L-1,T,B,D*H) a layer's output after dropout */
    void *d_top;      /* (T,B,D*H) dLoss/d(a layer's output) */
    void *d_below;    /* (T,B,D*H) the same for the layer below */
    void *d_hidden;   /* (D,T,B,H) per direction (D = 2) */
    void *d_gates;    /* (D,T,B,G*H) dLoss/d(input projection) */
    void *d_cells;    /* (D,T,B,H) the GRU's dLoss/d(W_hn h + b_hn) */
    void *dY_valid;   /* (T,B,O) dY without the rows past each length */
    void *h0, *c0;    /* (L*D,B,H) the initial states */
    int64_t *lengths; /* (B) longest first: the order the sequences run in */
    int64_t *order;   /* (B) running row b is the caller's sequence order[b] */
    void *d_states;   /* (2,L*D,B,H) the caller's dh and dc, in running order */
    void *unsort;     /* (B,max(I,O,D*H)) a step's rows on their way back */
    void *work;       /* D per-direction workspaces of work_size elements */
    ptrdiff_t work_size, rows, batch;
    size_t item;      /* the bytes of its numbers: 4 (float) or 8 (double) */
    /* the call */
    ptrdiff_t T;      /* its steps */
    ptrdiff_t T_run;  /* the steps the layers run: T, or the longest length */
    ptrdiff_t B;
    int tokens;       /* the inputs are ids */
    int has_h0, has_c0, has_lengths;
    int reordered;    /* the sequences run in `order`, not the caller's */
    int last_only;    /* Y and top of the last step only (the seed API's) */
    int parallel_directions; /* a layer's two directions at once, a thread each */
    const void *masks; /* (L-1,T,B,D*H) dropout masks (0 or 1/(1-p)), or NULL */
} crnn_workspace;

/* Bytes of the block crnn_workspace_bind lays out for `rows` T*B rows and
 * `batch` sequences, of numbers of `item` bytes (4 or 8) */
size_t crnn_workspace_size(const crnn_network *net, ptrdiff_t rows, ptrdiff_t batch,
                           size_t item);
/* Points w's scratch into `memory`, crnn_workspace_size bytes */
void crnn_workspace_bind(crnn_workspace *w, const crnn_network *net, void *memory,
                         ptrdiff_t rows, ptrdiff_t batch, size_t item);

/* A call's inputs into w, copied: x (T,B,I) floats or (T,B) token ids, or
 * with batch_major their batch-first (B,T,...) layout, or NULL when they are
 * in w's inputs (or ids) already; h0, c0 (L*D,B,H) or
 * NULL for zeros (c0 an LSTM's); lengths (B) in [1,T], in any order, or NULL
 * for T. The sequences run longest first, so that each step's products cover
 * only the sequences that have that step: when lengths are not in that
 * order, w runs them sorted (stable) and the forward and backward take and
 * give every array in the caller's order. Sets the call's T, B, T_run,
 * tokens, the has_ flags and whether a layer's two directions run at once;
 * masks ((L-1,T,B,D*H), the caller's order) and last_only are the caller's.
 * w must hold T*B rows and B sequences. CRNN_OK, or CRNN_ERR_LENGTH (w
 * holds no call then) for a length outside [1,T]. */
int crnn_workspace_load(crnn_workspace *w, const crnn_network *net, const void *x,
                         int tokens, int batch_major, const void *h0, const void *c0,
                         const int64_t *lengths, ptrdiff_t T, ptrdiff_t B, size_t item);

/* The forward of the whole network on what w holds (the inputs, h0 and c0
 * when has_h0 and has_c0, lengths, masks): every layer and direction, dropout
 * between layers, the output layer. Y (T,B,O), or (B,O) with last_only, or
 * NULL without an output layer; top (T,B,D*H), or (B,D*H), the top layer's
 * output; h_n, c_n (L*D,B,H), c_n an LSTM's, or NULL (not kept). Rows past
 * T_run, and past each length, are zeros. CRNN_ERR_TOKEN_ID for an id outside
 * [0, I). */
/* The backward of the last forward on w, into grads (the flat array of the
 * parameters' gradients, which it adds to): dY shaped as that forward's Y
 * (or top, without an output layer); dh, dc (L*D,B,H) or NULL; dh0, dc0
 * (L*D,B,H), zeroed by the caller, and dX (T,B,I) or NULL. */
/* One step of a stream of w->B sequences (one direction): x (B,I) floats or
 * (B) ids in, out (B,O), or (B,H) without an output layer; the states in w's
 * h0 (and c0) advance, only when it ran. next: scratch of 3*L*B*H. */
#define CRNN_DECLARE_NETWORK(real, sfx)                                           \
int crnn_network_forward_##sfx(const crnn_network *net, const real *params,    \
    crnn_workspace *w, real *Y, real *top, real *h_n, real *c_n);               \
int crnn_network_backward_##sfx(const crnn_network *net, const real *params,   \
    real *grads, crnn_workspace *w, const real *dY, const real *dh,            \
    const real *dc, real *dh0, real *dc0, real *dX);                            \
int crnn_network_step_##sfx(const crnn_network *net, const real *params,       \
    crnn_workspace *w, const void *x, int tokens, real *out, real *next);
CRNN_DECLARE_NETWORK(float, f32)
CRNN_DECLARE_NETWORK(double, f64)
#undef CRNN_DECLARE_NETWORK

/* The same three for the type w was bound for (its item): params, grads and
 * every array of numbers are float or double accordingly */
int crnn_network_forward(const crnn_network *net, const void *params, crnn_workspace *w,
                         void *Y, void *top, void *h_n, void *c_n);
int crnn_network_backward(const crnn_network *net, const void *params, void *grads,
                          crnn_workspace *w, const void *dY, const void *dh, const void *dc,
                          void *dh0, void *dc0, void *dX);
int crnn_network_step(const crnn_network *net, const void *params, crnn_workspace *w,
                      const void *x, int tokens, void *out, void *next);

#ifdef __cplusplus
}
#endif

#endif /* CRNN_H */
