/*
 * One instantiation of the SIMD templates, for kernels_x86.c: with `real`, the
 * vector macros, TABLE (the kernel table to define) and TRANSPOSE (its
 * transpose) defined, it compiles the kernels and fills the table, then
 * forgets those macros so that the next instantiation can define its own.
 */
#include "kernels_simd.inc.c"
#include "tanh_simd.inc.c"
#include "cells_simd.inc.c"
#include "update_simd.inc.c"

#if CRNN_DOUBLE
#define CRNN_TABLE_TYPE crnn_kernels_f64
#else
#define CRNN_TABLE_TYPE crnn_kernels_f32
#endif
const CRNN_TABLE_TYPE TABLE = {
    .matmul = FN(matmul),
    .matmul_nt = FN(matmul_nt),
    .packed_rows = MR,
    .pack = FN(pack),
    .matmul_packed = FN(matmul_packed),
    .tanh = FN(tanh),
    .sigmoid = FN(sigmoid),
    .lstm_cell = FN(lstm_cell),
    .gru_cell = FN(gru_cell),
    .lstm_cell_backward = FN(lstm_cell_backward),
    .gru_cell_backward = FN(gru_cell_backward),
    .transpose = TRANSPOSE,
    .exp_shifted = FN(exp_shifted),
    .clip = FN(clip),
    .adagrad = FN(adagrad),
    .rmsprop = FN(rmsprop),
    .adam = FN(adam),
};

#undef CRNN_TABLE_TYPE
#undef TABLE
#undef TRANSPOSE
#include "simd_end.inc.h"
