"""The Elman family on the compiled core: stacked layers, both directions,
ReLU, no bias, no output layer, variable lengths, dropout, batch-first and
the initialisations, against the NumPy reference on every kernel path."""
import copy
import pickle

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import crnn
from crnn import reference

from conftest import BATCHES, KERNELS, one_and_two_threads, params64, relative_error, using_kernel
from test_core import check_against_reference

DTYPES = [np.float64, np.float32]


def family_model(I, H, O, dtype, seed, **options):
    """A model with O(1) weights: Whh scaled to spectral radius 0.8, inputs
    keeping most pre-activations within |a| < 2 (see conftest.random_model)."""
    rnn = crnn.RNN(I, O, H, dtype=dtype, seed=seed, **options)
    rng = np.random.default_rng(seed)
    for p in rnn.layout.parameters:
        if p.role == "Whh":
            W = rng.standard_normal(p.shape)
            value = W * (0.8 / max(np.max(np.abs(np.linalg.eigvals(W))), 1e-12))
        else:
            value = rng.standard_normal(p.shape) * {"Wxh": 0.5 / np.sqrt(p.shape[1]), "bh": 0.1,
                                                    "Why": 1 / np.sqrt(p.shape[1]), "by": 0.1}[p.role]
        rnn.parameters()[p.name][...] = value
    return rnn


def precondition(holds):
    """For the fixed cases: the weights are chosen so that it holds."""
    assert holds, "a fixed case's precondition failed: choose its weights again"


def run_case(T, B, I, H, O, layers, bidirectional, nonlinearity, bias, tokens, dtype, with_h0,
             with_dh, lengths_kind, dropout, seed, require=assume):
    rng = np.random.default_rng(seed)
    rnn = family_model(I, H, O, dtype, seed, num_layers=layers, bidirectional=bidirectional,
                       nonlinearity=nonlinearity, bias=bias, dropout=dropout)
    D = 2 if bidirectional else 1
    inputs = rng.integers(0, I, size=(T, B)) if tokens else rng.standard_normal((T, B, I))
    h0 = rng.standard_normal((layers * D, B, H)) * 0.5 if with_h0 else None
    dh = rng.standard_normal((layers * D, B, H)) if with_dh else None
    lengths = {"none": None, "ones": np.ones(B, dtype=int), "full": np.full(B, T),
               "random": rng.integers(1, T + 1, size=B)}[lengths_kind]
    if dtype == np.float32 and nonlinearity == "tanh":
        # as in test_core: a saturated unit loses float32's digits in 1 - h^2
        top = reference.forward(params64(rnn), inputs, h0, lengths=lengths, masks=None)
        require(np.max(np.abs(top)) < 0.98)
    dY = rng.standard_normal((T, B, O if O else D * H))
    check_against_reference(rnn, inputs, h0, dY, dh, input_grad=not tokens, lengths=lengths)


@pytest.mark.parametrize("kernel_name", KERNELS)
@settings(max_examples=150, deadline=None, derandomize=True)
@given(T=st.integers(1, 7), B=BATCHES, I=st.integers(1, 9), H=st.integers(1, 19),
       O=st.one_of(st.none(), st.integers(1, 9)), layers=st.integers(1, 3),
       bidirectional=st.booleans(), nonlinearity=st.sampled_from(["tanh", "relu"]),
       bias=st.booleans(), tokens=st.booleans(), dtype=st.sampled_from(DTYPES),
       with_h0=st.booleans(), with_dh=st.booleans(),
       lengths_kind=st.sampled_from(["none", "ones", "full", "random"]),
       dropout=st.sampled_from([0.0, 0.4]), seed=st.integers(0, 2**32 - 1))
def test_random_configurations_match_reference(kernel_name, T, B, I, H, O, layers, bidirectional,
                                               nonlinearity, bias, tokens, dtype, with_h0,
                                               with_dh, lengths_kind, dropout, seed):
    with using_kernel(kernel_name):
        run_case(T, B, I, H, O, layers, bidirectional, nonlinearity, bias, tokens, dtype,
                 with_h0, with_dh, lengths_kind, dropout, seed)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("case", [
    # T, B, I, H, O, layers, bidirectional, nonlinearity, bias, tokens
    (25, 4, 65, 100, 65, 2, False, "tanh", True, True),    # a char-RNN, two layers
    (30, 3, 32, 64, 32, 1, True, "relu", True, False),     # wide rows, both directions
    (12, 9, 17, 40, None, 3, True, "tanh", False, False),  # tiles and rows left over
])
def test_larger_models_match_reference(case, dtype, kernel):
    T, B, I, H, O, layers, bidirectional, nonlinearity, bias, tokens = case
    run_case(T, B, I, H, O, layers, bidirectional, nonlinearity, bias, tokens, dtype,
             True, True, "random", 0.0, 7, require=precondition)


# ---- lengths ---------------------------------------------------------------

# each sequence of a padded batch against itself alone: test_cells.py, for every cell


def test_lengths_in_any_order_and_dtype():
    rnn = family_model(2, 3, 2, np.float64, 0, bidirectional=True)
    X = np.random.default_rng(0).standard_normal((5, 3, 2))
    a = rnn.forward_batch(X, lengths=[2, 5, 3])[0]
    b = rnn.forward_batch(X, lengths=np.array([2, 5, 3], dtype=np.uint8))[0]
    np.testing.assert_array_equal(a, b)
    order = [1, 2, 0]
    c = rnn.forward_batch(X[:, order], lengths=np.array([2, 5, 3])[order])[0]
    np.testing.assert_array_equal(a[:, order], c)


def test_train_step_counts_the_valid_steps_only():
    rnn = family_model(4, 6, 4, np.float64, 3, num_layers=2)
    twin = copy.deepcopy(rnn)
    rng = np.random.default_rng(3)
    x, y = rng.integers(0, 4, (6, 3)), rng.integers(0, 4, (6, 3))
    lengths = np.array([6, 2, 4])
    loss, h = rnn.train_step(x, y, optimizer=crnn.optim.SGD(rnn.parameters(), lr=0.1),
                             loss="ce_mean", lengths=lengths)
    # by hand: the mean over the 12 valid steps only
    Y, _ = twin.forward_batch(x, lengths=lengths)
    valid = np.arange(6)[:, None] < lengths[None, :]
    expected, dY_valid = crnn.losses.softmax_cross_entropy(Y[valid][:, None], y[valid][:, None],
                                                           "mean")
    assert np.isclose(loss, expected, rtol=1e-12)
    dY = np.zeros_like(Y)
    dY[valid] = dY_valid[:, 0]
    grads = twin.backward_batch(dY)
    crnn.optim.SGD(twin.parameters(), lr=0.1).step(grads)
    for name, p in rnn.parameters().items():
        np.testing.assert_allclose(p, twin.parameters()[name], rtol=1e-13, atol=1e-15)
    assert h.shape == (2, 3, 6)


# ---- batch_first, the seed API, output_size=None ---------------------------

@pytest.mark.parametrize("tokens", [False, True])
def test_batch_first_is_the_transpose(tokens):
    options = dict(num_layers=2, bidirectional=True)
    a = family_model(3, 4, 2, np.float64, 4, **options)
    b = family_model(3, 4, 2, np.float64, 4, batch_first=True, **options)
    rng = np.random.default_rng(4)
    X = rng.integers(0, 3, (5, 3)) if tokens else rng.standard_normal((5, 3, 3))
    XT = X.T if tokens else X.swapaxes(0, 1)
    Ya, Hsa = a.forward_batch(X, lengths=[5, 2, 4])
    Yb, Hsb = b.forward_batch(XT, lengths=[5, 2, 4])
    np.testing.assert_array_equal(Yb, Ya.swapaxes(0, 1))
    np.testing.assert_array_equal(Hsb, Hsa.swapaxes(0, 1))
    dY = rng.standard_normal(Ya.shape)
    ga = a.backward_batch(dY, input_grad=not tokens)
    gb = b.backward_batch(dY.swapaxes(0, 1), input_grad=not tokens)
    for name in ga:
        expected = ga[name].swapaxes(0, 1) if name == "X" else ga[name]
        np.testing.assert_array_equal(gb[name], expected)


@pytest.mark.parametrize("cell", [crnn.RNN, crnn.LSTM, crnn.GRU])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("tokens", [False, True])
@pytest.mark.parametrize("lengths", [None, [2, 5, 4, 5]])
def test_batch_first_arrays_are_read_in_place(cell, dtype, tokens, lengths):
    # a C-contiguous batch-first X (and padded rows that predict hands on)
    # is copied in by the engine step by step, not transposed by NumPy
    # first: the results and gradients are the time-first ones, bit for bit,
    # and the copy is the forward's own (changing X after it changes nothing)
    a = cell(3, 2, 4, num_layers=2, dtype=dtype, seed=5)
    b = cell(3, 2, 4, num_layers=2, dtype=dtype, seed=5, batch_first=True)
    rng = np.random.default_rng(6)
    X = rng.integers(0, 3, (4, 5)) if tokens else rng.standard_normal((4, 5, 3)).astype(dtype)
    time_first = np.ascontiguousarray(X.swapaxes(0, 1))
    Ya, Hsa = a.forward_batch(time_first, lengths=lengths)
    Yb, Hsb = b.forward_batch(X, lengths=lengths)
    X[...] = 0
    np.testing.assert_array_equal(Yb, Ya.swapaxes(0, 1))
    np.testing.assert_array_equal(Hsb, Hsa.swapaxes(0, 1))
    dY = rng.standard_normal(Ya.shape).astype(dtype)
    ga = a.backward_batch(dY, input_grad=not tokens)
    gb = b.backward_batch(np.ascontiguousarray(dY.swapaxes(0, 1)), input_grad=not tokens)
    for name in ga:
        expected = ga[name].swapaxes(0, 1) if name == "X" else ga[name]
        np.testing.assert_array_equal(gb[name], expected)
    Xp = rng.standard_normal((6, 5, 3)).astype(dtype)  # predict's rows, as views
    expected = [a.predict(np.ascontiguousarray(Xp[i:i + 1])) for i in range(6)]
    np.testing.assert_array_equal(b.predict(Xp, batch_size=4), np.concatenate(expected))


def test_the_seed_api_on_a_stacked_bidirectional_model():
    rnn = family_model(3, 4, 2, np.float64, 5, num_layers=2, bidirectional=True)
    inputs = [np.array([1, 0, 0]), np.array([0, 1, 0]), np.array([0, 0, 1])]
    output, h = rnn.forward(inputs)
    Y, Hs = rnn.forward_batch(np.array(inputs, dtype=float)[:, None])
    np.testing.assert_array_equal(output[:, 0], Y[-1, 0])
    np.testing.assert_array_equal(h[:, 0], Hs[-1, 0])
    assert h.shape == (8, 1)
    before = {k: v.copy() for k, v in rnn.parameters().items()}
    rnn.forward(inputs)
    grads = rnn.backward(np.array([[0], [1]]), learning_rate=0.5)
    dY = np.zeros((3, 1, 2))
    dY[-1, 0] = [0, 1]
    expected = reference.backward(before, np.array(inputs, dtype=float)[:, None], dY)
    for name, p in before.items():
        assert relative_error(grads[name], expected[name]) < 1e-12, name
        np.testing.assert_allclose(rnn.parameters()[name], p - 0.5 * expected[name], atol=1e-14)


def test_without_an_output_layer_Y_is_the_top_output():
    rnn = crnn.RNN(3, None, 4, num_layers=2, bidirectional=True, seed=0)
    assert "Why" not in rnn.parameters() and rnn.output_size is None
    Y, Hs = rnn.forward_batch(np.ones((5, 2, 3)))
    assert Y.shape == (5, 2, 8) and Y is Hs
    with pytest.raises(ValueError, match="has none"):
        rnn.forward([np.ones(3)])
    with pytest.raises(AttributeError, match="'RNN' object has no attribute 'Why'"):
        rnn.Why


# ---- dropout -----------------------------------------------------------------

def test_dropout_masks_are_drawn_scaled_and_reproducible():
    a = crnn.RNN(3, 2, 50, num_layers=3, bidirectional=True, dropout=0.3, seed=9)
    b = crnn.RNN(3, 2, 50, num_layers=3, bidirectional=True, dropout=0.3, seed=9)
    X = np.random.default_rng(0).standard_normal((40, 8, 3))
    Ya = a.forward_batch(X)[0]
    masks = a._engine.masks
    assert masks.shape == (2, 40, 8, 100)
    assert set(np.unique(masks)) == {0.0, 1 / 0.7}
    assert abs((masks == 0).mean() - 0.3) < 0.02  # 64,000 draws: 4 standard deviations
    np.testing.assert_array_equal(b.forward_batch(X)[0], Ya)    # the same seed, the same masks
    assert not np.array_equal(a.forward_batch(X)[0], Ya)        # fresh masks each forward
    a.eval()
    Y_eval = a.forward_batch(X)[0]
    assert a._engine.masks is None
    assert relative_error(Y_eval, reference.output(params64(a), reference.forward(params64(a), X))) < 1e-12
    assert a.train() is a and a.training


def test_dropout_needs_two_layers_and_is_off_in_eval():
    rnn = crnn.RNN(3, 2, 5, dropout=0.5, seed=0)  # one layer: nothing to drop between
    X = np.ones((4, 2, 3))
    np.testing.assert_array_equal(rnn.forward_batch(X)[0], rnn.forward_batch(X)[0])
    assert rnn._engine.masks is None


# ---- initialisations -----------------------------------------------------------

def test_initialisations():
    H = 40
    normal = crnn.RNN(5, 3, H, num_layers=2, seed=1)
    rng = np.random.default_rng(1)
    for p in normal.layout.parameters:  # the seed's draw, in parameter order
        value = normal.parameters()[p.name]
        if p.role in ("bh", "by"):
            assert not value.any()
        else:
            np.testing.assert_array_equal(value, rng.standard_normal(p.shape) * 0.01)
    torchlike = crnn.RNN(5, 3, H, num_layers=2, bidirectional=True, init="pytorch", seed=1)
    for p in torchlike.layout.parameters:
        bound = 1 / np.sqrt(2 * H if p.role in ("Why", "by") else H)
        assert np.abs(torchlike.parameters()[p.name]).max() <= bound * (2 if p.role == "bh" else 1)
    orthogonal = crnn.RNN(5, 3, H, init="orthogonal", seed=1)
    np.testing.assert_allclose(orthogonal.Whh @ orthogonal.Whh.T, np.eye(H), atol=1e-12)
    identity = crnn.RNN(5, 3, H, num_layers=2, nonlinearity="relu", init="identity", seed=1)
    np.testing.assert_array_equal(identity.Whh_l1, np.eye(H))
    assert not identity.bh.any() and np.abs(identity.Wxh).max() < 0.01
    assert 0.0005 < identity.Wxh.std() < 0.0015


# ---- models that travel, optimizers, checkpoints ------------------------------

@pytest.mark.parametrize("travel", [lambda m: pickle.loads(pickle.dumps(m)), copy.deepcopy])
def test_stacked_models_pickle_and_deepcopy(travel):
    rnn = crnn.RNN(3, 2, 5, num_layers=2, bidirectional=True, nonlinearity="relu", bias=False,
                   dropout=0.2, batch_first=True, init="orthogonal", dtype=np.float32, seed=2)
    twin = travel(rnn)
    assert repr(twin) == repr(rnn)
    assert "num_layers=2" in repr(rnn) and "bias=False" in repr(rnn)
    X = np.random.default_rng(0).standard_normal((2, 4, 3))
    np.testing.assert_array_equal(twin.forward_batch(X)[0], rnn.forward_batch(X)[0])  # masks too


def test_checkpoints_and_optimizers_cover_every_parameter(tmp_path):
    rnn = crnn.RNN(4, 4, 6, num_layers=2, bidirectional=True, nonlinearity="relu", dropout=0.1,
                   init="pytorch", dtype=np.float32, seed=1)
    opt = crnn.optim.Adam(rnn.parameters(), lr=0.01)
    assert opt._flat_params is not None  # one C loop over every layer's parameters
    rnn.train_step(np.array([0, 1, 2, 3]), np.array([1, 2, 3, 0]), optimizer=opt)
    path = tmp_path / "model.npz"
    crnn.save_checkpoint(path, rnn, optimizer=opt)
    saved = crnn.load_checkpoint(path)
    assert repr(saved.rnn) == repr(rnn)
    for name, p in rnn.parameters().items():
        np.testing.assert_array_equal(saved.rnn.parameters()[name], p)
    opt2 = crnn.optim.Adam(saved.rnn.parameters())
    opt2.load_state_dict(saved.optimizer_state)
    rnn.eval(), saved.rnn.eval()
    for model, o in ((rnn, opt), (saved.rnn, opt2)):
        model.train_step(np.array([3, 2, 1]), np.array([2, 1, 0]), optimizer=o)
    for name, p in rnn.parameters().items():
        np.testing.assert_array_equal(saved.rnn.parameters()[name], p)


def test_parameters_of_every_layer_are_attributes():
    rnn = crnn.RNN(3, 2, 4, num_layers=2, bidirectional=True, seed=0)
    assert rnn.Wxh_l1_reverse.shape == (4, 8) and rnn.Whh_reverse.shape == (4, 4)
    rnn.bh_l1 = np.arange(4)
    assert rnn.parameters()["bh_l1"][3, 0] == 3
    with pytest.raises(ValueError, match=r"Wxh_l1 must have shape \(4, 8\), got \(4, 4\)"):
        rnn.Wxh_l1 = np.zeros((4, 4))
    one_layer = crnn.RNN(3, 2, 4, seed=0)
    with pytest.raises(AttributeError, match="'RNN' object has no attribute 'Wxh_l1'"):
        one_layer.Wxh_l1


def test_a_parameter_the_model_lacks_is_refused_whatever_other_models_exist():
    # parameters belong to each model: building a two-layer GRU must not
    # give the class (and so every other model) its names
    crnn.GRU(3, 2, 4, num_layers=2, bidirectional=True, seed=0)
    assert not hasattr(crnn.RNN, "Whh_l1") and not hasattr(crnn.rnn.Recurrent, "bhn")
    rnn = crnn.RNN(3, 2, 4, seed=0)
    before = rnn._param_flat.copy()
    for name in ("Whh_l1", "bhn", "Wxh_reverse", "Why_l1"):
        if name == "Why_l1":  # not a parameter's name: a plain attribute of the user's
            setattr(rnn, name, 1)
            assert rnn.Why_l1 == 1
            continue
        with pytest.raises(AttributeError, match=f"this RNN has no parameter {name}; its "
                                                 "parameters are Wxh, Whh, bh, Why, by"):
            setattr(rnn, name, np.zeros((4, 4)))
        assert name not in vars(rnn)
    np.testing.assert_array_equal(rnn._param_flat, before)
    assert "Whh" in dir(rnn) and "Whh_l1" not in dir(rnn)


@pytest.mark.parametrize("tokens", [False, True], ids=["floats", "tokens"])
def test_both_directions_at_once_give_the_same_bits(tokens, kernel):
    """With two threads the directions of a layer run at once (here each has
    over a million multiply-adds, enough for it); the results are those of
    one thread, bit for bit."""
    T, B, I, H = 20, 16, 32, 64
    rnn = family_model(I, H, 5, np.float32, 8, num_layers=2, bidirectional=True)
    assert T * B * H * (I + H) >= 1e6
    rng = np.random.default_rng(8)
    X = rng.integers(0, I, (T, B)) if tokens else rng.standard_normal((T, B, I))
    h0, dh = rng.standard_normal((4, B, H)), rng.standard_normal((4, B, H))
    dY, lengths = rng.standard_normal((T, B, 5)), rng.integers(1, T + 1, B)

    def run():
        Y, _, h_n = rnn.forward_batch(X, h0, lengths=lengths, return_state=True)
        grads = rnn.backward_batch(dY, dh, input_grad=not tokens)
        return [Y, h_n] + [g.copy() for g in grads.values()]

    for one, two in zip(*one_and_two_threads(run)):
        np.testing.assert_array_equal(one, two)


def test_train_step_with_lengths_batch_first():
    a = family_model(4, 6, 4, np.float64, 3, bidirectional=True)
    b = family_model(4, 6, 4, np.float64, 3, bidirectional=True, batch_first=True)
    rng = np.random.default_rng(6)
    x, y, lengths = rng.integers(0, 4, (6, 3)), rng.integers(0, 4, (6, 3)), [2, 6, 4]
    loss_a, h_a = a.train_step(x, y, optimizer=crnn.optim.SGD(a.parameters(), lr=0.1),
                               loss="ce_mean", lengths=lengths)
    loss_b, h_b = b.train_step(x.T, y.T, optimizer=crnn.optim.SGD(b.parameters(), lr=0.1),
                               loss="ce_mean", lengths=lengths)
    assert np.isclose(loss_a, loss_b, rtol=1e-14, atol=0)  # its terms summed in another order
    np.testing.assert_array_equal(h_a, h_b)
    for name, p in a.parameters().items():
        np.testing.assert_array_equal(b.parameters()[name], p)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_an_omitted_initial_state_is_the_zeros_given(cell):
    # a zero state is multiplied like any other (as PyTorch does): with a NaN
    # in Whh the first step is NaN either way, not finite when h0 is omitted
    model = crnn.rnn.CELLS[cell](3, 2, 4, num_layers=2, seed=0)
    model.Whh_l1[0, 0] = np.nan
    if cell == "lstm":  # and an infinite forget gate weight meets the zero c0
        model.Wxh[4, 0] = np.inf
    X = np.ones((3, 2, 3))
    zeros = np.zeros((2, 2, 4))
    state = (zeros, zeros) if cell == "lstm" else zeros
    for lengths in (None, [3, 1]):
        omitted = model.forward_batch(X, lengths=lengths, return_state=True)
        given = model.forward_batch(X, state, lengths=lengths, return_state=True)
        assert np.isnan(omitted[0][0]).any()
        for a, b in zip(omitted, given):
            for x, y in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
                np.testing.assert_array_equal(x, y)
    output, _ = model.forward([np.ones(3)])  # the seed API's zero state too
    np.testing.assert_array_equal(output[:, 0], omitted[0][0, 0])
