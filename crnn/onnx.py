"""Export an RNN as a standard ONNX graph: one ONNX ``RNN`` operator per
layer (forward or bidirectional, Tanh or Relu), MatMul and Add for the output
layer. ``onnx`` is imported only when used (``pip install onnx``); the graph
runs in ONNX Runtime.

Inputs: ``X`` (T, B, I) floats, T and B dynamic (time first, whatever the
model's ``batch_first``), and, with ``sequence_lens=True``, ``sequence_lens``
(B,) int32, each sequence's length. Outputs: ``Y`` (T, B, O) (the top
layer's output (T, B, D*H) without an output layer) and ``h_n`` (L*D, B,
H), as ``RNN.forward_batch(X, lengths=..., return_state=True)`` gives them
with a zero h0: ONNX Runtime writes zeros past each length, and the graph
zeroes the output layer's rows there too, as crnn does.
"""
import numpy as np

from ._files import atomic_write

OPSET = 17


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("ONNX export needs the onnx package: pip install onnx") from None
    return onnx


def build_model(rnn, sequence_lens=False):
    """The ONNX ModelProto of ``rnn``, checked by onnx.checker."""
    onnx = _onnx()
    from onnx import TensorProto, helper, numpy_helper

    elem = TensorProto.FLOAT if rnn.dtype == np.float32 else TensorProto.DOUBLE
    H, D, L = rnn.hidden_size, rnn.directions, rnn.num_layers
    params = rnn.parameters()
    lens = "sequence_lens" if sequence_lens else ""
    initializers, nodes, finals = [], [], []
    layer_input = "X"
    for k in range(L):
        names = [n for n in rnn.layout.recurrent() if n[0] == k]  # one per direction
        # ONNX's RNN has two biases (input and recurrent); crnn's bh is their sum
        bias = [np.concatenate([params[b][:, 0] if b else np.zeros(H, rnn.dtype),
                                np.zeros(H, rnn.dtype)]) for _, _, _, _, b, _ in names]
        initializers += [
            numpy_helper.from_array(np.stack([params[w] for _, _, w, _, _, _ in names]), f"W_{k}"),
            numpy_helper.from_array(np.stack([params[r] for _, _, _, r, _, _ in names]), f"R_{k}"),
            numpy_helper.from_array(np.stack(bias).astype(rnn.dtype), f"B_{k}"),
        ]
        nodes += [
            # Y_k (T, D, B, H), Y_h_k (D, B, H): zeros past each length
            helper.make_node("RNN", [layer_input, f"W_{k}", f"R_{k}", f"B_{k}", lens],
                             [f"Y_{k}", f"Y_h_{k}"], hidden_size=H,
                             activations=[rnn.nonlinearity.capitalize()] * D,
                             direction="bidirectional" if D == 2 else "forward"),
            helper.make_node("Transpose", [f"Y_{k}"], [f"Y_{k}_TBDH"], perm=[0, 2, 1, 3]),
            helper.make_node("Reshape", [f"Y_{k}_TBDH", "shape_TB_"], [f"out_{k}"]),
        ]
        finals.append(f"Y_h_{k}")
        layer_input = f"out_{k}"
    initializers.append(numpy_helper.from_array(np.array([0, 0, -1], dtype=np.int64), "shape_TB_"))
    nodes.append(helper.make_node("Concat", finals, ["h_n"], axis=0))  # (L*D, B, H)
    outputs = [helper.make_tensor_value_info("h_n", elem, [L * D, "B", H])]
    if rnn.output_size is None:
        nodes.append(helper.make_node("Identity", [layer_input], ["Y"]))
        outputs.insert(0, helper.make_tensor_value_info("Y", elem, ["T", "B", D * H]))
    else:
        initializers += [
            numpy_helper.from_array(np.ascontiguousarray(rnn.Why.T), "Why_T"),  # (D*H, O)
            numpy_helper.from_array(rnn.by[:, 0].copy(), "by"),                 # (O,)
        ]
        output = "Y" if not sequence_lens else "Y_all"
        nodes += [helper.make_node("MatMul", [layer_input, "Why_T"], ["projected"]),
                  helper.make_node("Add", ["projected", "by"], [output])]
        if sequence_lens:
            nodes += _zero_past_lengths(helper, numpy_helper, initializers, elem, output, "Y")
        outputs.insert(0, helper.make_tensor_value_info("Y", elem, ["T", "B", rnn.output_size]))
    inputs = [helper.make_tensor_value_info("X", elem, ["T", "B", rnn.input_size])]
    if sequence_lens:
        inputs.append(helper.make_tensor_value_info("sequence_lens", TensorProto.INT32, ["B"]))
    graph = helper.make_graph(nodes, "crnn_elman_rnn", inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="crnn")
    model.ir_version = min(model.ir_version, 8)  # readable by older runtimes too
    onnx.checker.check_model(model)
    return model


def _zero_past_lengths(helper, numpy_helper, initializers, elem, source, target):
    """Nodes computing target = source * (t < sequence_lens[b]), (T, B, O)."""
    initializers += [numpy_helper.from_array(np.array(v, dtype=np.int64), name)
                     for v, name in ((0, "zero"), (1, "one"),
                                     ([1], "axis_1"), ([2], "axis_2"))]
    return [
        helper.make_node("Shape", ["X"], ["shape_X"]),
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
    gives the graph that input, for models run with lengths."""
    data = build_model(rnn, sequence_lens).SerializeToString()
    atomic_write(path, lambda f: f.write(data))
