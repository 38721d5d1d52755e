/*
 * Activations of the hidden state and their derivatives, a template (crnn.c
 * includes it once per floating type). The derivative is read from the
 * activation's output, which the forward pass keeps: tanh' = 1 - h^2, and
 * ReLU' = 1 where h > 0. Dropout's multiply is here too, an element-wise op.
 */

/* x (n) <- max(x, 0); a NaN stays NaN, as in PyTorch */
static void FN(relu)(real *x, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) x[i] = x[i] < 0 ? 0 : x[i];
}

/* The recurrence's versions, for its time loop: with the kernel table it
 * already holds, so that no step looks the table up again. */
static inline void FN(activate)(const FN(crnn_kernels) *kern, real *x, ptrdiff_t n,
                                int activation) {
    if (activation == CRNN_RELU) FN(relu)(x, n);
    else kern->tanh(x, n);
}

static inline void FN(activation_derivative)(real *restrict d, const real *restrict h,
                                             ptrdiff_t n, int activation) {
    if (activation == CRNN_RELU)
        for (ptrdiff_t i = 0; i < n; i++) d[i] = h[i] > 0 ? d[i] : 0;
    else
        for (ptrdiff_t i = 0; i < n; i++) d[i] *= (real)1 - h[i] * h[i];
}

void FN(crnn_activation_forward)(real *x, ptrdiff_t n, int activation) {
    FN(activate)(FN(crnn_active_kernels)(), x, n, activation);
}

void FN(crnn_activation_backward)(real *d, const real *h, ptrdiff_t n, int activation) {
    FN(activation_derivative)(d, h, n, activation);
}

void FN(crnn_multiply)(real *y, const real *x, const real *mask, ptrdiff_t n,
                       int accumulate) {
    if (accumulate)
        for (ptrdiff_t i = 0; i < n; i++) y[i] += x[i] * mask[i];
    else
        for (ptrdiff_t i = 0; i < n; i++) y[i] = x[i] * mask[i];
}
