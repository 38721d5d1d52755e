/*
 * The one-hot input, a template (crnn.c includes it once per floating type):
 * token ids stand for one-hot rows, so the input projection is a gather of
 * columns of W and its weight gradient a scatter into them; no product.
 */

int FN(crnn_onehot_forward)(real *Y, const int64_t *ids, const real *W,
                            const real *b, ptrdiff_t N, ptrdiff_t IN, ptrdiff_t OUT) {
    if (!ids_in_range(ids, N, IN)) return CRNN_ERR_TOKEN_ID;
    /* a strided read of each column: transposing W first to copy rows was no
     * faster, measured (char-RNN windows of 25 x 1 to 100 x 64 ids of 65 into
     * 100 units), and costs IN*OUT per call, a lot for a large vocabulary */
    if (b) FN(fill_rows)(Y, b, N, OUT);
    else memset(Y, 0, (size_t)(N * OUT) * sizeof(real));
    for (ptrdiff_t n = 0; n < N; n++) {
        real *restrict y = Y + n * OUT;
        const real *restrict column = W + ids[n];
        for (ptrdiff_t j = 0; j < OUT; j++) y[j] += column[j * IN];
    }
    return CRNN_OK;
}

int FN(crnn_onehot_backward)(real *dW, real *db, const real *dY, const int64_t *ids,
                             ptrdiff_t N, ptrdiff_t IN, ptrdiff_t OUT) {
    if (!ids_in_range(ids, N, IN)) return CRNN_ERR_TOKEN_ID;
    for (ptrdiff_t n = 0; n < N; n++) { /* G_W[:, id] += G_Y[n] */
        const real *dy = dY + n * OUT;
        real *column = dW + ids[n];
        for (ptrdiff_t j = 0; j < OUT; j++) column[j * IN] += dy[j];
    }
    if (db) FN(sum_rows)(db, dY, N, OUT); /* G_b += sum G_Y */
    return CRNN_OK;
}
