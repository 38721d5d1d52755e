"""Losses: values and gradients against NumPy and finite differences."""
import numpy as np
import pytest

from crnn import losses, reference


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_softmax_cross_entropy(dtype, reduction, kernel):
    rng = np.random.default_rng(0)
    Y = (rng.standard_normal((4, 3, 7)) * 3).astype(dtype)
    targets = rng.integers(0, 7, size=(4, 3))
    loss, dY = losses.softmax_cross_entropy(Y, targets, reduction)
    Y64 = Y.astype(np.float64)
    log_p = Y64 - np.log(np.exp(Y64).sum(-1, keepdims=True))
    expected = -np.take_along_axis(log_p, targets[..., None], -1).sum()
    scale = 1 if reduction == "sum" else 1 / 12
    tol = 1e-12 if dtype == np.float64 else 1e-5
    assert dY.dtype == dtype and dY.shape == Y.shape
    np.testing.assert_allclose(loss, expected * scale, rtol=tol)
    np.testing.assert_allclose(dY, (np.exp(log_p) - np.eye(7)[targets]) * scale, rtol=tol,
                               atol=tol * scale)


def test_softmax_cross_entropy_gradient_by_finite_differences():
    rng = np.random.default_rng(1)
    Y = rng.standard_normal((3, 2, 5))
    targets = rng.integers(0, 5, size=(3, 2))
    _, dY = losses.softmax_cross_entropy(Y, targets)
    numeric = reference.numerical_gradient(lambda: losses.softmax_cross_entropy(Y, targets)[0], Y)
    np.testing.assert_allclose(dY, numeric, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_cross_entropy_is_stable_for_large_logits(kernel, dtype):
    Y = np.array([[[1000.0, 0.0, -1000.0, -1e30]]], dtype=dtype)
    loss, dY = losses.softmax_cross_entropy(Y, np.array([[1]]))
    assert loss == pytest.approx(1000.0) and np.all(np.isfinite(dY))
    np.testing.assert_allclose(dY, [[[1.0, -1.0, 0.0, 0.0]]], atol=1e-30)
    Y[0, 0, 2] = np.nan  # NaN in, NaN out
    loss, dY = losses.softmax_cross_entropy(Y, np.array([[1]]))
    assert np.isnan(loss)


def test_mean_squared_error():
    rng = np.random.default_rng(2)
    Y, targets = rng.standard_normal((5, 2, 3)), rng.standard_normal((5, 2, 3))
    loss, dY = losses.mean_squared_error(Y, targets)
    np.testing.assert_allclose(loss, np.mean((Y - targets) ** 2), rtol=1e-13)
    numeric = reference.numerical_gradient(lambda: losses.mean_squared_error(Y, targets)[0], Y)
    np.testing.assert_allclose(dY, numeric, rtol=1e-7, atol=1e-10)
    loss_sum, dY_sum = losses.mean_squared_error(Y, targets, "sum")
    np.testing.assert_allclose(loss_sum, loss * Y.size, rtol=1e-13)
    np.testing.assert_allclose(dY_sum, dY * Y.size, rtol=1e-13)


@pytest.mark.parametrize("call,error,match", [
    (lambda: losses.softmax_cross_entropy(np.zeros((2, 1, 3)), np.array([[0], [3]])), ValueError,
     r"targets must be in \[0, output_size=3\), got 3 at index \(1, 0\)"),
    (lambda: losses.softmax_cross_entropy(np.zeros((2, 1, 3)), np.zeros((2, 2), dtype=int)),
     ValueError, r"targets must have shape \(T, B\) = \(2, 1\), got \(2, 2\)"),
    (lambda: losses.softmax_cross_entropy(np.zeros((2, 1, 3)), np.zeros((2, 1))), TypeError,
     "targets must be integer ids, got dtype float64"),
    (lambda: losses.softmax_cross_entropy(np.zeros((2, 3)), np.zeros((2, 1), dtype=int)),
     ValueError, r"Y must have shape \(T, B, O\), got \(2, 3\)"),
    (lambda: losses.softmax_cross_entropy(np.zeros((2, 1, 3)), np.zeros((2, 1), dtype=int), "max"),
     ValueError, "reduction must be 'sum' or 'mean', got 'max'"),
    (lambda: losses.mean_squared_error(np.zeros((2, 1, 3)), np.zeros((2, 1, 2))), ValueError,
     r"targets must have shape Y's shape = \(2, 1, 3\), got \(2, 1, 2\)"),
])
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()
