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
    with pytest.raises(ValueError, match="one layer, one direction, tanh"):
        crnn.RNN.from_torch(torch.nn.RNN(3, 4, num_layers=2), torch.nn.Linear(4, 2))
    with pytest.raises(ValueError, match="one layer, one direction, tanh"):
        crnn.RNN.from_torch(torch.nn.RNN(3, 4, nonlinearity="relu"), torch.nn.Linear(4, 2))
    with pytest.raises(ValueError, match="the Linear takes 5 features, the RNN gives 4"):
        crnn.RNN.from_torch(torch.nn.RNN(3, 4), torch.nn.Linear(5, 2))
    with pytest.raises(TypeError, match="takes a torch.nn.RNN and a torch.nn.Linear"):
        crnn.RNN.from_torch(torch.nn.GRU(3, 4), torch.nn.Linear(4, 2))
