# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The Cython layer over the C core (src_c/crnn.h): kernel selection, the
training kernels on flat arrays, and the Engine, the compiled state of one
model, which runs its layers forward and backward on NumPy buffers without
the GIL.

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
from cython.parallel cimport prange


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


include "_ops.pxi"


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
    """The compiled state of one model: where each layer's parameters and
    gradients lie in their flat allocations, scratch buffers, and what the
    last forward left for backward.

    One Engine is one workspace: a model gives each thread its own. Every
    call still holds the engine's lock, taken without the GIL, so an engine
    that is shared anyway runs its calls one after another and never mixes
    their half work; other engines run meanwhile, the GIL released. A
    backward must come from the thread whose forward it follows:
    ``forward_thread`` tells which.
    """
    cdef readonly Py_ssize_t I, H, O, D, L
    cdef readonly object dtype
    cdef int activation
    cdef int cell         # CELL_RNN, CELL_LSTM or CELL_GRU
    cdef Py_ssize_t G     # gates: rows of H in each recurrent weight (1, 4, 3)
    cdef bint f32
    cdef Kind kind
    cdef Py_ssize_t item, n_params
    cdef object _keep  # the arrays the pointers below point into
    cdef char *params
    cdef char *grads
    cdef Py_ssize_t *offsets  # (L*D, 4): Wxh, Whh, bh, bhn (-1: none), in elements
    cdef Py_ssize_t out_W, out_b  # the output layer's, -1 when it has none
    # scratch, grown to the most rows (T*B) and sequences (B) asked for
    cdef readonly Py_ssize_t rows, batch  # what the scratch holds now
    cdef dict _scratch
    cdef char *inputs
    cdef int64_t *ids
    cdef char *hidden     # (L*D, T, B, H): each layer's and direction's states
    cdef char *gates      # (L*D, T, B, G*H): a gated cell's gates (G > 1)
    cdef char *cells      # (L*D, T, B, H): the LSTM's c_t, the GRU's W_hn h + b_hn
    cdef char *d_gates    # (D, T, B, G*H): dLoss/d(input projection), G > 1
    cdef char *d_cells    # (D, T, B, H): the GRU's dLoss/d(W_hn h + b_hn)
    cdef char *outputs    # (L, T, B, 2H): both directions' side by side (D = 2)
    cdef char *dropped    # (L-1, T, B, D*H): a layer's output after dropout
    cdef char *d_top      # (T, B, D*H): dLoss/d(a layer's output)
    cdef char *d_below
    cdef char *d_hidden   # (D, T, B, H): the same, per direction (D = 2)
    cdef char *dY_valid   # (T, B, O): dY without the rows past each length
    cdef char *h0
    cdef char *c0         # (L*D, B, H): the LSTM's initial cell states
    cdef int64_t *lengths
    cdef char *workspace  # one per direction, work_size elements each
    cdef Py_ssize_t work_size
    cdef bint parallel_directions  # this call runs the two directions at once
    # the last forward: "forward", "forward_batch", or "" (none to use)
    cdef readonly str last
    cdef readonly Py_ssize_t T, B
    cdef Py_ssize_t T_run   # the steps the layers run: T, or the longest length
    cdef readonly bint tokens
    cdef bint has_h0, has_c0, has_lengths, last_only
    cdef bint with_state  # the forward returns h_n
    cdef readonly object masks  # its dropout masks (L-1, T, B, D*H), or None
    cdef object masks_running   # the same, in the order the sequences ran
    cdef object order, unorder  # the sequences longest first, and back; or None
    cdef char *mask_p
    cdef const char *source_x        # what _forward copies in its nogil section:
    cdef const char *source_h0       # X (or ids), h0, c0 and lengths of the
    cdef const char *source_c0       # caller's, valid while _forward runs
    cdef const char *source_lengths
    cdef size_t source_x_bytes
    cdef bint source_batch_major     # source_x is (B, T, ...), not (T, B, ...)
    cdef readonly unsigned long forward_thread
    cdef PyThread_type_lock lock
    cdef char *stream_h       # a stream's next states (L*D, B, H), then copied to h0
    cdef char *stream_c       # an LSTM's (L*D, B, H)
    cdef char *stream_top     # (B, D*H): the top layer's output when it is not out
    cdef readonly Py_ssize_t stream_batch  # B of the stream this engine runs, or 0

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
        self.G = layout.gates
        self.I, self.H = layout.input_size, layout.hidden_size
        self.O = layout.output_size or 0
        self.D, self.L = layout.directions, layout.num_layers
        self.activation = CRNN_RELU if nonlinearity == "relu" else CRNN_TANH
        self.dtype = params.dtype
        self.f32 = self.dtype == np.float32
        self.kind = FLOAT32 if self.f32 else FLOAT64
        self.item = self.dtype.itemsize
        self.n_params = params.size
        table = np.array([[layout.offsets[name] if name is not None else -1 for name in names]
                          for _, _, *names in layout.recurrent()], dtype=np.intp)
        self._keep = (params, grads, table)
        self.params, self.grads = _address(params), _address(grads)
        self.offsets = <Py_ssize_t *>_address(table)
        self.out_W = layout.offsets["Why"] if self.O else -1
        self.out_b = layout.offsets["by"] if self.O else -1
        self.rows = self.batch = 0
        self._scratch = {}
        self.last = ""

    cdef list _row_buffers(self, Py_ssize_t rows):
        """[(name, elements)] of the scratch that grows with T*B rows."""
        cdef Py_ssize_t H = self.H, DH = self.D * self.H, LD = self.L * self.D
        cdef Py_ssize_t GH = self.G * H
        cdef bint gated = self.G > 1
        return [("inputs", rows * self.I), ("hidden", LD * rows * H),
                ("outputs", self.L * rows * DH if self.D == 2 else 1),
                ("dropped", max(self.L - 1, 1) * rows * DH),
                ("d_top", rows * DH), ("d_below", rows * DH), ("d_hidden", self.D * rows * H),
                ("gates", LD * rows * GH if gated else 1),
                ("cells", LD * rows * H if gated else 1),
                ("d_gates", self.D * rows * GH if gated else 1),
                ("d_cells", self.D * rows * H if self.cell == CELL_GRU else 1),
                ("dY_valid", rows * max(self.O, 1))]

    cdef list _batch_buffers(self, Py_ssize_t B):
        """[(name, elements)] of the scratch that grows with B sequences."""
        cdef Py_ssize_t H = self.H, DH = self.D * self.H, LD = self.L * self.D
        cdef Py_ssize_t GH = self.G * H
        cdef size_t work = max(crnn_linear_workspace(self.I, GH), crnn_linear_workspace(DH, GH),
                               crnn_linear_workspace(DH, max(self.O, 1)),
                               crnn_elman_workspace(B, H))
        if self.cell == CELL_LSTM:
            work = max(work, crnn_lstm_workspace(B, H))
        elif self.cell == CELL_GRU:
            work = max(work, crnn_gru_workspace(B, H))
        return [("h0", LD * B * H), ("c0", LD * B * H if self.cell == CELL_LSTM else 1),
                ("workspace", self.D * work)]

    def scratch_bytes(self, Py_ssize_t T, Py_ssize_t B):
        """The bytes the scratch would grow by for a call of T steps and B
        sequences: 0 when what it holds is enough. Checked by crnn/rnn.py
        against the machine's memory before a forward."""
        cdef double total = 0
        if T * B > self.rows:
            total += sum(n for _, n in self._row_buffers(T * B)) * <double>self.item
            total += T * B * 8.0  # token ids
        if B > self.batch:
            total += sum(n for _, n in self._batch_buffers(B)) * <double>self.item + B * 8.0
        return total

    cdef int _reserve(self, Py_ssize_t T, Py_ssize_t B) except -1:
        """Scratch for T*B rows and B sequences; grows, never shrinks."""
        cdef Py_ssize_t rows = T * B
        s = self._scratch
        if rows > self.rows:
            rows = max(rows, 2 * self.rows)  # few regrowths for slowly rising sizes
            # all allocated before any is swapped in: a MemoryError half way
            # leaves the pointers on the arrays they had
            fresh = {name: np.empty(n, dtype=self.dtype) for name, n in self._row_buffers(rows)}
            fresh["ids"] = np.empty(rows, dtype=np.int64)
            s.update(fresh)
            self.inputs, self.ids = _address(s["inputs"]), <int64_t *>_address(s["ids"])
            self.hidden, self.outputs = _address(s["hidden"]), _address(s["outputs"])
            self.dropped, self.d_top = _address(s["dropped"]), _address(s["d_top"])
            self.d_below, self.d_hidden = _address(s["d_below"]), _address(s["d_hidden"])
            self.gates, self.cells = _address(s["gates"]), _address(s["cells"])
            self.d_gates, self.d_cells = _address(s["d_gates"]), _address(s["d_cells"])
            self.dY_valid = _address(s["dY_valid"])
            self.rows = rows
            self.last = ""  # what it recorded is gone
        if B > self.batch:
            fresh = {name: np.empty(n, dtype=self.dtype) for name, n in self._batch_buffers(B)}
            fresh["lengths"] = np.empty(B, dtype=np.int64)
            s.update(fresh)
            self.work_size = s["workspace"].size // self.D
            self.h0, self.c0 = _address(s["h0"]), _address(s["c0"])
            self.lengths = <int64_t *>_address(s["lengths"])
            self.workspace = _address(s["workspace"])
            self.batch = B
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
        self.T, self.B, self.tokens, self.last_only = T, B, tokens, last_only
        self.has_lengths = lengths is not None
        self.masks_running, self.mask_p = masks, mask_p
        self.parallel_directions = self._directions_at_once(T, B)
        # no step past the longest sequence is run: its rows are zeros
        self.T_run = T
        if lengths is not None:
            self.T_run = int(lengths.max())
            if not 1 <= self.T_run <= T:
                raise RuntimeError("crnn internal error: lengths outside [1, T]")
        # the caller's arrays, copied in the forward's own nogil section (one
        # release of the GIL per call: each is a wait when threads share it)
        self.source_x, self.source_h0, self.source_c0 = x, h0_p, c0_p
        self.source_lengths = lengths_p
        self.source_x_bytes = T * B * (sizeof(int64_t) if tokens else self.I * self.item)
        self.source_batch_major = batch_major
        Y, top, h_n = self._compute_forward(kind)
        if self.order is None:
            return Y, top, h_n
        if isinstance(h_n, tuple):
            h_n = tuple(state[:, self.unorder] for state in h_n)
        elif h_n is not None:
            h_n = h_n[:, self.unorder]
        return None if Y is None else Y[:, self.unorder], top[:, self.unorder], h_n

    cdef void _copy_sources(self) noexcept nogil:
        """Copies of what _forward was given: backward reads them after the
        caller may have changed theirs."""
        cdef char *x = <char *>self.ids if self.tokens else self.inputs
        cdef Py_ssize_t t, b, T = self.T, B = self.B
        cdef size_t row = self.source_x_bytes // (T * B)  # one step of one sequence
        if self.source_batch_major:  # (B, T, ...) into (T, B, ...)
            for b in range(B):
                for t in range(T):
                    memcpy(x + (t * B + b) * row, self.source_x + (b * T + t) * row, row)
        else:
            memcpy(x, self.source_x, self.source_x_bytes)
        self._initial_states(self.source_h0, self.source_c0, self.B)
        if self.source_lengths != NULL:
            memcpy(self.lengths, self.source_lengths, self.B * sizeof(int64_t))
        self.source_x = NULL

    cdef void _initial_states(self, const char *h0, const char *c0, Py_ssize_t B) noexcept nogil:
        """h0 and (an LSTM's) c0 into the scratch, zeros for those not given
        (NULL). A zero state is multiplied like any other, as PyTorch does:
        with a NaN or infinity in Whh, the first step is NaN whether the
        zeros were given or not (skipping the product would make it finite)."""
        cdef size_t size = self.L * self.D * B * self.H * self.item
        if h0 != NULL:
            memcpy(self.h0, h0, size)
        else:
            memset(self.h0, 0, size)
        if self.cell == CELL_LSTM:
            if c0 != NULL:
                memcpy(self.c0, c0, size)
            else:
                memset(self.c0, 0, size)
        self.has_h0 = True
        self.has_c0 = self.cell == CELL_LSTM

    cdef bint _directions_at_once(self, Py_ssize_t T, Py_ssize_t B):
        """Whether the two directions of a layer run at once, each in a thread:
        when each has work enough to pay for waking a thread (measured on 2
        cores: medium, bidirectional, 35.6 -> 23.9 ms; small, 47 -> 58 us
        forward, the wake-up costing more than the half it saves)."""
        cdef double work = <double>T * B * self.G * self.H * (min(self.I, self.D * self.H) + self.H)
        return self.D == 2 and crnn_threads_for(work, 2) >= 2

    cdef tuple _compute_forward(self, str kind):
        """The forward pass of what the scratch holds (see _forward)."""
        cdef Py_ssize_t T = self.T, B = self.B, LD = self.L * self.D
        Y = None
        if self.last_only:  # the seed API: one sequence, its last step, as columns
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
            if self.source_x != NULL:
                self._copy_sources()
            if self.f32:
                status = _forward(self, <float *>self.params, <float *>y, <float *>top_p,
                                  <float *>h_n_p, <float *>c_n_p)
            else:
                status = _forward(self, <double *>self.params, <double *>y, <double *>top_p,
                                  <double *>h_n_p, <double *>c_n_p)
        if status != CRNN_OK:
            raise RuntimeError("crnn: token ids changed during the forward pass")
        self.last = kind
        self.forward_thread = PyThread_get_thread_ident()
        return Y, top, (h_n, c_n) if c_n is not None else h_n

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
            n = self.L * B * self.H
            s = self._scratch
            s["stream_h"], s["stream_c"] = np.empty(n, self.dtype), np.empty(n, self.dtype)
            s["stream_top"] = np.empty(B * self.H, self.dtype)
            self.stream_h, self.stream_c = _address(s["stream_h"]), _address(s["stream_c"])
            self.stream_top = _address(s["stream_top"])
            self.T = self.T_run = 1
            self.B, self.last_only, self.has_lengths = B, False, False
            self.masks = self.masks_running = self.order = self.unorder = None
            self.mask_p, self.source_x, self.parallel_directions = NULL, NULL, False
            self._initial_states(NULL if h0 is None else _data(h0, self.kind, (self.L, B, self.H)),
                                 NULL if c0 is None else _data(c0, self.kind, (self.L, B, self.H)),
                                 B)
            self.last = ""  # nothing a backward could read
            self.stream_batch = B
        finally:
            PyThread_release_lock(self.lock)

    def stream_state(self):
        """Copies of a stream's states: h (L, B, H), and an LSTM's c, or None."""
        cdef Py_ssize_t n = self.L * self.stream_batch * self.H
        shape = (self.L, self.stream_batch, self.H)
        h = self._scratch["h0"][:n].reshape(shape).copy()
        return h, (self._scratch["c0"][:n].reshape(shape).copy()
                   if self.cell == CELL_LSTM else None)

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
            memcpy(<char *>self.ids if tokens else self.inputs, x_p,
                   B * (8 if tokens else self.I * self.item))
            self.tokens = tokens
            if self.f32:
                status = _stream_step(self, <float *>self.params, <float *>out_p)
            else:
                status = _stream_step(self, <double *>self.params, <double *>out_p)
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
        if T == 0 or not self.O or T > self.rows:
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
            _to_real(self.inputs + t * I * self.item, self.f32, <const char *>v.buf, _kind(&v), I)
            PyBuffer_Release(&v)
        self.T, self.T_run, self.B, self.tokens, self.last_only = T, T, 1, False, True
        self.parallel_directions = self._directions_at_once(T, 1)
        self.has_lengths = False
        self._initial_states(NULL, NULL, 1)
        self.masks = self.masks_running = None
        self.mask_p = NULL
        self.order = self.unorder = None
        self.with_state = False
        self.source_x = NULL  # the inputs are in the scratch already
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
        _to_real(self.dY_valid, self.f32, <const char *>v.buf, kind, self.O)
        PyBuffer_Release(&v)
        cdef int status
        with nogil:
            memset(self.grads, 0, self.n_params * self.item)
            if self.f32:
                status = _backward(self, <float *>self.params, <const float *>self.dY_valid,
                                   NULL, NULL, NULL, NULL, NULL)
                crnn_sgd_f32(<float *>self.params, NULL, <const float *>self.grads,
                             self.n_params, learning_rate, 0, 0, 0)
            else:
                status = _backward(self, <double *>self.params, <const double *>self.dY_valid,
                                   NULL, NULL, NULL, NULL, NULL)
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
                                 f"thread: another thread's call on this model ran in between "
                                 "(give each thread its own model: copy.deepcopy)")
            return self._backward(dY, dh, input_grad, dc)
        finally:
            PyThread_release_lock(self.lock)

    cdef tuple _backward(self, dY, dh, bint input_grad, dc):
        """BPTT of the last forward into the gradient array, from dY (shaped
        as that forward's Y, or as its top output without an output layer)
        and dh, (an LSTM's) dc: (L*D, B, H) or None. Returns dh0 (L*D, B, H),
        an LSTM's a pair (dh0, dc0), and dX (T, B, I) or None."""
        cdef Py_ssize_t T = self.T, B = self.B, LD = self.L * self.D
        if self.last == "" or self.forward_thread != PyThread_get_thread_ident() \
                or (input_grad and self.tokens):
            raise RuntimeError("crnn internal error: a backward the engine cannot run")
        cdef tuple shape = (T, B, self.D * self.H)
        if self.O:
            shape = (T, B, self.O)
            if self.last_only:
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
            memset(self.grads, 0, self.n_params * self.item)
            if self.f32:
                status = _backward(self, <float *>self.params, <const float *>dY_p,
                                   <const float *>dh_p, <const float *>dc_p, <float *>dh0_p,
                                   <float *>dc0_p, <float *>dX_p)
            else:
                status = _backward(self, <double *>self.params, <const double *>dY_p,
                                   <const double *>dh_p, <const double *>dc_p,
                                   <double *>dh0_p, <double *>dc0_p, <double *>dX_p)
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


# ---- the layer loop, written once for both floating types ----------------

cdef inline floating *_at(char *base, Py_ssize_t elements, floating *typed) noexcept nogil:
    """base + elements, as a floating pointer (``typed`` only picks the type)."""
    return <floating *>base + elements


cdef int _forward(Engine e, floating *params, floating *Y, floating *top,
                  floating *h_n, floating *c_n) noexcept nogil:
    cdef Py_ssize_t T = e.T_run, B = e.B, N = e.T_run * e.B, H = e.H, D = e.D
    cdef Py_ssize_t DH = D * H, l, d
    cdef int status[2]
    cdef const int64_t *lengths = e.lengths if e.has_lengths else NULL
    cdef const floating *layer_input = _at(e.inputs, 0, params)
    cdef floating *out = _layer_output(e, 0, params)
    for l in range(e.L):
        status[0] = status[1] = CRNN_OK
        if e.parallel_directions:  # the two directions at once, one thread each
            for d in prange(2, num_threads=2, schedule="static"):
                status[d] = _direction_forward(e, params, l, d, layer_input, h_n, c_n)
        else:
            for d in range(D):
                status[d] = _direction_forward(e, params, l, d, layer_input, h_n, c_n)
        if status[0] != CRNN_OK or status[1] != CRNN_OK:
            return CRNN_ERR_TOKEN_ID
        out = _layer_output(e, l, params)
        if D == 2:
            join_directions(out, _at(e.hidden, 2 * l * N * H, params),
                            _at(e.hidden, (2 * l + 1) * N * H, params), N, H)
        layer_input = out
        if e.mask_p != NULL and l < e.L - 1:  # dropout on every output but the top's
            multiply(_at(e.dropped, l * N * DH, params), out,
                     _at(e.mask_p, l * e.T * B * DH, params), N * DH, 0)
            layer_input = _at(e.dropped, l * N * DH, params)
    if e.last_only:  # the seed API: the last step only
        memcpy(top, out + (T - 1) * B * DH, B * DH * sizeof(floating))
    else:
        memcpy(top, out, N * DH * sizeof(floating))
        memset(top + N * DH, 0, (e.T - T) * B * DH * sizeof(floating))  # past the longest
    if e.O:
        if e.last_only:
            linear_forward(Y, out + (T - 1) * B * DH, params + e.out_W, params + e.out_b,
                           _workspace(e, 0, params), B, DH, e.O)
        else:
            linear_forward(Y, out, params + e.out_W, params + e.out_b,
                           _workspace(e, 0, params), N, DH, e.O)
            memset(Y + N * e.O, 0, (e.T - T) * B * e.O * sizeof(floating))
            if lengths != NULL:
                zero_rows_past_lengths(Y, lengths, T, B, e.O)
    return CRNN_OK


cdef int _stream_step(Engine e, floating *params, floating *out) noexcept nogil:
    """One step of a stream (Engine.stream_step): the forward of T = 1 from
    the states in h0 (c0), which take the new ones only when it ran."""
    cdef size_t state = e.L * e.B * e.H * sizeof(floating)
    cdef floating *Y = out if e.O else NULL
    cdef floating *top = _at(e.stream_top, 0, params) if e.O else out
    cdef int status = _forward(e, params, Y, top, _at(e.stream_h, 0, params),
                               _at(e.stream_c, 0, params))
    if status == CRNN_OK:
        memcpy(e.h0, e.stream_h, state)
        if e.cell == CELL_LSTM:
            memcpy(e.c0, e.stream_c, state)
    return status


cdef inline floating *_workspace(Engine e, Py_ssize_t d, floating *typed) noexcept nogil:
    """Direction d's workspace: each has its own, so both can run at once."""
    return _at(e.workspace, d * e.work_size, typed)


cdef inline floating *_state(char *base, Py_ssize_t k, Py_ssize_t B, Py_ssize_t H,
                             bint present, floating *typed) noexcept nogil:
    """Layer and direction k's rows (B, H) of (L*D, B, H) states, or NULL."""
    return _at(base, k * B * H, typed) if present and base != NULL else NULL


cdef int _direction_forward(Engine e, floating *params, Py_ssize_t l, Py_ssize_t d,
                            const floating *layer_input, floating *h_n,
                            floating *c_n) noexcept nogil:
    """Layer l, direction d: the input projection of all T*B rows (every
    gate's), then the recurrence, into its states and its rows of h_n (and
    an LSTM's c_n)."""
    cdef Py_ssize_t B = e.B, N = e.T_run * e.B, H = e.H, GH = e.G * e.H, k = l * e.D + d
    cdef const Py_ssize_t *off = e.offsets + 4 * k
    cdef floating *hs = _at(e.hidden, k * N * H, params)
    # the gated cells' buffers (the Elman cell's are one element: not used)
    cdef floating *cs = _at(e.cells, k * N * H, params) if e.G > 1 else NULL
    cdef floating *gates = _at(e.gates, k * N * GH, params) if e.G > 1 else hs
    cdef floating *ws = _workspace(e, d, params)
    cdef const floating *bias = params + off[2] if off[2] >= 0 else NULL
    cdef const floating *h0 = _state(e.h0, k, B, H, e.has_h0, params)
    cdef const int64_t *lengths = e.lengths if e.has_lengths else NULL
    cdef floating *h_n_k = _state(<char *>h_n, k, B, H, True, params)
    if l == 0 and e.tokens:
        if onehot_forward(gates, e.ids, params + off[0], bias, N, e.I, GH) != CRNN_OK:
            return CRNN_ERR_TOKEN_ID
    else:
        linear_forward(gates, layer_input, params + off[0], bias, ws, N,
                       e.I if l == 0 else e.D * H, GH)
    if e.cell == CELL_LSTM:
        lstm_forward(gates, hs, cs, h_n_k, _state(<char *>c_n, k, B, H, True, params), h0,
                     _state(e.c0, k, B, H, e.has_c0, params), params + off[1], lengths, ws,
                     e.T_run, B, H, d)
    elif e.cell == CELL_GRU:
        gru_forward(gates, hs, cs, h_n_k, h0, params + off[1],
                    params + off[3] if off[3] >= 0 else NULL, lengths, ws, e.T_run, B, H, d)
    else:
        elman_forward(hs, h_n_k, h0, params + off[1], lengths, ws, e.T_run, B, H,
                      e.activation, d)
    return CRNN_OK


cdef inline floating *_layer_output(Engine e, Py_ssize_t l, floating *typed) noexcept nogil:
    """Layer l's output (T, B, D*H): its states, or both directions' joined."""
    cdef Py_ssize_t N = e.T_run * e.B
    if e.D == 1:
        return _at(e.hidden, l * N * e.H, typed)
    return _at(e.outputs, l * N * 2 * e.H, typed)


cdef inline const floating *_layer_input(Engine e, Py_ssize_t l, floating *typed) noexcept nogil:
    """What layer l read: the inputs, or the layer below's output (after dropout)."""
    cdef Py_ssize_t N = e.T_run * e.B
    if l == 0:
        return _at(e.inputs, 0, typed)
    if e.mask_p != NULL:
        return _at(e.dropped, (l - 1) * N * e.D * e.H, typed)
    return _layer_output(e, l - 1, typed)


cdef int _backward(Engine e, floating *params, const floating *dY, const floating *dh,
                   const floating *dc, floating *dh0, floating *dc0,
                   floating *dX) noexcept nogil:
    cdef Py_ssize_t T = e.T_run, B = e.B, N = e.T_run * e.B, H = e.H, D = e.D
    cdef Py_ssize_t DH = D * H, l, d, k
    cdef int status[2]
    cdef floating *grads = _at(e.grads, 0, params)
    cdef const int64_t *lengths = e.lengths if e.has_lengths else NULL
    cdef floating *d_top = _at(e.d_top, 0, params)
    cdef floating *d_below = _at(e.d_below, 0, params)
    cdef floating *d_input
    cdef floating *swap
    cdef floating *dY_valid
    cdef floating *top = _layer_output(e, e.L - 1, params)
    # dLoss/d(top layer's output), from the output layer or given
    if not e.O:
        memcpy(d_top, dY, N * DH * sizeof(floating))
    else:
        memset(d_top, 0, N * DH * sizeof(floating))
        if e.last_only:
            linear_backward(d_top + (T - 1) * B * DH, grads + e.out_W, grads + e.out_b, dY,
                            top + (T - 1) * B * DH, params + e.out_W, B, DH, e.O)
        else:
            if lengths != NULL:  # steps past a sequence's length have no output
                dY_valid = _at(e.dY_valid, 0, params)
                memcpy(dY_valid, dY, N * e.O * sizeof(floating))
                zero_rows_past_lengths(dY_valid, lengths, T, B, e.O)
                dY = dY_valid
            linear_backward(d_top, grads + e.out_W, grads + e.out_b, dY, top,
                            params + e.out_W, N, DH, e.O)
    for l in range(e.L - 1, -1, -1):
        if D == 2:
            split_directions(_at(e.d_hidden, 0, params), _at(e.d_hidden, N * H, params),
                             d_top, N, H)
        d_input = d_below if l > 0 else dX  # dLoss/d(what layer l read), or NULL
        if l > 0:
            memset(d_below, 0, N * DH * sizeof(floating))
        status[0] = status[1] = CRNN_OK
        if e.parallel_directions:
            # the two recurrences at once; their sum into d_input after, in
            # the order one thread takes, so that the bits do not change
            for d in prange(2, num_threads=2, schedule="static"):
                status[d] = _direction_backward(e, params, l, d, d_top, dh, dc, dh0, dc0, NULL)
            if d_input != NULL and not (l == 0 and e.tokens):
                for d in range(2):
                    k = l * 2 + d
                    linear_backward(d_input, NULL, NULL, _d_projection(e, d, d_top, params),
                                    _layer_input(e, l, params), params + e.offsets[4 * k],
                                    N, e.I if l == 0 else DH, e.G * H)
        else:
            for d in range(D):
                status[d] = _direction_backward(e, params, l, d, d_top, dh, dc, dh0, dc0,
                                                d_input)
        if status[0] != CRNN_OK or status[1] != CRNN_OK:
            return CRNN_ERR_TOKEN_ID
        if l > 0:  # d_below is dLoss/d(layer l-1's output, after dropout)
            if e.mask_p != NULL:
                multiply(d_top, d_below, _at(e.mask_p, (l - 1) * e.T * B * DH, params), N * DH, 0)
            else:
                swap = d_top
                d_top = d_below
                d_below = swap
    return CRNN_OK


cdef inline floating *_d_projection(Engine e, Py_ssize_t d, floating *d_top,
                                    floating *typed) noexcept nogil:
    """Direction d's dLoss/d(input projection) (T, B, G*H), once its
    recurrence's backward has run: the gated cells' d_gates, the Elman
    cell's states' own buffer (d_top, or its half of it)."""
    cdef Py_ssize_t N = e.T_run * e.B
    if e.G > 1:
        return _at(e.d_gates, d * N * e.G * e.H, typed)
    return d_top if e.D == 1 else _at(e.d_hidden, d * N * e.H, typed)


cdef int _direction_backward(Engine e, floating *params, Py_ssize_t l, Py_ssize_t d,
                             floating *d_top, const floating *dh, const floating *dc,
                             floating *dh0, floating *dc0, floating *d_input) noexcept nogil:
    """BPTT of layer l, direction d, from dLoss/d(its states) (d_top, or its
    half of it, split already) into its parameters' gradients, its rows of
    dh0 (and dc0) and, unless NULL, d_input += dLoss/d(what the layer read)."""
    cdef Py_ssize_t B = e.B, N = e.T_run * e.B, H = e.H, GH = e.G * e.H, k = l * e.D + d
    cdef const Py_ssize_t *off = e.offsets + 4 * k
    cdef floating *grads = _at(e.grads, 0, params)
    cdef floating *d_hs = d_top if e.D == 1 else _at(e.d_hidden, d * N * H, params)
    cdef floating *d_proj = _d_projection(e, d, d_top, params)
    cdef floating *d_bias = grads + off[2] if off[2] >= 0 else NULL
    cdef const floating *h0 = _state(e.h0, k, B, H, e.has_h0, params)
    cdef const int64_t *lengths = e.lengths if e.has_lengths else NULL
    cdef floating *hs = _at(e.hidden, k * N * H, params)
    cdef floating *cs = _at(e.cells, k * N * H, params) if e.G > 1 else NULL
    cdef floating *gates = _at(e.gates, k * N * GH, params) if e.G > 1 else NULL
    cdef floating *ws = _workspace(e, d, params)
    cdef floating *dh0_k = _state(<char *>dh0, k, B, H, True, params)
    cdef const floating *dh_k = _state(<char *>dh, k, B, H, True, params)
    if e.cell == CELL_LSTM:
        lstm_backward(grads + off[1], dh0_k, _state(<char *>dc0, k, B, H, True, params), d_proj,
                      d_hs, dh_k, _state(<char *>dc, k, B, H, True, params), h0,
                      _state(e.c0, k, B, H, e.has_c0, params), gates, hs, cs, params + off[1],
                      lengths, ws, e.T_run, B, H, d)
    elif e.cell == CELL_GRU:
        gru_backward(grads + off[1], grads + off[3] if off[3] >= 0 else NULL, dh0_k, d_proj,
                     _at(e.d_cells, d * N * H, params), d_hs, dh_k, h0, gates, hs, cs,
                     params + off[1], lengths, ws, e.T_run, B, H, d)
    else:  # d_hs becomes dLoss/da, the projection's gradient, in place
        elman_backward(grads + off[1], dh0_k, d_hs, dh_k, h0, hs, params + off[1], lengths, ws,
                       e.T_run, B, H, e.activation, d)
    # through the input projection
    if l == 0 and e.tokens:
        return onehot_backward(grads + off[0], d_bias, d_proj, e.ids, N, e.I, GH)
    linear_backward(d_input, grads + off[0], d_bias, d_proj, _layer_input(e, l, params),
                    params + off[0], N, e.I if l == 0 else e.D * H, GH)
    return CRNN_OK
