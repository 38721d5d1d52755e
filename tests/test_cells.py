"""The LSTM and GRU on the compiled core: against the NumPy reference over
random configurations, both dtypes and every kernel path; against PyTorch's
autograd (packed sequences for lengths); and the API they share with RNN."""
import copy
import pickle

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import crnn
from crnn import reference

from conftest import (BATCHES, KERNELS, TOLERANCE, one_and_two_threads, params64, relative_error,
                      using_kernel)
from test_reference_cells import CASES, from_torch_module_grads, torch_run

CELLS = ["lstm", "gru"]
DTYPES = [np.float64, np.float32]


def cell_model(cell, I, H, O, dtype, seed, **options):
    """A model with O(1) weights: each gate's block of Whh of norm about 0.8,
    inputs keeping most pre-activations within |a| < 2."""
    model = crnn.rnn.CELLS[cell](I, O, H, dtype=dtype, seed=seed, **options)
    rng = np.random.default_rng(seed)
    scale = {"Whh": 0.8 / np.sqrt(H), "bh": 0.2, "bhn": 0.2, "by": 0.1}
    for p in model.layout.parameters:
        model.parameters()[p.name][...] = rng.standard_normal(p.shape) * scale.get(
            p.role, 0.7 / np.sqrt(p.shape[1]))
    return model


def pair(cell, h, c):
    return (h, c) if cell == "lstm" else h


def magnitudes(params, x, state, dY, d_state, lengths, masks):
    """The output and the gradients summed from the absolute values of their
    terms (as test_core.magnitudes for the Elman cell): the reference's
    backward on |every factor|. Every factor of the gated cells' gradients
    then is positive, but the GRU's (h_prev - n), made a sum of absolute
    values by passing n as -|n| (n appears elsewhere only in 1 - n^2)."""
    layer_inputs, runs, top = reference._run(params, x, state, lengths, "tanh", masks)
    absolute_runs = [(np.abs(hs), {k: -np.abs(v) if k == "n" else np.abs(v)
                                   for k, v in cache.items()}, None) for hs, cache, _ in runs]
    absolute_pass = ([v if v.ndim == 2 else np.abs(v) for v in layer_inputs], absolute_runs,
                     np.abs(top))
    absolute = {name: np.abs(p) for name, p in params.items()}
    a = (lambda v: None if v is None else (tuple(np.abs(s) for s in v) if isinstance(v, tuple)
                                           else np.abs(v)))
    return (reference.output(absolute, np.abs(top), lengths),
            reference._backward(absolute, x if x.ndim == 2 else np.abs(x), absolute_pass,
                                np.abs(dY), a(d_state), lengths, "tanh", a(masks)))


def check_cell_against_reference(model, inputs, h0, c0, dY, dh, dc, lengths, input_grad):
    """forward_batch/backward_batch against the reference on the same float64
    values: outputs, final states and every gradient, each error relative to
    the size of the terms it is summed from (see magnitudes)."""
    cell, tol = model.cell, TOLERANCE[model.dtype]
    as64 = (lambda a: None if a is None else a.astype(model.dtype).astype(np.float64))
    tokens = inputs.ndim == 2
    x64 = inputs if tokens else as64(inputs)
    state = None if h0 is None and c0 is None else pair(cell, h0, c0)
    d_state = None if dh is None and dc is None else pair(cell, dh, dc)
    Y, Hs, final = model.forward_batch(inputs, state, lengths=lengths, return_state=True)
    masks = model._engine.masks
    grads = model.backward_batch(dY, d_state, input_grad=input_grad)

    params = params64(model)
    state64 = None if state is None else pair(cell, as64(h0), as64(c0))
    d_state64 = None if d_state is None else pair(cell, as64(dh), as64(dc))
    top, final_ref = reference.forward(params, x64, state64, lengths=lengths, masks=masks,
                                       return_state=True)
    assert Y.dtype == Hs.dtype == model.dtype
    Y_size, grad_sizes = magnitudes(params, x64, state64, as64(dY), d_state64, lengths, masks)
    # a state is summed from gates and tanh values, terms of size up to 1
    state_size = (lambda expected: np.maximum(np.abs(expected), 1.0))
    assert relative_error(Hs, top, state_size(top)) < tol
    assert relative_error(Y, reference.output(params, top, lengths), Y_size) < tol
    for got, expected in zip(*((final, final_ref) if cell == "lstm" else ((final,), (final_ref,)))):
        assert got.dtype == model.dtype
        assert relative_error(got, expected, state_size(expected)) < tol
    expected = reference.backward(params, x64, as64(dY), state64, d_state64, lengths=lengths,
                                  masks=masks)
    if not input_grad:
        expected.pop("X", None)
    assert set(grads) == set(expected)
    for name, g in grads.items():
        assert g.dtype == model.dtype, name
        assert relative_error(g, expected[name].reshape(g.shape),
                              grad_sizes[name].reshape(g.shape)) < tol, name


def run_case(cell, T, B, I, H, O, layers, bidirectional, bias, tokens, dtype, with_h0, with_dh,
             lengths_kind, dropout, seed):
    rng = np.random.default_rng(seed)
    model = cell_model(cell, I, H, O, dtype, seed, num_layers=layers,
                       bidirectional=bidirectional, bias=bias, dropout=dropout)
    LD = layers * (2 if bidirectional else 1)
    inputs = rng.integers(0, I, size=(T, B)) if tokens else rng.standard_normal((T, B, I))
    states = [rng.standard_normal((LD, B, H)) * 0.5 if given else None
              for given in (with_h0, with_h0 and cell == "lstm", with_dh, with_dh and cell == "lstm")]
    lengths = {"none": None, "ones": np.ones(B, dtype=int), "full": np.full(B, T),
               "random": rng.integers(1, T + 1, size=B)}[lengths_kind]
    dY = rng.standard_normal((T, B, O if O else model.layout.top_size))
    check_cell_against_reference(model, inputs, *states[:2], dY, *states[2:], lengths,
                                 input_grad=not tokens)


@pytest.mark.parametrize("kernel_name", KERNELS)
@settings(max_examples=300, deadline=None, derandomize=True)
@given(cell=st.sampled_from(CELLS), T=st.integers(1, 7), B=BATCHES,
       I=st.integers(1, 9), H=st.integers(1, 19), O=st.one_of(st.none(), st.integers(1, 9)),
       layers=st.integers(1, 3), bidirectional=st.booleans(), bias=st.booleans(),
       tokens=st.booleans(), dtype=st.sampled_from(DTYPES), with_h0=st.booleans(),
       with_dh=st.booleans(), lengths_kind=st.sampled_from(["none", "ones", "full", "random"]),
       dropout=st.sampled_from([0.0, 0.4]), seed=st.integers(0, 2**32 - 1))
def test_random_configurations_match_reference(kernel_name, cell, T, B, I, H, O, layers,
                                               bidirectional, bias, tokens, dtype, with_h0,
                                               with_dh, lengths_kind, dropout, seed):
    with using_kernel(kernel_name):
        run_case(cell, T, B, I, H, O, layers, bidirectional, bias, tokens, dtype, with_h0,
                 with_dh, lengths_kind, dropout, seed)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("case", [
    # T, B, I, H, O, layers, bidirectional, bias, tokens
    (25, 4, 65, 100, 65, 2, False, True, True),    # a char model, two layers
    (30, 3, 32, 64, 32, 1, True, True, False),     # wide rows, both directions
    (12, 9, 17, 40, None, 2, True, False, False),  # tiles and rows left over
])
def test_larger_models_match_reference(case, cell, dtype, kernel):
    T, B, I, H, O, layers, bidirectional, bias, tokens = case
    run_case(cell, T, B, I, H, O, layers, bidirectional, bias, tokens, dtype, True, True,
             "random", 0.0, 7)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("cell", ["rnn"] + CELLS)
def test_lengths_give_each_sequence_alone(cell, bidirectional):
    """A padded batch with lengths gives each sequence what it gives alone,
    cut to its length: outputs, final states (h and c) and gradients; zeros
    past it, and no gradient. Every cell, the Elman RNN's too."""
    model = cell_model(cell, 3, 5, 2, np.float64, 1, num_layers=2, bidirectional=bidirectional)
    rng = np.random.default_rng(2)
    X, lengths = rng.standard_normal((7, 4, 3)), np.array([7, 1, 3, 5])
    Y, Hs, final = model.forward_batch(X, lengths=lengths, return_state=True)
    finals = final if cell == "lstm" else (final,)
    dY = rng.standard_normal(Y.shape)
    grads = model.backward_batch(dY, input_grad=True)
    dX, dWhh = grads["X"].copy(), grads["Whh"].copy()
    total = np.zeros_like(dWhh)
    for b, n in enumerate(lengths):
        Y_b, _, final_b = model.forward_batch(X[:n, b:b + 1], return_state=True)
        np.testing.assert_allclose(Y[:n, b:b + 1], Y_b, rtol=1e-13, atol=1e-14)
        for state, state_b in zip(finals, final_b if cell == "lstm" else (final_b,)):
            np.testing.assert_allclose(state[:, b:b + 1], state_b, rtol=1e-13, atol=1e-14)
        assert not Y[n:, b].any() and not Hs[n:, b].any() and not dX[n:, b].any()
        g = model.backward_batch(dY[:n, b:b + 1], input_grad=True)
        np.testing.assert_allclose(dX[:n, b:b + 1], g["X"], rtol=1e-12, atol=1e-14)
        total += g["Whh"]
    np.testing.assert_allclose(dWhh, total, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cell", CELLS)
def test_two_threads_give_the_same_bits(cell):
    """Both directions at once (a model large enough for it) or not, the
    same results bit for bit."""
    model = cell_model(cell, 32, 96, 8, np.float32, 3, bidirectional=True, num_layers=2)
    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 8, 32)).astype(np.float32)
    dY = rng.standard_normal((40, 8, 8)).astype(np.float32)
    lengths = rng.integers(20, 41, 8)

    def run():
        Y, _, final = model.forward_batch(X, lengths=lengths, return_state=True)
        grads = model.backward_batch(dY, input_grad=True)
        return [Y, *(final if cell == "lstm" else (final,))] + [g.copy() for g in grads.values()]

    one, two = one_and_two_threads(run)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


# ---- PyTorch ---------------------------------------------------------------

@pytest.fixture
def torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("cell,layers,bidirectional,bias,O,lengths", CASES)
def test_same_as_autograd(cell, layers, bidirectional, bias, O, lengths, dtype, torch):
    """crnn.LSTM / crnn.GRU made from a torch module give its outputs, final
    states and autograd's gradients, packed sequences for lengths."""
    T, B, I, H = 5, 3, 4, 6
    D = 2 if bidirectional else 1
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    torch.manual_seed(layers + len(cell))
    kind = torch.nn.LSTM if cell == "lstm" else torch.nn.GRU
    module = kind(I, H, num_layers=layers, bias=bias, bidirectional=bidirectional).to(tdtype)
    linear = None if O is None else torch.nn.Linear(D * H, O).to(tdtype)
    model = crnn.rnn.CELLS[cell].from_torch(module, linear)
    assert model.dtype == dtype
    rng = np.random.default_rng(1)
    X = rng.standard_normal((T, B, I)).astype(dtype)
    h0, c0, dh, dc = (rng.standard_normal((layers * D, B, H)).astype(dtype) for _ in range(4))
    lengths = None if lengths is None else np.array(lengths + [T] * (B - len(lengths)))[:B]

    run = torch_run(torch, module, linear, X, h0, c0, dh, dc, lengths, rng)
    out, Y_t, dY, finals_t = run["out"], run["Y"], run["dY"], run["finals"]

    Y, Hs, final = model.forward_batch(X, pair(cell, h0, c0), lengths=lengths, return_state=True)
    grads = model.backward_batch(dY, pair(cell, dh, dc), input_grad=True)
    tol = 1e-12 if dtype == np.float64 else 2e-5
    assert relative_error(Hs, out.detach().numpy()) < tol
    assert relative_error(Y, Y_t.detach().numpy()) < tol
    for got, expected in zip(final if cell == "lstm" else (final,), finals_t):
        assert relative_error(got, expected.detach().numpy()) < tol
    expected = from_torch_module_grads(module, linear, cell)
    expected.update(h0=run["h0"].grad, X=run["X"].grad)
    if cell == "lstm":
        expected["c0"] = run["c0"].grad
    for name, value in expected.items():
        value = value.numpy() if hasattr(value, "numpy") else value
        assert relative_error(grads[name], value.reshape(grads[name].shape)) < tol, name


@pytest.mark.parametrize("cell", CELLS)
def test_to_torch_and_back(cell, torch):
    model = cell_model(cell, 4, 5, 3, np.float32, 4, num_layers=2, bidirectional=True)
    module, linear = model.to_torch()
    assert type(module) is (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)
    X = np.random.default_rng(1).standard_normal((6, 2, 4)).astype(np.float32)
    with torch.no_grad():
        Y_t = linear(module(torch.from_numpy(X))[0]).numpy()
    np.testing.assert_allclose(model.forward_batch(X)[0], Y_t, rtol=1e-5, atol=1e-6)
    back = type(model).from_torch(module, linear)
    for name, p in model.parameters().items():
        np.testing.assert_array_equal(back.parameters()[name], p)


@pytest.mark.parametrize("cell", CELLS)
def test_batch_first_modules(cell, torch):
    kind = torch.nn.LSTM if cell == "lstm" else torch.nn.GRU
    module = kind(3, 4, num_layers=2, batch_first=True).double()
    model = crnn.rnn.CELLS[cell].from_torch(module)
    assert model.batch_first and model.output_size is None
    X = np.random.default_rng(2).standard_normal((5, 7, 3))  # (B, T, I)
    with torch.no_grad():
        out, final = module(torch.from_numpy(X))
    Y, Hs, final_crnn = model.forward_batch(X, return_state=True)
    np.testing.assert_allclose(Y, out.numpy(), rtol=1e-12, atol=1e-13)
    for got, expected in zip(final_crnn if cell == "lstm" else (final_crnn,),
                             final if cell == "lstm" else (final,)):
        np.testing.assert_allclose(got, expected.numpy(), rtol=1e-12, atol=1e-13)


def test_gru_state_dict_keeps_b_hn_apart():
    """A GRU's bias_hh: its r and z rows add into bh, its n rows are bhn."""
    model = cell_model("gru", 2, 3, None, np.float64, 0)
    state = model.state_dict()
    assert sorted(state) == ["rnn.bias_hh_l0", "rnn.bias_ih_l0", "rnn.weight_hh_l0",
                             "rnn.weight_ih_l0"]
    np.testing.assert_array_equal(state["rnn.bias_hh_l0"], np.r_[np.zeros(6), model.bhn[:, 0]])
    state["rnn.bias_hh_l0"] = np.arange(9.0)
    other = crnn.GRU(2, None, 3)
    other.load_state_dict(state)
    np.testing.assert_array_equal(other.bh[:, 0], model.bh[:, 0] + np.r_[np.arange(6.0), 0, 0, 0])
    np.testing.assert_array_equal(other.bhn[:, 0], [6.0, 7.0, 8.0])


def test_modules_of_another_kind_and_projections_are_refused(torch):
    with pytest.raises(TypeError, match="LSTM.from_torch takes a torch.nn.LSTM .* got GRU"):
        crnn.LSTM.from_torch(torch.nn.GRU(3, 4))
    with pytest.raises(TypeError, match="GRU.from_torch takes a torch.nn.GRU .* got RNN"):
        crnn.GRU.from_torch(torch.nn.RNN(3, 4))
    with pytest.raises(ValueError, match="proj_size must be 0, got 2"):
        crnn.LSTM.from_torch(torch.nn.LSTM(3, 4, proj_size=2))


# ---- the API the cells share with RNN --------------------------------------

@pytest.mark.parametrize("cell", CELLS)
def test_seed_api_is_the_last_step_of_forward_batch(cell):
    model = cell_model(cell, 3, 4, 2, np.float64, 5)
    twin = copy.deepcopy(model)
    rng = np.random.default_rng(5)
    inputs = [rng.standard_normal((3, 1)) for _ in range(6)]
    output, h = model.forward(inputs)
    Y, Hs = twin.forward_batch(np.array(inputs)[:, None, :, 0])
    np.testing.assert_allclose(output[:, 0], Y[-1, 0], rtol=1e-14)
    np.testing.assert_allclose(h[:, 0], Hs[-1, 0], rtol=1e-14)
    d_y = rng.standard_normal((2, 1))
    grads = {k: v.copy() for k, v in model.backward(d_y, learning_rate=0.1).items()}
    dY = np.zeros_like(Y)
    dY[-1, 0] = d_y[:, 0]
    expected = twin.backward_batch(dY)
    for name, p in twin.parameters().items():
        np.testing.assert_allclose(grads[name], expected[name], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(model.parameters()[name], p - 0.1 * expected[name],
                                   rtol=1e-12, atol=1e-15)


def test_lstm_train_step_carries_the_state_pair():
    model = cell_model("lstm", 5, 6, 5, np.float64, 6)
    opt = crnn.optim.Adam(model.parameters(), lr=5e-2)
    rng = np.random.default_rng(6)
    x, y = rng.integers(0, 5, (8, 2)), rng.integers(0, 5, (8, 2))
    loss0, (h, c) = model.train_step(x, y, optimizer=opt)
    assert h.shape == c.shape == (2, 6)
    for _ in range(60):
        loss, (h, c) = model.train_step(x, y, (h, c), optimizer=opt)
    assert loss < 0.5 * loss0


@pytest.mark.parametrize("cell", CELLS)
def test_pickle_deepcopy_and_checkpoint(cell, tmp_path):
    options = dict(num_layers=2, bidirectional=True, dropout=0.25, batch_first=True)
    if cell == "lstm":
        options["forget_bias"] = 1.0
    model = crnn.rnn.CELLS[cell](3, 2, 4, dtype=np.float32, seed=8, **options)
    X = np.random.default_rng(8).standard_normal((2, 5, 3)).astype(np.float32)
    copies = (pickle.loads(pickle.dumps(model)), copy.deepcopy(model))
    Y = model.forward_batch(X)[0]  # dropout's masks from the generator the copies carry
    for other in copies:
        assert type(other) is type(model) and repr(other) == repr(model)
        np.testing.assert_array_equal(other.forward_batch(X)[0], Y)
    path = tmp_path / "model.npz"
    crnn.save_checkpoint(path, model)
    loaded = crnn.load_checkpoint(path).rnn
    assert type(loaded) is type(model) and repr(loaded) == repr(model)
    model.eval(), loaded.eval()
    np.testing.assert_array_equal(loaded.forward_batch(X)[0], model.forward_batch(X)[0])


def test_initialisations():
    H = 50
    lstm = crnn.LSTM(3, None, H, seed=0)
    bound = 1 / np.sqrt(H)
    assert np.abs(lstm.Whh).max() <= bound and np.abs(lstm.Whh).max() > 0.9 * bound
    assert np.abs(lstm.bh).max() <= 2 * bound  # the sum of PyTorch's two biases
    biased = crnn.LSTM(3, None, H, seed=0, forget_bias=1.0)
    np.testing.assert_allclose(biased.bh[H:2 * H], lstm.bh[H:2 * H] + 1.0)
    np.testing.assert_array_equal(biased.bh[:H], lstm.bh[:H])
    gru = crnn.GRU(3, None, H, init="orthogonal", seed=0)
    for gate in range(3):
        block = gru.Whh[gate * H:(gate + 1) * H]
        np.testing.assert_allclose(block @ block.T, np.eye(H), atol=1e-12)
    assert not gru.bh.any() and not gru.bhn.any()
