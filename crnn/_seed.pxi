# The seed notebook's API on an Engine, within its budget of microseconds. A
# list of T small vectors is read straight into the scratch, and d_y into a
# row of it: NumPy's conversions would cost several times the compute.
# Anything these do not take as it is (a buffer of exactly I or O real
# numbers) they leave to crnn/rnn.py's validation, returning None.
# Included by _core.pyx.

cdef void _to_real(char *dst, bint f32, const char *src, Kind kind, Py_ssize_t n) noexcept nogil:
    """dst[i] = src[i] for n numbers, converted to float or double."""
    cdef Py_ssize_t i
    cdef double value
    for i in range(n):
        if kind == FLOAT32:
            value = (<const float *>src)[i]
        elif kind == FLOAT64:
            value = (<const double *>src)[i]
        elif kind == INT64:
            value = <double>(<const int64_t *>src)[i]
        elif kind == INT32:
            value = (<const int32_t *>src)[i]
        else:
            value = (<const unsigned char *>src)[i] != 0
        if f32:
            (<float *>dst)[i] = <float>value
        else:
            (<double *>dst)[i] = value



cdef bint _holds_reals(object x, Py_ssize_t n):
    """Whether x is a buffer of exactly n real numbers."""
    cdef Py_buffer v
    if not _acquire(x, &v):
        return False
    cdef bint fits = _kind(&v) != OTHER and v.len == n * v.itemsize
    PyBuffer_Release(&v)
    return fits


def forward_steps(Engine engine, inputs):
    """The seed API's forward of a list or tuple of T vectors of I numbers,
    from zero states, without dropout: (output (O, 1), h (D*H, 1)), or None
    for an item that is not a buffer of I real numbers, or a call whose
    scratch is not there yet (crnn/rnn.py checks a new size's memory first)."""
    cdef Py_buffer v
    cdef Network n = engine.network
    cdef Py_ssize_t T = len(inputs), t, I = n.net.I
    if T == 0 or not n.net.O or T > engine.w.rows:
        return None
    for t in range(T):  # every vector checked before the last forward is overwritten
        if not _holds_reals(inputs[t], I):
            return None
    _take(engine.lock)
    try:
        for t in range(T):
            _acquire(inputs[t], &v)
            _to_real(<char *>engine.w.inputs + t * I * n.item, n.kind == FLOAT32,
                     <const char *>v.buf, _kind(&v), I)
            PyBuffer_Release(&v)
        engine.masks, engine.w.masks = None, NULL
        return engine._forward(NULL, False, False, NULL, NULL, NULL, T, 1, "forward", True,
                               False)[:2]
    finally:
        PyThread_release_lock(engine.lock)


def backward_steps(Engine engine, d_y, double learning_rate):
    """The seed API's backward of the last forward_steps from d_y, O numbers
    shaped (O, 1) or (O,), then one SGD step; uses the forward up. True, or
    None for what is not such a buffer (nothing changed)."""
    cdef Py_buffer v
    cdef Network n = engine.network
    cdef int status
    if not _acquire(d_y, &v):
        return None
    cdef Kind kind = _kind(&v)
    cdef bint fits = (kind != OTHER and v.len == n.net.O * v.itemsize
                      and (v.ndim == 1 or (v.ndim == 2 and v.shape[1] == 1)))
    n.gradients.take()
    _take(engine.lock)
    try:
        if not fits or engine.last != "forward" \
                or engine.forward_thread != PyThread_get_thread_ident():
            return None
        _to_real(<char *>engine.w.dY_valid, n.kind == FLOAT32, <const char *>v.buf, kind,
                 n.net.O)
        with nogil:
            status = engine._run_backward(engine.w.dY_valid, NULL, NULL, NULL, NULL, NULL)
            if n.kind == FLOAT32:
                crnn_sgd_f32(<float *>n.params, NULL, <const float *>n.grads, n.n_params,
                             learning_rate, 0, 0, 0)
            else:
                crnn_sgd_f64(<double *>n.params, NULL, <const double *>n.grads, n.n_params,
                             learning_rate, 0, 0, 0)
        _check_status(status, "backward")
        engine.last = ""
        return True
    finally:
        PyThread_release_lock(engine.lock)
        n.gradients.give()
        PyBuffer_Release(&v)
