# Declarations of the C core, src_c/crnn.h. crnn/_core.pyx implements the
# Python-facing wrappers around them.
from libc.stdint cimport int64_t


cdef extern from "crnn.h" nogil:
    int CRNN_OK
    int CRNN_ERR_TOKEN_ID
    int CRNN_KERNEL_COUNT

    const char *crnn_kernel_name(int kernel)
    int crnn_kernel_available(int kernel)
    int crnn_set_kernel(int kernel)
    int crnn_get_kernel()
    int crnn_set_num_threads(int n)
    int crnn_get_num_threads()
    int crnn_threads_for(double work, ptrdiff_t parts)
    void crnn_tanh_f32(float *x, ptrdiff_t n)
    void crnn_tanh_f64(double *x, ptrdiff_t n)
    void crnn_sigmoid_f32(float *x, ptrdiff_t n)
    void crnn_sigmoid_f64(double *x, ptrdiff_t n)

    int CRNN_TANH
    int CRNN_RELU
    size_t crnn_linear_workspace(ptrdiff_t IN, ptrdiff_t OUT)
    size_t crnn_elman_workspace(ptrdiff_t B, ptrdiff_t H)
    size_t crnn_lstm_workspace(ptrdiff_t B, ptrdiff_t H)
    size_t crnn_gru_workspace(ptrdiff_t B, ptrdiff_t H)

    void crnn_linear_forward_f32(float *Y, const float *X, const float *W, const float *b,
                                 float *workspace, ptrdiff_t N, ptrdiff_t IN, ptrdiff_t OUT)
    void crnn_linear_forward_f64(double *Y, const double *X, const double *W, const double *b,
                                 double *workspace, ptrdiff_t N, ptrdiff_t IN, ptrdiff_t OUT)
    void crnn_linear_backward_f32(float *dX, float *dW, float *db, const float *dY,
                                  const float *X, const float *W, ptrdiff_t N, ptrdiff_t IN,
                                  ptrdiff_t OUT)
    void crnn_linear_backward_f64(double *dX, double *dW, double *db, const double *dY,
                                  const double *X, const double *W, ptrdiff_t N, ptrdiff_t IN,
                                  ptrdiff_t OUT)

    int crnn_onehot_forward_f32(float *Y, const int64_t *ids, const float *W, const float *b,
                                ptrdiff_t N, ptrdiff_t IN, ptrdiff_t OUT)
    int crnn_onehot_forward_f64(double *Y, const int64_t *ids, const double *W, const double *b,
                                ptrdiff_t N, ptrdiff_t IN, ptrdiff_t OUT)
    int crnn_onehot_backward_f32(float *dW, float *db, const float *dY, const int64_t *ids,
                                 ptrdiff_t N, ptrdiff_t IN, ptrdiff_t OUT)
    int crnn_onehot_backward_f64(double *dW, double *db, const double *dY, const int64_t *ids,
                                 ptrdiff_t N, ptrdiff_t IN, ptrdiff_t OUT)

    void crnn_elman_forward_f32(float *hidden_states, float *h_n, const float *h0,
                                const float *Whh, const int64_t *lengths, float *workspace,
                                ptrdiff_t T, ptrdiff_t B, ptrdiff_t H, int activation,
                                int reverse)
    void crnn_elman_forward_f64(double *hidden_states, double *h_n, const double *h0,
                                const double *Whh, const int64_t *lengths, double *workspace,
                                ptrdiff_t T, ptrdiff_t B, ptrdiff_t H, int activation,
                                int reverse)
    void crnn_elman_backward_f32(float *dWhh, float *dh0, float *d_hidden, const float *dh_n,
                                 const float *h0, const float *hidden_states,
                                 const float *Whh, const int64_t *lengths, float *workspace,
                                 ptrdiff_t T, ptrdiff_t B, ptrdiff_t H, int activation,
                                 int reverse)
    void crnn_elman_backward_f64(double *dWhh, double *dh0, double *d_hidden,
                                 const double *dh_n, const double *h0,
                                 const double *hidden_states, const double *Whh,
                                 const int64_t *lengths, double *workspace, ptrdiff_t T,
                                 ptrdiff_t B, ptrdiff_t H, int activation, int reverse)

    void crnn_lstm_forward_f32(float *gates, float *hidden_states, float *cells,
                               float *h_n, float *c_n, const float *h0, const float *c0,
                               const float *Whh, const int64_t *lengths, float *workspace,
                               ptrdiff_t T, ptrdiff_t B, ptrdiff_t H, int reverse)
    void crnn_lstm_backward_f32(float *dWhh, float *dh0, float *dc0, float *d_gates,
                                const float *d_hidden, const float *dh_n, const float *dc_n,
                                const float *h0, const float *c0, const float *gates,
                                const float *hidden_states, const float *cells,
                                const float *Whh, const int64_t *lengths, float *workspace,
                                ptrdiff_t T, ptrdiff_t B, ptrdiff_t H, int reverse)
    void crnn_gru_forward_f32(float *gates, float *hidden_states, float *hn, float *h_n,
                              const float *h0, const float *Whh, const float *bhn,
                              const int64_t *lengths, float *workspace, ptrdiff_t T,
                              ptrdiff_t B, ptrdiff_t H, int reverse)
    void crnn_gru_backward_f32(float *dWhh, float *dbhn, float *dh0, float *d_gates,
                               float *d_hn, const float *d_hidden, const float *dh_n,
                               const float *h0, const float *gates,
                               const float *hidden_states, const float *hn,
                               const float *Whh, const int64_t *lengths, float *workspace,
                               ptrdiff_t T, ptrdiff_t B, ptrdiff_t H, int reverse)
    void crnn_lstm_forward_f64(double *gates, double *hidden_states, double *cells,
                               double *h_n, double *c_n, const double *h0, const double *c0,
                               const double *Whh, const int64_t *lengths, double *workspace,
                               ptrdiff_t T, ptrdiff_t B, ptrdiff_t H, int reverse)
    void crnn_lstm_backward_f64(double *dWhh, double *dh0, double *dc0, double *d_gates,
                                const double *d_hidden, const double *dh_n, const double *dc_n,
                                const double *h0, const double *c0, const double *gates,
                                const double *hidden_states, const double *cells,
                                const double *Whh, const int64_t *lengths, double *workspace,
                                ptrdiff_t T, ptrdiff_t B, ptrdiff_t H, int reverse)
    void crnn_gru_forward_f64(double *gates, double *hidden_states, double *hn, double *h_n,
                              const double *h0, const double *Whh, const double *bhn,
                              const int64_t *lengths, double *workspace, ptrdiff_t T,
                              ptrdiff_t B, ptrdiff_t H, int reverse)
    void crnn_gru_backward_f64(double *dWhh, double *dbhn, double *dh0, double *d_gates,
                               double *d_hn, const double *d_hidden, const double *dh_n,
                               const double *h0, const double *gates,
                               const double *hidden_states, const double *hn,
                               const double *Whh, const int64_t *lengths, double *workspace,
                               ptrdiff_t T, ptrdiff_t B, ptrdiff_t H, int reverse)

    void crnn_multiply_f32(float *y, const float *x, const float *mask, ptrdiff_t n,
                           int accumulate)
    void crnn_multiply_f64(double *y, const double *x, const double *mask, ptrdiff_t n,
                           int accumulate)

    int crnn_softmax_xent_f32(float *dY, double *loss, const float *Y, const int64_t *targets,
                              ptrdiff_t N, ptrdiff_t O, double scale)
    int crnn_softmax_xent_f64(double *dY, double *loss, const double *Y, const int64_t *targets,
                              ptrdiff_t N, ptrdiff_t O, double scale)
    void crnn_clip_f32(float *g, ptrdiff_t n, double limit)
    void crnn_clip_f64(double *g, ptrdiff_t n, double limit)
    double crnn_sum_squares_f32(const float *g, ptrdiff_t n)
    double crnn_sum_squares_f64(const double *g, ptrdiff_t n)
    void crnn_sgd_f32(float *p, float *velocity, const float *g, ptrdiff_t n, double lr,
                      double momentum, int nesterov, double weight_decay)
    void crnn_sgd_f64(double *p, double *velocity, const double *g, ptrdiff_t n, double lr,
                      double momentum, int nesterov, double weight_decay)
    void crnn_adagrad_f32(float *p, float *memory, const float *g, ptrdiff_t n, double lr,
                          double eps)
    void crnn_adagrad_f64(double *p, double *memory, const double *g, ptrdiff_t n, double lr,
                          double eps)
    void crnn_rmsprop_f32(float *p, float *mean_square, const float *g, ptrdiff_t n,
                          double lr, double rho, double eps)
    void crnn_rmsprop_f64(double *p, double *mean_square, const double *g, ptrdiff_t n,
                          double lr, double rho, double eps)
    void crnn_adam_f32(float *p, float *m, float *v, const float *g, ptrdiff_t n, double lr,
                       double beta1, double beta2, double eps, double weight_decay,
                       int decoupled, int64_t step)
    void crnn_adam_f64(double *p, double *m, double *v, const double *g, ptrdiff_t n,
                       double lr, double beta1, double beta2, double eps,
                       double weight_decay, int decoupled, int64_t step)

    int CRNN_CELL_RNN
    int CRNN_CELL_LSTM
    int CRNN_CELL_GRU
    ctypedef struct crnn_network:
        int cell, activation
        ptrdiff_t I, H, O, D, L, G
        const ptrdiff_t *offsets
        ptrdiff_t out_W, out_b
    ctypedef struct crnn_workspace:
        void *inputs
        int64_t *ids
        void *h0
        void *c0
        void *dY_valid
        int64_t *lengths
        ptrdiff_t rows, batch
        ptrdiff_t T, T_run, B
        int tokens, has_h0, has_c0, has_lengths, last_only, parallel_directions
        const void *masks
    size_t crnn_workspace_size(const crnn_network *net, ptrdiff_t rows, ptrdiff_t batch,
                               size_t item)
    void crnn_workspace_bind(crnn_workspace *w, const crnn_network *net, void *memory,
                             ptrdiff_t rows, ptrdiff_t batch, size_t item)
    int crnn_workspace_load(crnn_workspace *w, const crnn_network *net, const void *x,
                            int tokens, int batch_major, const void *h0, const void *c0,
                            const int64_t *lengths, ptrdiff_t T, ptrdiff_t B, size_t item)
    int crnn_network_forward(const crnn_network *net, const void *params, crnn_workspace *w,
                             void *Y, void *top, void *h_n, void *c_n)
    int crnn_network_backward(const crnn_network *net, const void *params, void *grads,
                              crnn_workspace *w, const void *dY, const void *dh,
                              const void *dc, void *dh0, void *dc0, void *dX)
    int crnn_network_step(const crnn_network *net, const void *params, crnn_workspace *w,
                          const void *x, int tokens, void *out, void *next)
