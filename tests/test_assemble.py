"""Imported stacks whose layers differ in size and direction (Keras's
LSTM(6) under LSTM(3), a Bidirectional under a forward layer, ONNX's
reverse-only layers) become one crnn model padded with zeros: its outputs
against the NumPy reference run layer by layer at each layer's own size and
directions, with lengths, every cell, both dtypes; and training leaves the
padding at exactly zero, so the model stays the imported one."""
import numpy as np
import pytest

from crnn import reference
from crnn._assemble import ImportedLayer, assemble
from crnn.layers import GATES

# (H, directions) per layer: 0 forward, 1 reverse
STACKS = {
    "bidirectional 5 under forward 3 under bidirectional 4": [(5, (0, 1)), (3, (0,)), (4, (0, 1))],
    "forward 6 under forward 2": [(6, (0,)), (2, (0,))],
    "reverse-only 4 under forward 4": [(4, (1,)), (4, (0,))],
    "forward 3 under reverse-only 5": [(3, (0,)), (5, (1,))],
}


def random_stack(cell, stack, F, rng):
    G, layers, features = GATES[cell], [], F
    for H, directions in stack:
        weights = tuple((rng.normal(0, 0.5, (G * H, features)), rng.normal(0, 0.5, (G * H, H)),
                         rng.normal(0, 0.5, G * H),
                         rng.normal(0, 0.5, H) if cell == "gru" else None)
                        for _ in directions)
        layers.append(ImportedLayer(cell, H, directions, weights,
                                    "tanh" if cell == "rnn" else None))
        features = len(directions) * H
    return layers, features


def reference_outputs(layers, X, lengths):
    """The stack at its own sizes: each direction by crnn.reference's
    per-direction loops, (T, B, features of the top layer)."""
    x = X
    for layer in layers:
        outputs = []
        for d, (W, R, b, bhn) in zip(layer.directions, layer.weights):
            x_proj = x @ W.T + b
            B, H = x.shape[1], layer.H
            zeros = np.zeros((B, H))
            if layer.cell == "lstm":
                states = reference._lstm_direction(x_proj, R, zeros, zeros, lengths, d == 1)[0]
            elif layer.cell == "gru":
                states = reference._gru_direction(x_proj, R, bhn, zeros, lengths, d == 1)[0]
            else:
                states = reference._direction(x_proj, R, zeros, np.tanh, lengths, d == 1)[0]
            outputs.append(states)
        x = np.concatenate(outputs, axis=2)
    return x


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("stack", sorted(STACKS))
def test_a_padded_model_computes_the_stack_at_its_own_sizes(stack, cell, dtype):
    rng = np.random.default_rng(sorted(STACKS).index(stack))
    F, O, T, B = 3, 2, 6, 4
    layers, top = random_stack(cell, STACKS[stack], F, rng)
    Why, by = rng.normal(0, 0.5, (O, top)), rng.normal(0, 0.5, O)
    model = assemble(layers, F, (Why, by), dtype=dtype)
    X, lengths = rng.standard_normal((T, B, F)), np.array([6, 2, 5, 1])
    expected = reference_outputs(layers, X, lengths) @ Why.T + by
    expected[np.arange(T)[:, None] >= lengths[None, :]] = 0.0
    Y, _ = model.forward_batch(X.astype(dtype), lengths=lengths)
    tolerance = 1e-12 if dtype == np.float64 else 1e-5
    assert np.abs(Y - expected).max() <= tolerance * np.abs(expected).max()


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_training_keeps_the_padding_at_zero(cell):
    rng = np.random.default_rng(7)
    layers, top = random_stack(cell, STACKS["bidirectional 5 under forward 3 under "
                                            "bidirectional 4"], 3, rng)
    model = assemble(layers, 3, (rng.normal(0, 0.5, (2, top)), rng.normal(0, 0.5, 2)))
    padding = model._param_flat == 0
    X = rng.standard_normal((16, 6, 3))
    history = model.fit(X, rng.integers(0, 2, 16), epochs=5, lr=0.05, progress=False, seed=0)
    assert history["loss"][-1] < history["loss"][0]
    assert not model._param_flat[padding].any()
    moved = model._param_flat[~padding]
    assert moved.size and np.abs(moved).max() > 0


def test_what_cannot_be_padded_is_refused():
    rng = np.random.default_rng(0)
    layers, _ = random_stack("gru", [(6, (0,)), (3, (0,))], 3, rng)
    with pytest.raises(NotImplementedError, match="no output layer to read its own"):
        assemble(layers, 3, None)
    mixed = [random_stack("gru", [(3, (0,))], 3, rng)[0][0],
             random_stack("lstm", [(3, (0,))], 3, rng)[0][0]]
    with pytest.raises(NotImplementedError, match=r"mix cells \(\['gru', 'lstm'\]\)"):
        assemble(mixed, 3, (np.ones((2, 3)), np.zeros(2)))
    with pytest.raises(ValueError, match=r"layer 0's input weights must be \(18, 4\), got "
                                         r"\(18, 3\)"):
        assemble(layers, 4, (np.ones((2, 3)), np.zeros(2)))
