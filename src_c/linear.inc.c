/*
 * The linear layer, a template (crnn.c includes it once per floating type):
 * the input projection of every layer and the output layer. One product over
 * all N = T*B rows at once, out of any time loop. Shapes in crnn.h.
 */

void FN(crnn_linear_forward)(real *Y, const real *X, const real *W, const real *b,
                             real *workspace, ptrdiff_t N, ptrdiff_t IN,
                             ptrdiff_t OUT) {
    const FN(crnn_kernels) *kern = FN(crnn_active_kernels)();
    if (b) FN(fill_rows)(Y, b, N, OUT);
    else memset(Y, 0, (size_t)(N * OUT) * sizeof(real));
    if (N <= CRNN_FEW_ROWS) { /* a step's few rows: dot products with W's rows */
        kern->matmul_nt(Y, OUT, X, IN, W, IN, N, OUT, IN);
        return;
    }
    /* W^T (IN,OUT), so that the product runs along rows of Y */
    const real *WT = FN(transpose_aligned)(kern, workspace, W, OUT, IN);
    kern->matmul(Y, OUT, X, IN, 1, WT, padded_ld(OUT), N, OUT, IN); /* Y += X W^T */
}

void FN(crnn_linear_backward)(real *dX, real *dW, real *db, const real *dY,
                              const real *X, const real *W, ptrdiff_t N,
                              ptrdiff_t IN, ptrdiff_t OUT) {
    const FN(crnn_kernels) *kern = FN(crnn_active_kernels)();
    if (dX) FN(matmul_nn)(kern, dX, dY, W, N, IN, OUT); /* G_X += G_Y W     */
    if (dW) FN(matmul_tn)(kern, dW, dY, X, N, OUT, IN); /* G_W += G_Y^T X   */
    if (db) FN(sum_rows)(db, dY, N, OUT);               /* G_b += sum G_Y   */
}
