"""The seed notebook's example runs unchanged against crnn, and its measured
bugs are gone."""
import contextlib
import io

import numpy as np

from crnn import RNN, reference

from conftest import relative_error

# The example exactly as ../shared/seed.md gives it, after `from crnn import RNN`.
SEED_EXAMPLE = """
from crnn import RNN
import numpy as np

# Example sequence (one-hot encoded input)
input = [np.array([1,0,0]), np.array([0,1,0]), np.array([0,0,1])]
rnn = RNN(input_size=3, hidden_size=3, output_size=2)
output, hidden_state = rnn.forward(input)
print(output)            # a (2, 1) array of values near 1e-5
d_y = np.array([[0],[1]])
rnn.backward(d_y)
"""


def test_seed_example_runs_unchanged():
    namespace = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(SEED_EXAMPLE, namespace)
    output = namespace["output"]
    assert output.shape == (2, 1) and namespace["hidden_state"].shape == (3, 1)
    # small weights (randn * 0.01) give small outputs, and print shows them
    assert np.all(np.abs(output) < 1e-2)
    assert printed.getvalue().count("[") == 3  # [[a]\n [b]]


def test_seed_example_backward_is_exact_bptt_then_sgd():
    inputs = [np.array([1, 0, 0]), np.array([0, 1, 0]), np.array([0, 0, 1])]
    rnn = RNN(input_size=3, hidden_size=3, output_size=2, seed=7)
    before = {name: p.copy() for name, p in rnn.parameters().items()}
    rnn.forward(inputs)
    grads = rnn.backward(np.array([[0], [1]]))

    X = np.array(inputs, dtype=np.float64)[:, None, :]
    hidden_states = reference.forward(before, X)
    dY = np.zeros((3, 1, 2))
    dY[-1, 0] = [0, 1]
    expected = reference.backward(before, X, dY)
    for name in before:
        assert relative_error(grads[name], expected[name]) < 1e-12, name
        np.testing.assert_allclose(rnn.parameters()[name], before[name] - 0.01 * grads[name],
                                   rtol=0, atol=1e-18)
    # the seed's bugs: d_by was never computed, d_Why was summed over every step
    np.testing.assert_array_equal(grads["by"], [[0], [1]])
    np.testing.assert_allclose(grads["Why"], np.outer([0, 1], hidden_states[-1, 0]), rtol=1e-15)


def test_input_size_may_differ_from_hidden_size():
    rnn = RNN(input_size=5, output_size=2, hidden_size=3, seed=0)
    assert rnn.Wxh.shape == (3, 5)
    output, h = rnn.forward(np.eye(5)[:4])
    assert output.shape == (2, 1) and h.shape == (3, 1)


def test_initialisation_is_seeded_and_documented():
    a, b = RNN(4, 2, 6, seed=3), RNN(4, 2, 6, seed=3)
    rng = np.random.default_rng(3)
    for name, p in a.parameters().items():
        np.testing.assert_array_equal(p, b.parameters()[name])
    for name in ("Wxh", "Whh", "Why"):  # the documented draw order
        np.testing.assert_array_equal(a.parameters()[name],
                                      rng.standard_normal(a.parameters()[name].shape) * 0.01)
    assert not a.bh.any() and not a.by.any()
    f32 = RNN(4, 2, 6, seed=3, dtype=np.float32)
    np.testing.assert_array_equal(f32.Whh, a.Whh.astype(np.float32))
    assert not np.array_equal(RNN(4, 2, 6, seed=4).Whh, a.Whh)
