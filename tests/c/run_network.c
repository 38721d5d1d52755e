/*
 * A model run by the C core alone, with no Python: what an app that embeds
 * src_c/ does. It reads a file tests/test_c_network.py writes from a crnn
 * model (its network description, parameters, a batch of inputs, and what
 * crnn's Python API computed from them), runs the whole network's forward
 * and backward through crnn_network_forward/backward on a workspace of its
 * own, and compares. Prints the worst relative errors; exits 1 when one is
 * past the bound, 2 when the file is not one it reads.
 *
 *   run_network FILE
 *
 * The file, all little-endian: "crnn-net", then int64 cell, activation, I,
 * H, O, D, L, G, T, B, n_params, the (L*D, 4) offsets, out_W, out_b, the
 * lengths (B), in any order; then float64 params (n_params), X (T,B,I), Y (T,B,O), h_n (L*D,B,H), dY (T,B,O),
 * the gradients (n_params) and dX (T,B,I).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crnn.h"

static int read_all(FILE *f, void *to, size_t bytes) {
    return fread(to, 1, bytes, f) == bytes;
}

static double *read_doubles(FILE *f, size_t n) {
    double *p = malloc(n * sizeof(double) + 1);
    if (p && !read_all(f, p, n * sizeof(double))) {
        free(p);
        return NULL;
    }
    return p;
}

/* the worst |got - expected| over the largest |expected| */
static double relative_error(const double *got, const double *expected, size_t n) {
    double worst = 0, scale = 1e-300;
    for (size_t i = 0; i < n; i++) {
        const double e = fabs(got[i] - expected[i]);
        worst = e > worst || isnan(e) ? e : worst;
        scale = fabs(expected[i]) > scale ? fabs(expected[i]) : scale;
    }
    return worst / scale;
}

int main(int argc, char **argv) {
    FILE *f = argc == 2 ? fopen(argv[1], "rb") : NULL;
    char magic[8];
    int64_t head[11];
    if (!f || !read_all(f, magic, 8) || memcmp(magic, "crnn-net", 8) != 0
        || !read_all(f, head, sizeof head)) {
        fprintf(stderr, "usage: run_network FILE (a file tests/test_c_network.py writes)\n");
        return 2;
    }
    crnn_network net = {(int)head[0], (int)head[1], head[2], head[3], head[4], head[5],
                        head[6], head[7], NULL, -1, -1};
    const ptrdiff_t T = head[8], B = head[9], LD = net.L * net.D;
    const size_t n_params = (size_t)head[10];
    ptrdiff_t *offsets = malloc((size_t)(4 * LD) * sizeof(ptrdiff_t));
    int64_t read[2];
    for (ptrdiff_t i = 0; i < 4 * LD; i++) {
        if (!read_all(f, read, sizeof(int64_t))) return 2;
        offsets[i] = (ptrdiff_t)read[0];
    }
    if (!read_all(f, read, sizeof read)) return 2;
    int64_t *lengths = malloc((size_t)B * sizeof(int64_t) + 1);
    if (!read_all(f, lengths, (size_t)B * sizeof(int64_t))) return 2;
    net.offsets = offsets;
    net.out_W = (ptrdiff_t)read[0];
    net.out_b = (ptrdiff_t)read[1];
    const size_t nX = (size_t)(T * B * net.I), nY = (size_t)(T * B * net.O);
    const size_t nS = (size_t)(LD * B * net.H);
    double *params = read_doubles(f, n_params), *X = read_doubles(f, nX);
    double *Y_expected = read_doubles(f, nY), *h_n_expected = read_doubles(f, nS);
    double *dY = read_doubles(f, nY), *grads_expected = read_doubles(f, n_params);
    double *dX_expected = read_doubles(f, nX);
    fclose(f);
    if (!params || !X || !Y_expected || !h_n_expected || !dY || !grads_expected
        || !dX_expected)
        return 2;

    /* the app's workspace: one block, the call described in it */
    crnn_workspace w;
    memset(&w, 0, sizeof w);
    void *block = malloc(crnn_workspace_size(&net, T * B, B, sizeof(double)));
    crnn_workspace_bind(&w, &net, block, T * B, B, sizeof(double));
    /* X time first, from zero states, the sequences' lengths, no dropout */
    int status = crnn_workspace_load(&w, &net, X, 0, 0, NULL, NULL, lengths, T, B,
                                     sizeof(double));

    double *Y = malloc(nY * sizeof(double) + 1), *top = malloc((size_t)(T * B * net.D * net.H) * sizeof(double));
    double *h_n = malloc(nS * sizeof(double)), *c_n = malloc(nS * sizeof(double));
    double *grads = calloc(n_params, sizeof(double)), *dX = calloc(nX, sizeof(double));
    double *dh0 = calloc(nS, sizeof(double)), *dc0 = calloc(nS, sizeof(double));
    /* the workspace was bound for doubles: the entries for its type */
    status |= crnn_network_forward(&net, params, &w, Y, top, h_n, c_n);
    status |= crnn_network_backward(&net, params, grads, &w, dY, NULL, NULL, dh0,
                                    net.cell == CRNN_CELL_LSTM ? dc0 : NULL, dX);
    const double errors[4] = {relative_error(Y, Y_expected, nY),
                              relative_error(h_n, h_n_expected, nS),
                              relative_error(grads, grads_expected, n_params),
                              relative_error(dX, dX_expected, nX)};
    printf("Y %.3g, h_n %.3g, gradients %.3g, dX %.3g\n", errors[0], errors[1], errors[2],
           errors[3]);
    int ok = status == CRNN_OK;
    for (int i = 0; i < 4; i++) ok = ok && errors[i] <= 1e-12;
    free(offsets); free(lengths); free(params); free(X); free(Y_expected); free(h_n_expected); free(dY);
    free(grads_expected); free(dX_expected); free(block); free(Y); free(top); free(h_n);
    free(c_n); free(grads); free(dX); free(dh0); free(dc0);
    return ok ? 0 : 1;
}
