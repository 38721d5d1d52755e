"""crnn.from_onnx: graphs of ONNX RNN, LSTM and GRU nodes, as PyTorch's two
exporters and crnn's own write them, give ONNX Runtime's outputs to 1e-4;
what crnn cannot reproduce, and what is not a model, is refused by name
(run where onnx and onnxruntime are installed; PyTorch's graphs where torch
is, its dynamo exporter's where onnxscript is too)."""
import contextlib
import io
import itertools
import warnings

import numpy as np
import pytest

import crnn
from crnn import onnx as crnn_onnx

CELLS = {"rnn": crnn.RNN, "lstm": crnn.LSTM, "gru": crnn.GRU}

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")


def ort_outputs(path, feed):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, feed)


def predicted(model, X, batch_first, lengths=None):
    """The model's every-step outputs for X in the graph's own layout."""
    samples_first = X if batch_first else X.transpose(1, 0, 2)
    if model.output_size is None:
        return model.forward_batch(X, lengths=lengths)
    out = model.predict(samples_first, lengths, per_step=True)
    return out if batch_first else out.transpose(1, 0, 2)


def assert_close(got, expected):
    scale = max(float(np.abs(expected).max()), 1e-6)
    assert np.abs(got - expected).max() <= 1e-4 * scale


@pytest.mark.parametrize("cell,layers,bidirectional,batch_first,output,lengths", [
    ("rnn", 1, False, False, 3, False), ("rnn", 2, True, True, None, True),
    ("lstm", 2, True, False, 4, True), ("lstm", 1, False, True, None, False),
    ("gru", 3, True, True, 2, True), ("gru", 1, False, False, 5, False)])
def test_a_round_trip_gives_back_the_same_model(cell, layers, bidirectional, batch_first,
                                                 output, lengths, tmp_path):
    rnn = CELLS[cell](
        5, output, 6, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first,
        init="pytorch", dtype=np.float32, seed=3)
    path = tmp_path / "model.onnx"
    crnn_onnx.export(rnn, path, sequence_lens=lengths)
    back = crnn.from_onnx(path)
    for name, value in rnn.parameters().items():
        np.testing.assert_array_equal(back.parameters()[name], value, err_msg=name)
    assert (back.batch_first, back.output_size, back.bidirectional) == \
        (batch_first, output, bidirectional)
    T, B = 7, 3
    X = np.random.default_rng(0).standard_normal((B, T, 5) if batch_first else (T, B, 5))
    X = X.astype(np.float32)
    seq_lens = np.array([7, 2, 5]) if lengths else None
    feed = {"X": X, **({"sequence_lens": seq_lens.astype(np.int32)} if lengths else {})}
    assert_close(predicted(back, X, batch_first, seq_lens), ort_outputs(path, feed)[0])


def torch_graph(tmp_path, cell, bidirectional, layers, batch_first, output, dynamo,
                last=False):
    torch = pytest.importorskip("torch")
    if dynamo:
        pytest.importorskip("onnxscript")

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = getattr(torch.nn, cell)(5, 7, num_layers=layers,
                                               bidirectional=bidirectional,
                                               batch_first=batch_first)
            self.out = torch.nn.Linear(7 * (2 if bidirectional else 1), 3) if output else None

        def forward(self, x):
            y, _ = self.rnn(x)
            if last:  # many-to-one: the output layer on the last step (Gather, Gemm)
                y = y[:, -1] if batch_first else y[-1]
            return self.out(y) if self.out is not None else y

    torch.manual_seed(layers)
    model = Model().eval()
    with torch.no_grad():
        for p in model.parameters():  # biases too, and larger than the default
            p.uniform_(-0.5, 0.5)
    path = tmp_path / "torch.onnx"
    x = torch.randn(2, 4, 5) if batch_first else torch.randn(4, 2, 5)
    options = {"dynamo": True} if dynamo else {
        "dynamo": False, "dynamic_axes": {"X": {0: "first", 1: "second"}}}
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), str(path), input_names=["X"], output_names=["Y"],
                          **options)
    return path, x.numpy()


CASES = list(itertools.product(["RNN", "LSTM", "GRU"], [False, True], [1, 2], [False, True]))


@pytest.mark.parametrize("cell,bidirectional,layers,batch_first", CASES)
def test_pytorch_torchscript_exports(cell, bidirectional, layers, batch_first, tmp_path):
    output = (layers + bidirectional) % 2 == 0  # with and without nn.Linear, every cell
    path, x = torch_graph(tmp_path, cell, bidirectional, layers, batch_first, output, False)
    model = crnn.from_onnx(path)
    X = np.random.default_rng(1).standard_normal(x.shape).astype(np.float32)
    assert_close(predicted(model, X, batch_first), ort_outputs(path, {"X": X})[0])


@pytest.mark.parametrize("cell,bidirectional,layers,batch_first",
                         [c for c in CASES if c[0] != "RNN"])
def test_pytorch_dynamo_exports(cell, bidirectional, layers, batch_first, tmp_path):
    path, x = torch_graph(tmp_path, cell, bidirectional, layers, batch_first, True, True)
    model = crnn.from_onnx(path)
    X = np.random.default_rng(1).standard_normal(x.shape).astype(np.float32)
    assert_close(predicted(model, X, batch_first), ort_outputs(path, {"X": X})[0])


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
@pytest.mark.parametrize("cell,bidirectional,batch_first", [
    ("LSTM", True, False), ("GRU", False, True), ("RNN", True, True), ("GRU", True, False)])
def test_many_to_one_the_last_step_through_gemm(cell, bidirectional, batch_first, dynamo,
                                                 tmp_path):
    """PyTorch's out(y[-1]): a Gather of the last step, then a Gemm (or
    MatMul and Add): predict's (N, O), from each sequence's last step."""
    if dynamo and cell == "RNN":
        pytest.skip("the dynamo exporter writes nn.RNN step by step (refused, tested below)")
    path, x = torch_graph(tmp_path, cell, bidirectional, 2, batch_first, True, dynamo,
                          last=True)
    model = crnn.from_onnx(path)
    X = np.random.default_rng(2).standard_normal(x.shape).astype(np.float32)
    expected = ort_outputs(path, {"X": X})[0]
    assert expected.shape == (X.shape[0 if batch_first else 1], 3)
    assert_close(model.predict(X if batch_first else X.transpose(1, 0, 2)), expected)


def test_a_gemm_that_scales_is_refused(tmp_path):
    path, _ = torch_graph(tmp_path, "GRU", False, 1, False, True, False, last=True)
    model = onnx.load(str(path))
    gemm = node_of(model, "Gemm")
    kept = [a for a in gemm.attribute if a.name != "alpha"]
    del gemm.attribute[:]
    gemm.attribute.extend(kept + [onnx.helper.make_attribute("alpha", 2.0)])
    with pytest.raises(ValueError, match="Gemm other than the output layer's"):
        crnn.from_onnx(model)


def test_an_elman_rnn_written_step_by_step_is_refused_with_the_way_out(tmp_path):
    """The dynamo exporter writes nn.RNN as a product per step, no RNN node."""
    path, _ = torch_graph(tmp_path, "RNN", False, 1, False, True, True)
    with pytest.raises(ValueError, match="MatMul.*step by step.*dynamo=False"):
        crnn.from_onnx(path)


# ---- graphs crnn refuses, built by hand ----------------------------------

def exported(tmp_path, cell="gru", **options):
    rnn = CELLS[cell](
        4, 3, 5, dtype=np.float32, seed=0, **options)
    return crnn_onnx.build_model(rnn)


def node_of(model, op_type):
    return next(n for n in model.graph.node if n.op_type == op_type)


def test_another_operator_is_refused_by_its_type_and_node(tmp_path):
    model = exported(tmp_path)
    add = node_of(model, "Add")
    add.op_type, add.name = "Sub", "the_sub"
    with pytest.raises(ValueError, match="the_sub.*Sub"):
        crnn.from_onnx(model)


@pytest.mark.parametrize("attribute,value,error,match", [
    ("linear_before_reset", 0, NotImplementedError, "linear_before_reset=0"),
    ("clip", 3.0, ValueError, "clip"),
    ("activations", ["Sigmoid", "Relu"], ValueError, "Sigmoid.*Tanh"),
])
def test_attributes_crnn_cannot_reproduce_are_refused(attribute, value, error, match, tmp_path):
    model = exported(tmp_path)
    gru = node_of(model, "GRU")
    kept = [a for a in gru.attribute if a.name != attribute]
    del gru.attribute[:]
    gru.attribute.extend(kept + [onnx.helper.make_attribute(attribute, value)])
    with pytest.raises(error, match=match):
        crnn.from_onnx(model)


@pytest.mark.parametrize("cell,layers,bidirectional", [
    ("RNN", 1, False), ("RNN", 2, True), ("LSTM", 1, True), ("LSTM", 2, True),
    ("GRU", 2, False), ("GRU", 1, True)])
def test_initial_states_as_graph_inputs_are_forward_batchs_h0(cell, layers, bidirectional,
                                                               tmp_path):
    """PyTorch's rnn(x, h0) exported: each node reads its layer's rows of the
    graph's h0 (and c0), which crnn takes as forward_batch's h0."""
    torch = pytest.importorskip("torch")
    module = getattr(torch.nn, cell)(3, 4, num_layers=layers, bidirectional=bidirectional)
    LD = layers * (2 if bidirectional else 1)

    class WithStates(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = module

        def forward(self, x, h0, c0=None):
            return self.rnn(x, h0 if c0 is None else (h0, c0))[0]
    rng = np.random.default_rng(5)
    feed = {"X": rng.standard_normal((6, 2, 3)).astype(np.float32),
            "h0": rng.standard_normal((LD, 2, 4)).astype(np.float32)}
    if cell == "LSTM":
        feed["c0"] = rng.standard_normal((LD, 2, 4)).astype(np.float32)
    path = tmp_path / "states.onnx"
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(WithStates(), tuple(torch.from_numpy(v) for v in feed.values()),
                          str(path), dynamo=False, input_names=list(feed), output_names=["Y"],
                          dynamic_axes={n: {0: "T", 1: "B"} if n == "X" else {1: "B"}
                                        for n in feed})
    model = crnn.from_onnx(path)
    h0 = (feed["h0"], feed["c0"]) if cell == "LSTM" else feed["h0"]
    assert_close(model.forward_batch(feed["X"], h0)[0], ort_outputs(path, feed)[0])


def test_initial_states_crnn_cannot_take_are_refused(tmp_path):
    """Layer 0 reading all of a two-layer model's h0; a nonzero constant."""
    model = exported(tmp_path, "lstm", num_layers=2)
    lstm = node_of(model, "LSTM")
    model.graph.input.append(onnx.helper.make_tensor_value_info(
        "h0", onnx.TensorProto.FLOAT, [2, None, 5]))
    while len(lstm.input) < 6:
        lstm.input.append("")
    lstm.input[5] = "h0"
    with pytest.raises(NotImplementedError, match=r"initial_h must be rows \[k\*D, "
                                                  r"\(k\+1\)\*D\) of one graph input"):
        crnn.from_onnx(model)
    lstm.input[5] = "ones"
    model.graph.initializer.append(onnx.numpy_helper.from_array(
        np.ones((1, 1, 5), np.float32), "ones"))
    with pytest.raises(NotImplementedError, match=r"initial_h must be zeros .* or rows of a "
                                                  "graph input"):
        crnn.from_onnx(model)


def test_a_file_that_is_not_a_model_is_refused(tmp_path):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x08\x01this is not a protobuf of a model \xff\xfe")
    with pytest.raises(ValueError, match="junk.onnx"):
        crnn.from_onnx(junk)


def test_a_truncated_file_is_refused(tmp_path):
    path = tmp_path / "model.onnx"
    crnn_onnx.export(crnn.LSTM(4, 3, 5, dtype=np.float32, seed=0), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="model.onnx"):
        crnn.from_onnx(path)


def test_a_missing_file_says_so(tmp_path):
    with pytest.raises(FileNotFoundError):
        crnn.from_onnx(tmp_path / "absent.onnx")


def test_a_graph_without_a_recurrent_node_is_refused(tmp_path):
    X = onnx.helper.make_tensor_value_info("X", onnx.TensorProto.FLOAT, [None, None, 4])
    Y = onnx.helper.make_tensor_value_info("Y", onnx.TensorProto.FLOAT, [None, None, 4])
    graph = onnx.helper.make_graph([onnx.helper.make_node("Identity", ["X"], ["Y"])], "g",
                                   [X], [Y])
    with pytest.raises(ValueError, match="no RNN, LSTM or GRU node"):
        crnn.from_onnx(onnx.helper.make_model(graph))


def test_crnn_convert_onnx_to_a_checkpoint(tmp_path, capsys):
    from crnn import cli
    rnn = crnn.LSTM(5, 3, 6, num_layers=2, bidirectional=True, init="pytorch",
                    dtype=np.float32, seed=3)
    crnn_onnx.export(rnn, tmp_path / "m.onnx")
    assert cli.main(["convert", str(tmp_path / "m.onnx"), str(tmp_path / "m.npz")]) == 0
    assert "LSTM(input_size=5, output_size=3, hidden_size=6" in capsys.readouterr().out
    back = crnn.load_checkpoint(tmp_path / "m.npz").rnn
    np.testing.assert_array_equal(back._param_flat, rnn._param_flat)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("lengths", [False, True])
def test_reverse_only_layers_run_padded_with_a_zero_forward_half(cell, lengths, tmp_path):
    """ONNX's direction="reverse" (crnn's own graph, its node edited): the
    model is bidirectional with zero forward weights, which the output layer
    reads through zero columns, and gives ONNX Runtime's outputs."""
    rnn = CELLS[cell](4, 3, 5, num_layers=2, init="pytorch", dtype=np.float32, seed=1)
    model = crnn_onnx.build_model(rnn, sequence_lens=lengths)
    for node in model.graph.node:
        if node.op_type in ("RNN", "LSTM", "GRU") and node.output[0] == "Y_1":
            for attribute in node.attribute:
                if attribute.name == "direction":
                    attribute.s = b"reverse"
    path = tmp_path / "reverse.onnx"
    onnx.save(model, str(path))
    back = crnn.from_onnx(path)
    assert back.bidirectional and back.num_layers == 2
    X = np.random.default_rng(3).standard_normal((7, 4, 4)).astype(np.float32)
    feed = {"X": X}
    n = None
    if lengths:
        n = np.array([7, 2, 5, 1])
        feed["sequence_lens"] = n.astype(np.int32)
    expected = ort_outputs(path, feed)[0]
    got = back.forward_batch(X, lengths=n)[0]
    assert_close(got, expected)


def test_layers_of_different_sizes_and_directions_run_padded(tmp_path):
    """Two PyTorch modules one over the other (a bidirectional LSTM of 6,
    then a forward LSTM of 3, then a Linear): two LSTM nodes of their own
    sizes, read into one padded crnn model."""
    torch = pytest.importorskip("torch")

    class TwoLSTMs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lower = torch.nn.LSTM(4, 6, bidirectional=True)
            self.upper = torch.nn.LSTM(12, 3)
            self.head = torch.nn.Linear(3, 2)

        def forward(self, x):
            return self.head(self.upper(self.lower(x)[0])[0])
    path = tmp_path / "two.onnx"
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(TwoLSTMs(), (torch.zeros(5, 2, 4),), str(path), dynamo=False,
                          input_names=["X"], output_names=["Y"],
                          dynamic_axes={"X": {0: "T", 1: "B"}})
    model = crnn.from_onnx(path)
    assert (model.hidden_size, model.bidirectional, model.num_layers) == (6, True, 2)
    X = np.random.default_rng(4).standard_normal((8, 3, 4)).astype(np.float32)
    assert_close(model.forward_batch(X)[0], ort_outputs(path, {"X": X})[0])
