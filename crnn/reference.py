"""The Elman RNN in plain NumPy: the specification of crnn's math.

    a_t = x_t Wxh^T + h_(t-1) Whh^T + bh      (pre-activation)
    h_t = tanh(a_t)
    y_t = h_t Why^T + by

Written for reading, not for speed: one step at a time, row vectors, the
batch as the middle axis. Sizes: T steps, B sequences, I inputs, H hidden
units, O outputs. ``params`` is a dict with the RNN's parameters, as
``RNN.parameters()`` returns them: Wxh (H, I), Whh (H, H), bh (H, 1),
Why (O, H), by (O, 1). ``inputs`` is either floats (T, B, I) or integer token
ids (T, B), which stand for one-hot vectors of size I.

The tests check ``backward`` against central finite differences of
``forward`` and ``output`` (``numerical_gradient``), then the compiled core
against these functions.
"""
import numpy as np

__all__ = ["forward", "output", "backward", "numerical_gradient", "min_char_rnn"]


def _is_tokens(inputs):
    return inputs.ndim == 2 and np.issubdtype(inputs.dtype, np.integer)


def _input_projection(Wxh, x_t, tokens):
    """x_t Wxh^T, (B, H): for token ids, the columns of Wxh they pick."""
    return Wxh[:, x_t].T if tokens else x_t @ Wxh.T


def forward(params, inputs, h0=None):
    """The hidden states (T, B, H) of ``inputs`` from ``h0`` (B, H), zeros if None."""
    Wxh, Whh, bh = params["Wxh"], params["Whh"], params["bh"][:, 0]
    tokens = _is_tokens(inputs)
    T, B = inputs.shape[:2]
    H = Whh.shape[0]
    h_prev = np.zeros((B, H), dtype=Whh.dtype) if h0 is None else h0
    hidden_states = np.empty((T, B, H), dtype=Whh.dtype)
    for t in range(T):
        a_t = _input_projection(Wxh, inputs[t], tokens) + h_prev @ Whh.T + bh
        hidden_states[t] = np.tanh(a_t)
        h_prev = hidden_states[t]
    return hidden_states


def output(params, hidden_states):
    """The outputs (T, B, O) read from every hidden state (T, B, H)."""
    return hidden_states @ params["Why"].T + params["by"][:, 0]


def backward(params, inputs, h0, hidden_states, dY, dh=None):
    """Backpropagation through time.

    dY (T, B, O) is dLoss/dy_t for every step, dh (B, H) or None a further
    dLoss/dh of the last hidden state. Returns the gradients of the loss for
    every parameter (shaped like it), for "h0" (B, H), and, for float inputs,
    for "X" (T, B, I).
    """
    Wxh, Whh, Why = params["Wxh"], params["Whh"], params["Why"]
    tokens = _is_tokens(inputs)
    T, B, H = hidden_states.shape
    if h0 is None:
        h0 = np.zeros((B, H), dtype=hidden_states.dtype)
    grads = {name: np.zeros_like(p) for name, p in params.items()}
    d_inputs = None if tokens else np.zeros_like(inputs)

    # the output layer reads every step independently
    grads["Why"] += np.einsum("tbo,tbh->oh", dY, hidden_states)
    grads["by"][:, 0] += dY.sum(axis=(0, 1))
    # dLoss/dh_t arriving through h_(t+1); at the last step, the given dh
    d_h_next = np.zeros((B, H), dtype=hidden_states.dtype) if dh is None else dh

    for t in reversed(range(T)):
        h_t = hidden_states[t]
        h_prev = hidden_states[t - 1] if t > 0 else h0
        d_h = dY[t] @ Why + d_h_next          # dLoss/dh_t: from y_t and through h_(t+1)
        d_a = d_h * (1.0 - h_t**2)            # through tanh
        grads["bh"][:, 0] += d_a.sum(axis=0)
        grads["Whh"] += d_a.T @ h_prev
        if tokens:
            np.add.at(grads["Wxh"].T, inputs[t], d_a)
        else:
            grads["Wxh"] += d_a.T @ inputs[t]
            d_inputs[t] = d_a @ Wxh
        d_h_next = d_a @ Whh                  # to h_(t-1): through Whh only
    grads["h0"] = d_h_next
    if d_inputs is not None:
        grads["X"] = d_inputs
    return grads


def numerical_gradient(loss, x, eps=1e-6):
    """Central finite differences of the scalar ``loss()`` with respect to the
    array ``x``, which is perturbed in place and restored."""
    grad = np.zeros(x.shape, dtype=np.float64)
    if not x.flags.c_contiguous:
        raise ValueError("x must be C-contiguous, so that it can be perturbed in place")
    flat, flat_grad = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + eps
        loss_plus = loss()
        flat[i] = saved - eps
        loss_minus = loss()
        flat[i] = saved
        flat_grad[i] = (loss_plus - loss_minus) / (2 * eps)
    return grad


def min_char_rnn(ids, vocab_size, params, iterations, seq_length=25, learning_rate=0.1):
    """The classic min-char-rnn training loop (Karpathy, 2015), in plain
    NumPy, step by step with one-hot column vectors: cross-entropy summed
    over each window of ``seq_length`` ids, BPTT, gradients clipped to
    [-5, 5], Adagrad (eps 1e-8 inside the square root), the hidden state
    carried between windows and reset at the end of the data.

    ``params`` (Wxh, Whh, bh, Why, by as RNN.parameters() shapes them) are
    copied, not changed. Returns the loss of every iteration. The tests train
    crnn the same way and compare.
    """
    Wxh, Whh, Why = (params[k].astype(np.float64) for k in ("Wxh", "Whh", "Why"))
    bh, by = params["bh"].astype(np.float64), params["by"].astype(np.float64)
    hidden_size = Whh.shape[0]
    memories = [np.zeros_like(p) for p in (Wxh, Whh, Why, bh, by)]
    losses = []
    position, hprev = 0, None
    for n in range(iterations):
        if position + seq_length + 1 >= len(ids) or n == 0:
            hprev, position = np.zeros((hidden_size, 1)), 0
        inputs = ids[position:position + seq_length]
        targets = ids[position + 1:position + seq_length + 1]
        xs, hs, ps = {}, {-1: np.copy(hprev)}, {}
        loss = 0.0
        for t in range(len(inputs)):
            xs[t] = np.zeros((vocab_size, 1))
            xs[t][inputs[t]] = 1
            hs[t] = np.tanh(Wxh @ xs[t] + Whh @ hs[t - 1] + bh)
            ys = Why @ hs[t] + by
            ps[t] = np.exp(ys) / np.sum(np.exp(ys))
            loss += -np.log(ps[t][targets[t], 0])
        dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
        dbh, dby = np.zeros_like(bh), np.zeros_like(by)
        dhnext = np.zeros_like(hs[0])
        for t in reversed(range(len(inputs))):
            dy = np.copy(ps[t])
            dy[targets[t]] -= 1
            dWhy += dy @ hs[t].T
            dby += dy
            dh = Why.T @ dy + dhnext
            dhraw = (1 - hs[t] * hs[t]) * dh
            dbh += dhraw
            dWxh += dhraw @ xs[t].T
            dWhh += dhraw @ hs[t - 1].T
            dhnext = Whh.T @ dhraw
        for param, dparam, memory in zip((Wxh, Whh, Why, bh, by),
                                         (dWxh, dWhh, dWhy, dbh, dby), memories):
            np.clip(dparam, -5, 5, out=dparam)
            memory += dparam * dparam
            param += -learning_rate * dparam / np.sqrt(memory + 1e-8)
        hprev = hs[len(inputs) - 1]
        losses.append(loss)
        position += seq_length
    return losses
