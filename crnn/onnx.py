"""Export a model as a standard ONNX graph: one ONNX ``RNN`` (Tanh or Relu),
``LSTM`` or ``GRU`` operator per layer, forward or bidirectional, and MatMul
and Add for the output layer. ``onnx`` is imported only when used (``pip
install onnx``); the graph runs in ONNX Runtime.

ONNX stacks the gates in its own orders: an LSTM's i, o, f, c (PyTorch's and
crnn's i, f, g, o), a GRU's z, r, h (crnn's r, z, n) with
``linear_before_reset=1``, PyTorch's form, where b_hn sits inside r * (...).

Inputs: ``X`` (T, B, I) floats, T and B dynamic, or (B, T, I) for a model
with ``batch_first`` (the graph transposes it: ONNX Runtime's recurrent
operators run time first only), and, with ``sequence_lens=True``,
``sequence_lens`` (B,) int32, each sequence's length. Outputs: ``Y`` (T, B,
O), or (B, T, O) with ``batch_first`` (the top layer's output, D*H wide,
without an output layer) and ``h_n`` (L*D, B, H) (and an LSTM's ``c_n``),
as ``forward_batch(X, lengths=..., return_state=True)`` gives them with a
zero initial state: ONNX Runtime writes zeros past each length, and the
graph zeroes the output layer's rows there too, as crnn does.

The graph is float32: ONNX Runtime's RNN, LSTM and GRU kernels run no other
type, so a float64 model is exported with its weights rounded to float32,
with a warning (``model.astype(np.float32)`` is that model in crnn).
"""
import warnings

import numpy as np

from . import _checks
from ._files import atomic_write

__all__ = ["export", "build_model"]

OPSET = 17

# per cell: the ONNX operator, and crnn's gate blocks in the operator's order
OPERATORS = {"rnn": ("RNN", [0]), "lstm": ("LSTM", [0, 3, 1, 2]), "gru": ("GRU", [1, 0, 2])}


def _onnx_gates(W, order):
    """W (G*H, ...) with its gate blocks in ONNX's order."""
    blocks = np.split(W, len(order))
    return np.concatenate([blocks[i] for i in order])


def _layer_tensors(rnn, names):
    """ONNX's W (D, G*H, IN), R (D, G*H, H) and B (D, 2*G*H) of one layer,
    from its directions' crnn names (Wxh, Whh, bh, bhn): the input side's
    biases hold bh, the recurrent side's zeros but a GRU's b_hn."""
    params, H, G = rnn.parameters(), rnn.hidden_size, rnn.layout.gates
    order = OPERATORS[rnn.cell][1]
    W, R, B = [], [], []
    for _, _, w, r, b, bhn in names:
        W.append(_onnx_gates(params[w], order))
        R.append(_onnx_gates(params[r], order))
        input_bias = params[b][:, 0] if b else np.zeros(G * H, rnn.dtype)
        recurrent_bias = np.zeros(G * H, rnn.dtype)
        if bhn:  # the h gate's, last in ONNX's order as in crnn's
            recurrent_bias[2 * H:] = params[bhn][:, 0]
        B.append(np.concatenate([_onnx_gates(input_bias, order), recurrent_bias]))
    return np.stack(W), np.stack(R), np.stack(B).astype(rnn.dtype)


def _onnx():
    from ._optional import require
    return require("onnx", "ONNX export")


def build_model(rnn, sequence_lens=False):
    """The ONNX ModelProto of ``rnn``, float32, checked by onnx.checker."""
    from .rnn import Recurrent
    if not isinstance(rnn, Recurrent):
        raise TypeError(f"ONNX export takes a crnn.RNN, LSTM or GRU, got {type(rnn).__name__}")
    sequence_lens = _checks.check_flag("sequence_lens", sequence_lens)
    onnx = _onnx()
    from onnx import TensorProto, helper, numpy_helper

    if rnn.dtype != np.float32:
        warnings.warn(f"ONNX Runtime runs its RNN, LSTM and GRU operators in float32 only: "
                      f"this {rnn.dtype} model is exported with its weights rounded to "
                      "float32 (model.astype(np.float32) is the same model in crnn)",
                      UserWarning, stacklevel=3)
        rnn = rnn.astype(np.float32)
    elem = TensorProto.FLOAT
    H, D, L = rnn.hidden_size, rnn.directions, rnn.num_layers
    lstm = rnn.cell == "lstm"
    operator = OPERATORS[rnn.cell][0]
    attributes = {"hidden_size": H, "direction": "bidirectional" if D == 2 else "forward"}
    if rnn.cell == "rnn":
        attributes["activations"] = [rnn.nonlinearity.capitalize()] * D
    elif rnn.cell == "gru":
        attributes["linear_before_reset"] = 1
    lens = "sequence_lens" if sequence_lens else ""
    initializers, nodes, finals, cell_finals = [], [], [], []
    layer_input = "X"
    if rnn.batch_first:  # the operators read time first
        nodes.append(helper.make_node("Transpose", ["X"], ["X_TBI"], perm=[1, 0, 2]))
        layer_input = "X_TBI"
    time_first_input = layer_input
    for k in range(L):
        names = [n for n in rnn.layout.recurrent() if n[0] == k]  # one per direction
        for name, value in zip("WRB", _layer_tensors(rnn, names)):
            initializers.append(numpy_helper.from_array(value, f"{name}_{k}"))
        outputs_k = [f"Y_{k}", f"Y_h_{k}"] + ([f"Y_c_{k}"] if lstm else [])
        nodes += [
            # Y_k (T, D, B, H), Y_h_k (and Y_c_k) (D, B, H): zeros past each length
            helper.make_node(operator, [layer_input, f"W_{k}", f"R_{k}", f"B_{k}", lens],
                             outputs_k, **attributes),
            helper.make_node("Transpose", [f"Y_{k}"], [f"Y_{k}_TBDH"], perm=[0, 2, 1, 3]),
            helper.make_node("Reshape", [f"Y_{k}_TBDH", "shape_TB_"], [f"out_{k}"]),
        ]
        finals.append(f"Y_h_{k}")
        cell_finals.append(f"Y_c_{k}")
        layer_input = f"out_{k}"
    initializers.append(numpy_helper.from_array(np.array([0, 0, -1], dtype=np.int64), "shape_TB_"))
    nodes.append(helper.make_node("Concat", finals, ["h_n"], axis=0))  # (L*D, B, H)
    outputs = [helper.make_tensor_value_info("h_n", elem, [L * D, "B", H])]
    if lstm:
        nodes.append(helper.make_node("Concat", cell_finals, ["c_n"], axis=0))
        outputs.append(helper.make_tensor_value_info("c_n", elem, [L * D, "B", H]))
    steps = ["B", "T"] if rnn.batch_first else ["T", "B"]
    Y_TB = "Y_TB" if rnn.batch_first else "Y"  # time first, before any transpose
    if rnn.output_size is None:
        nodes.append(helper.make_node("Identity", [layer_input], [Y_TB]))
        outputs.insert(0, helper.make_tensor_value_info("Y", elem, steps + [D * H]))
    else:
        initializers += [
            numpy_helper.from_array(np.ascontiguousarray(rnn.Why.T), "Why_T"),  # (D*H, O)
            numpy_helper.from_array(rnn.by[:, 0].copy(), "by"),                 # (O,)
        ]
        output = Y_TB if not sequence_lens else "Y_all"
        nodes += [helper.make_node("MatMul", [layer_input, "Why_T"], ["projected"]),
                  helper.make_node("Add", ["projected", "by"], [output])]
        if sequence_lens:
            nodes += _zero_past_lengths(helper, numpy_helper, initializers, elem, output, Y_TB,
                                        time_first_input)
        outputs.insert(0, helper.make_tensor_value_info("Y", elem, steps + [rnn.output_size]))
        if rnn._reads_final_states():  # predict's one output per sequence: Why [h_fwd; h_rev]
            top = f"Y_h_{L - 1}"                                          # (2, B, H)
            initializers.append(numpy_helper.from_array(np.array([0, -1], dtype=np.int64),
                                                        "shape_B_"))
            nodes += [helper.make_node("Transpose", [top], ["finals_B2H"], perm=[1, 0, 2]),
                      helper.make_node("Reshape", ["finals_B2H", "shape_B_"], ["finals"]),
                      helper.make_node("MatMul", ["finals", "Why_T"], ["finals_projected"]),
                      helper.make_node("Add", ["finals_projected", "by"], ["Y_final"])]
            outputs.append(helper.make_tensor_value_info("Y_final", elem,
                                                         ["B", rnn.output_size]))
    if rnn.batch_first:
        nodes.append(helper.make_node("Transpose", [Y_TB], ["Y"], perm=[1, 0, 2]))
    inputs = [helper.make_tensor_value_info("X", elem, steps + [rnn.input_size])]
    if sequence_lens:
        inputs.append(helper.make_tensor_value_info("sequence_lens", TensorProto.INT32, ["B"]))
    graph = helper.make_graph(nodes, f"crnn_{rnn.cell}", inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="crnn")
    model.ir_version = min(model.ir_version, 8)  # readable by older runtimes too
    onnx.checker.check_model(model)
    return model


def _zero_past_lengths(helper, numpy_helper, initializers, elem, source, target, inputs):
    """Nodes computing target = source * (t < sequence_lens[b]), (T, B, O);
    T read from ``inputs`` (T, B, I)."""
    initializers += [numpy_helper.from_array(np.array(v, dtype=np.int64), name)
                     for v, name in ((0, "zero"), (1, "one"),
                                     ([1], "axis_1"), ([2], "axis_2"))]
    return [
        helper.make_node("Shape", [inputs], ["shape_X"]),
        helper.make_node("Gather", ["shape_X", "zero"], ["T"], axis=0),
        helper.make_node("Range", ["zero", "T", "one"], ["steps"]),                # (T,)
        helper.make_node("Unsqueeze", ["steps", "axis_1"], ["steps_T1"]),           # (T, 1)
        helper.make_node("Cast", ["sequence_lens"], ["lens_64"], to=7),             # int64
        helper.make_node("Less", ["steps_T1", "lens_64"], ["valid"]),               # (T, B)
        helper.make_node("Unsqueeze", ["valid", "axis_2"], ["valid_TB1"]),
        helper.make_node("Cast", ["valid_TB1"], ["valid_float"], to=elem),
        helper.make_node("Mul", [source, "valid_float"], [target]),
    ]


def export(rnn, path, sequence_lens=False):
    """Write ``rnn`` to ``path`` as ONNX, atomically (a temporary file, then a
    rename), so a failure never leaves half a file. ``sequence_lens=True``
    gives the graph that input, for models run with lengths. The graph takes
    and gives data in the model's own layout (batch first with
    ``batch_first``); its outputs are Y, h_n (and an LSTM's c_n), and for a
    model reading its final states (``many_to_one="final_states"``, two
    directions) Y_final (B, O), what ``predict`` gives. It is float32 (a float64 model's weights are rounded,
    with a warning): ONNX Runtime runs every file this writes."""
    data = build_model(rnn, sequence_lens).SerializeToString()
    atomic_write(path, lambda f: f.write(data))
