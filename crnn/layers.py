"""One description of a model's layers, which everything else reads.

A ``Layout`` lists a model's parameters in the order they lie in its one flat
allocation (llm.c's layout): for each layer k and direction d, ``Wxh{s}``
(H, IN), ``Whh{s}`` (H, H) and ``bh{s}`` (H, 1), with the suffix s = "" for
layer 0 forward (the seed notebook's names), "_l{k}" above it, "_reverse" /
"_l{k}_reverse" for the backward direction; then the output layer ``Why``
(O, D*H) and ``by`` (O, 1). IN is the input size for layer 0 and D*H above
it. Each parameter carries its role, its place, its PyTorch names and how it
is initialised; the RNN class, checkpoints, optimizers (through the flat
allocation), PyTorch interop, ONNX export and the benchmark all read it.

Gated cells stack their gates' rows as PyTorch does: an LSTM's Wxh, Whh and
bh have 4H rows (gates i, f, g, o; bh is the sum of PyTorch's two biases), a
GRU's 3H (gates r, z, n); a GRU's n gate reads its recurrent bias inside
r * (W_hn h + b_hn), so it keeps it apart: ``bhn{s}`` (H, 1), and bh's n rows
hold b_in alone.
"""
import math
from typing import NamedTuple, Optional, Tuple

import numpy as np

__all__ = ["Layout", "Parameter", "suffix", "parameter_count", "split_biases"]

# the C core's CRNN_TANH, CRNN_RELU
NONLINEARITIES = {"tanh": 0, "relu": 1}
INITS = ("normal", "pytorch", "orthogonal", "identity")
GATED_INITS = ("pytorch", "orthogonal", "normal")  # an identity Whh is for the Elman cell
GATES = {"rnn": 1, "lstm": 4, "gru": 3}  # rows of H in each recurrent weight


class Parameter(NamedTuple):
    name: str                 # crnn's name: "Wxh", "Whh_l1_reverse", "Why"
    role: str                 # "Wxh", "Whh", "bh", "bhn" (a GRU's), "Why" or "by"
    shape: Tuple[int, ...]
    layer: Optional[int]      # None for the output layer
    direction: int            # 0 forward, 1 reverse
    torch_names: Tuple[str, ...]  # bh stands for PyTorch's two hidden biases


def suffix(layer, direction):
    """The name suffix of layer ``layer``, direction ``direction``."""
    return ("" if layer == 0 else f"_l{layer}") + ("_reverse" if direction else "")


def parameter_count(input_size, hidden_size, output_size, num_layers=1, bidirectional=False,
                    bias=True, cell="rnn"):
    """How many numbers a Layout of these sizes holds, without building it:
    what the memory a model needs is checked against before anything is made."""
    H, D, G = hidden_size, 2 if bidirectional else 1, GATES[cell]
    per_direction_bias = (G * H + (H if cell == "gru" else 0)) if bias else 0
    first = G * H * input_size + G * H * H + per_direction_bias
    above = G * H * D * H + G * H * H + per_direction_bias
    count = D * (first + (num_layers - 1) * above)
    if output_size is not None:
        count += output_size * D * H + output_size
    return count


def split_biases(cell, input_bias, recurrent_bias):
    """crnn's (bh, bhn) of one layer and direction from the input and the
    recurrent bias of each gate, (G*H,) in crnn's gate order, as PyTorch,
    ONNX and Keras keep them: bh is their sum, but for a GRU's n gate, whose
    recurrent bias sits inside r * (...) and stays apart as bhn (None for
    the other cells). Summed in float64."""
    ih, hh = (np.asarray(b, dtype=np.float64).reshape(-1) for b in (input_bias, recurrent_bias))
    if cell != "gru":
        return ih + hh, None
    H = len(ih) // 3
    return ih + np.concatenate([hh[:2 * H], np.zeros(H)]), hh[2 * H:]


def _torch_suffix(layer, direction):
    return f"_l{layer}" + ("_reverse" if direction else "")


class Layout:
    """The parameters of an Elman RNN of ``num_layers`` layers, one or two
    directions, with or without hidden biases, and an output layer of
    ``output_size`` (None: none)."""

    def __init__(self, input_size, hidden_size, output_size, num_layers=1,
                 bidirectional=False, bias=True, cell="rnn"):
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        self.num_layers, self.bias, self.cell = num_layers, bias, cell
        self.directions = 2 if bidirectional else 1
        H, D, G = hidden_size, self.directions, GATES[cell]
        params = []
        for k in range(num_layers):
            IN = input_size if k == 0 else D * H
            for d in range(D):
                s, ts = suffix(k, d), _torch_suffix(k, d)
                params.append(Parameter("Wxh" + s, "Wxh", (G * H, IN), k, d, (f"rnn.weight_ih{ts}",)))
                params.append(Parameter("Whh" + s, "Whh", (G * H, H), k, d, (f"rnn.weight_hh{ts}",)))
                if bias:
                    params.append(Parameter("bh" + s, "bh", (G * H, 1), k, d,
                                            (f"rnn.bias_ih{ts}", f"rnn.bias_hh{ts}")))
                if bias and cell == "gru":  # the n gate's recurrent bias, inside r * (...):
                    # the last H entries of bias_hh
                    params.append(Parameter("bhn" + s, "bhn", (H, 1), k, d, (f"rnn.bias_hh{ts}",)))
        if output_size is not None:
            params.append(Parameter("Why", "Why", (output_size, D * H), None, 0, ("linear.weight",)))
            params.append(Parameter("by", "by", (output_size, 1), None, 0, ("linear.bias",)))
        self.parameters = params
        self.by_name = {p.name: p for p in params}
        self.offsets, offset = {}, 0
        for p in params:
            self.offsets[p.name] = offset
            offset += math.prod(p.shape)
        self.size = offset

    @property
    def top_size(self):
        """Features of the top layer's output: D*H."""
        return self.directions * self.hidden_size

    @property
    def gates(self):
        """Rows of H in each recurrent weight: 1, 4 (LSTM) or 3 (GRU)."""
        return GATES[self.cell]

    def recurrent(self):
        """(layer, direction, Wxh, Whh, bh, bhn) names, layer by layer; bh is
        None without biases, bhn None but for a GRU's biases."""
        return [(k, d, "Wxh" + suffix(k, d), "Whh" + suffix(k, d),
                 ("bh" + suffix(k, d)) if self.bias else None,
                 ("bhn" + suffix(k, d)) if self.bias and self.cell == "gru" else None)
                for k in range(self.num_layers) for d in range(self.directions)]

    def split(self, flat):
        """Views into the one allocation ``flat``, one per parameter, by name."""
        return {p.name: flat[self.offsets[p.name]:self.offsets[p.name] + math.prod(p.shape)]
                .reshape(p.shape) for p in self.parameters}

    def initialise(self, params, init, rng):
        """Fill the parameter views ``params`` (by name) from ``rng``:

        * "normal": weights N(0, 0.01^2) (the seed notebook's), biases 0;
        * "pytorch": every weight and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
          as nn.RNN and nn.Linear (fan_in H for the recurrent layers, D*H for
          the output layer); bh is the sum of PyTorch's two hidden biases, so
          it is drawn as the sum of two such draws;
        * "orthogonal": Whh a random orthogonal matrix (each gate's block of a
          gated cell), the other weights as "pytorch", biases 0;
        * "identity" (IRNN, Le et al. 2015): Whh = I, the other weights
          N(0, 0.001^2), biases 0.

        Draws are made in float64 in the order of the parameters, then rounded
        to the model's dtype.
        """
        for p in self.parameters:
            fan_in = self.top_size if p.layer is None else self.hidden_size
            bound = 1 / math.sqrt(fan_in)
            value = None
            if init == "pytorch":
                value = rng.uniform(-bound, bound, p.shape)
                if p.role == "bh" and self.cell != "gru":
                    value = value + rng.uniform(-bound, bound, p.shape)
                elif p.role == "bh":  # a GRU's n rows hold b_in alone
                    value[:2 * self.hidden_size] += rng.uniform(-bound, bound, (2 * self.hidden_size, 1))
            elif p.role in ("bh", "bhn", "by"):
                value = np.zeros(p.shape)
            elif init == "normal":
                value = rng.standard_normal(p.shape) * 0.01
            elif init == "identity":
                value = np.eye(p.shape[0]) if p.role == "Whh" else \
                    rng.standard_normal(p.shape) * 0.001
            elif init == "orthogonal":  # each gate's block of Whh orthogonal
                value = np.vstack([_orthogonal(rng, self.hidden_size)
                                   for _ in range(GATES[self.cell])]) if p.role == "Whh" else \
                    rng.uniform(-bound, bound, p.shape)
            params[p.name][...] = value


def _orthogonal(rng, n):
    """A random orthogonal (n, n) matrix, uniform over the orthogonal group
    (QR of a Gaussian matrix, signs fixed by R's diagonal)."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))
