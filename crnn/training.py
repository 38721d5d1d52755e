"""One training step, and the windows of a long sequence for truncated BPTT.

A loop over a text's token ids ``ids``, each window starting from the state
the one before ended with (a fresh state where ``windows`` starts the text
again)::

    opt = crnn.optim.Adagrad(rnn.parameters(), lr=0.1, eps=1e-8)
    h = None
    for inputs, targets, fresh in crnn.training.windows(ids, 25):
        if fresh:
            h = None
        loss, h = rnn.train_step(inputs, targets, h0=h, optimizer=opt, clip=5.0)
"""
import math

import numpy as np

from . import _checks
from .losses import LOSSES
from .optim import clip_elementwise, clip_global_norm

__all__ = ["train_step", "windows"]


def train_step(rnn, inputs, targets, h0=None, *, optimizer, loss="ce_sum", clip=None,
               clip_norm=None, lengths=None):
    """Forward, loss, BPTT, clipping and one optimizer step; see RNN.train_step."""
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
    if optimizer is None or not hasattr(optimizer, "step"):
        raise TypeError(f"optimizer must be a crnn.optim optimizer, got {optimizer!r}")
    inputs = _checks.as_numeric_array("inputs", inputs)
    targets = _checks.as_numeric_array("targets", targets)
    if inputs.ndim == 1:  # one sequence of token ids
        inputs = inputs[None, :] if rnn.batch_first else inputs[:, None]
        if targets.ndim == 1:
            targets = targets[None, :] if rnn.batch_first else targets[:, None]
    Y, _, h_n = rnn.forward_batch(inputs, h0, lengths=lengths, return_state=True)
    if lengths is None:
        value, dY = LOSSES[loss](Y, targets)
    else:  # the loss of the valid steps only, as rows (n, 1, O)
        T, B = Y.shape[:2][::-1] if rnn.batch_first else Y.shape[:2]
        valid = np.arange(T)[:, None] < np.asarray(lengths)[None, :]
        valid = valid.T if rnn.batch_first else valid
        _checks.check_shape("targets", targets, Y.shape[:2] + targets.shape[2:],
                            "(B, T, ...)" if rnn.batch_first else "(T, B, ...)")
        value, dY_valid = LOSSES[loss](Y[valid][:, None], targets[valid][:, None])
        dY = np.zeros_like(Y)
        dY[valid] = dY_valid[:, 0]
    if not math.isfinite(value):
        raise FloatingPointError(f"the loss is {value} at this step; the parameters were "
                                 "not updated")
    all_grads = rnn.backward_batch(dY)
    # the parameters' gradients only: clipping by norm is over them, not the
    # state's (as PyTorch's clip_grad_norm_ over parameters()); and they are
    # the same arrays every step, so the clipping finds their one allocation
    grads = {name: all_grads[name] for name in rnn.parameters()}
    if clip is not None:
        clip_elementwise(grads, clip)
    if clip_norm is not None:
        clip_global_norm(grads, clip_norm)
    optimizer.step(grads)
    # (B, H) for one layer and direction, as h0 may be given; an LSTM's pair likewise
    one = (lambda state: state[0] if len(state) == 1 else state)
    return value, tuple(map(one, h_n)) if isinstance(h_n, tuple) else one(h_n)


def windows(ids, seq_length):
    """Endless windows over a sequence of ids, as min-char-rnn reads its text:
    inputs ids[p : p+T] and targets ids[p+1 : p+T+1] as (T, 1) arrays, p
    advancing by T; back to p = 0 when the next window would reach the end,
    and ``fresh`` True there (and at the start): the hidden state resets."""
    seq_length = _checks.check_size("seq_length", seq_length)
    ids = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1, 1)
    if len(ids) < seq_length + 2:
        raise ValueError(f"the sequence has {len(ids)} ids; windows of {seq_length} need "
                         f"at least {seq_length + 2}")
    position = 0
    fresh = True
    while True:
        if position + seq_length + 1 >= len(ids):
            position, fresh = 0, True
        yield ids[position:position + seq_length], ids[position + 1:position + seq_length + 1], fresh
        position += seq_length
        fresh = False
