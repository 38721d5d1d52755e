/*
 * Training, a template: crnn.c includes this file once per floating type,
 * as it does the operations. The fused softmax cross-entropy, and the element-wise
 * updates over whole flat arrays (one call updates every parameter), which go
 * through the kernel table: the portable loops are in kernels_portable.inc.c.
 * Shapes and conventions in crnn.h.
 */

int FN(crnn_softmax_xent)(real *dY, double *loss, const real *Y,
                          const int64_t *targets, ptrdiff_t N, ptrdiff_t O,
                          double scale) {
    if (!ids_in_range(targets, N, O)) return CRNN_ERR_TOKEN_ID;
    const FN(crnn_kernels) *kern = FN(crnn_active_kernels)();
    double total = 0;
    for (ptrdiff_t n = 0; n < N; n++) {
        const real *y = Y + n * O;
        real *d = dY + n * O;
        real max = y[0];
        for (ptrdiff_t o = 1; o < O; o++) max = y[o] > max ? y[o] : max;
        kern->exp_shifted(d, y, O, max);
        double sum = 0; /* of exp(y - max): 1 <= sum <= O, no overflow */
        for (ptrdiff_t o = 0; o < O; o++) sum += d[o];
        /* -log softmax(y)[t] = log(sum) - (y[t] - max) */
        total += log(sum) - ((double)y[targets[n]] - (double)max);
        const real inv = (real)(scale / sum);
        for (ptrdiff_t o = 0; o < O; o++) d[o] *= inv; /* scale * softmax */
        d[targets[n]] -= (real)scale;                    /* - scale * onehot */
    }
    *loss = total * scale;
    return CRNN_OK;
}

void FN(crnn_clip)(real *g, ptrdiff_t n, double limit) {
    FN(crnn_active_kernels)()->clip(g, n, limit);
}

double FN(crnn_sum_squares)(const real *g, ptrdiff_t n) {
    double sum = 0;
    for (ptrdiff_t i = 0; i < n; i++) sum += (double)g[i] * (double)g[i];
    return sum;
}

void FN(crnn_sgd)(real *p, real *velocity, const real *g, ptrdiff_t n, double lr,
                  double momentum, int nesterov, double weight_decay) {
    const real a = (real)lr, mu = (real)momentum, wd = (real)weight_decay;
    for (ptrdiff_t i = 0; i < n; i++) {
        const real grad = g[i] + wd * p[i];
        if (velocity) {
            velocity[i] = mu * velocity[i] + grad;
            p[i] -= a * (nesterov ? grad + mu * velocity[i] : velocity[i]);
        } else {
            p[i] -= a * grad;
        }
    }
}

void FN(crnn_adagrad)(real *p, real *memory, const real *g, ptrdiff_t n, double lr,
                      double eps) {
    FN(crnn_active_kernels)()->adagrad(p, memory, g, n, lr, eps);
}

void FN(crnn_rmsprop)(real *p, real *mean_square, const real *g, ptrdiff_t n,
                      double lr, double rho, double eps) {
    FN(crnn_active_kernels)()->rmsprop(p, mean_square, g, n, lr, rho, eps);
}

void FN(crnn_adam)(real *p, real *m, real *v, const real *g, ptrdiff_t n, double lr,
                   double beta1, double beta2, double eps, double weight_decay,
                   int decoupled, int64_t step) {
    FN(crnn_active_kernels)()->adam(p, m, v, g, n, lr, beta1, beta2, eps, weight_decay,
                                    decoupled, step);
}
