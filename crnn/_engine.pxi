# The Engine: one workspace of a model. Included by _core.pyx.

cdef class Engine:
    """One workspace of a model (a thread's): a crnn_workspace, the scratch
    and what the last forward left for its backward, on the model's Network.
    The C core walks the layers (crnn_network_forward and _backward,
    src_c/network.inc.c); the Engine checks buffers, picks the dtype and
    releases the GIL.

    Its calls hold its lock, so that an engine shared anyway never mixes two
    calls' half work; a backward also holds the Network's gradient lock. A
    backward must come from the thread whose forward it follows
    (``forward_thread``).
    """
    cdef Network network
    cdef crnn_workspace w
    cdef object _block            # the scratch: one block (crnn_workspace_bind)
    cdef readonly str last        # the last forward's name, or "": none to use
    cdef readonly object masks    # its dropout masks (L-1, T, B, D*H), or None
    cdef readonly unsigned long forward_thread
    cdef PyThread_type_lock lock

    def __cinit__(self):
        self.lock = _new_lock()

    def __dealloc__(self):
        if self.lock != NULL:
            PyThread_free_lock(self.lock)

    def __init__(self, Network network):
        self.network, self.last = network, ""

    # the last call's T steps and B sequences, and whether it had token ids;
    # the rows (T*B) and sequences the scratch holds
    @property
    def T(self):
        return self.w.T

    @property
    def B(self):
        return self.w.B

    @property
    def tokens(self):
        return bool(self.w.tokens)

    @property
    def rows(self):
        return self.w.rows

    @property
    def batch(self):
        return self.w.batch

    def scratch_bytes(self, Py_ssize_t T, Py_ssize_t B):
        """The bytes a call of T steps and B sequences would allocate for a
        new scratch (its one block replaces the old), 0 when this one holds
        enough: crnn/rnn.py checks them against the machine's memory."""
        if T * B <= self.w.rows and B <= self.w.batch:
            return 0.0
        return <double>crnn_workspace_size(&self.network.net, max(T * B, self.w.rows),
                                           max(B, self.w.batch), self.network.item)

    cdef int _reserve(self, Py_ssize_t T, Py_ssize_t B) except -1:
        """Scratch for T*B rows and B sequences, in one block; grows (a
        MemoryError leaves the old one), never shrinks."""
        cdef Py_ssize_t rows = self.w.rows, batch = max(B, self.w.batch)
        cdef Network n = self.network
        if T * B <= rows and B <= self.w.batch:
            return 0
        rows = max(T * B, 2 * rows) if T * B > rows else rows  # few regrowths
        block = np.empty(crnn_workspace_size(&n.net, rows, batch, n.item), np.uint8)
        crnn_workspace_bind(&self.w, &n.net, _address(block), rows, batch, n.item)
        self._block, self.last = block, ""  # what it recorded is gone
        return 0

    def forward(self, X, h0, lengths, masks, str kind, bint last_only, bint with_state=True,
                c0=None):
        """X: (T, B, I) of the model's dtype, or int64 token ids (T, B); C-
        contiguous, or the swapaxes(0, 1) view of a C-contiguous batch-first
        array. h0, (an LSTM's) c0: (L*D, B, H) or None; lengths: int64 (B,) in
        [1, T], any order, or None; masks: the dropout masks (L-1, T, B, D*H)
        or None. Returns Y (T, B, O) (None without an output layer), the top
        layer's output (T, B, D*H) and, with_state, h_n (L*D, B, H), an LSTM's
        the pair (h_n, c_n). last_only, the seed API's (B = 1): Y and the top
        output of the last step only, as the columns (O, 1) and (D*H, 1).
        ``kind`` names the call for backward's check."""
        cdef Network n = self.network
        cdef Py_ssize_t T, B, L = n.net.L
        cdef bint tokens, batch_major
        cdef const char *x = _steps(X, n.kind, n.net.I, &T, &B, &tokens, &batch_major)
        cdef tuple states = (L * n.net.D, B, n.net.H)
        cdef const char *h0_p = _optional(h0, n.kind, states)
        cdef const char *c0_p = _optional(c0, n.kind if n.lstm else OTHER, states)
        cdef const char *lengths_p = _optional(lengths, INT64, (B,))
        cdef const char *masks_p = _optional(masks, n.kind, (L - 1, T, B, n.net.D * n.net.H))
        _take(self.lock)
        try:
            self._reserve(T, B)
            self.masks, self.w.masks = masks, masks_p
            return self._forward(x, tokens, batch_major, h0_p, c0_p, lengths_p, T, B, kind,
                                 last_only, with_state)
        finally:
            PyThread_release_lock(self.lock)

    cdef tuple _forward(self, const char *x, bint tokens, bint batch_major, const char *h0,
                        const char *c0, const char *lengths, Py_ssize_t T, Py_ssize_t B,
                        str kind, bint last_only, bint with_state):
        # forward's call, its lock held and its scratch reserved: the
        # caller's arrays are copied in the same nogil section as the C core
        # runs (one release of the GIL a call: each is a wait when threads
        # share it); x NULL: the inputs are in the scratch already
        cdef Network n = self.network
        cdef object Y_shape = (n.net.O, 1), top_shape = (n.net.D * n.net.H, 1)  # last_only's
        if not last_only:
            Y_shape, top_shape = (T, B, n.net.O), (T, B, n.net.D * n.net.H)
        Y = np.empty(Y_shape, n.dtype) if n.net.O else None
        top = np.empty(top_shape, n.dtype)
        h_n = np.empty((n.net.L * n.net.D, B, n.net.H), n.dtype) if with_state else None
        c_n = np.empty_like(h_n) if with_state and n.lstm else None
        cdef void *y_p = _optional_out(Y)
        cdef void *top_p = _optional_out(top)
        cdef void *h_n_p = _optional_out(h_n)
        cdef void *c_n_p = _optional_out(c_n)
        cdef int status
        self.last, self.w.last_only = "", last_only
        with nogil:
            status = crnn_workspace_load(&self.w, &n.net, x, tokens, batch_major, h0, c0,
                                         <const int64_t *>lengths, T, B, n.item)
            if status == CRNN_OK:
                status = crnn_network_forward(&n.net, n.params, &self.w, y_p, top_p, h_n_p,
                                              c_n_p)
        _check_status(status, "forward")
        self.last, self.forward_thread = kind, PyThread_get_thread_ident()
        return Y, top, (h_n, c_n) if c_n is not None else h_n

    def backward(self, dY, dh, bint input_grad, dc=None, str forward_name="forward_batch",
                 str backward_name="backward_batch"):
        """BPTT of the last forward into the gradient array: dY shaped as its
        Y (as its top output without an output layer; (1, O) after
        last_only), dh and (an LSTM's) dc (L*D, B, H) or None. Returns dh0
        (L*D, B, H), an LSTM's the pair (dh0, dc0), and dX (T, B, I) or None."""
        self.network.gradients.take()
        _take(self.lock)
        try:
            # checked again under the lock: another thread's call may have
            # replaced the forward since crnn/rnn.py looked
            if self.last != forward_name or self.forward_thread != PyThread_get_thread_ident():
                raise ValueError(f"{backward_name}() must follow a {forward_name}() of its own "
                                 f"thread on this workspace: another call ran in between")
            return self._backward(dY, dh, input_grad, dc)
        finally:
            PyThread_release_lock(self.lock)
            self.network.gradients.give()

    cdef tuple _backward(self, dY, dh, bint input_grad, dc):
        cdef Network n = self.network
        cdef Py_ssize_t T = self.w.T, B = self.w.B
        cdef tuple states = (n.net.L * n.net.D, B, n.net.H)
        cdef object dY_shape = (B, n.net.O)
        if not self.w.last_only:
            dY_shape = (T, B, n.net.O or n.net.D * n.net.H)
        if input_grad and self.w.tokens:
            raise RuntimeError("crnn internal error: an input gradient of token ids")
        cdef const char *dY_p = _data(dY, n.kind, dY_shape)
        cdef const char *dh_p = _optional(dh, n.kind, states)
        cdef const char *dc_p = _optional(dc, n.kind if n.lstm else OTHER, states)
        dh0 = np.zeros(states, n.dtype)
        dc0 = np.zeros(states, n.dtype) if n.lstm else None
        dX = np.zeros((T, B, n.net.I), n.dtype) if input_grad else None
        cdef void *dh0_p = _optional_out(dh0)
        cdef void *dc0_p = _optional_out(dc0)
        cdef void *dX_p = _optional_out(dX)
        cdef int status
        with nogil:
            status = self._run_backward(dY_p, dh_p, dc_p, dh0_p, dc0_p, dX_p)
        _check_status(status, "backward")
        return (dh0, dc0) if n.lstm else dh0, dX

    cdef int _run_backward(self, const void *dY, const void *dh, const void *dc, void *dh0,
                           void *dc0, void *dX) noexcept nogil:
        # the C core's backward of the last forward into the gradient array,
        # zeroed first
        memset(self.network.grads, 0, self.network.n_params * self.network.item)
        return crnn_network_backward(&self.network.net, self.network.params,
                                     self.network.grads, &self.w, dY, dh, dc, dh0, dc0, dX)

    def use_up(self):
        """Forget the last forward (the seed API's backward uses it up)."""
        self.last = ""


cdef void *_optional_out(object array) except? NULL:
    """The memory of an output array new from NumPy, or NULL for None."""
    return NULL if array is None else <void *>_address(array)


cdef int _check_status(int status, str call) except -1:
    if status == CRNN_ERR_TOKEN_ID:
        raise RuntimeError(f"crnn: token ids changed during the {call} pass")
    if status != CRNN_OK:
        raise RuntimeError(f"crnn internal error: the C core's {call} returned {status}")
    return 0
