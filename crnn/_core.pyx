# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The Cython layer over the C core (src_c/crnn.h): kernel selection and the
training kernels on flat arrays here; the Engine (_engine.pxi), one workspace
of a model (a thread's), which has the C core walk its layers forward and
backward on NumPy buffers without the GIL; the seed notebook's API on it
(_seed.pxi), and a stream's workspace (_stream.pxi).

crnn/rnn.py validates what users give, with messages in their terms, and
hands the Engine only canonical input: C-contiguous arrays of the model's
dtype, int64 token ids and lengths. The Engine checks each buffer's kind and
shape once more before any pointer reaches C, and raises an internal error
when one does not fit.
"""
from cpython.buffer cimport (PyBUF_C_CONTIGUOUS, PyBUF_FORMAT, PyBUF_STRIDES, PyBUF_WRITABLE,
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


include "_buffers.pxi"  # what a buffer holds; its memory
include "_lock.pxi"  # waiting without the GIL; the gradient array's lock
include "_network.pxi"  # what a model is, shared by its workspaces
include "_engine.pxi"  # the Engine: one workspace of a model
include "_seed.pxi"  # the seed notebook's API on an Engine
include "_stream.pxi"  # a stream's workspace: one step a call
