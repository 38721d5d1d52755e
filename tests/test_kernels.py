"""Every kernel path: selection, and the accuracy of its tanh."""
import os
import subprocess
import sys

import numpy as np
import pytest

import crnn
from crnn import _core


def test_the_portable_path_is_always_available():
    assert "portable" in crnn.available_kernels()
    assert crnn.get_kernel() in crnn.available_kernels()


def test_the_default_is_the_widest_available_path():
    code = "import crnn; print(crnn.get_kernel())"
    env = {k: v for k, v in os.environ.items() if k != "CRNN_KERNEL"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == crnn.available_kernels()[-1], out.stderr


@pytest.mark.parametrize("name", crnn.available_kernels())
def test_the_environment_variable_forces_a_path(name):
    code = "import crnn; print(crnn.get_kernel())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, CRNN_KERNEL=name))
    assert out.stdout.strip() == name, out.stderr


def test_unknown_or_unavailable_paths_are_refused():
    before = crnn.get_kernel()
    with pytest.raises(ValueError, match=r"kernel must be one of \['portable', 'avx2', 'avx512', 'neon'\], got 'sse9'"):
        crnn.set_kernel("sse9")
    for name in set(_core.kernel_names()) - set(crnn.available_kernels()):
        with pytest.raises(ValueError, match="not available on this CPU"):
            crnn.set_kernel(name)
    assert crnn.get_kernel() == before


def ulp_error(actual, exact, dtype):
    spacing = np.spacing(np.abs(exact).astype(dtype)).astype(np.float64)
    return np.abs(actual.astype(np.float64) - exact) / spacing


@pytest.mark.parametrize("dtype,max_ulp", [(np.float32, 3.0), (np.float64, 3.0)])
def test_tanh_is_accurate_to_a_few_ulp(kernel, dtype, max_ulp):
    rng = np.random.default_rng(0)
    x = np.concatenate([
        np.linspace(-10, 10, 200_001),
        np.linspace(-0.7, 0.7, 100_001),   # both sides of the switch at 0.625
        rng.standard_normal(10_000) * 1e-3,
        np.array([0.0, -0.0, 1e-30, -1e-38, 1e-45, 0.625, 20.0, -20.0, 1e30, -1e30]),
    ]).astype(dtype)
    exact = np.tanh(x.astype(np.longdouble)).astype(np.float64)
    y = x.copy()
    _core.tanh(y)   # odd lengths exercise the masked tail of every path
    assert ulp_error(y, exact, dtype).max() <= max_ulp
    assert np.all(np.abs(y) <= 1)


@pytest.mark.parametrize("dtype,max_ulp,floor", [(np.float32, 3.0, -87.0), (np.float64, 3.0, -708.0)])
def test_sigmoid_is_accurate_to_a_few_ulp(kernel, dtype, max_ulp, floor):
    rng = np.random.default_rng(1)
    x = np.concatenate([
        np.linspace(-30, 30, 200_001),
        rng.standard_normal(10_000) * 1e-3,
        np.linspace(floor, floor + 20, 10_001),   # the small side, where e s is used
        np.array([0.0, -0.0, 1e-30, -1e-30, 50.0, 700.0, 1e30]),
    ]).astype(dtype)
    exact = (1 / (1 + np.exp(-x.astype(np.longdouble)))).astype(np.float64)
    y = x.copy()
    _core.sigmoid(y)  # odd lengths exercise the masked tail of every path
    assert ulp_error(y, exact, dtype).max() <= max_ulp
    assert np.all((0 <= y) & (y <= 1))
    below = np.array([floor - 1, floor - 100, -1e30, -np.inf], dtype=dtype)
    _core.sigmoid(below)  # under the exponent's range: at most the value at the bound
    bound = np.array([floor], dtype=dtype)
    _core.sigmoid(bound)
    assert np.all((0 <= below) & (below <= bound[0] * (1 + 4 * np.finfo(dtype).eps)))


def test_sigmoid_keeps_nan_and_saturates(kernel):
    for dtype in (np.float32, np.float64):
        x = np.array([np.nan, np.inf, 0.0, 40.0, np.nan], dtype=dtype)
        _core.sigmoid(x)
        assert np.isnan(x[0]) and np.isnan(x[4]) and x[1] == 1 and x[2] == 0.5 and x[3] == 1


def test_tanh_keeps_nan_and_saturates_at_infinity(kernel):
    for dtype in (np.float32, np.float64):
        x = np.array([np.nan, np.inf, -np.inf, 0.3, np.nan], dtype=dtype)
        _core.tanh(x)
        assert np.isnan(x[0]) and np.isnan(x[4])
        assert x[1] == 1 and x[2] == -1 and abs(x[3] - np.tanh(dtype(0.3))) <= np.spacing(dtype(0.3))


def test_thread_count_is_settable_and_validated():
    before = crnn.get_num_threads()
    try:
        assert crnn.set_num_threads(1) == 1 and crnn.get_num_threads() == 1
        with pytest.raises(ValueError, match="at least 1, got 0"):
            crnn.set_num_threads(0)
    finally:
        crnn.set_num_threads(before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_results_do_not_depend_on_the_number_of_threads(kernel, dtype):
    """Products large enough to be split between threads give the same bits."""
    from conftest import one_and_two_threads, random_model
    rng = np.random.default_rng(0)
    T, B, I, H, O = 4, 48, 40, 160, 24   # each product over a million multiply-adds
    rnn = random_model(I, H, O, dtype=dtype)
    X, dY = rng.standard_normal((T, B, I)), rng.standard_normal((T, B, O))
    h0, dh = rng.standard_normal((B, H)), rng.standard_normal((B, H))

    def run():
        Y, Hs = rnn.forward_batch(X, h0)
        return Y, Hs, {k: v.copy() for k, v in rnn.backward_batch(dY, dh, input_grad=True).items()}

    (Y1, Hs1, g1), (Y2, Hs2, g2) = one_and_two_threads(run)
    np.testing.assert_array_equal(Y1, Y2)
    np.testing.assert_array_equal(Hs1, Hs2)
    for name in g1:
        np.testing.assert_array_equal(g1[name], g2[name])
