# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The Cython layer over the C core (src_c/crnn.h): kernel selection, and the
Engine, the compiled state of one RNN, which runs its forward and backward
passes on NumPy buffers without the GIL.

The Engine takes input only in one canonical form (C-contiguous arrays of the
model's dtype, int64 token ids) and returns None for anything else, without
touching the C core; crnn/rnn.py then validates the input, with messages in
the user's terms, converts it, and calls again. So a well-formed call costs a
few hundred nanoseconds of Python, and no buffer of the wrong size ever
reaches C.
"""
from cpython.buffer cimport (PyBUF_C_CONTIGUOUS, PyBUF_FORMAT, PyBuffer_Release,
                             PyObject_GetBuffer)
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


# ---- one C function per type: these pick it ------------------------------

cdef inline void _rnn_forward(bint f32, char *hidden, const char *X, const char *h0,
                              const char *Wxh, const char *Whh, const char *bh, char *work,
                              Py_ssize_t T, Py_ssize_t B, Py_ssize_t I,
                              Py_ssize_t H) noexcept nogil:
    if f32:
        crnn_rnn_forward_f32(<float *>hidden, <const float *>X, <const float *>h0,
                             <const float *>Wxh, <const float *>Whh, <const float *>bh,
                             <float *>work, T, B, I, H)
    else:
        crnn_rnn_forward_f64(<double *>hidden, <const double *>X, <const double *>h0,
                             <const double *>Wxh, <const double *>Whh, <const double *>bh,
                             <double *>work, T, B, I, H)


cdef inline int _rnn_forward_tokens(bint f32, char *hidden, const int64_t *ids,
                                    const char *h0, const char *Wxh, const char *Whh,
                                    const char *bh, char *work, Py_ssize_t T, Py_ssize_t B,
                                    Py_ssize_t I, Py_ssize_t H) noexcept nogil:
    if f32:
        return crnn_rnn_forward_tokens_f32(<float *>hidden, ids, <const float *>h0,
                                           <const float *>Wxh, <const float *>Whh,
                                           <const float *>bh, <float *>work, T, B, I, H)
    return crnn_rnn_forward_tokens_f64(<double *>hidden, ids, <const double *>h0,
                                       <const double *>Wxh, <const double *>Whh,
                                       <const double *>bh, <double *>work, T, B, I, H)


cdef inline void _output_forward(bint f32, char *Y, const char *hidden, const char *Why,
                                 const char *by, char *work, Py_ssize_t N, Py_ssize_t H,
                                 Py_ssize_t O) noexcept nogil:
    if f32:
        crnn_output_forward_f32(<float *>Y, <const float *>hidden, <const float *>Why,
                                <const float *>by, <float *>work, N, H, O)
    else:
        crnn_output_forward_f64(<double *>Y, <const double *>hidden, <const double *>Why,
                                <const double *>by, <double *>work, N, H, O)


cdef inline void _output_backward(bint f32, char *d_hidden, char *dWhy, char *dby,
                                  const char *dY, const char *hidden, const char *Why,
                                  Py_ssize_t N, Py_ssize_t H, Py_ssize_t O) noexcept nogil:
    if f32:
        crnn_output_backward_f32(<float *>d_hidden, <float *>dWhy, <float *>dby,
                                 <const float *>dY, <const float *>hidden,
                                 <const float *>Why, N, H, O)
    else:
        crnn_output_backward_f64(<double *>d_hidden, <double *>dWhy, <double *>dby,
                                 <const double *>dY, <const double *>hidden,
                                 <const double *>Why, N, H, O)


cdef inline void _rnn_backward(bint f32, char *dWxh, char *dWhh, char *dbh, char *dh0,
                               char *dX, char *d_hidden, const char *dh_last, const char *X,
                               const char *h0, const char *hidden, const char *Wxh,
                               const char *Whh, Py_ssize_t T, Py_ssize_t B, Py_ssize_t I,
                               Py_ssize_t H) noexcept nogil:
    if f32:
        crnn_rnn_backward_f32(<float *>dWxh, <float *>dWhh, <float *>dbh, <float *>dh0,
                              <float *>dX, <float *>d_hidden, <const float *>dh_last,
                              <const float *>X, <const float *>h0, <const float *>hidden,
                              <const float *>Wxh, <const float *>Whh, T, B, I, H)
    else:
        crnn_rnn_backward_f64(<double *>dWxh, <double *>dWhh, <double *>dbh, <double *>dh0,
                              <double *>dX, <double *>d_hidden, <const double *>dh_last,
                              <const double *>X, <const double *>h0, <const double *>hidden,
                              <const double *>Wxh, <const double *>Whh, T, B, I, H)


cdef inline int _rnn_backward_tokens(bint f32, char *dWxh, char *dWhh, char *dbh,
                                     char *dh0, char *d_hidden, const char *dh_last,
                                     const int64_t *ids, const char *h0, const char *hidden,
                                     const char *Whh, Py_ssize_t T, Py_ssize_t B,
                                     Py_ssize_t I, Py_ssize_t H) noexcept nogil:
    if f32:
        return crnn_rnn_backward_tokens_f32(<float *>dWxh, <float *>dWhh, <float *>dbh,
                                            <float *>dh0, <float *>d_hidden,
                                            <const float *>dh_last, ids, <const float *>h0,
                                            <const float *>hidden, <const float *>Whh,
                                            T, B, I, H)
    return crnn_rnn_backward_tokens_f64(<double *>dWxh, <double *>dWhh, <double *>dbh,
                                        <double *>dh0, <double *>d_hidden,
                                        <const double *>dh_last, ids, <const double *>h0,
                                        <const double *>hidden, <const double *>Whh,
                                        T, B, I, H)


# ---- buffers --------------------------------------------------------------

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


cdef char *_address(object array) except NULL:
    """The start of a C-contiguous array's memory, valid while it lives."""
    cdef Py_buffer view
    PyObject_GetBuffer(array, &view, PyBUF_C_CONTIGUOUS)
    cdef char *p = <char *>view.buf
    PyBuffer_Release(&view)
    return p


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
    """The compiled state of one RNN: pointers into its parameters, its
    gradients and its scratch buffers, and what its last forward left for
    backward. Methods return None, having changed nothing, when their input is
    not in canonical form (see the module's docstring).

    Threads: every call holds the engine's lock, taken without the GIL, so
    calls from several threads run one after another on one engine (its
    scratch buffers are one per engine) and never see each other's half
    work; other engines run meanwhile, the GIL released. A backward must come
    from the thread whose forward it follows: ``forward_thread`` tells which.
    """
    cdef readonly Py_ssize_t I, H, O
    cdef readonly object dtype
    cdef bint f32
    cdef Kind kind
    cdef Py_ssize_t item, n_params
    cdef object _keep  # the arrays the pointers below point into
    cdef char *params
    cdef char *grads
    cdef char *Wxh
    cdef char *Whh
    cdef char *bh
    cdef char *Why
    cdef char *by
    cdef char *dWxh
    cdef char *dWhh
    cdef char *dbh
    cdef char *dWhy
    cdef char *dby
    cdef char *work
    cdef char *dY_row
    # scratch, grown to the most rows (T*B) and sequences (B) asked for
    cdef Py_ssize_t rows, batch
    cdef object _scratch
    cdef char *hidden
    cdef char *d_hidden
    cdef char *inputs
    cdef char *h0
    cdef int64_t *ids
    # the last forward: "forward", "forward_batch", or "" (none to use)
    cdef readonly str last
    cdef readonly Py_ssize_t T, B
    cdef readonly bint tokens
    cdef bint has_h0
    cdef readonly unsigned long forward_thread
    cdef PyThread_type_lock lock

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

    cdef bint _acquire_states(self, object obj, Py_buffer *view, Py_ssize_t B):
        """obj's buffer when it is B hidden states (B, H) of the model's dtype,
        C-contiguous; False otherwise, with nothing left acquired."""
        if not _acquire(obj, view):
            return False
        if view.ndim == 2 and _kind(view) == self.kind and view.shape[0] == B \
                and view.shape[1] == self.H:
            return True
        PyBuffer_Release(view)
        return False

    cdef bint _other_thread(self):
        return self.forward_thread != PyThread_get_thread_ident()

    def __init__(self, params, grads, dict offsets, Py_ssize_t I, Py_ssize_t H,
                 Py_ssize_t O):
        """params, grads: the flat parameter and gradient arrays (float32 or
        float64); offsets: where Wxh, Whh, bh, Why, by start in them."""
        self.I, self.H, self.O = I, H, O
        self.dtype = params.dtype
        self.f32 = self.dtype == np.float32
        self.kind = FLOAT32 if self.f32 else FLOAT64
        self.item = self.dtype.itemsize
        self.n_params = params.size
        work = np.empty(max(crnn_rnn_forward_workspace(I, H),
                            crnn_output_forward_workspace(H, O)), dtype=self.dtype)
        dY_row = np.empty(O, dtype=self.dtype)
        self._keep = (params, grads, work, dY_row)
        self.params = _address(params)
        self.grads = _address(grads)
        self.Wxh = self.params + self.item * <Py_ssize_t>offsets["Wxh"]
        self.Whh = self.params + self.item * <Py_ssize_t>offsets["Whh"]
        self.bh = self.params + self.item * <Py_ssize_t>offsets["bh"]
        self.Why = self.params + self.item * <Py_ssize_t>offsets["Why"]
        self.by = self.params + self.item * <Py_ssize_t>offsets["by"]
        self.dWxh = self.grads + (self.Wxh - self.params)
        self.dWhh = self.grads + (self.Whh - self.params)
        self.dbh = self.grads + (self.bh - self.params)
        self.dWhy = self.grads + (self.Why - self.params)
        self.dby = self.grads + (self.by - self.params)
        self.work = _address(work)
        self.dY_row = _address(dY_row)
        self.rows = self.batch = 0
        self._scratch = {}
        self.last = ""

    cdef int _reserve(self, Py_ssize_t T, Py_ssize_t B) except -1:
        """Scratch for T*B rows and B sequences; grows, never shrinks."""
        cdef Py_ssize_t rows = T * B
        if rows > self.rows:
            rows = max(rows, 2 * self.rows)  # few regrowths for slowly rising sizes
            self._scratch["hidden"] = np.empty(rows * self.H, dtype=self.dtype)
            self._scratch["d_hidden"] = np.empty(rows * self.H, dtype=self.dtype)
            self._scratch["inputs"] = np.empty(rows * self.I, dtype=self.dtype)
            self._scratch["ids"] = np.empty(rows, dtype=np.int64)
            self.hidden = _address(self._scratch["hidden"])
            self.d_hidden = _address(self._scratch["d_hidden"])
            self.inputs = _address(self._scratch["inputs"])
            self.ids = <int64_t *>_address(self._scratch["ids"])
            self.rows = rows
            self.last = ""  # what it recorded is gone
        if B > self.batch:
            self._scratch["h0"] = np.empty(B * self.H, dtype=self.dtype)
            self.h0 = _address(self._scratch["h0"])
            self.batch = B
        return 0

    def forward_batch(self, X, h0):
        self._acquire()
        try:
            return self._forward_batch(X, h0)
        finally:
            PyThread_release_lock(self.lock)

    def _forward_batch(self, X, h0):
        """X: (T, B, I) of the model's dtype, or int64 token ids (T, B) in
        [0, I); h0: None or (B, H). Returns Y (T, B, O) and Hs (T, B, H)."""
        cdef Py_buffer xv, hv
        cdef bint have_h0 = False, tokens
        cdef Py_ssize_t T, B, N, n
        cdef int status = CRNN_OK
        cdef const int64_t *ids
        if not _acquire(X, &xv):
            return None
        try:
            if xv.ndim == 3 and _kind(&xv) == self.kind and xv.shape[2] == self.I:
                tokens = False
            elif xv.ndim == 2 and _kind(&xv) == INT64:
                tokens = True
            else:
                return None
            T, B = xv.shape[0], xv.shape[1]
            N = T * B
            if N == 0:
                return None
            if tokens:  # checked before anything changes, so a refusal leaves all as it was
                ids = <const int64_t *>xv.buf
                for n in range(N):
                    if ids[n] < 0 or ids[n] >= self.I:
                        return None
            if h0 is not None:
                if not self._acquire_states(h0, &hv, B):
                    return None
                have_h0 = True
            self._reserve(T, B)
            Y = np.empty((T, B, self.O), dtype=self.dtype)
            Hs = np.empty((T, B, self.H), dtype=self.dtype)
            y, hs = _address(Y), _address(Hs)
            self.last = ""
            with nogil:
                # keep copies: backward reads them after the caller may have changed theirs
                if tokens:
                    memcpy(self.ids, xv.buf, N * sizeof(int64_t))
                else:
                    memcpy(self.inputs, xv.buf, N * self.I * self.item)
                if have_h0:
                    memcpy(self.h0, hv.buf, B * self.H * self.item)
                if tokens:
                    status = _rnn_forward_tokens(self.f32, self.hidden, self.ids,
                                                 self.h0 if have_h0 else NULL, self.Wxh,
                                                 self.Whh, self.bh, self.work, T, B, self.I,
                                                 self.H)
                else:
                    _rnn_forward(self.f32, self.hidden, self.inputs,
                                 self.h0 if have_h0 else NULL, self.Wxh, self.Whh, self.bh,
                                 self.work, T, B, self.I, self.H)
                if status == CRNN_OK:
                    _output_forward(self.f32, y, self.hidden, self.Why, self.by, self.work,
                                    N, self.H, self.O)
                    memcpy(hs, self.hidden, N * self.H * self.item)
            if status != CRNN_OK:
                raise RuntimeError("crnn: token ids changed during forward_batch")
            self.last, self.T, self.B = "forward_batch", T, B
            self.tokens, self.has_h0 = tokens, have_h0
            self.forward_thread = PyThread_get_thread_ident()
            return Y, Hs
        finally:
            PyBuffer_Release(&xv)
            if have_h0:
                PyBuffer_Release(&hv)

    def backward_batch(self, dY, dh, bint input_grad):
        self._acquire()
        try:
            return self._backward_batch(dY, dh, input_grad)
        finally:
            PyThread_release_lock(self.lock)

    def _backward_batch(self, dY, dh, bint input_grad):
        """BPTT of the last forward_batch from dY (T, B, O) and dh (B, H) or
        None, into the gradient array. Returns dh0 (B, H) and dX (T, B, I) or
        None."""
        cdef Py_buffer yv, hv
        cdef bint have_dh = False
        cdef Py_ssize_t T = self.T, B = self.B, N = self.T * self.B
        cdef char *dx = NULL
        if self.last != "forward_batch" or (input_grad and self.tokens) or self._other_thread():
            return None
        if not _acquire(dY, &yv):
            return None
        try:
            if not (yv.ndim == 3 and _kind(&yv) == self.kind and yv.shape[0] == T
                    and yv.shape[1] == B and yv.shape[2] == self.O):
                return None
            if dh is not None:
                if not self._acquire_states(dh, &hv, B):
                    return None
                have_dh = True
            dh0 = np.zeros((B, self.H), dtype=self.dtype)
            dX = np.zeros((T, B, self.I), dtype=self.dtype) if input_grad else None
            dh0_p = _address(dh0)
            if input_grad:
                dx = _address(dX)
            with nogil:
                memset(self.grads, 0, self.n_params * self.item)
                memset(self.d_hidden, 0, N * self.H * self.item)
                _output_backward(self.f32, self.d_hidden, self.dWhy, self.dby, <const char *>yv.buf,
                                 self.hidden, self.Why, N, self.H, self.O)
                if self.tokens:
                    _rnn_backward_tokens(self.f32, self.dWxh, self.dWhh, self.dbh, dh0_p,
                                         self.d_hidden,
                                         <const char *>hv.buf if have_dh else NULL,
                                         self.ids, self.h0 if self.has_h0 else NULL,
                                         self.hidden, self.Whh, T, B, self.I, self.H)
                else:
                    _rnn_backward(self.f32, self.dWxh, self.dWhh, self.dbh, dh0_p, dx,
                                  self.d_hidden, <const char *>hv.buf if have_dh else NULL,
                                  self.inputs, self.h0 if self.has_h0 else NULL, self.hidden,
                                  self.Wxh, self.Whh, T, B, self.I, self.H)
            return dh0, dX
        finally:
            PyBuffer_Release(&yv)
            if have_dh:
                PyBuffer_Release(&hv)

    def forward_sequence(self, inputs):
        self._acquire()
        try:
            return self._forward_sequence(inputs)
        finally:
            PyThread_release_lock(self.lock)

    def _forward_sequence(self, inputs):
        """The seed API: one sequence, a list or tuple of T arrays of I numbers
        each, or an array (T, I), from a zero state. Returns the output of the
        last step (O, 1) and the last hidden state (H, 1)."""
        cdef Py_buffer v
        cdef Py_ssize_t T, t, I = self.I
        cdef Kind kind
        if isinstance(inputs, (list, tuple)):
            T = len(inputs)
            if T == 0:
                return None
            self._reserve(T, 1)
            self.last = ""
            for t in range(T):  # convert step by step into the inputs buffer
                if not _acquire(inputs[t], &v):
                    return None
                kind = _kind(&v)
                if kind == OTHER or v.len != I * v.itemsize:
                    PyBuffer_Release(&v)
                    return None
                _to_real(self.inputs + t * I * self.item, self.f32, <const char *>v.buf, kind, I)
                PyBuffer_Release(&v)
        else:
            if not _acquire(inputs, &v):
                return None
            kind = _kind(&v)
            if v.ndim != 2 or kind == OTHER or v.shape[0] == 0 or v.shape[1] != I:
                PyBuffer_Release(&v)
                return None
            T = v.shape[0]
            self._reserve(T, 1)
            self.last = ""
            _to_real(self.inputs, self.f32, <const char *>v.buf, kind, T * I)
            PyBuffer_Release(&v)
        output = np.empty((self.O, 1), dtype=self.dtype)
        h = np.empty((self.H, 1), dtype=self.dtype)
        out_p, h_p = _address(output), _address(h)
        last_state = self.hidden + (T - 1) * self.H * self.item
        with nogil:
            _rnn_forward(self.f32, self.hidden, self.inputs, NULL, self.Wxh, self.Whh, self.bh,
                         self.work, T, 1, I, self.H)
            _output_forward(self.f32, out_p, last_state, self.Why, self.by, self.work, 1,
                            self.H, self.O)
            memcpy(h_p, last_state, self.H * self.item)
        self.last, self.T, self.B, self.tokens, self.has_h0 = "forward", T, 1, False, False
        self.forward_thread = PyThread_get_thread_ident()
        return output, h

    def backward_sequence(self, d_y, double learning_rate):
        self._acquire()
        try:
            return self._backward_sequence(d_y, learning_rate)
        finally:
            PyThread_release_lock(self.lock)

    def _backward_sequence(self, d_y, double learning_rate):
        """The seed API: BPTT of the last forward_sequence from d_y, O numbers
        shaped (O, 1) or (O,), into the gradient array, then one SGD step.
        Uses up the forward. Returns True, or None for non-canonical input."""
        cdef Py_buffer v
        cdef Kind kind
        cdef Py_ssize_t T = self.T, i, H = self.H
        if self.last != "forward" or self._other_thread() or not _acquire(d_y, &v):
            return None
        kind = _kind(&v)
        if (kind == OTHER or v.len != self.O * v.itemsize or v.ndim not in (1, 2)
                or (v.ndim == 2 and v.shape[1] != 1)):
            PyBuffer_Release(&v)
            return None
        _to_real(self.dY_row, self.f32, <const char *>v.buf, kind, self.O)
        PyBuffer_Release(&v)
        cdef char *last_state = self.hidden + (T - 1) * H * self.item
        with nogil:
            memset(self.grads, 0, self.n_params * self.item)
            memset(self.d_hidden, 0, T * H * self.item)
            # only the last step has an output, so only its row of d_hidden gets one
            _output_backward(self.f32, self.d_hidden + (T - 1) * H * self.item, self.dWhy,
                             self.dby, self.dY_row, last_state, self.Why, 1, H, self.O)
            _rnn_backward(self.f32, self.dWxh, self.dWhh, self.dbh, NULL, NULL, self.d_hidden,
                          NULL, self.inputs, NULL, self.hidden, self.Wxh, self.Whh, T, 1,
                          self.I, H)
            if self.f32:
                for i in range(self.n_params):
                    (<float *>self.params)[i] -= <float>learning_rate * (<float *>self.grads)[i]
            else:
                for i in range(self.n_params):
                    (<double *>self.params)[i] -= learning_rate * (<double *>self.grads)[i]
        self.last = ""
        return True
