"""PyTorch weights in and out. torch is imported only by ``from_torch`` and
``to_torch``; ``state_dict``/``load_state_dict`` work on plain NumPy arrays.

crnn's model is PyTorch's ``nn.RNN(I, H, num_layers, nonlinearity, bias,
batch_first, bidirectional)``, ``nn.LSTM(...)`` or ``nn.GRU(...)`` followed,
when it has an output layer, by ``nn.Linear(D*H, O)`` on every step. PyTorch
has two hidden biases per layer and direction, ``bias_ih_l{k}`` and
``bias_hh_l{k}``; crnn has their sum, ``bh{s}``: the forward pass is the
same, exactly. Going to PyTorch, crnn puts ``bh`` in ``bias_ih`` and zeros in
``bias_hh``. A GRU's n gate reads b_hn inside r * (...): crnn keeps it apart
(``bhn{s}``), the last H entries of ``bias_hh``, and bh's n rows hold b_in.

Names come from the model's layout (``crnn.layers``): those of a PyTorch
module holding the two layers as ``self.rnn`` and ``self.linear``
("rnn.weight_ih_l0", "rnn.weight_hh_l1_reverse", "linear.bias", ...).
"""
import numpy as np

from . import _checks
from .layers import split_biases

__all__ = ["state_dict", "load_state_dict", "from_torch", "to_torch"]


def _as_numpy(value):
    """A NumPy array from an array or a CPU tensor (detached), without torch."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _torch_shape(parameter):
    """PyTorch stores biases as vectors."""
    return parameter.shape[:1] if parameter.role in ("bh", "bhn", "by") else parameter.shape


def state_dict(rnn):
    """The parameters under PyTorch's names, as new NumPy arrays."""
    state = {}
    for p in rnn.layout.parameters:
        value = rnn.parameters()[p.name].reshape(_torch_shape(p)).copy()
        if p.role == "bhn":  # a GRU's b_hn: the n rows of bias_hh
            state[p.torch_names[0]][-len(value):] = value
            continue
        state[p.torch_names[0]] = value
        for name in p.torch_names[1:]:  # bias_hh: bh went whole into bias_ih
            state[name] = np.zeros_like(value)
    return state


def _prefixes(rnn, state, rnn_prefix, linear_prefix):
    """The prefixes of the recurrent module's and the Linear's names in
    ``state``: as given, else "rnn." and "linear." when its names have them,
    else none (the bare names of an nn.RNN's own state dict and a Linear's)."""
    if rnn_prefix is None:
        rnn_prefix = "rnn." if any(str(k).startswith("rnn.") for k in state) else ""
    if linear_prefix is None:  # with none, the names still differ: weight_ih_l0 / weight
        linear_prefix = "linear." if rnn_prefix == "rnn." else ""
    return rnn_prefix, linear_prefix


def _renamed(name, rnn_prefix, linear_prefix):
    """A layout's PyTorch name ("rnn.weight_ih_l0", "linear.bias") under the prefixes."""
    owner, attribute = name.split(".", 1)
    return (rnn_prefix if owner == "rnn" else linear_prefix) + attribute


def load_state_dict(rnn, state, rnn_prefix=None, linear_prefix=None):
    """Set ``rnn``'s parameters from a state dict with PyTorch's names (NumPy
    arrays or tensors); the two hidden biases are summed into each bh. The
    names carry ``rnn_prefix`` and ``linear_prefix`` ("encoder.", "head.",
    ...); by default "rnn." and "linear." when the names start so, else none:
    an nn.RNN's own state dict merged with its Linear's (weight, bias)."""
    if not hasattr(state, "keys") or not hasattr(state, "__getitem__"):
        raise TypeError(f"state must be a dict of arrays or tensors by PyTorch's names, as "
                        f"state_dict() gives it, got {type(state).__name__}")
    for name, prefix in (("rnn_prefix", rnn_prefix), ("linear_prefix", linear_prefix)):
        if prefix is not None and not isinstance(prefix, str):
            raise TypeError(f"{name} must be a string or None, got {prefix!r}")
    rnn_prefix, linear_prefix = _prefixes(rnn, state, rnn_prefix, linear_prefix)
    expected = {_renamed(name, rnn_prefix, linear_prefix): (name, p)
                for p in rnn.layout.parameters for name in p.torch_names if p.role != "bhn"}
    missing = sorted(set(expected) - set(state))
    if missing:
        raise ValueError(f"state dict has no {missing}" + (
            f" (names read with the prefixes {rnn_prefix!r} and {linear_prefix!r}: give "
            "rnn_prefix= and linear_prefix= for others)"))
    extra = sorted(set(state) - set(expected))
    if extra:
        raise ValueError(f"state dict has entries crnn does not know: {extra}")
    values = {}
    for key, (name, p) in expected.items():  # every entry checked, then any written
        values[name] = _checks.as_numeric_array(key, _as_numpy(state[key]))
        if values[name].shape != _torch_shape(p):
            raise ValueError(f"{key} must have shape {_torch_shape(p)}, got {values[name].shape}")
    for p in rnn.layout.parameters:  # after every check: all or nothing changes
        if p.role == "bhn":
            continue  # with its bh
        if p.role == "bh":  # the sum of bias_ih and bias_hh, a GRU's b_hn apart
            bh, bhn = split_biases(rnn.cell, *(values[name] for name in p.torch_names))
            rnn._assign(p.name, bh)
            if bhn is not None:
                rnn._assign("bhn" + p.name[2:], bhn)
        else:
            rnn._assign(p.name, values[p.torch_names[0]])


def _torch(what):
    from ._optional import require
    return require("torch", what)


def _module_class(cell):
    torch = _torch("converting to or from PyTorch")
    return {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]


def from_torch(cls, rnn_module, linear=None):
    """A crnn model of class ``cls`` (RNN, LSTM or GRU) with the weights of
    the matching torch module and, if given, ``nn.Linear``."""
    torch = _torch(f"{cls.__name__}.from_torch")
    module_class = _module_class(cls.cell)
    if type(rnn_module) is not module_class or not (linear is None
                                                    or isinstance(linear, torch.nn.Linear)):
        raise TypeError(f"{cls.__name__}.from_torch takes a torch.nn.{module_class.__name__} "
                        f"and a torch.nn.Linear or None, got {type(rnn_module).__name__} and "
                        f"{type(linear).__name__}")
    if getattr(rnn_module, "proj_size", 0):
        raise ValueError(f"crnn has no projection of the hidden state: proj_size must be 0, "
                         f"got {rnn_module.proj_size}")
    D = 2 if rnn_module.bidirectional else 1
    if linear is not None and linear.in_features != D * rnn_module.hidden_size:
        raise ValueError(f"the Linear takes {linear.in_features} features, the RNN gives "
                         f"{D * rnn_module.hidden_size}")
    dtype = rnn_module.weight_hh_l0.dtype
    if dtype not in (torch.float32, torch.float64) or (linear is not None
                                                       and linear.weight.dtype != dtype):
        raise TypeError(f"weights must be float32 or float64 in both modules, got {dtype}"
                        + (f" and {linear.weight.dtype}" if linear is not None else ""))
    options = {"nonlinearity": rnn_module.nonlinearity} if cls.cell == "rnn" else {}
    rnn = cls(rnn_module.input_size, None if linear is None else linear.out_features,
              rnn_module.hidden_size, num_layers=rnn_module.num_layers,
              bidirectional=rnn_module.bidirectional, bias=rnn_module.bias,
              dropout=float(rnn_module.dropout), batch_first=rnn_module.batch_first,
              dtype=np.float32 if dtype == torch.float32 else np.float64, seed=0, **options)
    state = {f"rnn.{k}": v for k, v in rnn_module.state_dict().items()}
    if linear is not None:
        state["linear.weight"] = linear.weight
        state["linear.bias"] = (linear.bias if linear.bias is not None
                                else np.zeros(linear.out_features))
    load_state_dict(rnn, state)
    return rnn


def to_torch(rnn):
    """``nn.RNN``, ``nn.LSTM`` or ``nn.GRU``, and ``nn.Linear`` (None without
    an output layer), computing what ``rnn`` computes."""
    torch = _torch("to_torch")
    dtype = torch.float32 if rnn.dtype == np.float32 else torch.float64
    options = {"nonlinearity": rnn.nonlinearity} if rnn.cell == "rnn" else {}
    module = _module_class(rnn.cell)(rnn.input_size, rnn.hidden_size,
                                     num_layers=rnn.num_layers, bias=rnn.bias,
                                     batch_first=rnn.batch_first, dropout=rnn.dropout,
                                     bidirectional=rnn.bidirectional, **options).to(dtype)
    linear = None
    if rnn.output_size is not None:
        linear = torch.nn.Linear(rnn.layout.top_size, rnn.output_size).to(dtype)
    state = state_dict(rnn)
    with torch.no_grad():
        for name, value in state.items():
            owner, attribute = name.split(".", 1)
            target = getattr(module if owner == "rnn" else linear, attribute)
            target.copy_(torch.from_numpy(value))
    return module, linear
