"""PyTorch weights in and out. torch is imported only by ``from_torch`` and
``to_torch``; ``state_dict``/``load_state_dict`` work on plain NumPy arrays.

crnn's model is PyTorch's ``nn.RNN(I, H, nonlinearity="tanh")`` (one layer,
one direction) followed by ``nn.Linear(H, O)`` on every step. PyTorch has two
hidden biases, ``bias_ih_l0`` and ``bias_hh_l0``; crnn has their sum,
``bh``: the forward pass is the same, exactly. Going to PyTorch, crnn puts
``bh`` in ``bias_ih_l0`` and zeros in ``bias_hh_l0``.

State-dict names are those of a PyTorch module holding the two layers as
``self.rnn`` and ``self.linear``.
"""
import numpy as np

NAMES = {  # state-dict name -> crnn parameter
    "rnn.weight_ih_l0": "Wxh",
    "rnn.weight_hh_l0": "Whh",
    "rnn.bias_ih_l0": "bh",
    "rnn.bias_hh_l0": "bh",
    "linear.weight": "Why",
    "linear.bias": "by",
}


def _as_numpy(value):
    """A NumPy array from an array or a CPU tensor (detached), without torch."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def state_dict(rnn):
    """The parameters under PyTorch's names, as new NumPy arrays."""
    p = rnn.parameters()
    return {
        "rnn.weight_ih_l0": p["Wxh"].copy(),
        "rnn.weight_hh_l0": p["Whh"].copy(),
        "rnn.bias_ih_l0": p["bh"][:, 0].copy(),
        "rnn.bias_hh_l0": np.zeros(rnn.hidden_size, dtype=rnn.dtype),
        "linear.weight": p["Why"].copy(),
        "linear.bias": p["by"][:, 0].copy(),
    }


def load_state_dict(rnn, state):
    """Set ``rnn``'s parameters from a state dict with PyTorch's names (NumPy
    arrays or tensors); both hidden biases are summed into bh."""
    missing = sorted(set(NAMES) - set(state))
    if missing:
        raise ValueError(f"state dict has no {missing}")
    extra = sorted(set(state) - set(NAMES))
    if extra:
        raise ValueError(f"state dict has entries crnn does not know: {extra}")
    values = {name: _as_numpy(state[name]) for name in NAMES}
    expected = {"rnn.weight_ih_l0": (rnn.hidden_size, rnn.input_size),
                "rnn.weight_hh_l0": (rnn.hidden_size, rnn.hidden_size),
                "rnn.bias_ih_l0": (rnn.hidden_size,), "rnn.bias_hh_l0": (rnn.hidden_size,),
                "linear.weight": (rnn.output_size, rnn.hidden_size),
                "linear.bias": (rnn.output_size,)}
    for name, shape in expected.items():
        if values[name].shape != shape:
            raise ValueError(f"{name} must have shape {shape}, got {values[name].shape}")
    rnn.Wxh = values["rnn.weight_ih_l0"]
    rnn.Whh = values["rnn.weight_hh_l0"]
    rnn.bh = (values["rnn.bias_ih_l0"].astype(np.float64)
              + values["rnn.bias_hh_l0"].astype(np.float64))
    rnn.Why = values["linear.weight"]
    rnn.by = values["linear.bias"]


def from_torch(cls, rnn_module, linear):
    """An RNN with the weights of ``nn.RNN`` and ``nn.Linear``."""
    import torch
    if not isinstance(rnn_module, torch.nn.RNN) or not isinstance(linear, torch.nn.Linear):
        raise TypeError("from_torch takes a torch.nn.RNN and a torch.nn.Linear, got "
                        f"{type(rnn_module).__name__} and {type(linear).__name__}")
    if (rnn_module.num_layers != 1 or rnn_module.bidirectional
            or rnn_module.nonlinearity != "tanh" or getattr(rnn_module, "proj_size", 0)):
        raise ValueError("crnn is one layer, one direction, tanh: the nn.RNN has "
                         f"num_layers={rnn_module.num_layers}, bidirectional="
                         f"{rnn_module.bidirectional}, nonlinearity={rnn_module.nonlinearity!r}")
    if linear.in_features != rnn_module.hidden_size:
        raise ValueError(f"the Linear takes {linear.in_features} features, the RNN gives "
                         f"{rnn_module.hidden_size}")
    dtype = rnn_module.weight_hh_l0.dtype
    if dtype not in (torch.float32, torch.float64) or linear.weight.dtype != dtype:
        raise TypeError(f"weights must be float32 or float64 in both modules, got {dtype} "
                        f"and {linear.weight.dtype}")
    rnn = cls(rnn_module.input_size, linear.out_features, rnn_module.hidden_size,
              dtype=np.float32 if dtype == torch.float32 else np.float64, seed=0)
    zeros_h = np.zeros(rnn_module.hidden_size)
    state = {"rnn.weight_ih_l0": rnn_module.weight_ih_l0, "rnn.weight_hh_l0": rnn_module.weight_hh_l0,
             "rnn.bias_ih_l0": rnn_module.bias_ih_l0 if rnn_module.bias else zeros_h,
             "rnn.bias_hh_l0": rnn_module.bias_hh_l0 if rnn_module.bias else zeros_h,
             "linear.weight": linear.weight,
             "linear.bias": linear.bias if linear.bias is not None else np.zeros(linear.out_features)}
    load_state_dict(rnn, state)
    return rnn


def to_torch(rnn):
    """``nn.RNN`` and ``nn.Linear`` computing what ``rnn`` computes (inputs
    (T, B, I), batch_first=False)."""
    import torch
    dtype = torch.float32 if rnn.dtype == np.float32 else torch.float64
    module = torch.nn.RNN(rnn.input_size, rnn.hidden_size, nonlinearity="tanh").to(dtype)
    linear = torch.nn.Linear(rnn.hidden_size, rnn.output_size).to(dtype)
    state = state_dict(rnn)
    with torch.no_grad():
        for name, target in (("rnn.weight_ih_l0", module.weight_ih_l0),
                             ("rnn.weight_hh_l0", module.weight_hh_l0),
                             ("rnn.bias_ih_l0", module.bias_ih_l0),
                             ("rnn.bias_hh_l0", module.bias_hh_l0),
                             ("linear.weight", linear.weight), ("linear.bias", linear.bias)):
            target.copy_(torch.from_numpy(state[name]))
    return module, linear
