"""Optimizers and gradient clipping over a model's parameters. ::

    opt = crnn.optim.Adagrad(rnn.parameters(), lr=0.1, eps=1e-8)
    grads = rnn.backward_batch(dY)
    crnn.optim.clip_elementwise(grads, 5.0)
    opt.step(grads)

An optimizer keeps the dict of live parameter arrays it was given and updates
them in place; ``step(grads)`` takes gradients shaped like them (the dict a
backward returns). The update of every parameter runs in one C loop: when
the parameters are views of one array, as ``RNN.parameters()`` are, and the
gradients too, one call covers them all.

State (moments, step count) is saved with ``state_dict()`` and restored with
``load_state_dict()``: a dict of NumPy arrays and numbers, as a checkpoint
stores it.
"""
import math

import numpy as np

from . import _checks, _core

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop",
           "Adam", "AdamW", "clip_elementwise", "clip_global_norm"]


_layouts = {}  # ids of arrays -> (the arrays, their flat base or None)


def _flat_base(arrays):
    """The one 1-D array the given arrays are consecutive views of, in order
    and covering it, or None. Remembered for the same array objects (a
    model's gradient arrays come back every step), which are kept alive with
    the answer so that their ids stay theirs."""
    arrays = tuple(arrays)
    key = tuple(map(id, arrays))
    known = _layouts.get(key)
    if known is not None:
        return known[1]
    base = _find_flat_base(arrays)
    if len(_layouts) >= 64:
        _layouts.clear()
    _layouts[key] = (arrays, base)
    return base


def _find_flat_base(arrays):
    base = arrays[0].base if arrays else None
    if not isinstance(base, np.ndarray) or base.ndim != 1 or not base.flags.c_contiguous:
        return None
    start = base.__array_interface__["data"][0]
    offset = 0
    for a in arrays:
        if (a.base is not base or not a.flags.c_contiguous
                or a.__array_interface__["data"][0] != start + offset * base.itemsize):
            return None
        offset += a.size
    return base if offset == base.size else None


def _flat_gradients(grads, names):
    return [np.ascontiguousarray(grads[name]).reshape(-1) for name in names]


class Optimizer:
    """The shared machinery: parameters, their flat layout, state, steps."""

    #: names of the per-parameter state arrays, each shaped like the parameters
    state_names = ()
    #: names of the numeric settings, saved with the state
    setting_names = ("lr",)

    def __init__(self, params, lr):
        if not isinstance(params, dict) or not params:
            raise TypeError("params must be a non-empty dict of parameter arrays, "
                            "as RNN.parameters() returns")
        for name, p in params.items():
            if not isinstance(p, np.ndarray) or p.dtype not in _checks.SUPPORTED_DTYPES:
                raise TypeError(f"parameter {name!r} must be a float32 or float64 ndarray")
            if not p.flags.c_contiguous or not p.flags.writeable:
                raise ValueError(f"parameter {name!r} must be C-contiguous and writable, "
                                 "so it can be updated in place")
        dtypes = {p.dtype for p in params.values()}
        if len(dtypes) != 1:
            raise TypeError(f"parameters must share one dtype, got {sorted(map(str, dtypes))}")
        self.lr = _positive("lr", lr)
        self.params = dict(params)
        self.names = list(self.params)
        self.sizes = [p.size for p in self.params.values()]
        self.dtype = dtypes.pop()
        self._flat_params = _flat_base(self.params.values())
        total = sum(self.sizes)
        self.state = {name: np.zeros(total, dtype=self.dtype) for name in self.state_names}
        self.step_count = 0

    def _pieces(self, flat):
        """Views of a flat state array, one per parameter."""
        out, at = [], 0
        for size in self.sizes:
            out.append(flat[at:at + size])
            at += size
        return out

    def step(self, grads):
        """Update every parameter in place from ``grads`` (a dict with the
        same names and shapes)."""
        missing = [name for name in self.names if name not in grads]
        if missing:
            raise ValueError(f"grads has no entry for {missing}")
        for name in self.names:
            g = grads[name]
            if not isinstance(g, np.ndarray) or g.shape != self.params[name].shape:
                shape = getattr(g, "shape", None)
                raise ValueError(f"grads[{name!r}] must have shape {self.params[name].shape}, "
                                 f"got {shape}")
        self.step_count += 1
        flat_grads = _flat_base(grads[name] for name in self.names)
        if self._flat_params is not None and flat_grads is not None \
                and flat_grads.dtype == self.dtype:
            self._update(self._flat_params, flat_grads, dict(self.state))
            return
        pieces = {k: self._pieces(v) for k, v in self.state.items()}
        grad_list = _flat_gradients(grads, self.names)
        for i, name in enumerate(self.names):
            g = np.ascontiguousarray(grad_list[i], dtype=self.dtype)
            self._update(self.params[name].reshape(-1), g, {k: v[i] for k, v in pieces.items()})

    def _update(self, p, g, state):
        raise NotImplementedError

    def state_dict(self):
        """Settings, step count and state arrays: plain numbers and arrays."""
        record = {"type": type(self).__name__, "step_count": self.step_count}
        record.update({k: getattr(self, k) for k in self.setting_names})
        record.update({f"state/{k}": v.copy() for k, v in self.state.items()})
        return record

    def load_state_dict(self, record):
        """Restore what ``state_dict`` gave, checking it belongs to this
        optimizer and these parameters."""
        kind = str(record.get("type"))
        if kind != type(self).__name__:
            raise ValueError(f"optimizer state is for {kind}, not {type(self).__name__}")
        for name in self.state_names:
            key = f"state/{name}"
            if key not in record:
                raise ValueError(f"optimizer state has no {key!r}")
            value = np.asarray(record[key])
            if value.shape != self.state[name].shape:
                raise ValueError(f"optimizer state {key!r} has shape {value.shape}, "
                                 f"expected {self.state[name].shape}")
            self.state[name][...] = value
        for name in self.setting_names:
            if name in record:
                setattr(self, name, float(record[name]))
        self.step_count = int(record.get("step_count", 0))


def _positive(name, value):
    value = float(value)
    if not value > 0 or not math.isfinite(value):
        raise ValueError(f"{name} must be a positive number, got {value}")
    return value


def _in_unit(name, value, closed=False):
    value = float(value)
    if not (0 <= value < 1 or (closed and value == 1)):
        raise ValueError(f"{name} must be in [0, 1), got {value}")
    return value


class SGD(Optimizer):
    """p -= lr * g, with optional momentum (velocity v = momentum v + g) and
    Nesterov's look-ahead; weight_decay adds weight_decay * p to g."""
    setting_names = ("lr", "momentum", "weight_decay")

    def __init__(self, params, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
        self.momentum = _in_unit("momentum", momentum)
        self.nesterov = bool(nesterov)
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs a momentum above 0")
        self.weight_decay = float(weight_decay)
        self.state_names = ("velocity",) if self.momentum else ()
        super().__init__(params, lr)

    def _update(self, p, g, state):
        _core.sgd(p, state.get("velocity"), g, self.lr, self.momentum, self.nesterov,
                  self.weight_decay)


class Adagrad(Optimizer):
    """memory += g^2; p -= lr * g / sqrt(memory + eps): eps inside the square
    root, as in min-char-rnn (PyTorch adds it outside)."""
    state_names = ("memory",)
    setting_names = ("lr", "eps")

    def __init__(self, params, lr=0.01, eps=1e-8):
        self.eps = _positive("eps", eps)
        super().__init__(params, lr)

    def _update(self, p, g, state):
        _core.adagrad(p, state["memory"], g, self.lr, self.eps)


class RMSprop(Optimizer):
    """mean_square = rho mean_square + (1 - rho) g^2;
    p -= lr * g / (sqrt(mean_square) + eps)."""
    state_names = ("mean_square",)
    setting_names = ("lr", "rho", "eps")

    def __init__(self, params, lr=0.001, rho=0.9, eps=1e-8):
        self.rho = _in_unit("rho", rho)
        self.eps = _positive("eps", eps)
        super().__init__(params, lr)

    def _update(self, p, g, state):
        _core.rmsprop(p, state["mean_square"], g, self.lr, self.rho, self.eps)


class Adam(Optimizer):
    """Adam with bias-corrected moments; weight_decay is added to the gradient
    (L2). AdamW decouples it."""
    state_names = ("m", "v")
    setting_names = ("lr", "beta1", "beta2", "eps", "weight_decay")
    decoupled = False

    def __init__(self, params, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        self.beta1 = _in_unit("betas[0]", betas[0])
        self.beta2 = _in_unit("betas[1]", betas[1])
        self.eps = _positive("eps", eps)
        self.weight_decay = float(weight_decay)
        super().__init__(params, lr)

    def _update(self, p, g, state):
        _core.adam(p, state["m"], state["v"], g, self.lr, self.beta1, self.beta2, self.eps,
                   self.weight_decay, self.decoupled, self.step_count)


class AdamW(Adam):
    """Adam with decoupled weight decay: p -= lr * weight_decay * p apart from
    the gradient step (default weight_decay 0.01)."""
    decoupled = True

    def __init__(self, params, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(params, lr, betas, eps, weight_decay)


OPTIMIZERS = {cls.__name__: cls for cls in (SGD, Adagrad, RMSprop, Adam, AdamW)}


def clip_elementwise(grads, limit):
    """Clip every gradient value to [-limit, limit], in place (the arrays of
    ``grads`` must be float32/float64 and C-contiguous, as backward gives them)."""
    limit = _positive("clip", limit)
    flat = _flat_base(grads.values())
    for g in ([flat] if flat is not None else [g.reshape(-1) for g in grads.values()]):
        _core.clip(g, limit)


def clip_global_norm(grads, max_norm):
    """Scale all gradients together so that their joint L2 norm is at most
    ``max_norm``, in place; returns the norm before clipping."""
    max_norm = _positive("max_norm", max_norm)
    flat = _flat_base(grads.values())
    arrays = [flat] if flat is not None else [g.reshape(-1) for g in grads.values()]
    norm = math.sqrt(sum(_core.sum_squares(g) for g in arrays))
    if norm > max_norm:
        for g in arrays:
            g *= max_norm / norm
    return norm
