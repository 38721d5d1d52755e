/*
 * Training kernels, a template: crnn.c includes this file once per floating
 * type, as it does rnn.inc.c. Element-wise loops over the whole flat
 * parameter (or gradient) array, so one call updates every parameter; each
 * is a single pass that a compiler vectorizes. Shapes and conventions in
 * crnn.h.
 */

int FN(crnn_softmax_xent)(real *dY, double *loss, const real *Y,
                          const int64_t *targets, ptrdiff_t N, ptrdiff_t O,
                          double scale) {
    if (!ids_in_range(targets, N, O)) return CRNN_ERR_TOKEN_ID;
    double total = 0;
    for (ptrdiff_t n = 0; n < N; n++) {
        const real *y = Y + n * O;
        real *d = dY + n * O;
        real max = y[0];
        for (ptrdiff_t o = 1; o < O; o++) max = y[o] > max ? y[o] : max;
        double sum = 0; /* of exp(y - max): 1 <= sum <= O, no overflow */
        for (ptrdiff_t o = 0; o < O; o++) {
            d[o] = EXP(y[o] - max);
            sum += d[o];
        }
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
    const real c = (real)limit;
    for (ptrdiff_t i = 0; i < n; i++) g[i] = g[i] > c ? c : (g[i] < -c ? -c : g[i]);
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
    const real a = (real)lr, e = (real)eps;
    for (ptrdiff_t i = 0; i < n; i++) {
        memory[i] += g[i] * g[i];
        p[i] -= a * g[i] / SQRT(memory[i] + e);
    }
}

void FN(crnn_rmsprop)(real *p, real *mean_square, const real *g, ptrdiff_t n,
                      double lr, double rho, double eps) {
    const real a = (real)lr, r = (real)rho, e = (real)eps;
    for (ptrdiff_t i = 0; i < n; i++) {
        mean_square[i] = r * mean_square[i] + (1 - r) * g[i] * g[i];
        p[i] -= a * g[i] / (SQRT(mean_square[i]) + e);
    }
}

void FN(crnn_adam)(real *p, real *m, real *v, const real *g, ptrdiff_t n, double lr,
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
