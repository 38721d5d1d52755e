"""A crnn model from imported recurrent layers of any sizes and directions,
for crnn.from_keras and crnn.from_onnx.

crnn's layers share one hidden size H and one direction count D. A stack
whose layers differ (a Keras LSTM(128) under an LSTM(64), a Bidirectional
under a forward LSTM, an ONNX reverse-only layer) is the same function as a
crnn model of H = the largest size and D = 2 if any layer runs backwards,
its weights placed in a model of zeros: a unit or direction a layer does not
have gets zero weights and biases, so its state stays exactly zero at every
step (tanh(0) = relu(0) = 0; an LSTM's c = 0.5 c + 0.5 tanh(0) and h =
0.5 tanh(c); a GRU's h = 0.5 tanh(0) + 0.5 h, all from zero states), and the
layers above read it through zero columns. Its gradients are zero too (every
path to the loss goes through those zero weights or zero states), so
training keeps the padding at zero: the model stays the imported one.
"""
from typing import NamedTuple, Optional, Tuple

import numpy as np

from .layers import GATES

__all__ = ["ImportedLayer", "assemble"]


class ImportedLayer(NamedTuple):
    cell: str                       # "rnn", "lstm" or "gru"
    H: int                          # its hidden size
    directions: Tuple[int, ...]     # (0,) forward, (1,) reverse, (0, 1) both
    weights: tuple                  # per direction: (Wxh (G*H, IN), Whh (G*H, H),
    #                                 bh (G*H,) or None, bhn (H,) or None), crnn's gate order
    nonlinearity: Optional[str] = None  # the Elman cell's


def _features(layer, H):
    """Where layer ``layer``'s output features lie in crnn's (D*H) output:
    feature j of its (directions * layer.H) goes to column [j]."""
    return np.concatenate([d * H + np.arange(layer.H) for d in layer.directions])


def _rows(layer, H):
    """Where a layer's (G*layer.H) gate rows lie in crnn's (G*H)."""
    return np.concatenate([g * H + np.arange(layer.H) for g in range(GATES[layer.cell])])


def padded(layers):
    """Whether the model assembled from ``layers`` holds padding in its top
    layer's output (which it gives as its output without an output layer)."""
    H = max(layer.H for layer in layers)
    D = 2 if any(1 in layer.directions for layer in layers) else 1
    return layers[-1].H != H or len(layers[-1].directions) != D


def assemble(layers, input_size, output, **options):
    """The crnn model (in eval mode) computing what ``layers`` (a list of
    ImportedLayer, bottom first) and ``output`` ((Why (O, IN_top), by (O,)
    or None), or None: no output layer) compute; ``options`` go to the
    model's constructor (batch_first, dtype, many_to_one, mask_value, ...)."""
    from .rnn import CELLS
    cells = {layer.cell for layer in layers}
    if len(cells) != 1:
        raise NotImplementedError(f"the recurrent layers mix cells ({sorted(cells)}): a crnn "
                                  "model has one")
    nonlinearities = {layer.nonlinearity for layer in layers}
    if len(nonlinearities) != 1:
        raise NotImplementedError(f"the recurrent layers mix activations "
                                  f"({sorted(nonlinearities)}): a crnn model has one")
    cell = cells.pop()
    H = max(layer.H for layer in layers)
    D = 2 if any(1 in layer.directions for layer in layers) else 1
    if output is None and padded(layers):
        raise NotImplementedError(
            f"the top layer gives {len(layers[-1].directions)} direction(s) of "
            f"{layers[-1].H} units, below the {D} of {H} crnn's model needs for the layers "
            "under it, and there is no output layer to read its own: crnn would give its "
            "output with zeros added")
    bias = any(w[2] is not None for layer in layers for w in layer.weights)
    extra = {"nonlinearity": layers[0].nonlinearity} if cell == "rnn" else {}
    model = CELLS[cell](input_size, None if output is None else output[0].shape[0], H,
                        num_layers=len(layers), bidirectional=D == 2, bias=bias, seed=0,
                        **extra, **options)
    model._param_flat[...] = 0
    params = model.parameters()
    names = {(k, d): (w, r, b, bhn) for k, d, w, r, b, bhn in model.layout.recurrent()}
    for k, layer in enumerate(layers):
        rows = _rows(layer, H)
        columns = (np.arange(input_size) if k == 0
                   else _features(layers[k - 1], H))
        for d, (W, R, b, b_n) in zip(layer.directions, layer.weights):
            w_name, r_name, b_name, bhn_name = names[(k, d)]
            _check_shape(W, (len(rows), len(columns)), f"layer {k}'s input weights")
            _check_shape(R, (len(rows), layer.H), f"layer {k}'s recurrent weights")
            params[w_name][np.ix_(rows, columns)] = W
            params[r_name][np.ix_(rows, np.arange(layer.H))] = R
            if b is not None:
                params[b_name][rows, 0] = b
            if b_n is not None:
                params[bhn_name][np.arange(layer.H), 0] = b_n
    if output is not None:
        Why, by = output
        columns = _features(layers[-1], H)
        _check_shape(Why, (Why.shape[0], len(columns)), "the output layer's weights")
        params["Why"][:, columns] = Why
        params["by"][:, 0] = by
    return model.eval()


def _check_shape(array, shape, what):
    if array.shape != shape:
        raise ValueError(f"{what} must be {shape}, got {array.shape}")
