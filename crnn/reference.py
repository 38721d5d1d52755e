"""The Elman RNN family in plain NumPy: the specification of crnn's math. ::

    a_t = x_t Wxh^T + h_prev Whh^T + bh       (pre-activation)
    h_t = act(a_t)                            act = tanh or ReLU
    y_t = h_t Why^T + by

Written for reading, not for speed: one step at a time, row vectors, the
batch as the middle axis. Sizes: T steps, B sequences, I inputs, H hidden
units, O outputs, L layers, D directions. ``params`` is a dict as
``RNN.parameters()`` returns it, which also tells the model's structure:
``Wxh{s}`` (H, IN), ``Whh{s}`` (H, H), ``bh{s}`` (H, 1) for each layer and
direction (s = "", "_l1", "_reverse", "_l1_reverse", ...; no bh without
biases), ``Why`` (O, D*H) and ``by`` (O, 1) unless there is no output layer.
``inputs`` is either floats (T, B, I) or integer token ids (T, B), which
stand for one-hot vectors of size I.

Layer k > 0 reads layer k-1's output, both directions side by side (D*H),
multiplied by ``masks[k-1]`` (dropout; masks (L-1, T, B, D*H) hold 0 or
1/(1-p)). The reverse direction runs from the last step to the first. With
``lengths`` (B,), sequence b has steps t < lengths[b] only: elsewhere its
outputs are 0, its state is carried unchanged (so its reverse direction
starts at its own last step) and nothing flows back.

The tests check ``backward`` against central finite differences of
``forward`` and ``output`` (``numerical_gradient``), then the compiled core
against these functions.
"""
import numpy as np

__all__ = ["forward", "output", "backward", "numerical_gradient", "min_char_rnn"]


def _is_tokens(inputs):
    return inputs.ndim == 2 and np.issubdtype(inputs.dtype, np.integer)


def _structure(params):
    """(L, D): the layers and directions the parameter names tell."""
    layers = [int(name[len("Whh_l"):].split("_")[0]) for name in params
              if name.startswith("Whh_l")]
    return 1 + max(layers, default=0), (2 if "Whh_reverse" in params else 1)


def _names(layer, direction):
    s = ("" if layer == 0 else f"_l{layer}") + ("_reverse" if direction else "")
    return "Wxh" + s, "Whh" + s, "bh" + s


def _cell(params):
    """"rnn", "lstm" or "gru", from the rows of Whh: H, 4H or 3H."""
    rows, H = params["Whh"].shape
    return {1: "rnn", 4: "lstm", 3: "gru"}[rows // H]


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _pair(states):
    """An LSTM's (h, c), or any other cell's h with None."""
    if isinstance(states, (tuple, list)) and len(states) == 2:
        return states[0], states[1]
    return states, None


def _lstm_direction(x_proj, Whh, h0, c0, lengths, reverse):
    """One LSTM layer in one direction (PyTorch's gates i, f, g, o):
        i, f, o = sigmoid(.), g = tanh(.) of x_proj[t] + h Whh^T
        c' = f c + i g,  h' = o tanh(c')
    Returns its states (T, B, H), what backward needs per step, (h_n, c_n)."""
    T, B, G = x_proj.shape
    H = G // 4
    hidden_states = np.zeros((T, B, H))
    cache = {name: np.zeros((T, B, G if name == "gates" else H))
             for name in ("h_prev", "c_prev", "gates", "c")}
    h, c = h0.copy(), c0.copy()
    for t in (reversed(range(T)) if reverse else range(T)):
        a = x_proj[t] + h @ Whh.T
        gates = np.concatenate([_sigmoid(a[:, :2 * H]), np.tanh(a[:, 2 * H:3 * H]),
                                _sigmoid(a[:, 3 * H:])], axis=1)
        i, f, g, o = (gates[:, j * H:(j + 1) * H] for j in range(4))
        c_new = f * c + i * g
        h_new = o * np.tanh(c_new)
        cache["h_prev"][t], cache["c_prev"][t], cache["gates"][t], cache["c"][t] = h, c, gates, c_new
        active = _active(lengths, t, B)
        hidden_states[t] = np.where(active, h_new, 0.0)
        h, c = np.where(active, h_new, h), np.where(active, c_new, c)
    return hidden_states, cache, (h, c)


def _gru_direction(x_proj, Whh, bhn, h0, lengths, reverse):
    """One GRU layer in one direction (PyTorch's gates r, z, n):
        r, z = sigmoid(x_proj_rz[t] + h Whh_rz^T)
        n = tanh(x_proj_n[t] + r * (h Whh_n^T + bhn)),  h' = (1 - z) n + z h
    x_proj holds b_ir + b_hr, b_iz + b_hz and b_in. Returns its states, what
    backward needs per step, and h_n."""
    T, B, G = x_proj.shape
    H = G // 3
    hidden_states = np.zeros((T, B, H))
    cache = {name: np.zeros((T, B, H)) for name in ("h_prev", "r", "z", "n", "hn")}
    h = h0.copy()
    for t in (reversed(range(T)) if reverse else range(T)):
        gh = h @ Whh.T
        r = _sigmoid(x_proj[t][:, :H] + gh[:, :H])
        z = _sigmoid(x_proj[t][:, H:2 * H] + gh[:, H:2 * H])
        hn = gh[:, 2 * H:] + bhn
        n = np.tanh(x_proj[t][:, 2 * H:] + r * hn)
        h_new = (1 - z) * n + z * h
        for name, value in (("h_prev", h), ("r", r), ("z", z), ("n", n), ("hn", hn)):
            cache[name][t] = value
        active = _active(lengths, t, B)
        hidden_states[t] = np.where(active, h_new, 0.0)
        h = np.where(active, h_new, h)
    return hidden_states, cache, h


def _activation(nonlinearity):
    """act and act' as a function of act's output h."""
    if nonlinearity == "relu":
        return (lambda a: np.maximum(a, 0)), (lambda h: (h > 0).astype(h.dtype))
    return np.tanh, (lambda h: 1.0 - h**2)


def _active(lengths, t, B):
    """(B, 1) booleans: which sequences have a step t."""
    return np.ones((B, 1), bool) if lengths is None else (t < np.asarray(lengths))[:, None]


def _states(h, L, D, B, H, dtype):
    """h0 or dh as (L*D, B, H): zeros for None, (B, H) taken for L*D = 1."""
    if h is None:
        return np.zeros((L * D, B, H), dtype=dtype)
    return np.asarray(h).reshape(L * D, B, H)


def _direction(x_proj, Whh, h0, act, lengths, reverse):
    """One layer in one direction: its states (T, B, H), the state each step
    started from (T, B, H), and the final states (B, H)."""
    T, B, H = x_proj.shape
    hidden_states = np.zeros_like(x_proj)
    previous = np.zeros_like(x_proj)
    h = h0.copy()
    for t in (reversed(range(T)) if reverse else range(T)):
        previous[t] = h
        h_new = act(x_proj[t] + h @ Whh.T)
        active = _active(lengths, t, B)
        hidden_states[t] = np.where(active, h_new, 0.0)
        h = np.where(active, h_new, h)
    return hidden_states, previous, h


def _run(params, inputs, h0, lengths, nonlinearity, masks):
    """Every layer forward: each layer's input, and per layer and direction
    (states, previous states, final state)."""
    L, D = _structure(params)
    cell = _cell(params)
    tokens = _is_tokens(inputs)
    T, B = inputs.shape[:2]
    H = params["Whh"].shape[1]
    dtype = params["Whh"].dtype
    act = _activation(nonlinearity)[0]
    h0, c0 = _pair(h0)
    h0, c0 = _states(h0, L, D, B, H, dtype), _states(c0, L, D, B, H, dtype)
    layer_inputs, runs, x = [], [], inputs
    for k in range(L):
        if k > 0 and masks is not None:
            x = x * masks[k - 1]
        layer_inputs.append(x)
        outputs = []
        for d in range(D):
            Wxh, Whh, bh = _names(k, d)
            # x_t Wxh^T: for token ids, the columns of Wxh they pick
            x_proj = params[Wxh][:, x].transpose(1, 2, 0) if (k == 0 and tokens) else x @ params[Wxh].T
            if bh in params:
                x_proj = x_proj + params[bh][:, 0]
            j = k * D + d
            if cell == "lstm":
                runs.append(_lstm_direction(x_proj, params[Whh], h0[j], c0[j], lengths, d == 1))
            elif cell == "gru":
                bhn = params["bhn" + bh[2:]][:, 0] if bh in params else 0.0
                runs.append(_gru_direction(x_proj, params[Whh], bhn, h0[j], lengths, d == 1))
            else:
                runs.append(_direction(x_proj, params[Whh], h0[j], act, lengths, d == 1))
            outputs.append(runs[-1][0])
        x = np.concatenate(outputs, axis=-1)
    return layer_inputs, runs, x


def forward(params, inputs, h0=None, *, lengths=None, nonlinearity="tanh", masks=None,
            return_state=False):
    """The top layer's output (T, B, D*H) of ``inputs`` from ``h0`` ((L*D, B,
    H), or (B, H) for one layer and direction; zeros if None; an LSTM's is a
    pair (h0, c0)); with ``return_state``, also the final states h_n (L*D, B,
    H), an LSTM's a pair (h_n, c_n). The cell, Elman, LSTM or GRU, is the one
    the parameters' shapes tell (Whh of H, 4H or 3H rows)."""
    _, runs, top = _run(params, inputs, h0, lengths, nonlinearity, masks)
    if not return_state:
        return top
    if _cell(params) == "lstm":
        return top, (np.stack([h for _, _, (h, _) in runs]), np.stack([c for _, _, (_, c) in runs]))
    return top, np.stack([h_n for _, _, h_n in runs])


def _valid(lengths, T, B):
    """(T, B, 1): 1 at the steps each sequence has, 0 past its length."""
    if lengths is None:
        return np.ones((T, B, 1))
    return (np.arange(T)[:, None] < np.asarray(lengths)[None, :])[..., None].astype(float)


def output(params, top, lengths=None):
    """The outputs (T, B, O) read from the top layer's output (T, B, D*H);
    0 past each length. Without an output layer, ``top`` itself."""
    if "Why" not in params:
        return top
    return (top @ params["Why"].T + params["by"][:, 0]) * _valid(lengths, *top.shape[:2])


def backward(params, inputs, dY, h0=None, dh=None, *, lengths=None, nonlinearity="tanh",
             masks=None):
    """Backpropagation through time.

    dY is dLoss/dY (T, B, O) for every step (dLoss/d(top output) (T, B, D*H)
    without an output layer); dh, dLoss/dh_n (L*D, B, H) or (B, H), or None.
    Returns the gradients of the loss for every parameter (shaped like it),
    for "h0" ((L*D, B, H), or (B, H) when L*D = 1) and, for float inputs,
    for "X" (T, B, I).
    """
    forward_pass = _run(params, inputs, h0, lengths, nonlinearity, masks)
    return _backward(params, inputs, forward_pass, dY, dh, lengths, nonlinearity, masks)


def _backward(params, inputs, forward_pass, dY, dh, lengths, nonlinearity, masks):
    """backward, from the forward pass ``_run`` gave (layer inputs, runs, top)."""
    L, D = _structure(params)
    cell = _cell(params)
    tokens = _is_tokens(inputs)
    T, B = inputs.shape[:2]
    H = params["Whh"].shape[1]
    d_act = _activation(nonlinearity)[1]
    layer_inputs, runs, top = forward_pass
    dh, dc = _pair(dh)
    dh, dc = _states(dh, L, D, B, H, top.dtype), _states(dc, L, D, B, H, top.dtype)
    grads = {name: np.zeros_like(p) for name, p in params.items()}
    dh0, dc0 = np.zeros((L * D, B, H)), np.zeros((L * D, B, H))

    if "Why" in params:  # the output layer reads every step independently
        dY = dY * _valid(lengths, T, B)
        grads["Why"] += np.einsum("tbo,tbh->oh", dY, top)
        grads["by"][:, 0] += dY.sum(axis=(0, 1))
        d_top = dY @ params["Why"]
    else:
        d_top = dY
    for k in reversed(range(L)):
        x = layer_inputs[k]
        d_x = None if (k == 0 and tokens) else np.zeros(x.shape)
        for d in range(D):
            Wxh, Whh, bh = _names(k, d)
            d_above = d_top[..., d * H:(d + 1) * H]
            if cell != "rnn":
                j = k * D + d
                dh0[j], dc0[j] = _gated_backward(cell, params, (Wxh, Whh, bh), runs[j][1],
                                                 d_above, dh[j], dc[j], x, inputs,
                                                 k == 0 and tokens, d_x, grads, lengths, d == 1)
                continue
            hidden_states, previous, _ = runs[k * D + d]
            # dLoss/dh_t from above, then back through the steps in the
            # reverse of their order: through act and Whh only
            carry = dh[k * D + d].copy()
            for t in (range(T) if d == 1 else reversed(range(T))):
                active = _active(lengths, t, B)
                d_a = np.where(active, (d_above[t] + carry) * d_act(hidden_states[t]), 0.0)
                grads[Whh] += d_a.T @ previous[t]
                if bh in params:
                    grads[bh][:, 0] += d_a.sum(axis=0)
                if k == 0 and tokens:
                    np.add.at(grads[Wxh].T, inputs[t], d_a)
                else:
                    grads[Wxh] += d_a.T @ x[t]
                    d_x[t] += d_a @ params[Wxh]
                carry = np.where(active, d_a @ params[Whh], carry)
            dh0[k * D + d] = carry
        if k > 0:
            d_top = d_x * masks[k - 1] if masks is not None else d_x
        elif not tokens:
            grads["X"] = d_x
    grads["h0"] = dh0[0] if L * D == 1 else dh0
    if cell == "lstm":
        grads["c0"] = dc0[0] if L * D == 1 else dc0
    return grads


def _gated_backward(cell, params, names, cache, d_above, dh_n, dc_n, x, inputs, one_hot, d_x,
                    grads, lengths, reverse):
    """BPTT of one LSTM or GRU layer in one direction, into ``grads`` and
    ``d_x``; returns dLoss/dh0 and dLoss/dc0 (zeros for a GRU)."""
    Wxh, Whh, bh = names
    T, B, H = d_above.shape
    carry_h, carry_c = dh_n.copy(), dc_n.copy()
    for t in (range(T) if reverse else reversed(range(T))):
        active = _active(lengths, t, B)
        dh = d_above[t] + carry_h
        if cell == "lstm":
            gates, c, c_prev = cache["gates"][t], cache["c"][t], cache["c_prev"][t]
            i, f, g, o = (gates[:, j * H:(j + 1) * H] for j in range(4))
            tanh_c = np.tanh(c)
            dc = carry_c + dh * o * (1 - tanh_c**2)
            d_gx = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f),
                                   dc * i * (1 - g**2), dh * tanh_c * o * (1 - o)], axis=1)
            d_gh = d_gx                       # both sides of every gate's sum
            carry_c = np.where(active, dc * f, carry_c)
            d_direct = 0.0
        else:  # GRU
            r, z, n, hn = (cache[name][t] for name in ("r", "z", "n", "hn"))
            d_an = dh * (1 - z) * (1 - n**2)  # into n's pre-activation
            d_ar = d_an * hn * r * (1 - r)
            d_az = dh * (cache["h_prev"][t] - n) * z * (1 - z)
            d_gx = np.concatenate([d_ar, d_az, d_an], axis=1)
            d_hn = d_an * r                   # into h Whh_n^T + bhn
            d_gh = np.concatenate([d_ar, d_az, d_hn], axis=1)
            d_direct = dh * z                 # h' = ... + z h
            if "bhn" + bh[2:] in params:
                grads["bhn" + bh[2:]][:, 0] += np.where(active, d_hn, 0.0).sum(axis=0)
        d_gx, d_gh = np.where(active, d_gx, 0.0), np.where(active, d_gh, 0.0)
        grads[Whh] += d_gh.T @ cache["h_prev"][t]
        if bh in params:
            grads[bh][:, 0] += d_gx.sum(axis=0)
        if one_hot:
            np.add.at(grads[Wxh].T, inputs[t], d_gx)
        else:
            grads[Wxh] += d_gx.T @ x[t]
            d_x[t] += d_gx @ params[Wxh]
        carry_h = np.where(active, d_gh @ params[Whh] + d_direct, carry_h)
    return carry_h, carry_c


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
