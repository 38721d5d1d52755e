# The C core's operations, one thin wrapper each over both floating types
# (included by _core.pyx): `floating` picks the _f32 or _f64 function, so the
# Engine's layer loop is written once. Shapes are in src_c/crnn.h.

cdef inline void linear_forward(floating *Y, const floating *X, const floating *W,
                                const floating *b, floating *ws, Py_ssize_t N,
                                Py_ssize_t IN, Py_ssize_t OUT) noexcept nogil:
    if floating is float:
        crnn_linear_forward_f32(Y, X, W, b, ws, N, IN, OUT)
    else:
        crnn_linear_forward_f64(Y, X, W, b, ws, N, IN, OUT)


cdef inline void linear_backward(floating *dX, floating *dW, floating *db,
                                 const floating *dY, const floating *X, const floating *W,
                                 Py_ssize_t N, Py_ssize_t IN, Py_ssize_t OUT) noexcept nogil:
    if floating is float:
        crnn_linear_backward_f32(dX, dW, db, dY, X, W, N, IN, OUT)
    else:
        crnn_linear_backward_f64(dX, dW, db, dY, X, W, N, IN, OUT)


cdef inline int onehot_forward(floating *Y, const int64_t *ids, const floating *W,
                               const floating *b, Py_ssize_t N, Py_ssize_t IN,
                               Py_ssize_t OUT) noexcept nogil:
    if floating is float:
        return crnn_onehot_forward_f32(Y, ids, W, b, N, IN, OUT)
    else:
        return crnn_onehot_forward_f64(Y, ids, W, b, N, IN, OUT)


cdef inline int onehot_backward(floating *dW, floating *db, const floating *dY,
                                const int64_t *ids, Py_ssize_t N, Py_ssize_t IN,
                                Py_ssize_t OUT) noexcept nogil:
    if floating is float:
        return crnn_onehot_backward_f32(dW, db, dY, ids, N, IN, OUT)
    else:
        return crnn_onehot_backward_f64(dW, db, dY, ids, N, IN, OUT)


cdef inline void elman_forward(floating *hidden_states, floating *h_n, const floating *h0,
                               const floating *Whh, const int64_t *lengths, floating *ws,
                               Py_ssize_t T, Py_ssize_t B, Py_ssize_t H, int activation,
                               int reverse) noexcept nogil:
    if floating is float:
        crnn_elman_forward_f32(hidden_states, h_n, h0, Whh, lengths, ws, T, B, H,
                               activation, reverse)
    else:
        crnn_elman_forward_f64(hidden_states, h_n, h0, Whh, lengths, ws, T, B, H,
                               activation, reverse)


cdef inline void elman_backward(floating *dWhh, floating *dh0, floating *d_hidden,
                                const floating *dh_n, const floating *h0,
                                const floating *hidden_states, const floating *Whh,
                                const int64_t *lengths, floating *ws, Py_ssize_t T,
                                Py_ssize_t B, Py_ssize_t H, int activation,
                                int reverse) noexcept nogil:
    if floating is float:
        crnn_elman_backward_f32(dWhh, dh0, d_hidden, dh_n, h0, hidden_states, Whh, lengths,
                                ws, T, B, H, activation, reverse)
    else:
        crnn_elman_backward_f64(dWhh, dh0, d_hidden, dh_n, h0, hidden_states, Whh, lengths,
                                ws, T, B, H, activation, reverse)


cdef inline void lstm_forward(floating *gates, floating *hidden_states, floating *cells,
                              floating *h_n, floating *c_n, const floating *h0,
                              const floating *c0, const floating *Whh, const int64_t *lengths,
                              floating *ws, Py_ssize_t T, Py_ssize_t B, Py_ssize_t H,
                              int reverse) noexcept nogil:
    if floating is float:
        crnn_lstm_forward_f32(gates, hidden_states, cells, h_n, c_n, h0, c0, Whh, lengths, ws,
                              T, B, H, reverse)
    else:
        crnn_lstm_forward_f64(gates, hidden_states, cells, h_n, c_n, h0, c0, Whh, lengths, ws,
                              T, B, H, reverse)


cdef inline void lstm_backward(floating *dWhh, floating *dh0, floating *dc0, floating *d_gates,
                               const floating *d_hidden, const floating *dh_n,
                               const floating *dc_n, const floating *h0, const floating *c0,
                               const floating *gates, const floating *hidden_states,
                               const floating *cells, const floating *Whh,
                               const int64_t *lengths, floating *ws, Py_ssize_t T,
                               Py_ssize_t B, Py_ssize_t H, int reverse) noexcept nogil:
    if floating is float:
        crnn_lstm_backward_f32(dWhh, dh0, dc0, d_gates, d_hidden, dh_n, dc_n, h0, c0, gates,
                               hidden_states, cells, Whh, lengths, ws, T, B, H, reverse)
    else:
        crnn_lstm_backward_f64(dWhh, dh0, dc0, d_gates, d_hidden, dh_n, dc_n, h0, c0, gates,
                               hidden_states, cells, Whh, lengths, ws, T, B, H, reverse)


cdef inline void gru_forward(floating *gates, floating *hidden_states, floating *hn,
                             floating *h_n, const floating *h0, const floating *Whh,
                             const floating *bhn, const int64_t *lengths, floating *ws,
                             Py_ssize_t T, Py_ssize_t B, Py_ssize_t H, int reverse) noexcept nogil:
    if floating is float:
        crnn_gru_forward_f32(gates, hidden_states, hn, h_n, h0, Whh, bhn, lengths, ws, T, B, H,
                             reverse)
    else:
        crnn_gru_forward_f64(gates, hidden_states, hn, h_n, h0, Whh, bhn, lengths, ws, T, B, H,
                             reverse)


cdef inline void gru_backward(floating *dWhh, floating *dbhn, floating *dh0, floating *d_gates,
                              floating *d_hn, const floating *d_hidden, const floating *dh_n,
                              const floating *h0, const floating *gates,
                              const floating *hidden_states, const floating *hn,
                              const floating *Whh, const int64_t *lengths, floating *ws,
                              Py_ssize_t T, Py_ssize_t B, Py_ssize_t H, int reverse) noexcept nogil:
    if floating is float:
        crnn_gru_backward_f32(dWhh, dbhn, dh0, d_gates, d_hn, d_hidden, dh_n, h0, gates,
                              hidden_states, hn, Whh, lengths, ws, T, B, H, reverse)
    else:
        crnn_gru_backward_f64(dWhh, dbhn, dh0, d_gates, d_hn, d_hidden, dh_n, h0, gates,
                              hidden_states, hn, Whh, lengths, ws, T, B, H, reverse)


cdef inline void multiply(floating *y, const floating *x, const floating *mask, Py_ssize_t n,
                          int accumulate) noexcept nogil:
    if floating is float:
        crnn_multiply_f32(y, x, mask, n, accumulate)
    else:
        crnn_multiply_f64(y, x, mask, n, accumulate)


cdef inline void join_directions(floating *out, const floating *forward,
                                 const floating *backward, Py_ssize_t N,
                                 Py_ssize_t H) noexcept nogil:
    """out (N, 2H) <- [forward (N, H), backward (N, H)] side by side."""
    cdef Py_ssize_t n
    for n in range(N):
        memcpy(out + 2 * n * H, forward + n * H, H * sizeof(floating))
        memcpy(out + (2 * n + 1) * H, backward + n * H, H * sizeof(floating))


cdef inline void split_directions(floating *forward, floating *backward,
                                  const floating *joined, Py_ssize_t N,
                                  Py_ssize_t H) noexcept nogil:
    """forward, backward (N, H) <- the halves of joined (N, 2H)."""
    cdef Py_ssize_t n
    for n in range(N):
        memcpy(forward + n * H, joined + 2 * n * H, H * sizeof(floating))
        memcpy(backward + n * H, joined + (2 * n + 1) * H, H * sizeof(floating))


cdef inline void zero_rows_past_lengths(floating *Y, const int64_t *lengths, Py_ssize_t T,
                                        Py_ssize_t B, Py_ssize_t C) noexcept nogil:
    """Y (T, B, C): the rows of steps t >= lengths[b] <- 0."""
    cdef Py_ssize_t t, b
    for t in range(T):
        for b in range(B):
            if t >= lengths[b]:
                memset(Y + (t * B + b) * C, 0, C * sizeof(floating))
