"""Models in from ONNX: ``crnn.from_onnx(path)`` reads a graph whose
recurrent layers are ONNX ``RNN``, ``LSTM`` and ``GRU`` nodes and returns the
crnn model that computes what the graph computes, run with NumPy alone
afterwards (``onnx`` is needed only to read the file: ``pip install
'crnn[onnx]'``).

What a graph may hold: one input X (T, B, F) or (B, T, F), and optionally
``sequence_lens`` (B,); stacked recurrent nodes of one cell, forward,
reverse or bidirectional, of any sizes (layers that differ in size or
direction, or run in reverse only, become one crnn model padded with zeros:
see crnn._assemble), either ``layout``, with zero initial states (absent,
or made by ConstantOfShape, Expand or a constant of zeros) or given as
inputs (forward_batch's h0), crnn's activations (Tanh or Relu for RNN,
Sigmoid/Tanh/Tanh for LSTM, Sigmoid/Tanh for GRU) and a GRU's ``linear_before_reset=1``
(PyTorch's form); between them the plumbing exporters write (Transpose,
Squeeze, Unsqueeze, Reshape, Concat, Shape, Gather, Slice, Expand,
ConstantOfShape, Cast, Identity, Range, Less, Mul by a mask of the steps
within each length); and an output layer, MatMul and Add (or a Gemm) on
every step or on the last step alone, or none. The graph is read by
following what each value is (the input, a layer's states in some axis
order, the sizes of T or B, zeros, a mask of lengths) rather than by
matching one exporter's pattern; a value that is none of these, another
operator, or an attribute crnn cannot reproduce exactly, is refused with an
error naming the node.

ONNX stacks the gates in its own orders (an LSTM's i, o, f, c; a GRU's z, r,
h): crnn.onnx.OPERATORS gives crnn's blocks in that order, read here the
other way. Biases: ONNX keeps an input and a recurrent bias per gate; crnn
their sum, but for a GRU's h gate, whose recurrent bias stays apart (bhn).
"""
import numpy as np

from ._onnx_reader import Reader, Refused, Seq
from ._optional import require
from ._assemble import ImportedLayer, assemble
from .layers import split_biases
from .onnx import OPERATORS

__all__ = ["from_onnx"]

# ---- the model -------------------------------------------------------------

def _crnn_gates(W, order):
    """W (G*H, ...) in ONNX's gate order -> crnn's."""
    blocks = np.split(W, len(order))
    out = [None] * len(order)
    for onnx_place, crnn_block in enumerate(order):
        out[crnn_block] = blocks[onnx_place]
    return np.concatenate(out)


def _model(reader, graph_output):
    if not reader.layers:
        raise Refused("the graph holds no RNN, LSTM or GRU node")
    out = reader.value(graph_output)
    top = ("top", len(reader.layers) - 1)
    if not isinstance(out, Seq) or out.source not in ("output", top):
        raise Refused(f"the graph's first output {graph_output!r} must be the output layer's "
                      "result or the top layer's output")
    named = reader.axes(out)
    if out.last and named[:1] != ("B",) or not out.last and (
            named[:2] not in (("T", "B"), ("B", "T")) or len(named) != 3):
        raise Refused(f"the graph's output must have axes (T, B, features) or (B, T, "
                      f"features), or (B, features) for the last step, got {named}")
    batch_first = reader.x_axes == ("B", "T")
    if not out.last and reader.x_axes != named[:2]:
        raise NotImplementedError("the graph's input and output put time and batch in "
                                  "different orders; crnn's batch_first holds for both")
    if reader.lengths and out.source == "output" and not out.masked:
        raise NotImplementedError("the graph's output layer gives its bias at the steps past "
                                  "each length, where crnn gives zeros")
    _check_states(reader)
    cell = reader.layers[0]["cell"]
    order = OPERATORS[cell][1]
    layers = []
    for layer in reader.layers:
        weights = []
        for d in range(layer["D"]):
            bh = bh_n = None
            if layer["B"] is not None:
                bh, bh_n = split_biases(cell, *(_crnn_gates(half, order)
                                                for half in np.split(layer["B"][d], 2)))
            weights.append((_crnn_gates(layer["W"][d], order), _crnn_gates(layer["R"][d], order),
                            bh, bh_n))
        layers.append(ImportedLayer(cell, layer["H"], layer["directions"], tuple(weights),
                                    layer["options"].get("nonlinearity")))
    output = None if out.source == top else (reader.output[0].T, reader.output[1])
    return assemble(layers, reader.sizes["F"], output, batch_first=batch_first,
                    dtype=np.float32)


def _check_states(reader):
    """Initial states given as graph inputs must be forward_batch's h0 (and
    an LSTM's c0): every layer k reading rows [k*D, (k+1)*D) of one (L*D, B,
    H) input, in layer order, all layers of one size and direction; or zeros
    for every layer."""
    L, D = len(reader.layers), reader.layers[0]["D"]
    for which, name in ((0, "initial_h"), (1, "initial_c")):
        states = [layer_states[which] for layer_states in reader.states]
        if all(state is None for state in states):
            continue
        if len({(layer["H"], layer["directions"]) for layer in reader.layers}) != 1 or \
                reader.layers[0]["directions"] == (1,):
            raise NotImplementedError(
                f"the recurrent nodes' {name} are graph inputs, and the layers differ in "
                "size or direction, or run in reverse only: crnn pads such layers with "
                "zeros to one size and two directions, so its h0 would not be the graph's")
        inputs = {state.name for state in states if state is not None}
        rows = [None if state is None else (state.start, state.stop) for state in states]
        if len(inputs) != 1 or rows != [(k * D, (k + 1) * D) for k in range(L)] or \
                reader.values[inputs.pop()].stop != L * D:
            raise NotImplementedError(
                f"the recurrent nodes' {name} must be rows [k*D, (k+1)*D) of one graph input "
                f"(L*D, B, H) = ({L * D}, B, H) for every layer k, as forward_batch's "
                f"h0{' and c0' if which else ''} are; got rows {rows} of {sorted(inputs)}")


def from_onnx(path):
    """The crnn model (float32, in eval mode) computing what the ONNX graph at
    ``path`` (or an onnx ModelProto) computes in its first output: every
    step's output layer, which ``predict(X, lengths, per_step=True)`` gives
    on (N, T, F); the output layer on the last step alone (a Gather of step
    -1, then MatMul and Add or a Gemm), which ``predict(X)`` gives; or the
    top layer's output without an output layer, which ``forward_batch``
    gives in the graph's layout. Initial states given as graph inputs (in
    layout 0, every layer's from one (L*D, B, H) input, as PyTorch's
    exporter writes ``rnn(x, h0)``) are ``forward_batch``'s h0 (an LSTM's
    ``(h0, c0)``), the same arrays. Anything crnn cannot reproduce exactly
    raises ValueError or NotImplementedError naming the node; a file that is
    not an ONNX model raises ValueError."""
    onnx = require("onnx", "crnn.from_onnx")
    if isinstance(path, onnx.ModelProto):
        model = path
    else:
        try:
            model = onnx.load(str(path))
        except FileNotFoundError:
            raise
        except Exception as error:  # protobuf's DecodeError and its kin
            raise ValueError(f"{path} is not an ONNX model: {error}") from None
    try:
        onnx.checker.check_model(model)
    except Exception as error:
        raise ValueError(f"{path if not isinstance(path, onnx.ModelProto) else 'the model'} "
                         f"is not a valid ONNX model: {error}") from None
    graph = model.graph
    if not graph.output:
        raise ValueError("the ONNX graph has no output")
    reader = Reader(onnx, graph).run()
    return _model(reader, graph.output[0].name)
