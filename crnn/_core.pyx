# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Typed wrappers of the C core (src_c/crnn.h) on NumPy buffers.

Each wrapper checks that its buffers agree in shape, so the C core can never
read or write out of bounds whatever it is given, picks the float or double C
function through the fused type, and calls it without the GIL. The user-facing
validation, with messages in the user's terms, is in crnn/rnn.py.

Sequences arrive flattened to rows: a (T, B, H) array is passed as (T*B, H).
Optional buffers (h0, dh0, dX, dh_last) may be None.
"""
from cython cimport floating
from libc.stdint cimport int64_t


def kernel_names():
    """Every kernel path this build knows, available or not."""
    return [crnn_kernel_name(k).decode() for k in range(CRNN_KERNEL_COUNT)]


def available_kernels():
    """The kernel paths this build holds and this CPU runs, slowest first."""
    return [crnn_kernel_name(k).decode() for k in range(CRNN_KERNEL_COUNT)
            if crnn_kernel_available(k)]


def get_kernel():
    return crnn_kernel_name(crnn_get_kernel()).decode()


def set_kernel(str name):
    """Use the kernel path ``name`` from now on (not while another thread computes)."""
    names = kernel_names()
    if name not in names:
        raise ValueError(f"kernel must be one of {names}, got {name!r}")
    if crnn_set_kernel(names.index(name)) != CRNN_OK:
        raise ValueError(f"kernel {name!r} is not available on this CPU; "
                         f"available: {available_kernels()}")


def tanh(floating[::1] x):
    """x <- tanh(x) in place with the active path's kernel (for its tests)."""
    if x.shape[0] == 0:
        return
    with nogil:
        if floating is float:
            crnn_tanh_f32(&x[0], x.shape[0])
        else:
            crnn_tanh_f64(&x[0], x.shape[0])


def forward_workspace_size(Py_ssize_t I, Py_ssize_t H, Py_ssize_t O):
    """Elements of workspace that rnn_forward* and output_forward need."""
    return max(crnn_rnn_forward_workspace(I, H), crnn_output_forward_workspace(H, O))


cdef int _expect(str name, tuple actual, tuple expected) except -1:
    if actual != expected:
        raise ValueError(f"{name}: expected shape {expected}, got {actual}")
    return 0


cdef inline const floating* _optional(const floating[:, ::1] a) noexcept:
    if a is None:
        return NULL
    return &a[0, 0]


cdef inline floating* _optional_out(floating[:, ::1] a) noexcept:
    if a is None:
        return NULL
    return &a[0, 0]


cdef Py_ssize_t _batch(Py_ssize_t N, Py_ssize_t T) except -1:
    if T <= 0 or N <= 0 or N % T:
        raise ValueError(f"{N} rows do not split into T={T} time steps of a non-empty batch")
    return N // T


cdef int _check_workspace(Py_ssize_t actual, size_t needed) except -1:
    if <size_t>actual < needed:
        raise ValueError(f"workspace: expected at least {needed} elements, got {actual}")
    return 0


cdef Py_ssize_t _check_recurrence_forward(floating[:, ::1] hidden_states,
                                          const floating[:, ::1] h0,
                                          const floating[:, ::1] Wxh,
                                          const floating[:, ::1] Whh,
                                          const floating[::1] bh, floating[::1] workspace,
                                          Py_ssize_t T) except -1:
    """Checks shared by both forward kinds; returns B."""
    cdef Py_ssize_t N = hidden_states.shape[0], H = hidden_states.shape[1]
    cdef Py_ssize_t I = Wxh.shape[1], B = _batch(N, T)
    _expect("Wxh", (Wxh.shape[0], Wxh.shape[1]), (H, I))
    _expect("Whh", (Whh.shape[0], Whh.shape[1]), (H, H))
    _expect("bh", (bh.shape[0],), (H,))
    if h0 is not None:
        _expect("h0", (h0.shape[0], h0.shape[1]), (B, H))
    _check_workspace(workspace.shape[0], crnn_rnn_forward_workspace(I, H))
    return B


def rnn_forward(floating[:, ::1] hidden_states, const floating[:, ::1] X,
                const floating[:, ::1] h0, const floating[:, ::1] Wxh,
                const floating[:, ::1] Whh, const floating[::1] bh,
                floating[::1] workspace, Py_ssize_t T):
    """hidden_states (T*B, H) <- the hidden states of X (T*B, I) from h0 (B, H)."""
    cdef Py_ssize_t N = hidden_states.shape[0], H = hidden_states.shape[1]
    cdef Py_ssize_t I = Wxh.shape[1]
    cdef Py_ssize_t B = _check_recurrence_forward(hidden_states, h0, Wxh, Whh, bh, workspace, T)
    _expect("X", (X.shape[0], X.shape[1]), (N, I))
    cdef const floating *h0_ptr = _optional(h0)
    with nogil:
        if floating is float:
            crnn_rnn_forward_f32(&hidden_states[0, 0], &X[0, 0], h0_ptr, &Wxh[0, 0],
                                 &Whh[0, 0], &bh[0], &workspace[0], T, B, I, H)
        else:
            crnn_rnn_forward_f64(&hidden_states[0, 0], &X[0, 0], h0_ptr, &Wxh[0, 0],
                                 &Whh[0, 0], &bh[0], &workspace[0], T, B, I, H)


def rnn_forward_tokens(floating[:, ::1] hidden_states, const int64_t[::1] ids,
                       const floating[:, ::1] h0, const floating[:, ::1] Wxh,
                       const floating[:, ::1] Whh, const floating[::1] bh,
                       floating[::1] workspace, Py_ssize_t T):
    """hidden_states (T*B, H) <- the hidden states of token ids (T*B,) in [0, I)."""
    cdef Py_ssize_t N = hidden_states.shape[0], H = hidden_states.shape[1]
    cdef Py_ssize_t I = Wxh.shape[1]
    cdef Py_ssize_t B = _check_recurrence_forward(hidden_states, h0, Wxh, Whh, bh, workspace, T)
    cdef int status
    _expect("ids", (ids.shape[0],), (N,))
    cdef const floating *h0_ptr = _optional(h0)
    with nogil:
        if floating is float:
            status = crnn_rnn_forward_tokens_f32(&hidden_states[0, 0], &ids[0], h0_ptr,
                                                 &Wxh[0, 0], &Whh[0, 0], &bh[0],
                                                 &workspace[0], T, B, I, H)
        else:
            status = crnn_rnn_forward_tokens_f64(&hidden_states[0, 0], &ids[0], h0_ptr,
                                                 &Wxh[0, 0], &Whh[0, 0], &bh[0],
                                                 &workspace[0], T, B, I, H)
    if status == CRNN_ERR_TOKEN_ID:
        raise ValueError(f"token ids must be in [0, {I})")


def output_forward(floating[:, ::1] Y, const floating[:, ::1] hidden_states,
                   const floating[:, ::1] Why, const floating[::1] by,
                   floating[::1] workspace):
    """Y (N, O) <- hidden_states (N, H) Why^T + by."""
    cdef Py_ssize_t N = hidden_states.shape[0], H = hidden_states.shape[1]
    cdef Py_ssize_t O = Why.shape[0]
    _expect("Y", (Y.shape[0], Y.shape[1]), (N, O))
    _expect("Why", (Why.shape[0], Why.shape[1]), (O, H))
    _expect("by", (by.shape[0],), (O,))
    _check_workspace(workspace.shape[0], crnn_output_forward_workspace(H, O))
    if N == 0:
        return
    with nogil:
        if floating is float:
            crnn_output_forward_f32(&Y[0, 0], &hidden_states[0, 0], &Why[0, 0], &by[0],
                                    &workspace[0], N, H, O)
        else:
            crnn_output_forward_f64(&Y[0, 0], &hidden_states[0, 0], &Why[0, 0], &by[0],
                                    &workspace[0], N, H, O)


def output_backward(floating[:, ::1] d_hidden, floating[:, ::1] dWhy, floating[::1] dby,
                    const floating[:, ::1] dY, const floating[:, ::1] hidden_states,
                    const floating[:, ::1] Why):
    """d_hidden (N, H) += dY Why; dWhy (O, H) += dY^T hidden_states; dby += sum dY."""
    cdef Py_ssize_t N = hidden_states.shape[0], H = hidden_states.shape[1]
    cdef Py_ssize_t O = Why.shape[0]
    _expect("d_hidden", (d_hidden.shape[0], d_hidden.shape[1]), (N, H))
    _expect("dWhy", (dWhy.shape[0], dWhy.shape[1]), (O, H))
    _expect("dby", (dby.shape[0],), (O,))
    _expect("dY", (dY.shape[0], dY.shape[1]), (N, O))
    _expect("Why", (Why.shape[0], Why.shape[1]), (O, H))
    if N == 0:
        return
    with nogil:
        if floating is float:
            crnn_output_backward_f32(&d_hidden[0, 0], &dWhy[0, 0], &dby[0], &dY[0, 0],
                                     &hidden_states[0, 0], &Why[0, 0], N, H, O)
        else:
            crnn_output_backward_f64(&d_hidden[0, 0], &dWhy[0, 0], &dby[0], &dY[0, 0],
                                     &hidden_states[0, 0], &Why[0, 0], N, H, O)


cdef int _check_recurrent_grads(floating[:, ::1] dWhh, floating[::1] dbh,
                                floating[:, ::1] dh0, floating[:, ::1] d_hidden,
                                const floating[:, ::1] dh_last, const floating[:, ::1] h0,
                                const floating[:, ::1] hidden_states,
                                const floating[:, ::1] Whh, Py_ssize_t B) except -1:
    cdef Py_ssize_t N = hidden_states.shape[0], H = hidden_states.shape[1]
    _expect("dWhh", (dWhh.shape[0], dWhh.shape[1]), (H, H))
    _expect("dbh", (dbh.shape[0],), (H,))
    _expect("d_hidden", (d_hidden.shape[0], d_hidden.shape[1]), (N, H))
    _expect("Whh", (Whh.shape[0], Whh.shape[1]), (H, H))
    if dh0 is not None:
        _expect("dh0", (dh0.shape[0], dh0.shape[1]), (B, H))
    if dh_last is not None:
        _expect("dh_last", (dh_last.shape[0], dh_last.shape[1]), (B, H))
    if h0 is not None:
        _expect("h0", (h0.shape[0], h0.shape[1]), (B, H))
    return 0


def rnn_backward(floating[:, ::1] dWxh, floating[:, ::1] dWhh, floating[::1] dbh,
                 floating[:, ::1] dh0, floating[:, ::1] dX, floating[:, ::1] d_hidden,
                 const floating[:, ::1] dh_last, const floating[:, ::1] X,
                 const floating[:, ::1] h0, const floating[:, ::1] hidden_states,
                 const floating[:, ::1] Wxh, const floating[:, ::1] Whh, Py_ssize_t T):
    """BPTT: d_hidden (T*B, H) holds dLoss/dh on entry, dLoss/da on exit; the
    gradients are added into dWxh, dWhh, dbh, dh0 and dX (None skips it)."""
    cdef Py_ssize_t N = hidden_states.shape[0], H = hidden_states.shape[1]
    cdef Py_ssize_t I = Wxh.shape[1], B = _batch(N, T)
    _check_recurrent_grads(dWhh, dbh, dh0, d_hidden, dh_last, h0, hidden_states, Whh, B)
    _expect("dWxh", (dWxh.shape[0], dWxh.shape[1]), (H, I))
    _expect("X", (X.shape[0], X.shape[1]), (N, I))
    _expect("Wxh", (Wxh.shape[0], Wxh.shape[1]), (H, I))
    if dX is not None:
        _expect("dX", (dX.shape[0], dX.shape[1]), (N, I))
    cdef floating *dh0_ptr = _optional_out(dh0)
    cdef floating *dX_ptr = _optional_out(dX)
    cdef const floating *dh_last_ptr = _optional(dh_last)
    cdef const floating *h0_ptr = _optional(h0)
    with nogil:
        if floating is float:
            crnn_rnn_backward_f32(&dWxh[0, 0], &dWhh[0, 0], &dbh[0], dh0_ptr, dX_ptr,
                                  &d_hidden[0, 0], dh_last_ptr, &X[0, 0], h0_ptr,
                                  &hidden_states[0, 0], &Wxh[0, 0], &Whh[0, 0],
                                  T, B, I, H)
        else:
            crnn_rnn_backward_f64(&dWxh[0, 0], &dWhh[0, 0], &dbh[0], dh0_ptr, dX_ptr,
                                  &d_hidden[0, 0], dh_last_ptr, &X[0, 0], h0_ptr,
                                  &hidden_states[0, 0], &Wxh[0, 0], &Whh[0, 0],
                                  T, B, I, H)


def rnn_backward_tokens(floating[:, ::1] dWxh, floating[:, ::1] dWhh, floating[::1] dbh,
                        floating[:, ::1] dh0, floating[:, ::1] d_hidden,
                        const floating[:, ::1] dh_last, const int64_t[::1] ids,
                        const floating[:, ::1] h0, const floating[:, ::1] hidden_states,
                        const floating[:, ::1] Whh, Py_ssize_t T):
    """BPTT for token-id input (T*B,): as rnn_backward, without an input gradient."""
    cdef Py_ssize_t N = hidden_states.shape[0], H = hidden_states.shape[1]
    cdef Py_ssize_t I = dWxh.shape[1], B = _batch(N, T)
    cdef int status
    _check_recurrent_grads(dWhh, dbh, dh0, d_hidden, dh_last, h0, hidden_states, Whh, B)
    _expect("dWxh", (dWxh.shape[0],), (H,))
    _expect("ids", (ids.shape[0],), (N,))
    cdef floating *dh0_ptr = _optional_out(dh0)
    cdef const floating *dh_last_ptr = _optional(dh_last)
    cdef const floating *h0_ptr = _optional(h0)
    with nogil:
        if floating is float:
            status = crnn_rnn_backward_tokens_f32(&dWxh[0, 0], &dWhh[0, 0], &dbh[0], dh0_ptr,
                                                  &d_hidden[0, 0], dh_last_ptr, &ids[0],
                                                  h0_ptr, &hidden_states[0, 0], &Whh[0, 0],
                                                  T, B, I, H)
        else:
            status = crnn_rnn_backward_tokens_f64(&dWxh[0, 0], &dWhh[0, 0], &dbh[0], dh0_ptr,
                                                  &d_hidden[0, 0], dh_last_ptr, &ids[0],
                                                  h0_ptr, &hidden_states[0, 0], &Whh[0, 0],
                                                  T, B, I, H)
    if status == CRNN_ERR_TOKEN_ID:
        raise ValueError(f"token ids must be in [0, {I})")
