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
import numbers
import weakref

import numpy as np

from . import _checks, _core

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop",
           "Adam", "AdamW", "clip_elementwise", "clip_global_norm"]


class _FlatBases:
    """The one 1-D array that some arrays are consecutive views of, in order
    and covering it, or None; remembered per tuple of array objects (a
    model's gradient arrays come back every step, and finding the base costs
    about 1 us an array). Remembered weakly: a model the user drops is freed,
    and its entry with it."""

    def __init__(self, size=64):
        self.size = size
        self.known = {}  # ids of the arrays -> (weak references to them, to their base)

    def __call__(self, arrays):
        arrays = tuple(arrays)
        key = tuple(map(id, arrays))
        known = self.known.get(key)
        if known is not None:
            for ref, a in zip(known[0], arrays):
                if ref() is not a:
                    break
            else:  # the same arrays, alive
                return known[1]() if known[1] is not None else None
        if not all(isinstance(a, np.ndarray) for a in arrays):
            return None
        base = _find_flat_base(arrays)
        if len(self.known) >= self.size:
            self.known.clear()
        forget = (lambda _, key=key: self.known.pop(key, None))
        self.known[key] = (tuple(weakref.ref(a, forget) for a in arrays),
                           None if base is None else weakref.ref(base))
        return base


_flat_base = _FlatBases()


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


# ---- the settings' checks, shared by the constructors and load_state_dict ----

def _real(name, value):
    """A real number (NumPy's too; bools refused), as a float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    return float(value)


def _positive(name, value):
    if type(value) is float and 0 < value < math.inf:  # the common case, every step
        return value
    value = _real(name, value)
    if not value > 0 or not math.isfinite(value):
        raise ValueError(f"{name} must be a positive finite number, got {value}")
    return value


def _non_negative(name, value):
    value = _real(name, value)
    if not value >= 0 or not math.isfinite(value):
        raise ValueError(f"{name} must be a non-negative finite number, got {value}")
    return value


def _in_unit(name, value):
    value = _real(name, value)
    if not 0 <= value < 1:
        raise ValueError(f"{name} must be in [0, 1), got {value}")
    return value


def _flag(name, value):
    return _checks.check_flag(name, value)


def _pair(name, value):
    """Two numbers in [0, 1), as Adam's betas."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise TypeError(f"{name} must be a pair of numbers in [0, 1), such as (0.9, 0.999), "
                        f"got {value!r}")
    return (_in_unit(f"{name}[0]", value[0]), _in_unit(f"{name}[1]", value[1]))


class Optimizer:
    """The shared machinery: parameters, their flat layout, state, steps."""

    #: names of the per-parameter state arrays, each shaped like the parameters
    state_names = ()
    # the numeric settings saved with the state, and the check of each
    settings = {"lr": _positive}

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

    @property
    def setting_names(self):
        """The names of the numeric settings, saved with the state."""
        return tuple(self.settings)

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
        if not hasattr(grads, "keys"):
            raise TypeError(f"grads must be a dict of gradient arrays by parameter name, "
                            f"got {type(grads).__name__}")
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

    @classmethod
    def check_state(cls, record, size, dtype, settings_from=None):
        """The settings and state arrays of ``record`` (what ``state_dict``
        gave) checked, as this optimizer's ``load_state_dict`` takes them, for
        ``size`` parameters of ``dtype``: (settings, step count, state
        arrays). ValueError or TypeError names the first entry that is wrong.
        Settings absent from the record are taken from ``settings_from`` (an
        optimizer), else refused."""
        if not isinstance(record, dict):
            raise TypeError(f"optimizer state must be a dict, as state_dict() gives it, "
                            f"got {type(record).__name__}")
        kind = record.get("type")
        if not isinstance(kind, str) or kind != cls.__name__:
            raise ValueError(f"optimizer state is for {kind!r}, not {cls.__name__}")
        known = {"type", "step_count", *cls.settings} | {f"state/{n}" for n in cls._all_states()}
        unknown = sorted(set(record) - known)
        if unknown:
            raise ValueError(f"optimizer state has entries {cls.__name__} does not: {unknown}")
        settings = {}
        for name, check in cls.settings.items():
            if name in record:
                settings[name] = check(f"optimizer state's {name}", _scalar(record[name]))
            elif settings_from is not None:
                settings[name] = getattr(settings_from, name)
            else:
                raise ValueError(f"optimizer state has no {name!r}")
        step_count = _checks.check_count("optimizer state's step_count",
                                         _scalar(record.get("step_count", 0)))
        states = {}
        for name in cls._state_names(settings):
            key = f"state/{name}"
            if key not in record:
                raise ValueError(f"optimizer state has no {key!r}")
            value = record[key]
            if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
                raise TypeError(f"optimizer state {key!r} must be an array of floats, "
                                f"got {type(value).__name__} {getattr(value, 'dtype', '')}")
            if value.shape != (size,):
                raise ValueError(f"optimizer state {key!r} has shape {value.shape}, expected "
                                 f"{(size,)}: one number per parameter")
            states[name] = value
        extra = sorted(set(record) - {"type", "step_count", *cls.settings}
                       - {f"state/{n}" for n in cls._state_names(settings)})
        if extra:
            raise ValueError(f"optimizer state has {extra}, which {cls.__name__} with these "
                             "settings does not keep")
        return settings, step_count, states

    @classmethod
    def _all_states(cls):
        return cls.state_names

    @classmethod
    def _state_names(cls, settings):
        """The state arrays kept with these settings."""
        return cls.state_names

    def load_state_dict(self, record):
        """Restore what ``state_dict`` gave, checking it belongs to this
        optimizer and these parameters: all of it is checked before
        anything changes."""
        settings, step_count, states = self.check_state(record, sum(self.sizes), self.dtype,
                                                        settings_from=self)
        self.state = {name: np.array(value, dtype=self.dtype) for name, value in states.items()}
        self.state_names = tuple(states)  # (an SGD's velocity comes with its momentum)
        for name, value in settings.items():
            setattr(self, name, value)
        self.step_count = step_count


def _scalar(value):
    """A 0-d array's number, anything else as it is."""
    return value[()] if isinstance(value, np.ndarray) and value.ndim == 0 else value


class SGD(Optimizer):
    """p -= lr * g, with optional momentum (velocity v = momentum v + g) and
    Nesterov's look-ahead; weight_decay adds weight_decay * p to g."""
    settings = {"lr": _positive, "momentum": _in_unit, "nesterov": _flag,
                "weight_decay": _non_negative}

    def __init__(self, params, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
        self.momentum = _in_unit("momentum", momentum)
        self.nesterov = _flag("nesterov", nesterov)
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs a momentum above 0")
        self.weight_decay = _non_negative("weight_decay", weight_decay)
        self.state_names = self._state_names({"momentum": self.momentum})
        super().__init__(params, lr)

    @classmethod
    def _all_states(cls):
        return ("velocity",)

    @classmethod
    def _state_names(cls, settings):
        return ("velocity",) if settings["momentum"] else ()

    def _update(self, p, g, state):
        _core.sgd(p, state.get("velocity"), g, self.lr, self.momentum, self.nesterov,
                  self.weight_decay)


class Adagrad(Optimizer):
    """memory += g^2; p -= lr * g / sqrt(memory + eps): eps inside the square
    root, as in min-char-rnn (PyTorch adds it outside)."""
    state_names = ("memory",)
    settings = {"lr": _positive, "eps": _positive}

    def __init__(self, params, lr=0.01, eps=1e-8):
        self.eps = _positive("eps", eps)
        super().__init__(params, lr)

    def _update(self, p, g, state):
        _core.adagrad(p, state["memory"], g, self.lr, self.eps)


class RMSprop(Optimizer):
    """mean_square = rho mean_square + (1 - rho) g^2;
    p -= lr * g / (sqrt(mean_square) + eps)."""
    state_names = ("mean_square",)
    settings = {"lr": _positive, "rho": _in_unit, "eps": _positive}

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
    settings = {"lr": _positive, "beta1": _in_unit, "beta2": _in_unit, "eps": _positive,
                "weight_decay": _non_negative}
    decoupled = False

    def __init__(self, params, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        self.beta1, self.beta2 = _pair("betas", betas)
        self.eps = _positive("eps", eps)
        self.weight_decay = _non_negative("weight_decay", weight_decay)
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


def _gradient_arrays(grads, what):
    """The arrays of ``grads`` (a dict of gradient arrays, as a backward gives
    them), checked to be float32/float64 arrays clipping can change in place:
    their one flat base when they are consecutive views of one."""
    if not hasattr(grads, "values"):
        raise TypeError(f"{what} takes a dict of gradient arrays by name, got "
                        f"{type(grads).__name__}")
    arrays = list(grads.values())
    flat = _flat_base(arrays)  # a model's gradients: one array to check and clip
    if flat is not None and flat.dtype in _checks.SUPPORTED_DTYPES and flat.flags.writeable:
        return [flat]
    for name, g in grads.items():
        if not isinstance(g, np.ndarray) or g.dtype not in _checks.SUPPORTED_DTYPES:
            kind = f"a {g.dtype} array" if isinstance(g, np.ndarray) else type(g).__name__
            raise TypeError(f"{what}: grads[{name!r}] must be a float32 or float64 array, "
                            f"got {kind}")
        if not g.flags.writeable:
            raise ValueError(f"{what}: grads[{name!r}] is read-only; it is changed in place")
    return arrays


def clip_elementwise(grads, limit):
    """Clip every gradient value to [-limit, limit], in place (the arrays of
    ``grads``: float32 or float64, of any layout)."""
    limit = _positive("clip", limit)
    for g in _gradient_arrays(grads, "clip_elementwise"):
        if g.flags.c_contiguous:
            _core.clip(g.reshape(-1), limit)
        else:  # a view with gaps: NumPy writes through it
            np.clip(g, -limit, limit, out=g)


def clip_global_norm(grads, max_norm):
    """Scale all gradients together so that their joint L2 norm is at most
    ``max_norm``, in place; returns the norm before clipping."""
    max_norm = _positive("max_norm", max_norm)
    arrays = _gradient_arrays(grads, "clip_global_norm")
    norm = math.sqrt(sum(_core.sum_squares(g.reshape(-1)) if g.flags.c_contiguous
                         else float(np.sum(np.square(g, dtype=np.float64)))
                         for g in arrays))
    if norm > max_norm:
        for g in arrays:
            g *= max_norm / norm
    return norm
