# The buffers the Engine hands the C core: what each holds, checked, and
# where its memory is. Included by _core.pyx.

# what a buffer holds, from its struct-module format
cdef enum Kind:
    OTHER, FLOAT32, FLOAT64, INT64, INT32, BOOL


cdef Kind _kind(const Py_buffer *view) noexcept:
    cdef const char *f = view.format
    if f == NULL or f[0] == 0 or f[1] != 0:  # none, or byte order marks, or records
        return OTHER
    if f[0] == b'f' and view.itemsize == 4:
        return FLOAT32
    if f[0] == b'd' and view.itemsize == 8:
        return FLOAT64
    if (f[0] == b'l' or f[0] == b'q') and view.itemsize == 8:
        return INT64
    if (f[0] == b'i' or f[0] == b'l') and view.itemsize == 4:
        return INT32
    if f[0] == b'?' and view.itemsize == 1:
        return BOOL
    return OTHER


cdef bint _acquire(object obj, Py_buffer *view):
    """obj's buffer as C-contiguous memory; False when it has none."""
    try:
        PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT)
    except (TypeError, BufferError, ValueError):
        return False
    return True


cdef char *_data(object array, Kind kind, tuple shape) except NULL:
    """The memory of a C-contiguous array of this kind and shape. crnn/rnn.py
    validates what users give; anything else reaching here is crnn's bug."""
    cdef Py_buffer view
    cdef Py_ssize_t i
    if not _acquire(array, &view):
        raise RuntimeError("crnn internal error: the engine needs a C-contiguous array")
    cdef char *p = <char *>view.buf
    cdef bint fits = _kind(&view) == kind and view.ndim == len(shape)
    if fits:
        for i in range(view.ndim):
            fits = fits and view.shape[i] == <Py_ssize_t>shape[i]
    PyBuffer_Release(&view)
    if not fits:
        raise RuntimeError(f"crnn internal error: the engine got an array that is not "
                           f"{shape} of kind {kind}")
    return p


cdef char *_matrix_of(object array, Kind kind, Py_ssize_t rows, Py_ssize_t cols):
    """The memory of a writable C-contiguous (rows, cols) buffer of this
    kind, valid while it lives; NULL when it is not one."""
    cdef Py_buffer view
    try:
        PyObject_GetBuffer(array, &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE)
    except (TypeError, BufferError, ValueError):
        return NULL
    cdef char *p = <char *>view.buf
    if _kind(&view) != kind or view.ndim != 2 or view.shape[0] != rows or view.shape[1] != cols:
        p = NULL
    PyBuffer_Release(&view)
    return p


cdef char *_address(object array) except NULL:
    """The start of a C-contiguous array's memory, valid while it lives."""
    cdef Py_buffer view
    PyObject_GetBuffer(array, &view, PyBUF_C_CONTIGUOUS)
    cdef char *p = <char *>view.buf
    PyBuffer_Release(&view)
    return p


cdef const char *_optional(object array, Kind kind, tuple shape) except? NULL:
    """_data's memory, or NULL for None."""
    return NULL if array is None else _data(array, kind, shape)


cdef const char *_steps(object X, Kind kind, Py_ssize_t I, Py_ssize_t *T, Py_ssize_t *B,
                        bint *tokens, bint *batch_major) except NULL:
    """X's memory: floats (T, B, I) of this kind, or int64 token ids (T, B);
    C-contiguous, or (batch_major) the swapaxes(0, 1) view of a C-contiguous
    batch-first array. Sets T, B and those two flags."""
    cdef Py_buffer view
    try:
        PyObject_GetBuffer(X, &view, PyBUF_STRIDES | PyBUF_FORMAT)
    except (TypeError, BufferError, ValueError):
        raise RuntimeError("crnn internal error: the engine needs X as an array (T, B[, I])")
    tokens[0] = view.ndim == 2
    T[0], B[0] = view.shape[0] if view.ndim >= 2 else 0, view.shape[1] if view.ndim >= 2 else 0
    cdef Py_ssize_t row = view.itemsize * (1 if tokens[0] else I), t = T[0], b = B[0]
    cdef bint fits = view.ndim in (2, 3) and t * b > 0 and _kind(&view) == (
        INT64 if tokens[0] else kind) and (tokens[0] or (view.shape[2] == I and
                                                          view.strides[2] == view.itemsize))
    # a dimension of one may have any stride
    cdef bint time_major = fits and (b == 1 or view.strides[1] == row) and (
        t == 1 or view.strides[0] == b * row)
    batch_major[0] = fits and not time_major and (t == 1 or view.strides[0] == row) and (
        b == 1 or view.strides[1] == t * row)
    cdef const char *p = <const char *>view.buf
    PyBuffer_Release(&view)
    if not (time_major or batch_major[0]):
        raise RuntimeError("crnn internal error: the engine got an X that is not (T, B[, I]) "
                           "in time-major or batch-major memory")
    return p
