"""PyTorch interop: state dicts without torch; with torch, the same outputs
and gradients as autograd, both ways."""
import numpy as np
import pytest

import crnn

from conftest import random_model, relative_error


def test_state_dict_round_trip_without_torch():
    a = random_model(4, 6, 3)
    state = a.state_dict()
    assert sorted(state) == sorted(["rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0",
                                    "rnn.bias_hh_l0", "linear.weight", "linear.bias"])
    state["rnn.bias_hh_l0"] = np.full(6, 0.5)   # PyTorch's second bias adds into bh
    b = crnn.RNN(4, 3, 6)
    b.load_state_dict(state)
    np.testing.assert_array_equal(b.bh[:, 0], a.bh[:, 0] + 0.5)
    np.testing.assert_array_equal(b.Whh, a.Whh)
    with pytest.raises(ValueError, match=r"state dict has no \['linear.bias'\]"):
        b.load_state_dict({k: v for k, v in state.items() if k != "linear.bias"})
    state["rnn.weight_hh_l0"] = np.zeros((6, 5))
    with pytest.raises(ValueError, match=r"rnn.weight_hh_l0 must have shape \(6, 6\), got \(6, 5\)"):
        b.load_state_dict(state)


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("T,B,I,H,O", [(1, 1, 1, 1, 1), (5, 3, 4, 7, 2), (12, 2, 9, 16, 5)])
def test_same_outputs_and_gradients_as_autograd(T, B, I, H, O, dtype, torch):
    tdtype = torch.float32 if dtype == np.float32 else torch.float64
    torch.manual_seed(T + H)
    module = torch.nn.RNN(I, H, nonlinearity="tanh").to(tdtype)
    linear = torch.nn.Linear(H, O).to(tdtype)
    rnn = crnn.RNN.from_torch(module, linear)
    assert rnn.dtype == dtype
    rng = np.random.default_rng(0)
    X, h0 = rng.standard_normal((T, B, I)).astype(dtype), rng.standard_normal((B, H)).astype(dtype)
    dY, dh = rng.standard_normal((T, B, O)).astype(dtype), rng.standard_normal((B, H)).astype(dtype)

    X_t = torch.from_numpy(X).requires_grad_()
    h0_t = torch.from_numpy(h0[None]).requires_grad_()
    out, h_n = module(X_t, h0_t)
    Y_t = linear(out)
    ((Y_t * torch.from_numpy(dY)).sum() + (h_n[0] * torch.from_numpy(dh)).sum()).backward()

    Y, Hs = rnn.forward_batch(X, h0)
    grads = rnn.backward_batch(dY, dh, input_grad=True)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    assert relative_error(Y, Y_t.detach().numpy()) < tol
    assert relative_error(Hs, out.detach().numpy()) < tol
    expected = {"Wxh": module.weight_ih_l0.grad, "Whh": module.weight_hh_l0.grad,
                "bh": module.bias_ih_l0.grad[:, None], "Why": linear.weight.grad,
                "by": linear.bias.grad[:, None], "h0": h0_t.grad[0], "X": X_t.grad}
    for name, g in expected.items():
        assert relative_error(grads[name], g.numpy()) < tol, name


def test_to_torch_computes_the_same(torch):
    rnn = random_model(5, 8, 3, dtype=np.float32)
    module, linear = rnn.to_torch()
    X = np.random.default_rng(1).standard_normal((6, 2, 5)).astype(np.float32)
    with torch.no_grad():
        Y_t = linear(module(torch.from_numpy(X))[0]).numpy()
    np.testing.assert_allclose(rnn.forward_batch(X)[0], Y_t, rtol=1e-5, atol=1e-6)
    back = crnn.RNN.from_torch(module, linear)
    for name, p in rnn.parameters().items():
        np.testing.assert_array_equal(back.parameters()[name], p)


def test_unsupported_modules_are_refused(torch):
    with pytest.raises(ValueError, match="the Linear takes 5 features, the RNN gives 4"):
        crnn.RNN.from_torch(torch.nn.RNN(3, 4), torch.nn.Linear(5, 2))
    with pytest.raises(ValueError, match="the Linear takes 4 features, the RNN gives 8"):
        crnn.RNN.from_torch(torch.nn.RNN(3, 4, bidirectional=True), torch.nn.Linear(4, 2))
    with pytest.raises(TypeError, match="takes a torch.nn.RNN and a torch.nn.Linear"):
        crnn.RNN.from_torch(torch.nn.GRU(3, 4), torch.nn.Linear(4, 2))
    with pytest.raises(TypeError, match="float32 or float64 in both modules"):
        crnn.RNN.from_torch(torch.nn.RNN(3, 4), torch.nn.Linear(4, 2).double())


def packed_run(torch, module, linear, X, h0, lengths):
    """PyTorch's answer for variable lengths: pack, run, pad with zeros."""
    X_t = torch.from_numpy(X).requires_grad_()
    h0_t = torch.from_numpy(h0).requires_grad_()
    if lengths is None:
        out, h_n = module(X_t, h0_t)
    else:
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            X_t, torch.from_numpy(lengths), batch_first=module.batch_first, enforce_sorted=False)
        out, h_n = module(packed, h0_t)
        out = torch.nn.utils.rnn.pad_packed_sequence(
            out, batch_first=module.batch_first, total_length=X.shape[1 if module.batch_first else 0])[0]
    Y = out if linear is None else linear(out)
    if lengths is not None and linear is not None:  # crnn's Y is 0 past each length
        steps = torch.arange(X.shape[1 if module.batch_first else 0])
        valid = steps[:, None] < torch.from_numpy(lengths)[None, :]
        Y = Y * (valid.T if module.batch_first else valid)[..., None]
    return X_t, h0_t, out, Y, h_n


CONFIGS = [  # num_layers, bidirectional, nonlinearity, bias, batch_first, output, lengths
    (2, False, "tanh", True, False, 3, None),
    (1, True, "relu", True, False, 4, [5, 1, 3]),
    (3, True, "tanh", False, True, None, [2, 5, 5]),
    (2, True, "relu", True, True, 2, [4, 5, 1]),
    (2, False, "relu", False, False, None, [3, 1, 5]),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layers,bidirectional,nonlinearity,bias,batch_first,output,lengths", CONFIGS)
def test_the_whole_nn_rnn_against_autograd(layers, bidirectional, nonlinearity, bias, batch_first,
                                           output, lengths, dtype, torch):
    """Stacked, bidirectional, ReLU, bias-free, batch-first modules, with
    packed sequences for lengths: outputs, final states and every gradient."""
    T, B, I, H = 5, 3, 4, 6
    tdtype = torch.float32 if dtype == np.float32 else torch.float64
    torch.manual_seed(layers * 10 + len(nonlinearity))
    module = torch.nn.RNN(I, H, num_layers=layers, nonlinearity=nonlinearity, bias=bias,
                          batch_first=batch_first, bidirectional=bidirectional).to(tdtype)
    D = 2 if bidirectional else 1
    linear = None if output is None else torch.nn.Linear(D * H, output).to(tdtype)
    rnn = crnn.RNN.from_torch(module, linear)
    assert rnn.batch_first == batch_first and rnn.num_layers == layers
    rng = np.random.default_rng(1)
    lengths = None if lengths is None else np.array(lengths)
    X = rng.standard_normal((B, T, I) if batch_first else (T, B, I)).astype(dtype)
    h0 = rng.standard_normal((layers * D, B, H)).astype(dtype)
    X_t, h0_t, out, Y_t, h_n_t = packed_run(torch, module, linear, X, h0, lengths)
    dY = rng.standard_normal(tuple(Y_t.shape)).astype(dtype)
    dh = rng.standard_normal(h0.shape).astype(dtype)
    ((Y_t * torch.from_numpy(dY)).sum() + (h_n_t * torch.from_numpy(dh)).sum()).backward()

    Y, Hs, h_n = rnn.forward_batch(X, h0, lengths=lengths, return_state=True)
    grads = rnn.backward_batch(dY, dh, input_grad=True)
    tol = 1e-12 if dtype == np.float64 else 2e-5
    assert relative_error(Y, Y_t.detach().numpy()) < tol
    assert relative_error(Hs, out.detach().numpy()) < tol
    assert relative_error(h_n, h_n_t.detach().numpy()) < tol
    torch_grads = {f"rnn.{k}": v.grad for k, v in module.named_parameters()}
    if linear is not None:
        torch_grads.update({"linear.weight": linear.weight.grad, "linear.bias": linear.bias.grad})
    for p in rnn.layout.parameters:
        expected = torch_grads[p.torch_names[0]].numpy().reshape(p.shape)
        assert relative_error(grads[p.name], expected) < tol, p.name
        for other in p.torch_names[1:]:  # both hidden biases get the same gradient
            assert relative_error(torch_grads[other].numpy(), expected[:, 0]) < tol, other
    assert relative_error(grads["h0"], h0_t.grad.numpy()) < tol
    assert relative_error(grads["X"], X_t.grad.numpy()) < tol


@pytest.mark.parametrize("layers,bidirectional,nonlinearity,bias,batch_first,output,lengths", CONFIGS)
def test_to_torch_and_state_dicts_round_trip(layers, bidirectional, nonlinearity, bias,
                                            batch_first, output, lengths, torch):
    rnn = crnn.RNN(4, output, 6, num_layers=layers, bidirectional=bidirectional,
                   nonlinearity=nonlinearity, bias=bias, batch_first=batch_first, init="pytorch",
                   seed=3)
    module, linear = rnn.to_torch()
    assert (linear is None) == (output is None)
    names = {f"rnn.{k}" for k in module.state_dict()} | (
        set() if linear is None else {"linear.weight", "linear.bias"})
    assert set(rnn.state_dict()) == names
    X = np.random.default_rng(0).standard_normal((3, 5, 4) if batch_first else (5, 3, 4))
    with torch.no_grad():
        out = module(torch.from_numpy(X))[0]
        Y_t = (out if linear is None else linear(out)).numpy()
    np.testing.assert_allclose(rnn.forward_batch(X)[0], Y_t, rtol=1e-12, atol=1e-12)
    back = crnn.RNN.from_torch(module, linear)
    twin = crnn.RNN(4, output, 6, num_layers=layers, bidirectional=bidirectional, bias=bias)
    twin.load_state_dict({k: v for k, v in rnn.state_dict().items()})
    for name, p in rnn.parameters().items():
        np.testing.assert_array_equal(back.parameters()[name], p)
        np.testing.assert_array_equal(twin.parameters()[name], p)
    state = rnn.state_dict()
    state.pop(next(iter(state)))
    with pytest.raises(ValueError, match="state dict has no"):
        twin.load_state_dict(state)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_state_dicts_with_bare_names_or_any_prefix(cell):
    """An nn.RNN's own state dict merged with its Linear's, and names under
    the prefixes a user's module has, load as PyTorch-named ones do."""
    model = crnn.rnn.CELLS[cell](3, 2, 4, num_layers=2, seed=0, init="pytorch")
    named = model.state_dict()
    bare = {k.split(".", 1)[1]: v for k, v in named.items()}
    assert "weight_ih_l1" in bare and "weight" in bare and "bias" in bare
    custom = {("encoder." if k.startswith("rnn.") else "head.") + k.split(".", 1)[1]: v
              for k, v in named.items()}
    for state, prefixes in ((bare, {}), (custom, dict(rnn_prefix="encoder.",
                                                     linear_prefix="head."))):
        other = crnn.rnn.CELLS[cell](3, 2, 4, num_layers=2, seed=1, init="pytorch")
        other.load_state_dict(state, **prefixes)
        for name, p in model.parameters().items():
            np.testing.assert_array_equal(other.parameters()[name], p)
    with pytest.raises(ValueError, match=r"no \['bias', 'bias_hh_l0'.*read with the prefixes "
                                         r"'' and '': give rnn_prefix= and linear_prefix="):
        other.load_state_dict(custom)
