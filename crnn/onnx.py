"""Export an RNN as a standard ONNX graph: the ONNX ``RNN`` operator for the
recurrence, MatMul and Add for the output layer. ``onnx`` is imported only
when used (``pip install onnx``); the graph runs in ONNX Runtime.

Inputs: ``X`` (T, B, I) floats, T and B dynamic. Outputs: ``Y`` (T, B, O) and
``h_last`` (B, H), as ``RNN.forward_batch`` gives them with a zero h0.
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


def build_model(rnn):
    """The ONNX ModelProto of ``rnn``, checked by onnx.checker."""
    onnx = _onnx()
    from onnx import TensorProto, helper, numpy_helper

    elem = TensorProto.FLOAT if rnn.dtype == np.float32 else TensorProto.DOUBLE
    H = rnn.hidden_size
    # ONNX's RNN has two biases (input and recurrent); crnn's bh is their sum
    bias = np.concatenate([rnn.bh[:, 0], np.zeros(H, dtype=rnn.dtype)])[None, :]
    initializers = [
        numpy_helper.from_array(rnn.Wxh[None], "W"),          # (1, H, I)
        numpy_helper.from_array(rnn.Whh[None], "R"),          # (1, H, H)
        numpy_helper.from_array(bias, "B"),                   # (1, 2H)
        numpy_helper.from_array(np.ascontiguousarray(rnn.Why.T), "Why_T"),  # (H, O)
        numpy_helper.from_array(rnn.by[:, 0].copy(), "by"),   # (O,)
        numpy_helper.from_array(np.array([1], dtype=np.int64), "direction_axis"),
        numpy_helper.from_array(np.array([0], dtype=np.int64), "first_axis"),
    ]
    nodes = [
        helper.make_node("RNN", ["X", "W", "R", "B"], ["H_all", "H_last_dir"],
                         hidden_size=H, activations=["Tanh"]),
        helper.make_node("Squeeze", ["H_all", "direction_axis"], ["hidden_states"]),  # (T, B, H)
        helper.make_node("Squeeze", ["H_last_dir", "first_axis"], ["h_last"]),         # (B, H)
        helper.make_node("MatMul", ["hidden_states", "Why_T"], ["projected"]),
        helper.make_node("Add", ["projected", "by"], ["Y"]),
    ]
    graph = helper.make_graph(
        nodes, "crnn_elman_rnn",
        [helper.make_tensor_value_info("X", elem, ["T", "B", rnn.input_size])],
        [helper.make_tensor_value_info("Y", elem, ["T", "B", rnn.output_size]),
         helper.make_tensor_value_info("h_last", elem, ["B", H])],
        initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="crnn")
    model.ir_version = min(model.ir_version, 8)  # readable by older runtimes too
    onnx.checker.check_model(model)
    return model


def export(rnn, path):
    """Write ``rnn`` to ``path`` as ONNX, atomically (a temporary file, then a
    rename), so a failure never leaves half a file."""
    data = build_model(rnn).SerializeToString()
    atomic_write(path, lambda f: f.write(data))
