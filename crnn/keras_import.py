"""Models in from Keras: ``crnn.from_keras(model_or_path)`` turns a Keras 3
model, or a ``.keras`` file, into the crnn model that computes what it
computes, run with NumPy alone afterwards. A file needs only h5py to read
(``pip install 'crnn[keras]'``), not Keras.

What a model may hold, in a Sequential or a functional chain: ``Input``;
``Embedding`` first (its table folds into the first layer's input weights,
so token ids go in, as crnn takes them) or ``Masking``; recurrent layers of
one kind (sizes and directions may differ from layer to layer: crnn pads
them with zeros, see crnn._assemble): ``SimpleRNN`` (tanh or relu), ``LSTM``
(tanh, sigmoid gates), ``GRU`` (tanh, sigmoid gates, ``reset_after=True``:
PyTorch's formula), each alone or in ``Bidirectional(merge_mode="concat")``,
every one but the last with ``return_sequences=True``; ``Dropout``
anywhere (nothing at inference); and a ``Dense`` (or
``TimeDistributed(Dense)``) at the end, linear, on every step or on the
last. Anything crnn cannot reproduce exactly is refused, naming the layer.

Keras stores a kernel as (inputs, gates*H): crnn's Wxh is its transpose. An
LSTM's gates are i, f, c, o in both; a GRU's z, r, h in Keras and r, z, n
in crnn, with its biases as two rows (input, recurrent): crnn keeps their
sum for r and z, the input one for n, and the recurrent one apart (bhn).

Masks: ``Masking(mask_value)`` or ``Embedding(mask_zero=True)`` become the
model's ``mask_value``: ``predict`` reads each sequence's length from its
trailing padding, and refuses a sequence whose masked steps are not all at
its end. A Bidirectional top layer read many-to-one (``return_sequences=
False``) gives each direction's final state, the reverse one's after the
whole sequence: the model's ``many_to_one="final_states"``.
"""
import numpy as np

from ._assemble import ImportedLayer, assemble
from ._keras_reader import RECURRENT, malformed_as_value_error, read
from .layers import split_biases

__all__ = ["from_keras"]

SUPPORTED = ("crnn reads Input, Embedding or Masking first, SimpleRNN, LSTM, GRU "
             "(reset_after=True), Bidirectional(merge_mode='concat') of them, Dropout, and one "
             "linear Dense or TimeDistributed(Dense) at the end")
CELL = {"SimpleRNN": "rnn", "LSTM": "lstm", "GRU": "gru"}
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
DROPPED = ("Dropout", "SpatialDropout1D", "GaussianDropout", "GaussianNoise", "AlphaDropout")


def _refuse(layer, why):
    return NotImplementedError(f"Keras layer {layer.name!r} ({layer.class_name}): {why}; "
                               f"{SUPPORTED}")


def _activation(config, key):
    value = config.get(key)
    return value if isinstance(value, str) else repr(value)


def _cell(layer, config, backwards):
    """The cell a recurrent layer's ``config`` describes: (cell, H, options)
    after checking that crnn computes what it computes."""
    kind = config.get("class_name") if "class_name" in config else layer.class_name
    config = config.get("config", config)
    if kind not in RECURRENT:
        raise _refuse(layer, f"a {kind} inside it")
    for flag, why in (("stateful", "a stateful layer carries its state between calls, crnn "
                       "starts every sequence from zeros"),
                      ("return_state", "its states as extra outputs")):
        if config.get(flag):
            raise _refuse(layer, f"{flag}=True ({why})")
    if bool(config.get("go_backwards")) != backwards:
        raise _refuse(layer, "go_backwards=True outside Bidirectional (it runs the sequence "
                      "backwards and returns its outputs in that order)" if not backwards else
                      "a backward layer that does not go backwards")
    activation = _activation(config, "activation")
    if kind == "SimpleRNN":
        if activation not in ("tanh", "relu"):
            raise _refuse(layer, f"activation={activation!r} (crnn's Elman cell: tanh, relu)")
    else:
        recurrent_activation = _activation(config, "recurrent_activation")
        if (activation, recurrent_activation) != ("tanh", "sigmoid"):
            raise _refuse(layer, f"activation={activation!r}, recurrent_activation="
                          f"{recurrent_activation!r} (crnn's gated cells: tanh, sigmoid)")
    if kind == "GRU" and not config.get("reset_after", True):
        raise _refuse(layer, "reset_after=False, which applies the reset gate before the "
                      "recurrent product (crnn's GRU is PyTorch's: reset_after=True)")
    units = config.get("units")
    if not isinstance(units, int) or units < 1:
        raise ValueError(f"Keras layer {layer.name!r}: units must be a positive integer, "
                         f"got {units!r}")
    return (CELL[kind], units, activation if kind == "SimpleRNN" else "tanh",
            bool(config.get("use_bias", True)), bool(config.get("return_sequences")))


def _recurrent(layer):
    """A recurrent layer read: its cell, H, nonlinearity, whether it returns
    sequences, and per direction (kernel, recurrent kernel, bias or None)."""
    if layer.class_name == "Bidirectional":
        config = layer.config
        if config.get("merge_mode", "concat") != "concat":
            raise _refuse(layer, f"merge_mode={config.get('merge_mode')!r} (crnn's two "
                          "directions are side by side: 'concat')")
        forward = _cell(layer, config["layer"], False)
        backward = _cell(layer, config.get("backward_layer") or dict(
            config["layer"], config=dict(config["layer"]["config"], go_backwards=True)), True)
        if forward != backward:
            raise _refuse(layer, f"its directions differ ({forward[:2]} and {backward[:2]})")
        parts = ("forward_layer", "backward_layer")
    else:
        forward = _cell(layer, layer.config, False)
        parts = (None,)
    cell, H, nonlinearity, bias, sequences = forward
    directions = [_weights(layer, layer.weights(part), cell, H, bias) for part in parts]
    return {"cell": cell, "H": H, "D": len(parts), "nonlinearity": nonlinearity,
            "bias": bias, "sequences": sequences, "weights": directions, "layer": layer}


def _weights(layer, arrays, cell, H, bias):
    """(kernel (IN, G*H), recurrent (H, G*H), bias or None) checked."""
    G = GATES[cell]
    if len(arrays) != (3 if bias else 2):
        raise ValueError(f"Keras layer {layer.name!r}: expected {3 if bias else 2} weight "
                         f"arrays (kernel, recurrent kernel{', bias' if bias else ''}), got "
                         f"{len(arrays)}")
    kernel, recurrent = arrays[0], arrays[1]
    if kernel.ndim != 2 or kernel.shape[1] != G * H:
        raise ValueError(f"Keras layer {layer.name!r}: kernel must be (inputs, {G * H}), got "
                         f"{kernel.shape}")
    if recurrent.shape != (H, G * H):
        raise ValueError(f"Keras layer {layer.name!r}: recurrent kernel must be ({H}, "
                         f"{G * H}), got {recurrent.shape}")
    b = arrays[2] if bias else None
    expected = (2, G * H) if cell == "gru" else (G * H,)
    if b is not None and b.shape != expected:
        raise ValueError(f"Keras layer {layer.name!r}: bias must be {expected}, got {b.shape}")
    return kernel, recurrent, b


def _dense(layer, logits):
    """(kernel (IN, O), bias (O,) or None) of a Dense, or of the Dense inside
    a TimeDistributed; an activation other than linear is refused unless it
    is a softmax or sigmoid and ``logits`` says to drop it."""
    config = layer.config
    part = None
    if layer.class_name == "TimeDistributed":
        inner = config.get("layer", {})
        if inner.get("class_name") != "Dense":
            raise _refuse(layer, f"TimeDistributed({inner.get('class_name')})")
        config, part = inner["config"], "layer"
    activation = _activation(config, "activation")
    if activation not in ("linear", "None") and not (logits and activation in ("softmax",
                                                                               "sigmoid")):
        raise _refuse(layer, f"activation={activation!r}: crnn's output layer is linear "
                      "(from_keras(..., logits=True) drops a final softmax or sigmoid, and "
                      "the model gives its logits)")
    arrays = layer.weights(part)
    bias = bool(config.get("use_bias", True))
    if len(arrays) != (2 if bias else 1) or arrays[0].ndim != 2 or (
            bias and arrays[1].shape != (arrays[0].shape[1],)):
        raise ValueError(f"Keras layer {layer.name!r}: expected a kernel (inputs, units)"
                         f"{' and a bias (units,)' if bias else ''}, got "
                         f"{[a.shape for a in arrays]}")
    return arrays[0], (arrays[1] if bias else None)


def _layers(layers, logits):
    """The model's pieces from Keras's layers in order: the embedding table
    or None, the mask value or None, the recurrent layers, the Dense or
    None."""
    embedding = mask = dense = None
    recurrent = []
    for layer in layers:
        kind = layer.class_name
        if kind in DROPPED:
            continue
        if dense is not None:
            raise _refuse(layer, "a layer after the output Dense")
        if kind in ("Masking", "Embedding"):
            if recurrent or embedding is not None or mask is not None:
                raise _refuse(layer, "it must come first, before the recurrent layers")
            if kind == "Masking":
                mask = float(layer.config.get("mask_value", 0.0))
            else:
                arrays = layer.weights()
                table = arrays[0] if len(arrays) == 1 else None
                if table is None or table.ndim != 2:
                    raise ValueError(f"Keras layer {layer.name!r}: expected one embedding "
                                     f"table (input_dim, output_dim)")
                embedding = table
                mask = 0 if layer.config.get("mask_zero") else None
        elif kind in RECURRENT or kind == "Bidirectional":
            if recurrent and not recurrent[-1]["sequences"]:
                raise _refuse(layer, "it follows a layer with return_sequences=False")
            recurrent.append(_recurrent(layer))
        elif kind in ("Dense", "TimeDistributed"):
            if not recurrent:
                raise _refuse(layer, "a Dense before the recurrent layers")
            if kind == "TimeDistributed" and not recurrent[-1]["sequences"]:
                raise _refuse(layer, "TimeDistributed after return_sequences=False")
            dense = _dense(layer, logits)
        else:
            raise _refuse(layer, "it has no crnn equivalent")
    if not recurrent:
        raise NotImplementedError(f"the Keras model has no SimpleRNN, LSTM or GRU layer; "
                                  f"{SUPPORTED}")
    return embedding, mask, recurrent, dense


def from_keras(model, *, logits=False):
    """The crnn model (in eval mode, batch_first, of the weights' dtype:
    float32 as Keras keeps them) computing what the Keras 3 ``model`` (a
    Sequential or functional model object, or the path of a ``.keras`` file,
    read with h5py alone) computes: ``predict(X)`` on (N, T, F) floats, or
    (N, T) token ids with an Embedding, gives Keras's outputs when its last
    recurrent layer has ``return_sequences=False``, ``predict(X,
    per_step=True)`` when it has True (at the steps within each sequence;
    past a masked sequence's end crnn gives zeros). A model without a Dense
    has no output layer: ``forward_batch`` gives its outputs. ``logits``:
    drop a final Dense's softmax or sigmoid (the model then gives the
    logits), which is otherwise refused. Layers crnn cannot reproduce exactly
    raise NotImplementedError naming them; a file that cannot be read, or
    weights of the wrong shapes, ValueError."""
    embedding, mask, recurrent, dense = malformed_as_value_error(_layers, read(model), logits)
    features = embedding.shape[1] if embedding is not None else None
    for r in recurrent:  # each kernel reads what the layer below gives
        given = r["weights"][0][0].shape[0]
        if features is not None and given != features:
            raise ValueError(f"Keras layer {r['layer'].name!r}: its kernel reads {given} "
                             f"features, the layer below gives {features}")
        features = r["D"] * r["H"]
    if dense is not None and dense[0].shape[0] != features:
        raise ValueError(f"the output Dense reads {dense[0].shape[0]} features, the top "
                         f"recurrent layer gives {features}")
    kernel0 = recurrent[0]["weights"][0][0]
    layers = []
    for k, r in enumerate(recurrent):
        weights = []
        for kernel, recurrent_kernel, bias in r["weights"]:
            if k == 0 and embedding is not None:  # x_t = table[id]: W x_t is W table^T's column
                kernel = embedding.astype(np.float64) @ kernel.astype(np.float64)
            bh = bh_n = None
            if bias is not None:  # a GRU's: rows input, recurrent
                bh, bh_n = split_biases(r["cell"], *(_crnn_gates(half, r["cell"]) for half in (
                    bias if r["cell"] == "gru" else (bias, np.zeros_like(bias)))))
            weights.append((_crnn_gates(kernel.T, r["cell"]),
                            _crnn_gates(recurrent_kernel.T, r["cell"]), bh, bh_n))
        layers.append(ImportedLayer(r["cell"], r["H"], tuple(range(r["D"])), tuple(weights),
                                    r["nonlinearity"] if r["cell"] == "rnn" else None))
    top = recurrent[-1]
    try:
        return assemble(
            layers, embedding.shape[0] if embedding is not None else kernel0.shape[0],
            None if dense is None else (dense[0].T, np.zeros(dense[0].shape[1])
                                        if dense[1] is None else dense[1]),
            batch_first=True, mask_value=mask,
            many_to_one="final_states" if top["D"] == 2 and not top["sequences"] else "last_step",
            dtype=np.float64 if kernel0.dtype == np.float64 else np.float32)
    except NotImplementedError as error:
        raise NotImplementedError(f"{error}; {SUPPORTED}") from None


def _crnn_gates(W, cell):
    """W (G*H, ...) in Keras's gate order -> crnn's: a GRU's z, r, h become
    r, z, n; the LSTM's i, f, c, o are crnn's i, f, g, o."""
    if cell != "gru":
        return W
    z, r, h = np.split(W, 3)
    return np.concatenate([r, z, h])
