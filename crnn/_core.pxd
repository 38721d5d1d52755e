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
    void crnn_tanh_f32(float *x, ptrdiff_t n)
    void crnn_tanh_f64(double *x, ptrdiff_t n)

    size_t crnn_rnn_forward_workspace(ptrdiff_t I, ptrdiff_t H)
    size_t crnn_output_forward_workspace(ptrdiff_t H, ptrdiff_t O)

    void crnn_rnn_forward_f32(float *hidden_states, const float *X, const float *h0,
                              const float *Wxh, const float *Whh, const float *bh,
                              float *workspace, ptrdiff_t T, ptrdiff_t B,
                              ptrdiff_t I, ptrdiff_t H)
    void crnn_rnn_forward_f64(double *hidden_states, const double *X, const double *h0,
                              const double *Wxh, const double *Whh, const double *bh,
                              double *workspace, ptrdiff_t T, ptrdiff_t B,
                              ptrdiff_t I, ptrdiff_t H)

    int crnn_rnn_forward_tokens_f32(float *hidden_states, const int64_t *ids,
                                    const float *h0, const float *Wxh, const float *Whh,
                                    const float *bh, float *workspace, ptrdiff_t T,
                                    ptrdiff_t B, ptrdiff_t I, ptrdiff_t H)
    int crnn_rnn_forward_tokens_f64(double *hidden_states, const int64_t *ids,
                                    const double *h0, const double *Wxh, const double *Whh,
                                    const double *bh, double *workspace, ptrdiff_t T,
                                    ptrdiff_t B, ptrdiff_t I, ptrdiff_t H)

    void crnn_output_forward_f32(float *Y, const float *hidden_states, const float *Why,
                                 const float *by, float *workspace, ptrdiff_t N,
                                 ptrdiff_t H, ptrdiff_t O)
    void crnn_output_forward_f64(double *Y, const double *hidden_states, const double *Why,
                                 const double *by, double *workspace, ptrdiff_t N,
                                 ptrdiff_t H, ptrdiff_t O)

    void crnn_output_backward_f32(float *d_hidden, float *dWhy, float *dby,
                                  const float *dY, const float *hidden_states,
                                  const float *Why, ptrdiff_t N, ptrdiff_t H, ptrdiff_t O)
    void crnn_output_backward_f64(double *d_hidden, double *dWhy, double *dby,
                                  const double *dY, const double *hidden_states,
                                  const double *Why, ptrdiff_t N, ptrdiff_t H, ptrdiff_t O)

    void crnn_rnn_backward_f32(float *dWxh, float *dWhh, float *dbh, float *dh0,
                               float *dX, float *d_hidden, const float *dh_last,
                               const float *X, const float *h0,
                               const float *hidden_states, const float *Wxh,
                               const float *Whh, ptrdiff_t T, ptrdiff_t B,
                               ptrdiff_t I, ptrdiff_t H)
    void crnn_rnn_backward_f64(double *dWxh, double *dWhh, double *dbh, double *dh0,
                               double *dX, double *d_hidden, const double *dh_last,
                               const double *X, const double *h0,
                               const double *hidden_states, const double *Wxh,
                               const double *Whh, ptrdiff_t T, ptrdiff_t B,
                               ptrdiff_t I, ptrdiff_t H)

    int crnn_rnn_backward_tokens_f32(float *dWxh, float *dWhh, float *dbh, float *dh0,
                                     float *d_hidden, const float *dh_last,
                                     const int64_t *ids, const float *h0,
                                     const float *hidden_states, const float *Whh,
                                     ptrdiff_t T, ptrdiff_t B, ptrdiff_t I, ptrdiff_t H)
    int crnn_rnn_backward_tokens_f64(double *dWxh, double *dWhh, double *dbh, double *dh0,
                                     double *d_hidden, const double *dh_last,
                                     const int64_t *ids, const double *h0,
                                     const double *hidden_states, const double *Whh,
                                     ptrdiff_t T, ptrdiff_t B, ptrdiff_t I, ptrdiff_t H)

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
