"""Helpers shared by the tests: well-conditioned random models and errors."""
import numpy as np
import pytest

from crnn import RNN

# relative tolerance of the compiled core against the float64 reference
TOLERANCE = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-5}


def relative_error(actual, expected):
    """max |actual - expected| / max |expected|: a normwise relative error."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    scale = max(np.max(np.abs(expected)), np.finfo(np.float64).tiny)
    return np.max(np.abs(actual - expected)) / scale


def random_model(I, H, O, dtype=np.float64, seed=0, spectral_radius=0.9):
    """An RNN with O(1) random weights, Whh scaled to the given spectral radius,
    so that gradients are far from zero and the recurrence is stable."""
    rng = np.random.default_rng(seed)
    rnn = RNN(I, O, H, dtype=dtype, seed=seed)
    rnn.Wxh = rng.standard_normal((H, I)) / np.sqrt(I)
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
