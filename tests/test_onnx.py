"""The ONNX graph of a model gives crnn's outputs in ONNX Runtime (run where
onnx and onnxruntime are installed)."""
import numpy as np
import pytest

from crnn import onnx as crnn_onnx

from conftest import random_model

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("T,B,I,H,O", [(1, 1, 1, 1, 1), (7, 3, 5, 9, 4), (25, 2, 65, 100, 65)])
def test_onnx_runtime_matches_forward_batch(T, B, I, H, O, tmp_path):
    rnn = random_model(I, H, O, dtype=np.float32)
    path = tmp_path / "model.onnx"
    crnn_onnx.export(rnn, path)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    X = np.random.default_rng(0).standard_normal((T, B, I)).astype(np.float32)
    Y_onnx, h_onnx = session.run(None, {"X": X})
    Y, Hs = rnn.forward_batch(X)
    np.testing.assert_allclose(Y_onnx, Y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(h_onnx, Hs[-1], rtol=1e-5, atol=1e-5)
