"""The NumPy reference is the specification: prove its gradients by central
finite differences, in float64, for both input kinds."""
import numpy as np
import pytest

from crnn import reference

from conftest import random_inputs, random_model, relative_error

SHAPES = [  # T, B, I, H, O
    (1, 1, 1, 1, 1),
    (3, 1, 3, 3, 2),   # the seed notebook's example
    (4, 2, 3, 5, 2),   # I != H != O
    (6, 3, 5, 2, 4),
]


def linear_loss(params, inputs, h0, C_Y, C_h):
    """L = sum(C_Y * Y) + sum(C_h * h_T): its dL/dY is C_Y and its dL/dh_T is C_h."""
    hidden_states = reference.forward(params, inputs, h0)
    Y = reference.output(params, hidden_states)
    return np.sum(C_Y * Y) + np.sum(C_h * hidden_states[-1])


def assert_finite_differences(grads, loss, params, h0, X):
    """Every gradient (the parameters', h0's and, for float inputs, X's)
    against central differences of ``loss()``."""
    wrt = dict(params, h0=h0)
    if X is not None:
        wrt["X"] = X
    assert set(grads) == set(wrt)
    for name, array in wrt.items():
        numeric = reference.numerical_gradient(loss, array)
        assert relative_error(grads[name], numeric) < 1e-6, name


@pytest.mark.parametrize("tokens", [False, True], ids=["floats", "tokens"])
@pytest.mark.parametrize("T,B,I,H,O", SHAPES)
def test_backward_matches_finite_differences(T, B, I, H, O, tokens):
    rng = np.random.default_rng(T * 100 + B * 10 + I)
    # a larger spectral radius than usual, so the recurrence is exercised hard
    params = random_model(I, H, O, seed=T + B, spectral_radius=1.2).parameters()
    inputs = random_inputs(rng, T, B, I, tokens)
    h0 = rng.standard_normal((B, H)) * 0.5
    C_Y, C_h = rng.standard_normal((T, B, O)), rng.standard_normal((B, H))

    grads = reference.backward(params, inputs, C_Y, h0, C_h)

    def loss():
        return linear_loss(params, inputs, h0, C_Y, C_h)

    assert_finite_differences(grads, loss, params, h0, None if tokens else inputs)


def test_tokens_are_one_hot_vectors(rng):
    """Token ids give exactly what their one-hot vectors give."""
    T, B, I, H, O = 5, 3, 7, 4, 2
    params = random_model(I, H, O).parameters()
    ids = rng.integers(0, I, size=(T, B))
    one_hot = np.eye(I)[ids]
    dY = rng.standard_normal((T, B, O))
    hs_ids, hs_hot = reference.forward(params, ids), reference.forward(params, one_hot)
    np.testing.assert_allclose(hs_ids, hs_hot, rtol=1e-14, atol=1e-15)
    g_ids = reference.backward(params, ids, dY)
    g_hot = reference.backward(params, one_hot, dY)
    for name in params:
        np.testing.assert_allclose(g_ids[name], g_hot[name], rtol=1e-12, atol=1e-15)


def test_zero_h0_is_the_default(rng):
    params = random_model(3, 4, 2).parameters()
    X = rng.standard_normal((4, 2, 3))
    np.testing.assert_array_equal(reference.forward(params, X),
                                  reference.forward(params, X, np.zeros((2, 4))))


def test_numerical_gradient_refuses_non_contiguous_arrays():
    x = np.zeros((4, 4))[:, ::2]
    with pytest.raises(ValueError, match="contiguous"):
        reference.numerical_gradient(lambda: 0.0, x)


FAMILY = [  # layers, bidirectional, nonlinearity, bias, output, lengths, dropout masks
    (2, False, "tanh", True, 2, None, False),
    (1, True, "tanh", True, 2, [4, 1, 2], False),
    (2, True, "relu", True, None, [3, 4, 1], False),
    (3, False, "relu", False, 3, None, True),
    (2, True, "tanh", False, 2, [1, 4, 4], True),
]


def family_params(rng, I, H, O, layers, bidirectional, bias):
    """Random parameters, named as crnn names them, Whh of spectral norm ~1."""
    from crnn.layers import Layout
    layout = Layout(I, H, O, layers, bidirectional, bias)
    scale = {"Wxh": 0.7, "Whh": 1.0 / np.sqrt(H), "bh": 0.3, "Why": 0.5, "by": 0.3}
    return {p.name: rng.standard_normal(p.shape) * scale[p.role] for p in layout.parameters}


@pytest.mark.parametrize("tokens", [False, True], ids=["floats", "tokens"])
@pytest.mark.parametrize("layers,bidirectional,nonlinearity,bias,O,lengths,dropout", FAMILY)
def test_the_family_matches_finite_differences(layers, bidirectional, nonlinearity, bias, O,
                                               lengths, dropout, tokens):
    """Stacked layers, both directions, ReLU, no bias, no output layer,
    lengths and dropout masks: every gradient, h0's and X's too."""
    T, B, I, H = 4, 3, 3, 3
    D = 2 if bidirectional else 1
    rng = np.random.default_rng(layers * 7 + D + len(nonlinearity))
    params = family_params(rng, I, H, O, layers, bidirectional, bias)
    inputs = random_inputs(rng, T, B, I, tokens)
    h0 = rng.standard_normal((layers * D, B, H)) * 0.5
    masks = None
    if dropout:
        masks = (rng.random((layers - 1, T, B, D * H)) >= 0.3) / 0.7
    config = dict(lengths=None if lengths is None else np.array(lengths),
                  nonlinearity=nonlinearity, masks=masks)
    C_Y = rng.standard_normal((T, B, O if O else D * H))
    C_h = rng.standard_normal(h0.shape)

    def loss():
        top, h_n = reference.forward(params, inputs, h0, return_state=True, **config)
        Y = reference.output(params, top, config["lengths"])
        return np.sum(C_Y * Y) + np.sum(C_h * h_n)

    grads = reference.backward(params, inputs, C_Y, h0, C_h, **config)
    assert_finite_differences(grads, loss, params, h0, None if tokens else inputs)


def test_lengths_are_packed_sequences():
    """A sequence run alone, cut to its length, gives what the padded batch
    gives at its steps; its reverse direction starts at its own last step."""
    rng = np.random.default_rng(5)
    params = family_params(rng, 3, 4, 2, 2, True, True)
    X = rng.standard_normal((6, 3, 3))
    lengths = np.array([6, 2, 4])
    top, h_n = reference.forward(params, X, lengths=lengths, return_state=True)
    for b, n in enumerate(lengths):
        alone, h_alone = reference.forward(params, X[:n, b:b + 1], return_state=True)
        np.testing.assert_allclose(top[:n, b:b + 1], alone, rtol=1e-13, atol=1e-14)
        assert not top[n:, b].any()
        np.testing.assert_allclose(h_n[:, b:b + 1], h_alone, rtol=1e-13, atol=1e-14)
