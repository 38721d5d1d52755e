"""Helpers shared by the tests: well-conditioned random models, errors, and
every kernel path."""
import contextlib

import numpy as np
import pytest
from hypothesis import strategies as st

import crnn
from crnn import RNN

# Every path the build knows. One this CPU cannot run is skipped, not dropped,
# so a run on a smaller machine says what it did not test.
KERNELS = crnn._core.kernel_names()


@contextlib.contextmanager
def using_kernel(name):
    if name not in crnn.available_kernels():
        pytest.skip(f"kernel path {name!r} is not available on this CPU")
    before = crnn.get_kernel()
    crnn.set_kernel(name)
    try:
        yield
    finally:
        crnn.set_kernel(before)


@pytest.fixture(params=KERNELS)
def kernel(request):
    """Runs the test once on each kernel path."""
    with using_kernel(request.param):
        yield request.param

# relative tolerance of the compiled core against the float64 reference
# Batches below a tile, whose recurrence multiplies row by row, and batches
# that fill one (6 rows on AVX2, 8 on AVX-512 and NEON) or a tile and part of
# another, whose recurrence multiplies by weights packed once per call.
BATCHES = st.one_of(st.integers(1, 5), st.sampled_from([6, 8, 9, 14, 17]))

TOLERANCE = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-5}


def relative_error(actual, expected, magnitude=None):
    """max |actual - expected| / max |expected|: a normwise relative error.

    ``magnitude``, when given, replaces |expected| as the scale: the same
    computation on the absolute values of every factor, the size of the terms
    a result is summed from, which rounding errors are relative to even where
    the terms cancel."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    scale = np.abs(expected) if magnitude is None else np.abs(magnitude)
    return np.max(np.abs(actual - expected)) / max(np.max(scale), np.finfo(np.float64).tiny)


def random_model(I, H, O, dtype=np.float64, seed=0, spectral_radius=0.9):
    """An RNN with O(1) random weights, Whh scaled to the given spectral radius,
    so that gradients are far from zero and the recurrence is stable.

    The input weights keep most pre-activations within |a| < 2: near tanh's
    saturation its derivative 1 - h^2 loses digits to cancellation in float32
    (at h = 0.99, a relative 6e-6 from one rounding of h), which would measure
    the conditioning of the problem instead of the code."""
    rng = np.random.default_rng(seed)
    rnn = RNN(I, O, H, dtype=dtype, seed=seed)
    rnn.Wxh = rng.standard_normal((H, I)) * (0.5 / np.sqrt(I))
    Whh = rng.standard_normal((H, H))
    rnn.Whh = Whh * (spectral_radius / max(np.max(np.abs(np.linalg.eigvals(Whh))), 1e-12))
    rnn.bh = rng.standard_normal((H, 1)) * 0.1
    rnn.Why = rng.standard_normal((O, H)) / np.sqrt(H)
    rnn.by = rng.standard_normal((O, 1)) * 0.1
    return rnn


def random_inputs(rng, T, B, I, tokens):
    if tokens:
        return rng.integers(0, I, size=(T, B))
    return rng.standard_normal((T, B, I))


def params64(rnn):
    """The model's parameters as float64 copies, for the reference."""
    return {name: p.astype(np.float64) for name, p in rnn.parameters().items()}


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def one_and_two_threads(run):
    """run() under one thread, then two: both results, to compare bit for
    bit. Skips in a build without OpenMP; restores the thread count."""
    before = crnn.get_num_threads()
    results = []
    try:
        if crnn.set_num_threads(2) != 2:
            pytest.skip("built without OpenMP: one thread only")
        for threads in (1, 2):
            crnn.set_num_threads(threads)
            results.append(run())
    finally:
        crnn.set_num_threads(before)
    return results
