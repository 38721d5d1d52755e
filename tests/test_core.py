"""The compiled core against the NumPy reference: many shapes, both dtypes,
both input kinds, with and without h0 and dh, every kernel path, through the
RNN class."""
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from crnn import reference

from conftest import (BATCHES, KERNELS, TOLERANCE, params64, random_inputs, random_model, relative_error,
                      using_kernel)

DTYPES = [np.float64, np.float32]

SHAPES = [  # T, B, I, H, O
    (1, 1, 1, 1, 1),
    (1, 4, 3, 5, 2),      # T = 1
    (7, 1, 2, 1, 3),      # H = 1
    (3, 1, 3, 3, 2),      # the seed notebook's example
    (5, 3, 4, 6, 2),      # I != H != O
    (25, 1, 65, 100, 65),  # a char-RNN window
    (12, 8, 33, 64, 17),
    (40, 2, 9, 31, 5),
    (6, 13, 40, 130, 70),  # tiles of rows, rows left over, masked columns
    (3, 20, 300, 17, 3),   # a sum longer than one cache block
]


def magnitudes(params, x, h0, dY, dh, lengths, nonlinearity, masks):
    """The output and the gradients computed on the absolute values of every
    factor, the forward's states included: the size of the terms each element
    is a sum of (the activations' derivatives, read from |h|, are positive
    and the same)."""
    a = (lambda v: None if v is None else np.abs(v))
    layer_inputs, runs, top = reference._run(params, x, h0, lengths, nonlinearity, masks)
    absolute_pass = ([v if v.ndim == 2 else np.abs(v) for v in layer_inputs],
                     [tuple(np.abs(v) for v in run) for run in runs], np.abs(top))
    absolute = {name: np.abs(p) for name, p in params.items()}
    x_abs = x if x.ndim == 2 else np.abs(x)
    return (reference.output(absolute, np.abs(top), lengths),
            reference._backward(absolute, x_abs, absolute_pass, np.abs(dY), a(dh), lengths,
                                nonlinearity, a(masks)))


def check_against_reference(rnn, inputs, h0, dY, dh, input_grad, lengths=None):
    """Run forward_batch/backward_batch and the reference on the same float64
    values; compare everything the model returns, each error relative to the
    size of the terms the result is summed from (see magnitudes)."""
    tol = TOLERANCE[rnn.dtype]
    params = params64(rnn)
    tokens = inputs.ndim == 2
    # the reference sees exactly the values the model computes with
    cast = (lambda a: a) if tokens else (lambda a: a.astype(rnn.dtype).astype(np.float64))
    x64 = cast(inputs)
    h0_64 = None if h0 is None else h0.astype(rnn.dtype).astype(np.float64)
    dY64 = dY.astype(rnn.dtype).astype(np.float64)
    dh64 = None if dh is None else dh.astype(rnn.dtype).astype(np.float64)

    Y, Hs, h_n = rnn.forward_batch(inputs, h0=h0, lengths=lengths, return_state=True)
    masks = rnn._engine.masks
    grads = rnn.backward_batch(dY, dh, input_grad=input_grad)

    config = dict(lengths=lengths, nonlinearity=rnn.nonlinearity, masks=masks)
    hs_ref, h_n_ref = reference.forward(params, x64, h0_64, return_state=True, **config)
    assert Y.dtype == rnn.dtype and Hs.dtype == rnn.dtype and h_n.dtype == rnn.dtype
    assert relative_error(Hs, hs_ref) < tol
    assert relative_error(h_n, h_n_ref) < tol
    Y_size, grad_sizes = magnitudes(params, x64, h0_64, dY64, dh64, **config)
    assert relative_error(Y, reference.output(params, hs_ref, lengths), Y_size) < tol
    expected = reference.backward(params, x64, dY64, h0_64, dh64, **config)
    if not input_grad:
        expected.pop("X", None)
    if h0 is not None:
        expected["h0"] = expected["h0"].reshape(h0.shape)
    assert set(grads) == set(expected)
    for name, g in grads.items():
        assert g.dtype == rnn.dtype and g.shape == expected[name].shape, name
        assert relative_error(g, expected[name], grad_sizes[name]) < tol, name


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("tokens", [False, True], ids=["floats", "tokens"])
@pytest.mark.parametrize("T,B,I,H,O", SHAPES)
def test_batch_matches_reference(T, B, I, H, O, tokens, dtype, kernel):
    rng = np.random.default_rng(T * 7 + B * 3 + I + H + O)
    rnn = random_model(I, H, O, dtype=dtype, seed=T + H)
    inputs = random_inputs(rng, T, B, I, tokens)
    check_against_reference(rnn, inputs, rng.standard_normal((B, H)) * 0.5,
                            rng.standard_normal((T, B, O)), rng.standard_normal((B, H)),
                            input_grad=not tokens)


# sizes: small ones, ones, and primes around the SIMD widths and tile sizes
SIZES = st.one_of(st.integers(1, 12), st.sampled_from([1, 2, 3, 5, 7, 13, 17, 31, 37]))
LAYOUTS = ["C", "F", "strided"]


def in_layout(a, layout):
    """The same values as ``a``, in Fortran order or as a strided view."""
    if a is None or layout == "C":
        return a
    if layout == "F":
        return np.asfortranarray(a)
    wide = np.repeat(a, 2, axis=-1)  # every other column of a wider array
    return wide[..., ::2]


@pytest.mark.parametrize("kernel_name", KERNELS)
@settings(max_examples=60, deadline=None, derandomize=True)
@given(T=SIZES, B=BATCHES, I=SIZES, H=SIZES, O=SIZES, tokens=st.booleans(),
       dtype=st.sampled_from(DTYPES), with_h0=st.booleans(), with_dh=st.booleans(),
       input_grad=st.booleans(), layout=st.sampled_from(LAYOUTS),
       seed=st.integers(0, 2**32 - 1))
def test_random_shapes_match_reference(kernel_name, T, B, I, H, O, tokens, dtype, with_h0,
                                       with_dh, input_grad, layout, seed):
    with using_kernel(kernel_name):
        check_random_shapes(T, B, I, H, O, tokens, dtype, with_h0, with_dh, input_grad, seed,
                            layout)


def check_random_shapes(T, B, I, H, O, tokens, dtype, with_h0, with_dh, input_grad, seed,
                        layout="C"):
    rng = np.random.default_rng(seed)
    rnn = random_model(I, H, O, dtype=dtype, seed=seed)
    inputs = random_inputs(rng, T, B, I, tokens)
    h0 = rng.standard_normal((B, H)) if with_h0 else None
    if rnn.dtype == np.float32:
        # With few units, a tail draw can saturate one: then 1 - h^2 loses
        # digits to cancellation (at |h| = 0.999, 1e-4 relative from one
        # rounding of h), which float32 cannot meet at 1e-5 whatever the code.
        hidden_states = reference.forward(params64(rnn), inputs, h0)
        assume(np.max(np.abs(hidden_states)) < 0.98)
    dh = rng.standard_normal((B, H)) if with_dh else None
    dY = rng.standard_normal((T, B, O))
    check_against_reference(rnn, in_layout(inputs, layout), in_layout(h0, layout),
                            in_layout(dY, layout), in_layout(dh, layout),
                            input_grad=input_grad and not tokens)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_seed_api_matches_reference(dtype, rng, kernel):
    """forward/backward: many-to-one from the last hidden state, then SGD."""
    T, I, H, O = 6, 4, 5, 3
    rnn = random_model(I, H, O, dtype=dtype)
    tol = TOLERANCE[rnn.dtype]
    params = params64(rnn)
    X = rng.standard_normal((T, I)).astype(dtype)
    d_y = rng.standard_normal((O, 1))

    output, h = rnn.forward(list(X))
    hs_ref = reference.forward(params, X.astype(np.float64)[:, None, :])
    assert output.shape == (O, 1) and h.shape == (H, 1)
    assert relative_error(h[:, 0], hs_ref[-1, 0]) < tol
    assert relative_error(output, reference.output(params, hs_ref)[-1, 0][:, None]) < tol

    grads = rnn.backward(d_y, learning_rate=0.5)
    dY = np.zeros((T, 1, O))
    dY[-1, 0] = d_y.astype(dtype)[:, 0]
    expected = reference.backward(params, X.astype(np.float64)[:, None, :], dY)
    assert set(grads) == set(params)
    for name in params:
        assert relative_error(grads[name], expected[name]) < tol, name
        updated = (params[name] - 0.5 * grads[name].astype(np.float64)).astype(dtype)
        np.testing.assert_allclose(rnn.parameters()[name], updated, rtol=4 * np.finfo(dtype).eps,
                                   atol=4 * np.finfo(dtype).eps, err_msg=name)


@pytest.mark.parametrize("tokens", [False, True], ids=["floats", "tokens"])
def test_layouts_give_the_same_results(tokens, rng):
    """Fortran-ordered and strided inputs are read correctly."""
    T, B, I, H, O = 6, 4, 5, 7, 3
    rnn = random_model(I, H, O)
    inputs = random_inputs(rng, T, B, I, tokens)
    h0, dY = rng.standard_normal((B, H)), rng.standard_normal((T, B, O))
    Y, Hs = rnn.forward_batch(inputs, h0)
    grads = rnn.backward_batch(dY, None)
    strided = np.repeat(inputs, 2, axis=1)[:, ::2]
    assert not strided.flags.c_contiguous
    for layout in (np.asfortranarray(inputs), strided):
        Y2, Hs2 = rnn.forward_batch(layout, np.asfortranarray(h0))
        grads2 = rnn.backward_batch(np.asfortranarray(dY), None)
        np.testing.assert_array_equal(Y2, Y)
        np.testing.assert_array_equal(Hs2, Hs)
        for name in grads:
            np.testing.assert_array_equal(grads2[name], grads[name])


def test_scratch_reuse_across_sizes(rng):
    """Calls with growing and shrinking T and B reuse scratch without mixing them up."""
    rnn = random_model(3, 5, 2)
    params = params64(rnn)
    for T, B in [(4, 2), (9, 3), (1, 1), (9, 3), (2, 7)]:
        X = rng.standard_normal((T, B, 3))
        Y, Hs = rnn.forward_batch(X)
        assert relative_error(Hs, reference.forward(params, X)) < 1e-12


def test_results_are_not_aliased_to_scratch(rng):
    """Outputs, states and the h0 and input gradients belong to the caller: a
    later call does not change them. The parameter gradients are the model's
    gradient arrays, the same every time, refilled by each backward."""
    rnn = random_model(3, 5, 2)
    X = rng.standard_normal((4, 2, 3))
    Y, Hs = rnn.forward_batch(X)
    grads = rnn.backward_batch(np.ones((4, 2, 2)), input_grad=True)
    kept = Y.copy(), Hs.copy(), {k: v.copy() for k, v in grads.items()}
    rnn.forward_batch(X * 2)
    again = rnn.backward_batch(np.full((4, 2, 2), 3.0), input_grad=True)
    np.testing.assert_array_equal(Y, kept[0])
    np.testing.assert_array_equal(Hs, kept[1])
    for name in ("h0", "X"):
        np.testing.assert_array_equal(grads[name], kept[2][name])
        assert again[name] is not grads[name]
    for name, g in rnn.gradients().items():
        assert grads[name] is g and again[name] is g
        assert not np.array_equal(g, kept[2][name])  # refilled by the second backward


def test_inputs_changed_after_forward_do_not_change_backward(rng):
    rnn = random_model(3, 5, 2)
    X = rng.standard_normal((4, 2, 3))
    rnn.forward_batch(X)
    expected = rnn.backward_batch(np.ones((4, 2, 2)))
    rnn.forward_batch(X)
    X[...] = 0
    got = rnn.backward_batch(np.ones((4, 2, 2)))
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name])


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_nan_and_inf_propagate(dtype, rng, kernel):
    T, B, I, H, O = 5, 3, 4, 6, 2
    rnn = random_model(I, H, O, dtype=dtype)
    X = rng.standard_normal((T, B, I))
    X[2, 1, 0] = np.nan
    Y, Hs = rnn.forward_batch(X)
    # the NaN enters sequence 1 at step 2 and stays in it; the others are clean
    assert np.all(np.isnan(Hs[2:, 1])) and np.all(np.isnan(Y[2:, 1]))
    assert np.all(np.isfinite(Hs[:2])) and np.all(np.isfinite(Hs[:, [0, 2]]))
    grads = rnn.backward_batch(np.ones((T, B, O)), input_grad=True)
    assert np.isnan(grads["Whh"]).any() and np.all(np.isfinite(grads["X"][:, 0]))

    X[2, 1, 0] = np.inf  # tanh saturates: finite states
    Y, Hs = rnn.forward_batch(X)
    assert np.all(np.isfinite(Hs[:2])) and np.all(np.abs(Hs) <= 1)

    rnn.Whh[0, 0] = np.nan
    Y, Hs = rnn.forward_batch(np.zeros_like(X))
    assert np.isnan(Hs[1:]).any()
    grads = rnn.backward_batch(np.ones((T, B, O)))
    assert np.isnan(grads["Wxh"]).any()
