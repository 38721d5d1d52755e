# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The Cython layer over the C core (src_c/crnn.h): kernel selection, the
training kernels on flat arrays, and the Engine, one workspace of a model
(a thread's or a stream's), which has the C core walk its layers forward and
backward on NumPy buffers without the GIL.

crnn/rnn.py validates what users give, with messages in their terms, and
hands the Engine only canonical input: C-contiguous arrays of the model's
dtype, int64 token ids and lengths. The Engine checks each buffer's kind and
shape once more before any pointer reaches C, and raises an internal error
when one does not fit.
"""
from cpython.buffer cimport (PyBUF_C_CONTIGUOUS, PyBUF_FORMAT, PyBUF_WRITABLE,
                             PyBuffer_Release, PyObject_GetBuffer)
from cpython.pythread cimport (NOWAIT_LOCK, WAIT_LOCK, PyThread_acquire_lock,
                               PyThread_allocate_lock, PyThread_free_lock,
                               PyThread_get_thread_ident, PyThread_release_lock,
                               PyThread_type_lock)
from libc.stdint cimport int32_t, int64_t
from libc.string cimport memcpy, memset

import numpy as np

from cython cimport floating


def kernel_names():
    """Every kernel path this build knows, available or not."""
    return [crnn_kernel_name(k).decode() for k in range(CRNN_KERNEL_COUNT)]


def available_kernels():
    """The kernel paths this build holds and this CPU runs, slowest first."""
    return [crnn_kernel_name(k).decode() for k in range(CRNN_KERNEL_COUNT)
            if crnn_kernel_available(k)]


def get_kernel():
    """The kernel path in use: "avx512", "avx2" or "portable"."""
    return crnn_kernel_name(crnn_get_kernel()).decode()


def set_kernel(str name):
    """Use the kernel path ``name`` from now on (not while another thread computes)."""
    names = kernel_names()
    if name not in names:
        raise ValueError(f"kernel must be one of {names}, got {name!r}")
    if crnn_set_kernel(names.index(name)) != CRNN_OK:
        raise ValueError(f"kernel {name!r} is not available on this CPU; "
                         f"available: {available_kernels()}")


def set_num_threads(int n):
    """Use up to ``n`` threads for large products; returns the number in use
    (always 1 in a build without OpenMP). Results do not depend on it."""
    if n < 1:
        raise ValueError(f"the number of threads must be at least 1, got {n}")
    return crnn_set_num_threads(n)


def get_num_threads():
    """The threads large products may use: set_num_threads's, else OpenMP's
    default (OMP_NUM_THREADS, or every CPU); 1 without OpenMP."""
    return crnn_get_num_threads()


def tanh(floating[::1] x):
    """x <- tanh(x) in place with the active path's kernel (for its tests)."""
    if x.shape[0] == 0:
        return
    with nogil:
        if floating is float:
            crnn_tanh_f32(&x[0], x.shape[0])
        else:
            crnn_tanh_f64(&x[0], x.shape[0])



def first_outside(const int64_t[::1] ids, int64_t low, int64_t high):
    """The index of the first id outside [low, high), or -1 (for the checks
    of crnn/_checks.py: one pass in C)."""
    cdef Py_ssize_t i, found = -1
    with nogil:
        for i in range(ids.shape[0]):
            if ids[i] < low or ids[i] >= high:
                found = i
                break
    return found


def sigmoid(floating[::1] x):
    """x <- 1 / (1 + exp(-x)) in place with the active path's kernel (for its tests)."""
    if x.shape[0] == 0:
        return
    with nogil:
        if floating is float:
            crnn_sigmoid_f32(&x[0], x.shape[0])
        else:
            crnn_sigmoid_f64(&x[0], x.shape[0])


# ---- training kernels on flat arrays: rnn.py and optim.py check the shapes --

def softmax_xent(const floating[:, ::1] Y, const int64_t[::1] targets, double scale):
    """(loss, dY) of softmax cross-entropy of the rows of Y against targets,
    times ``scale``; None when a target is outside [0, O)."""
    cdef Py_ssize_t N = Y.shape[0], O = Y.shape[1]
    cdef double loss = 0
    cdef int status
    if targets.shape[0] != N:
        raise ValueError(f"targets: expected {N} ids, got {targets.shape[0]}")
    dY = np.empty((N, O), dtype=np.float32 if floating is float else np.float64)
    cdef floating[:, ::1] d = dY
    if N == 0:
        return 0.0, dY
    with nogil:
        if floating is float:
            status = crnn_softmax_xent_f32(&d[0, 0], &loss, &Y[0, 0], &targets[0], N, O, scale)
        else:
            status = crnn_softmax_xent_f64(&d[0, 0], &loss, &Y[0, 0], &targets[0], N, O, scale)
    return None if status != CRNN_OK else (loss, dY)


def clip(floating[::1] g, double limit):
    """g clipped to [-limit, limit] in place."""
    if g.shape[0]:
        with nogil:
            if floating is float:
                crnn_clip_f32(&g[0], g.shape[0], limit)
            else:
                crnn_clip_f64(&g[0], g.shape[0], limit)


def sum_squares(const floating[::1] g):
    """The sum of g's squares, accumulated in double."""
    cdef double total = 0
    if g.shape[0]:
        with nogil:
            if floating is float:
                total = crnn_sum_squares_f32(&g[0], g.shape[0])
            else:
                total = crnn_sum_squares_f64(&g[0], g.shape[0])
    return total


cdef int _same_length(Py_ssize_t n, Py_ssize_t other, str name) except -1:
    if other != n:
        raise ValueError(f"{name}: expected {n} elements, got {other}")
    return 0


def sgd(floating[::1] p, floating[::1] velocity, const floating[::1] g, double lr,
        double momentum, bint nesterov, double weight_decay):
    cdef Py_ssize_t n = p.shape[0]
    _same_length(n, g.shape[0], "g")
    if velocity is not None:
        _same_length(n, velocity.shape[0], "velocity")
    cdef floating *v = NULL if velocity is None else &velocity[0]
    if n:
        with nogil:
            if floating is float:
                crnn_sgd_f32(&p[0], v, &g[0], n, lr, momentum, nesterov, weight_decay)
            else:
                crnn_sgd_f64(&p[0], v, &g[0], n, lr, momentum, nesterov, weight_decay)


def adagrad(floating[::1] p, floating[::1] memory, const floating[::1] g, double lr,
            double eps):
    cdef Py_ssize_t n = p.shape[0]
    _same_length(n, g.shape[0], "g")
    _same_length(n, memory.shape[0], "memory")
    if n:
        with nogil:
            if floating is float:
                crnn_adagrad_f32(&p[0], &memory[0], &g[0], n, lr, eps)
            else:
                crnn_adagrad_f64(&p[0], &memory[0], &g[0], n, lr, eps)


def rmsprop(floating[::1] p, floating[::1] mean_square, const floating[::1] g, double lr,
            double rho, double eps):
    cdef Py_ssize_t n = p.shape[0]
    _same_length(n, g.shape[0], "g")
    _same_length(n, mean_square.shape[0], "mean_square")
    if n:
        with nogil:
            if floating is float:
                crnn_rmsprop_f32(&p[0], &mean_square[0], &g[0], n, lr, rho, eps)
            else:
                crnn_rmsprop_f64(&p[0], &mean_square[0], &g[0], n, lr, rho, eps)


def adam(floating[::1] p, floating[::1] m, floating[::1] v, const floating[::1] g, double lr,
         double beta1, double beta2, double eps, double weight_decay, bint decoupled,
         int64_t step):
    cdef Py_ssize_t n = p.shape[0]
    _same_length(n, g.shape[0], "g")
    _same_length(n, m.shape[0], "m")
    _same_length(n, v.shape[0], "v")
    if step < 1:
        raise ValueError(f"step must be at least 1, got {step}")
    if n:
        with nogil:
            if floating is float:
                crnn_adam_f32(&p[0], &m[0], &v[0], &g[0], n, lr, beta1, beta2, eps,
                              weight_decay, decoupled, step)
            else:
                crnn_adam_f64(&p[0], &m[0], &v[0], &g[0], n, lr, beta1, beta2, eps,
                              weight_decay, decoupled, step)




# ---- buffers --------------------------------------------------------------

# the recurrence of a model's layers (crnn.layers.GATES' keys)
cdef enum Cell:
    CELL_RNN, CELL_LSTM, CELL_GRU


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


cdef bint _longest_first(object lengths, Py_ssize_t B) except -1:
    """Whether the B int64 lengths are sorted longest first (one C pass)."""
    cdef const int64_t *n = <const int64_t *>_data(lengths, INT64, (B,))
    cdef Py_ssize_t b
    for b in range(1, B):
        if n[b] > n[b - 1]:
            return False
    return True


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


cdef class Engine:
    """One workspace of a model: its network description (crnn_network:
    sizes, cell, where each parameter lies in the flat arrays), and a
    crnn_workspace (the scratch, and what the last forward left for its
    backward). The walk over the layers is the C core's
    (crnn_network_forward and _backward, src_c/network.inc.c): the Engine
    checks buffers, picks the dtype and releases the GIL.

    One Engine is one workspace: a model gives each thread its own. Every
    call still holds the engine's lock, taken without the GIL, so an engine
    that is shared anyway runs its calls one after another and never mixes
    their half work; other engines run meanwhile, the GIL released. A
    backward must come from the thread whose forward it follows:
    ``forward_thread`` tells which.
    """
    cdef readonly Py_ssize_t I, H, O, D, L
    cdef readonly object dtype
    cdef crnn_network net  # the model: sizes, cell, where its parameters lie
    cdef crnn_workspace w  # this workspace's scratch and the last call
    cdef int cell         # CELL_RNN, CELL_LSTM or CELL_GRU
    cdef bint f32
    cdef Kind kind
    cdef Py_ssize_t item, n_params
    cdef object _keep     # the arrays the pointers below point into
    cdef char *params
    cdef char *grads
    cdef object _block    # the scratch, one allocation (crnn_workspace_bind)
    # the last forward: "forward", "forward_batch", or "" (none to use)
    cdef readonly str last
    cdef bint with_state  # the forward returns h_n
    cdef readonly object masks  # its dropout masks (L-1, T, B, D*H), or None
    cdef object masks_running   # the same, in the order the sequences ran
    cdef object order, unorder  # the sequences longest first, and back; or None
    cdef const char *source_x        # what _forward copies in its nogil section:
    cdef const char *source_h0       # X (or ids), h0, c0 and lengths of the
    cdef const char *source_c0       # caller's, valid while _forward runs
    cdef const char *source_lengths
    cdef bint source_tokens, source_batch_major  # ids; (B, T, ...), not (T, B, ...)
    cdef Py_ssize_t source_T
    cdef readonly unsigned long forward_thread
    cdef PyThread_type_lock lock
    cdef object _stream   # a stream's next states and top output, (3, L*B*H)
    cdef char *stream_states
    cdef readonly Py_ssize_t stream_batch  # B of the stream this engine runs, or 0

    @property
    def rows(self):
        return self.w.rows

    @property
    def batch(self):
        return self.w.batch

    @property
    def T(self):
        return self.w.T

    @property
    def B(self):
        return self.w.B

    @property
    def tokens(self):
        return bool(self.w.tokens)

    def __cinit__(self):
        self.lock = PyThread_allocate_lock()
        if self.lock == NULL:
            raise MemoryError("crnn: cannot allocate a lock")

    def __dealloc__(self):
        if self.lock != NULL:
            PyThread_free_lock(self.lock)

    cdef int _acquire(self) except -1:
        # wait without the GIL: the holder may need it to finish
        if not PyThread_acquire_lock(self.lock, NOWAIT_LOCK):
            with nogil:
                PyThread_acquire_lock(self.lock, WAIT_LOCK)
        return 0

    def __init__(self, params, grads, layout, str nonlinearity):
        """params, grads: the flat parameter and gradient arrays (float32 or
        float64); layout: their crnn.layers.Layout, of any cell."""
        self.cell = {"rnn": CELL_RNN, "lstm": CELL_LSTM, "gru": CELL_GRU}[layout.cell]
        self.I, self.H = layout.input_size, layout.hidden_size
        self.O = layout.output_size or 0
        self.D, self.L = layout.directions, layout.num_layers
        self.dtype = params.dtype
        self.f32 = self.dtype == np.float32
        self.kind = FLOAT32 if self.f32 else FLOAT64
        self.item = self.dtype.itemsize
        self.n_params = params.size
        table = np.array([[layout.offsets[name] if name is not None else -1 for name in names]
                          for _, _, *names in layout.recurrent()], dtype=np.intp)
        self._keep = (params, grads, table)
        self.params, self.grads = _address(params), _address(grads)
        self.net.cell = (CRNN_CELL_LSTM if self.cell == CELL_LSTM else
                         CRNN_CELL_GRU if self.cell == CELL_GRU else CRNN_CELL_RNN)
        self.net.activation = CRNN_RELU if nonlinearity == "relu" else CRNN_TANH
        self.net.I, self.net.H, self.net.O = self.I, self.H, self.O
        self.net.D, self.net.L, self.net.G = self.D, self.L, layout.gates
        self.net.offsets = <const ptrdiff_t *>_address(table)
        self.net.out_W = layout.offsets["Why"] if self.O else -1
        self.net.out_b = layout.offsets["by"] if self.O else -1
        self.last = ""

    def scratch_bytes(self, Py_ssize_t T, Py_ssize_t B):
        """The bytes of the new scratch a call of T steps and B sequences
        would allocate (its one block replaces the old): 0 when what it holds
        is enough. Checked by crnn/rnn.py against the machine's memory before
        a forward."""
        if T * B <= self.w.rows and B <= self.w.batch:
            return 0.0
        return <double>crnn_workspace_size(&self.net, max(T * B, self.w.rows),
                                           max(B, self.w.batch), self.item)

    cdef int _reserve(self, Py_ssize_t T, Py_ssize_t B) except -1:
        """Scratch for T*B rows and B sequences, in one block; grows, never
        shrinks."""
        cdef Py_ssize_t rows = self.w.rows, batch = max(B, self.w.batch)
        if T * B <= rows and B <= self.w.batch:
            return 0
        if T * B > rows:
            rows = max(T * B, 2 * rows)  # few regrowths for slowly rising sizes
        # allocated before anything changes: a MemoryError leaves the old block
        block = np.empty(crnn_workspace_size(&self.net, rows, batch, self.item), dtype=np.uint8)
        crnn_workspace_bind(&self.w, &self.net, _address(block), rows, batch, self.item)
        self._block = block
        self.last = ""  # what it recorded is gone
        return 0

    def forward(self, X, h0, lengths, masks, str kind, bint last_only, bint with_state=True,
                c0=None):
        self._acquire()
        try:
            self.with_state = with_state
            return self._forward(X, h0, lengths, masks, kind, last_only, c0)
        finally:
            PyThread_release_lock(self.lock)

    cdef tuple _forward(self, X, h0, lengths, masks, str kind, bint last_only, c0):
        """X: (T, B, I) of the model's dtype, or int64 token ids (T, B) in
        [0, I), C-contiguous or the swapaxes(0, 1) view of a C-contiguous
        batch-first array; h0 and (an LSTM's) c0: None or (L*D, B, H); lengths: None or int64 (B,) in
        [1, T]; masks: None or the dropout masks (L-1, T, B, D*H). Returns Y
        (T, B, O), or None without an output layer; the top layer's output
        (T, B, D*H); h_n (L*D, B, H), an LSTM's a pair (h_n, c_n). last_only is the seed API's: one
        sequence (B = 1), and Y and the top output of its last step only, as
        the columns (O, 1) and (D*H, 1) it returns.
        ``kind`` names the call for backward's check; without ``with_state``
        (forward's argument) h_n is None, not computed."""
        if not isinstance(X, np.ndarray) or X.ndim not in (2, 3):
            raise RuntimeError("crnn internal error: the engine needs X as an array (T, B[, I])")
        self.order = self.unorder = None
        self.masks = masks
        if lengths is not None and not _longest_first(lengths, X.shape[1]):
            # run the sequences longest first: each step's product then covers
            # only those that have the step (crnn_elman_*); results go back
            # into the caller's order
            self.order = np.argsort(-lengths, kind="stable")
            self.unorder = np.argsort(self.order)
            X, lengths = np.ascontiguousarray(X[:, self.order]), lengths[self.order]
            if h0 is not None:
                h0 = np.ascontiguousarray(h0[:, self.order])
            if c0 is not None:
                c0 = np.ascontiguousarray(c0[:, self.order])
            if masks is not None:
                masks = np.ascontiguousarray(masks[:, :, self.order])
        cdef Py_ssize_t T = X.shape[0], B = X.shape[1], LD = self.L * self.D
        cdef bint tokens = X.ndim == 2
        # X time first in memory, or the (T, B, ...) view of a batch-first
        # (B, T, ...) array, copied step by step in the nogil section
        cdef bint batch_major = not X.flags.c_contiguous
        cdef tuple x_shape = (B, T) if batch_major else (T, B)
        if not tokens:
            x_shape = x_shape + (self.I,)
        cdef char *x = _data(X.swapaxes(0, 1) if batch_major else X,
                             INT64 if tokens else self.kind, x_shape)
        cdef char *h0_p = NULL
        cdef char *c0_p = NULL
        cdef char *lengths_p = NULL
        cdef char *mask_p = NULL
        if T * B == 0:
            raise RuntimeError("crnn internal error: an empty batch reached the engine")
        if h0 is not None:
            h0_p = _data(h0, self.kind, (LD, B, self.H))
        if c0 is not None:
            if self.cell != CELL_LSTM:
                raise RuntimeError("crnn internal error: a c0 for a cell without one")
            c0_p = _data(c0, self.kind, (LD, B, self.H))
        if lengths is not None:
            lengths_p = _data(lengths, INT64, (B,))
        if masks is not None:
            mask_p = _data(masks, self.kind, (self.L - 1, T, B, self.D * self.H))
        self._reserve(T, B)
        self.last = ""
        self.w.T, self.w.B, self.w.last_only = T, B, last_only
        self.masks_running, self.w.masks = masks, mask_p
        # no step past the longest sequence is run: its rows are zeros
        if lengths is not None and not 1 <= lengths[0] <= T:
            raise RuntimeError("crnn internal error: lengths outside [1, T]")
        # the caller's arrays, copied in the forward's own nogil section (one
        # release of the GIL per call: each is a wait when threads share it)
        self.source_x, self.source_h0, self.source_c0 = x, h0_p, c0_p
        self.source_lengths = lengths_p
        self.source_tokens, self.source_batch_major, self.source_T = tokens, batch_major, T
        Y, top, h_n = self._compute_forward(kind)
        if self.order is None:
            return Y, top, h_n
        if isinstance(h_n, tuple):
            h_n = tuple(state[:, self.unorder] for state in h_n)
        elif h_n is not None:
            h_n = h_n[:, self.unorder]
        return None if Y is None else Y[:, self.unorder], top[:, self.unorder], h_n

    cdef tuple _compute_forward(self, str kind):
        """The forward pass of what the scratch holds (see _forward)."""
        cdef Py_ssize_t T = self.w.T, B = self.w.B, LD = self.L * self.D
        Y = None
        if self.w.last_only:  # the seed API: one sequence, its last step, as columns
            if B != 1:
                raise RuntimeError("crnn internal error: last_only needs one sequence")
            Y = np.empty((self.O, 1), dtype=self.dtype) if self.O else None
            top = np.empty((self.D * self.H, 1), dtype=self.dtype)
        else:
            Y = np.empty((T, B, self.O), dtype=self.dtype) if self.O else None
            top = np.empty((T, B, self.D * self.H), dtype=self.dtype)
        h_n = np.empty((LD, B, self.H), dtype=self.dtype) if self.with_state else None
        c_n = h_n.copy() if self.with_state and self.cell == CELL_LSTM else None
        cdef char *y = _address(Y) if Y is not None else NULL
        cdef char *top_p = _address(top)
        cdef char *h_n_p = _address(h_n) if h_n is not None else NULL
        cdef char *c_n_p = _address(c_n) if c_n is not None else NULL
        cdef int status
        with nogil:
            if self.source_x != NULL:  # a copy: backward reads it after the caller changed theirs
                crnn_workspace_load(&self.w, &self.net, self.source_x, self.source_tokens,
                                    self.source_batch_major, self.source_h0, self.source_c0,
                                    <const int64_t *>self.source_lengths, self.source_T,
                                    self.w.B, self.item)
                self.source_x = NULL
            status = self._run_forward(y, top_p, h_n_p, c_n_p)
        if status != CRNN_OK:
            raise RuntimeError("crnn: token ids changed during the forward pass")
        self.last = kind
        self.forward_thread = PyThread_get_thread_ident()
        return Y, top, (h_n, c_n) if c_n is not None else h_n

    cdef int _run_forward(self, char *Y, char *top, char *h_n, char *c_n) noexcept nogil:
        """The C core's forward of the whole network on this workspace."""
        if self.f32:
            return crnn_network_forward_f32(&self.net, <const float *>self.params, &self.w,
                                            <float *>Y, <float *>top, <float *>h_n,
                                            <float *>c_n)
        return crnn_network_forward_f64(&self.net, <const double *>self.params, &self.w,
                                        <double *>Y, <double *>top, <double *>h_n,
                                        <double *>c_n)

    cdef int _run_backward(self, const char *dY, const char *dh, const char *dc, char *dh0,
                           char *dc0, char *dX) noexcept nogil:
        """The C core's backward of the last forward into the gradient array,
        zeroed first."""
        memset(self.grads, 0, self.n_params * self.item)
        if self.f32:
            return crnn_network_backward_f32(&self.net, <const float *>self.params,
                                             <float *>self.grads, &self.w, <const float *>dY,
                                             <const float *>dh, <const float *>dc,
                                             <float *>dh0, <float *>dc0, <float *>dX)
        return crnn_network_backward_f64(&self.net, <const double *>self.params,
                                         <double *>self.grads, &self.w, <const double *>dY,
                                         <const double *>dh, <const double *>dc,
                                         <double *>dh0, <double *>dc0, <double *>dX)

    # ---- a stream: one step of B sequences a call, the states in the scratch

    def stream_start(self, Py_ssize_t B, h0, c0):
        """Makes this engine a stream of B sequences, from the states h0 and
        (an LSTM's) c0, (L*D, B, H) of the model's dtype or None for zeros.
        One direction only: a step cannot see the future."""
        if self.D != 1 or B < 1:
            raise RuntimeError("crnn internal error: a stream runs one direction, B >= 1")
        self._acquire()
        try:
            self._reserve(1, B)
            self._stream = np.empty((3, self.L * B * self.H), self.dtype)
            self.stream_states = _address(self._stream)
            self.masks = self.masks_running = self.order = self.unorder = None
            self.w.masks, self.source_x, self.w.last_only = NULL, NULL, False
            crnn_workspace_load(&self.w, &self.net, NULL, False, False,
                                NULL if h0 is None else _data(h0, self.kind, (self.L, B, self.H)),
                                NULL if c0 is None else _data(c0, self.kind, (self.L, B, self.H)),
                                NULL, 1, B, self.item)
            self.last = ""  # nothing a backward could read
            self.stream_batch = B
        finally:
            PyThread_release_lock(self.lock)

    def stream_state(self):
        """Copies of a stream's states: h (L, B, H), and an LSTM's c, or None."""
        shape = (self.L, self.stream_batch, self.H)
        h = np.empty(shape, self.dtype)
        memcpy(_address(h), self.w.h0, h.nbytes)
        if self.cell != CELL_LSTM:
            return h, None
        c = np.empty(shape, self.dtype)
        memcpy(_address(c), self.w.c0, c.nbytes)
        return h, c

    def stream_step(self, x, out):
        """One step: x (B, I) floats of the model's dtype or (B,) int64 token
        ids, into out (B, O), or (B, H) without an output layer (a new array
        when None); the states advance. Returns out, or None when x or out is
        not a buffer of exactly that or a token id is outside [0, I), the
        states unchanged (crnn/stream.py then checks and says why)."""
        cdef Py_buffer v
        cdef Py_ssize_t B = self.stream_batch, width = self.O if self.O else self.H
        cdef bint tokens
        cdef int status
        if B == 0 or not _acquire(x, &v):
            return None
        cdef Kind kind = _kind(&v)
        cdef const char *x_p = <const char *>v.buf
        tokens = kind == INT64 and v.ndim == 1 and v.shape[0] == B
        if not tokens and not (kind == self.kind and v.ndim == 2 and v.shape[0] == B
                               and v.shape[1] == self.I):
            PyBuffer_Release(&v)
            return None
        if out is None:
            out = np.empty((B, width), dtype=self.dtype)
        cdef char *out_p = _matrix_of(out, self.kind, B, width)
        if out_p == NULL:
            PyBuffer_Release(&v)
            return None
        self._acquire()
        with nogil:
            if self.f32:
                status = crnn_network_step_f32(&self.net, <const float *>self.params, &self.w,
                                               x_p, tokens, <float *>out_p,
                                               <float *>self.stream_states)
            else:
                status = crnn_network_step_f64(&self.net, <const double *>self.params, &self.w,
                                               x_p, tokens, <double *>out_p,
                                               <double *>self.stream_states)
        PyThread_release_lock(self.lock)
        PyBuffer_Release(&v)
        return out if status == CRNN_OK else None

    # ---- the seed notebook's API, within its budget of microseconds ---------
    # A list of T small vectors is read straight into the scratch, and d_y
    # into a row of it: NumPy's conversions would cost several times the
    # compute. Anything these do not take as it is (a buffer of exactly I or
    # O real numbers), they leave to rnn.py's validation, returning None.

    def forward_steps(self, inputs):
        self._acquire()
        try:
            return self._forward_steps(inputs)
        finally:
            PyThread_release_lock(self.lock)

    def _forward_steps(self, inputs):
        """The seed API's forward of a list or tuple of T vectors of I numbers,
        from a zero state, without dropout: (output (O, 1), h (D*H, 1)), or
        None for an item that is not a buffer of I real numbers (the last
        forward is then gone)."""
        cdef Py_buffer v
        cdef Py_ssize_t T = len(inputs), t, I = self.I
        cdef bint fits
        if T == 0 or not self.O or T > self.w.rows:
            return None  # (rnn.py checks a new size's memory first)
        for t in range(T):  # every vector checked before the last forward is overwritten
            if not _acquire(inputs[t], &v):
                return None
            fits = _kind(&v) != OTHER and v.len == I * v.itemsize
            PyBuffer_Release(&v)
            if not fits:
                return None
        self.last = ""
        for t in range(T):
            _acquire(inputs[t], &v)
            _to_real(<char *>self.w.inputs + t * I * self.item, self.f32, <const char *>v.buf,
                     _kind(&v), I)
            PyBuffer_Release(&v)
        # the inputs are in the scratch already: the call from zero states
        crnn_workspace_load(&self.w, &self.net, NULL, False, False, NULL, NULL, NULL, T, 1,
                            self.item)
        self.w.last_only, self.w.masks, self.masks = True, NULL, None
        self.masks_running = self.order = self.unorder = None
        self.with_state = False
        self.source_x = NULL
        Y, top, _ = self._compute_forward("forward")
        return Y, top

    def backward_steps(self, d_y, double learning_rate):
        self._acquire()
        try:
            return self._backward_steps(d_y, learning_rate)
        finally:
            PyThread_release_lock(self.lock)

    def _backward_steps(self, d_y, double learning_rate):
        """The seed API's backward of the last forward_steps from d_y, O
        numbers shaped (O, 1) or (O,), then one SGD step; uses the forward
        up. True, or None for what is not such a buffer (nothing changed)."""
        cdef Py_buffer v
        cdef Kind kind
        if self.last != "forward" or self.forward_thread != PyThread_get_thread_ident() \
                or not _acquire(d_y, &v):
            return None
        kind = _kind(&v)
        if (kind == OTHER or v.len != self.O * v.itemsize or v.ndim not in (1, 2)
                or (v.ndim == 2 and v.shape[1] != 1)):
            PyBuffer_Release(&v)
            return None
        _to_real(<char *>self.w.dY_valid, self.f32, <const char *>v.buf, kind, self.O)
        PyBuffer_Release(&v)
        cdef int status
        with nogil:
            status = self._run_backward(<const char *>self.w.dY_valid, NULL, NULL, NULL, NULL,
                                        NULL)
            if self.f32:
                crnn_sgd_f32(<float *>self.params, NULL, <const float *>self.grads,
                             self.n_params, learning_rate, 0, 0, 0)
            else:
                crnn_sgd_f64(<double *>self.params, NULL, <const double *>self.grads,
                             self.n_params, learning_rate, 0, 0, 0)
        self.last = ""
        return True

    def backward(self, dY, dh, bint input_grad, dc=None, str forward_name="forward_batch",
                 str backward_name="backward_batch"):
        self._acquire()
        try:
            # checked again under the lock: another thread's call may have
            # replaced the forward since crnn/rnn.py looked
            if self.last != forward_name or self.forward_thread != PyThread_get_thread_ident():
                raise ValueError(f"{backward_name}() must follow a {forward_name}() of its own "
                                 f"thread on this workspace: another call ran in between")
            return self._backward(dY, dh, input_grad, dc)
        finally:
            PyThread_release_lock(self.lock)

    cdef tuple _backward(self, dY, dh, bint input_grad, dc):
        """BPTT of the last forward into the gradient array, from dY (shaped
        as that forward's Y, or as its top output without an output layer)
        and dh, (an LSTM's) dc: (L*D, B, H) or None. Returns dh0 (L*D, B, H),
        an LSTM's a pair (dh0, dc0), and dX (T, B, I) or None."""
        cdef Py_ssize_t T = self.w.T, B = self.w.B, LD = self.L * self.D
        if self.last == "" or self.forward_thread != PyThread_get_thread_ident() \
                or (input_grad and self.w.tokens):
            raise RuntimeError("crnn internal error: a backward the engine cannot run")
        cdef tuple shape = (T, B, self.D * self.H)
        if self.O:
            shape = (T, B, self.O)
            if self.w.last_only:
                shape = (B, self.O)
        if self.order is not None:  # into the order the forward ran
            if isinstance(dY, np.ndarray) and dY.ndim == 3:
                dY = np.ascontiguousarray(dY[:, self.order])
            if isinstance(dh, np.ndarray) and dh.ndim == 3:
                dh = np.ascontiguousarray(dh[:, self.order])
            if isinstance(dc, np.ndarray) and dc.ndim == 3:
                dc = np.ascontiguousarray(dc[:, self.order])
        cdef char *dY_p = _data(dY, self.kind, shape)
        cdef char *dh_p = NULL
        cdef char *dc_p = NULL
        if dh is not None:
            dh_p = _data(dh, self.kind, (LD, B, self.H))
        if dc is not None:
            if self.cell != CELL_LSTM:
                raise RuntimeError("crnn internal error: a dc for a cell without one")
            dc_p = _data(dc, self.kind, (LD, B, self.H))
        dh0 = np.zeros((LD, B, self.H), dtype=self.dtype)
        dc0 = np.zeros((LD, B, self.H), dtype=self.dtype) if self.cell == CELL_LSTM else None
        cdef char *dc0_p = _address(dc0) if dc0 is not None else NULL
        dX = np.zeros((T, B, self.I), dtype=self.dtype) if input_grad else None
        cdef char *dh0_p = _address(dh0)
        cdef char *dX_p = _address(dX) if input_grad else NULL
        cdef int status
        with nogil:
            status = self._run_backward(dY_p, dh_p, dc_p, dh0_p, dc0_p, dX_p)
        if status != CRNN_OK:
            raise RuntimeError("crnn: token ids changed during the backward pass")
        if self.order is not None:
            dh0 = dh0[:, self.unorder]
            dc0 = None if dc0 is None else dc0[:, self.unorder]
            dX = None if dX is None else dX[:, self.unorder]
        return (dh0, dc0) if dc0 is not None else dh0, dX

    def use_up(self):
        """Forget the last forward (the seed API's backward uses it up)."""
        self.last = ""

