"""The ONNX graph of a model gives crnn's outputs in ONNX Runtime (run where
onnx and onnxruntime are installed): every cell, layer count, direction and
activation, with and without lengths and an output layer."""
import numpy as np
import pytest

import crnn
from crnn import onnx as crnn_onnx

from conftest import random_model

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")


def run_onnx(rnn, path, X, lengths=None):
    crnn_onnx.export(rnn, path, sequence_lens=lengths is not None)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {"X": X}
    if lengths is not None:
        feed["sequence_lens"] = lengths.astype(np.int32)
    return session.run(None, feed)


@pytest.mark.parametrize("T,B,I,H,O", [(1, 1, 1, 1, 1), (7, 3, 5, 9, 4), (25, 2, 65, 100, 65)])
def test_onnx_runtime_matches_forward_batch(T, B, I, H, O, tmp_path):
    rnn = random_model(I, H, O, dtype=np.float32)
    X = np.random.default_rng(0).standard_normal((T, B, I)).astype(np.float32)
    Y_onnx, h_onnx = run_onnx(rnn, tmp_path / "model.onnx", X)
    Y, Hs = rnn.forward_batch(X)
    np.testing.assert_allclose(Y_onnx, Y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(h_onnx[0], Hs[-1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("with_lengths", [False, True], ids=["padded", "lengths"])
@pytest.mark.parametrize("layers,bidirectional,nonlinearity,output", [
    (2, False, "tanh", 4), (1, True, "relu", 3), (3, True, "tanh", None), (2, True, "relu", 5)])
def test_layers_directions_and_lengths(layers, bidirectional, nonlinearity, output, with_lengths,
                                       tmp_path):
    T, B, I, H = 9, 4, 5, 8
    rng = np.random.default_rng(layers)
    rnn = crnn.RNN(I, output, H, num_layers=layers, bidirectional=bidirectional,
                   nonlinearity=nonlinearity, init="pytorch", dtype=np.float32, seed=1)
    X = rng.standard_normal((T, B, I)).astype(np.float32)
    lengths = np.array([9, 1, 5, 7]) if with_lengths else None
    Y_onnx, h_n_onnx = run_onnx(rnn, tmp_path / "model.onnx", X, lengths)
    Y, _, h_n = rnn.forward_batch(X, lengths=lengths, return_state=True)
    np.testing.assert_allclose(Y_onnx, Y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(h_n_onnx, h_n, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("with_lengths", [False, True], ids=["padded", "lengths"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("layers,bidirectional,bias,output", [
    (1, False, True, 4), (2, True, True, None), (3, False, False, 3), (2, True, False, 5)])
def test_gated_cells(cell, layers, bidirectional, bias, output, with_lengths, tmp_path):
    """ONNX's LSTM (gates i, o, f, c) and GRU (z, r, h, linear_before_reset)
    compute crnn's: outputs, h_n and an LSTM's c_n."""
    T, B, I, H = 9, 4, 5, 8
    rng = np.random.default_rng(layers)
    model = crnn.rnn.CELLS[cell](I, output, H, num_layers=layers, bidirectional=bidirectional,
                                 bias=bias, dtype=np.float32, seed=layers)
    for p in model.parameters().values():  # biases of every gate, not PyTorch's small ones
        p[...] = rng.standard_normal(p.shape) * 0.5
    X = rng.standard_normal((T, B, I)).astype(np.float32)
    lengths = np.array([9, 1, 5, 7]) if with_lengths else None
    results = run_onnx(model, tmp_path / "model.onnx", X, lengths)
    Y, _, final = model.forward_batch(X, lengths=lengths, return_state=True)
    expected = [Y, *final] if cell == "lstm" else [Y, final]
    assert len(results) == len(expected)
    for got, want in zip(results, expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch_first", [False, True], ids=["time_first", "batch_first"])
@pytest.mark.parametrize("with_lengths", [False, True], ids=["padded", "lengths"])
def test_every_dtype_and_layout_runs_in_onnx_runtime(cell, dtype, batch_first, with_lengths,
                                                     tmp_path):
    """A file of every dtype and layout runs in ONNX Runtime and gives
    crnn's numbers: a float64 model as float32 (with a warning), a
    batch_first model on batch-first data."""
    T, B, I, H, O = 6, 3, 4, 5, 2
    model = crnn.rnn.CELLS[cell](I, O, H, num_layers=2, bidirectional=True,
                                 batch_first=batch_first, dtype=dtype, seed=3)
    rng = np.random.default_rng(4)
    X = rng.standard_normal((B, T, I) if batch_first else (T, B, I))
    lengths = np.array([6, 2, 4]) if with_lengths else None
    path = tmp_path / "model.onnx"
    if dtype == np.float64:
        with pytest.warns(UserWarning, match="float32 only: this float64 model is exported "
                                             "with its weights rounded to float32"):
            crnn_onnx.export(model, path, sequence_lens=with_lengths)
    else:
        crnn_onnx.export(model, path, sequence_lens=with_lengths)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {"X": X.astype(np.float32)}
    if with_lengths:
        feed["sequence_lens"] = lengths.astype(np.int32)
    Y_onnx, h_n_onnx = session.run(None, feed)[:2]
    Y, _, h_n = model.forward_batch(X, lengths=lengths, return_state=True)
    h_n = h_n[0] if cell == "lstm" else h_n
    assert Y_onnx.shape == Y.shape and Y_onnx.shape[:2] == X.shape[:2]
    np.testing.assert_allclose(Y_onnx, Y, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(h_n_onnx, h_n, rtol=1e-4, atol=1e-5)
    assert model.dtype == dtype  # the model exported is left as it was


def test_astype_is_the_same_model_in_another_dtype():
    model = crnn.LSTM(3, 2, 4, num_layers=2, dropout=0.5, seed=0).eval()
    single = model.astype(np.float32)
    assert single.dtype == np.float32 and repr(single) == repr(model).replace("float64", "float32")
    assert single.training is False
    for name, p in model.parameters().items():
        np.testing.assert_array_equal(single.parameters()[name], p.astype(np.float32))
    single.Whh[...] = 0  # a copy, not a view
    assert model.Whh.any()
    with pytest.raises(ValueError, match="float32 or float64, got float16"):
        model.astype(np.float16)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_a_model_reading_its_final_states_exports_them_as_y_final(cell, tmp_path):
    """Y_final (B, O), the graph's last output, is what predict gives for a
    bidirectional model with many_to_one="final_states", lengths or none."""
    model = {"rnn": crnn.RNN, "lstm": crnn.LSTM, "gru": crnn.GRU}[cell](
        4, 3, 5, num_layers=2, bidirectional=True, init="pytorch", batch_first=True,
        many_to_one="final_states", dtype=np.float32, seed=1).eval()
    rng = np.random.default_rng(0)
    X, lengths = rng.standard_normal((6, 7, 4)).astype(np.float32), np.array([7, 1, 3, 5, 2, 7])
    path = tmp_path / "final.onnx"
    crnn.onnx.export(model, path, sequence_lens=True)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert session.get_outputs()[-1].name == "Y_final"
    y_final = session.run(["Y_final"], {"X": X, "sequence_lens": lengths.astype(np.int32)})[0]
    expected = model.predict(X, lengths)
    assert np.abs(y_final - expected).max() <= 1e-5 * np.abs(expected).max()
