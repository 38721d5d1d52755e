# A stream's workspace: B sequences stepped one input at a time, their
# states kept in the scratch between calls (crnn/stream.py is its API).
# Included by _core.pyx.

cdef class StreamWorkspace(Engine):
    """An Engine that steps: ``start`` sets B sequences' states, each
    ``step`` is one C call (crnn_network_step) of T = 1 that advances them,
    ``state`` copies them out. One direction only: a step cannot see the
    future."""
    cdef object _next       # a step's next states and top output, (3, L*B*H)
    cdef char *next
    cdef readonly Py_ssize_t size  # B, or 0 before start

    def start(self, Py_ssize_t B, h0, c0):
        """From the states h0 and (an LSTM's) c0, (L, B, H) of the model's
        dtype, or None for zeros."""
        cdef Network n = self.network
        if n.net.D != 1 or B < 1:
            raise RuntimeError("crnn internal error: a stream runs one direction, B >= 1")
        cdef tuple states = (n.net.L, B, n.net.H)
        cdef const char *h0_p = _optional(h0, n.kind, states)
        cdef const char *c0_p = _optional(c0, n.kind if n.lstm else OTHER, states)
        _take(self.lock)
        try:
            self._reserve(1, B)
            self._next = np.empty((3, n.net.L * B * n.net.H), n.dtype)
            self.next = _address(self._next)
            self.masks, self.w.masks, self.w.last_only = None, NULL, False
            _check_status(crnn_workspace_load(&self.w, &n.net, NULL, False, False, h0_p, c0_p,
                                              NULL, 1, B, n.item), "stream")
            self.last, self.size = "", B  # nothing a backward could read
        finally:
            PyThread_release_lock(self.lock)

    def state(self):
        """Copies of the states: h (L, B, H), and an LSTM's c, or None."""
        cdef Network n = self.network
        h = np.empty((n.net.L, self.size, n.net.H), n.dtype)
        c = np.empty_like(h) if n.lstm else None
        _take(self.lock)
        memcpy(_address(h), self.w.h0, h.nbytes)
        if c is not None:
            memcpy(_address(c), self.w.c0, c.nbytes)
        PyThread_release_lock(self.lock)
        return h, c

    def step(self, x, out):
        """One step: x (B, I) floats of the model's dtype or (B,) int64 token
        ids, into out (B, O), or (B, H) without an output layer (a new array
        when None). Returns out, or None when x or out is not a buffer of
        exactly that or a token id is outside [0, I), the states unchanged
        (crnn/stream.py then checks and says why)."""
        cdef Py_buffer v
        cdef Network n = self.network
        cdef Py_ssize_t B = self.size, width = n.net.O or n.net.H
        cdef int status
        if B == 0 or not _acquire(x, &v):
            return None
        cdef Kind kind = _kind(&v)
        cdef bint tokens = kind == INT64 and v.ndim == 1 and v.shape[0] == B
        cdef bint fits = tokens or (kind == n.kind and v.ndim == 2 and v.shape[0] == B
                                    and v.shape[1] == n.net.I)
        if fits and out is None:
            out = np.empty((B, width), n.dtype)
        cdef char *out_p = _matrix_of(out, n.kind, B, width) if fits else NULL
        if out_p == NULL:
            PyBuffer_Release(&v)
            return None
        _take(self.lock)
        with nogil:
            status = crnn_network_step(&n.net, n.params, &self.w, v.buf, tokens, out_p,
                                       self.next)
        PyThread_release_lock(self.lock)
        PyBuffer_Release(&v)
        return out if status == CRNN_OK else None
