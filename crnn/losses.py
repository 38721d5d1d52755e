"""Losses, each returning the loss and its gradient dLoss/dY in one pass,
ready for ``RNN.backward_batch``.

Y is the model's output (T, B, O). Reductions: "sum" adds over every step and
sequence; "mean" divides by the number of rows T*B (cross-entropy) or of
elements T*B*O (squared error).
"""
import numpy as np

from . import _checks, _core

__all__ = ["softmax_cross_entropy", "mean_squared_error"]


def _scale(reduction, count):
    if reduction == "sum":
        return 1.0
    if reduction == "mean":
        return 1.0 / count
    raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")


def softmax_cross_entropy(Y, targets, reduction="sum"):
    """Cross-entropy of softmax(Y) over the last axis against integer targets.

    Y: (T, B, O) floats (float32 or float64; other floats are converted to
    float64); targets: integer ids (T, B) in [0, O). The softmax, the loss and
    dLoss/dY = softmax(Y) - onehot(targets) run fused in C. Returns the loss
    (a float) and dY, shaped and typed like Y.
    """
    Y = _checks.as_numeric_array("Y", Y)
    if Y.ndim != 3:
        raise ValueError(f"Y must have shape (T, B, O), got {_checks.shape_str(Y.shape)}")
    T, B, O = Y.shape
    targets = _checks.as_numeric_array("targets", targets)
    if not _checks.is_token_ids(targets):
        raise TypeError(f"targets must be integer ids, got dtype {targets.dtype}")
    _checks.check_shape("targets", targets, (T, B), "(T, B)")
    if targets.size:
        _checks.check_token_range(targets, O, "targets", "output_size")
    dtype = Y.dtype if Y.dtype in _checks.SUPPORTED_DTYPES else np.float64
    rows = np.ascontiguousarray(Y.reshape(T * B, O), dtype=dtype)
    ids = np.ascontiguousarray(targets.reshape(-1), dtype=np.int64)
    loss, dY = _core.softmax_xent(rows, ids, _scale(reduction, max(T * B, 1)))
    return loss, dY.reshape(T, B, O)


def mean_squared_error(Y, targets, reduction="mean"):
    """Squared error between Y and float targets of the same shape.

    Returns sum((Y - targets)^2) ("sum") or its mean over every element
    ("mean"), and dLoss/dY = 2 (Y - targets) (divided by the count for the
    mean), typed like Y.
    """
    Y = _checks.as_numeric_array("Y", Y)
    targets = _checks.as_numeric_array("targets", targets)
    _checks.check_shape("targets", targets, Y.shape, "Y's shape")
    dtype = Y.dtype if Y.dtype in _checks.SUPPORTED_DTYPES else np.float64
    error = np.subtract(Y, targets, dtype=dtype)
    scale = _scale(reduction, max(error.size, 1))
    loss = float(np.vdot(error, error)) * scale
    error *= 2 * scale
    return loss, error


LOSSES = {
    "ce_sum": lambda Y, t: softmax_cross_entropy(Y, t, "sum"),
    "ce_mean": lambda Y, t: softmax_cross_entropy(Y, t, "mean"),
    "mse": lambda Y, t: mean_squared_error(Y, t, "mean"),
    "mse_sum": lambda Y, t: mean_squared_error(Y, t, "sum"),
}
