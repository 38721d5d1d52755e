"""The gated cells' specification (the next issue builds their C core on it):
the reference LSTM and GRU, proven by finite differences, and equal to
PyTorch's nn.LSTM and nn.GRU with autograd, packed sequences included."""
import numpy as np
import pytest

from crnn import reference
from crnn.layers import Layout

from conftest import random_inputs, relative_error
from test_reference import assert_finite_differences

CASES = [  # cell, layers, bidirectional, bias, output, lengths
    ("lstm", 1, False, True, 2, None),
    ("lstm", 2, True, True, None, [4, 1, 3]),
    ("lstm", 1, True, False, 3, [2, 4, 4]),
    ("gru", 1, False, True, 2, None),
    ("gru", 2, True, True, None, [4, 1, 3]),
    ("gru", 1, True, False, 3, [2, 4, 4]),
]


def cell_params(rng, cell, I, H, O, layers, bidirectional, bias):
    layout = Layout(I, H, O, layers, bidirectional, bias, cell)
    return {p.name: rng.standard_normal(p.shape) * (0.6 if p.role != "Whh" else 0.8 / np.sqrt(H))
            for p in layout.parameters}


@pytest.mark.parametrize("tokens", [False, True], ids=["floats", "tokens"])
@pytest.mark.parametrize("cell,layers,bidirectional,bias,O,lengths", CASES)
def test_cells_match_finite_differences(cell, layers, bidirectional, bias, O, lengths, tokens):
    T, B, I, H = 4, 3, 3, 3
    D = 2 if bidirectional else 1
    rng = np.random.default_rng(layers * 10 + D + len(cell) + bias)
    params = cell_params(rng, cell, I, H, O, layers, bidirectional, bias)
    inputs = random_inputs(rng, T, B, I, tokens)
    lengths = None if lengths is None else np.array(lengths)
    h0 = rng.standard_normal((layers * D, B, H)) * 0.5
    c0 = rng.standard_normal((layers * D, B, H)) * 0.5
    state = (h0, c0) if cell == "lstm" else h0
    C_Y = rng.standard_normal((T, B, O if O else D * H))
    C_h, C_c = rng.standard_normal(h0.shape), rng.standard_normal(h0.shape)
    d_state = (C_h, C_c) if cell == "lstm" else C_h

    def loss():
        top, final = reference.forward(params, inputs, state, lengths=lengths, return_state=True)
        Y = reference.output(params, top, lengths)
        h_n, c_n = final if cell == "lstm" else (final, 0)
        return np.sum(C_Y * Y) + np.sum(C_h * h_n) + (np.sum(C_c * c_n) if cell == "lstm" else 0)

    grads = reference.backward(params, inputs, C_Y, state, d_state, lengths=lengths)
    grads["h0"] = grads["h0"].reshape(h0.shape)  # (B, H) for one layer and direction
    if cell == "lstm":
        d_c0 = grads.pop("c0").reshape(c0.shape)
        assert relative_error(d_c0, reference.numerical_gradient(loss, c0)) < 1e-6
    assert_finite_differences(grads, loss, params, h0, None if tokens else inputs)


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def layers_of(module):
    """(the reference's name suffix, {weight_ih, weight_hh, bias_ih, bias_hh:
    tensor}) for each layer and direction of a torch nn.LSTM / nn.GRU."""
    names = ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if module.bias else ())
    for k in range(module.num_layers):
        for d in range(2 if module.bidirectional else 1):
            s = ("" if k == 0 else f"_l{k}") + ("_reverse" if d else "")
            ts = f"_l{k}" + ("_reverse" if d else "")
            yield s, {name: getattr(module, name + ts) for name in names}


def from_torch_module(module, linear, cell):
    """The reference's parameters for a torch nn.LSTM / nn.GRU (+ Linear)."""
    H = module.hidden_size
    params = {}
    for s, tensors in layers_of(module):
        get = {name: t.detach().numpy().astype(np.float64) for name, t in tensors.items()}
        params["Wxh" + s], params["Whh" + s] = get["weight_ih"], get["weight_hh"]
        if module.bias:
            b_ih, b_hh = get["bias_ih"], get["bias_hh"]
            if cell == "gru":  # b_hn stays inside r * (...)
                params["bh" + s] = (b_ih + np.concatenate([b_hh[:2 * H], np.zeros(H)]))[:, None]
                params["bhn" + s] = b_hh[2 * H:, None]
            else:
                params["bh" + s] = (b_ih + b_hh)[:, None]
    if linear is not None:
        params["Why"] = linear.weight.detach().numpy().astype(np.float64)
        params["by"] = linear.bias.detach().numpy().astype(np.float64)[:, None]
    return params


@pytest.mark.parametrize("cell,layers,bidirectional,bias,O,lengths", CASES)
def test_cells_are_pytorchs(cell, layers, bidirectional, bias, O, lengths, torch):
    T, B, I, H = 4, 3, 3, 5
    D = 2 if bidirectional else 1
    torch.manual_seed(layers + len(cell))
    kind = torch.nn.LSTM if cell == "lstm" else torch.nn.GRU
    module = kind(I, H, num_layers=layers, bias=bias, bidirectional=bidirectional).double()
    linear = None if O is None else torch.nn.Linear(D * H, O).double()
    params = from_torch_module(module, linear, cell)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((T, B, I))
    h0, c0 = rng.standard_normal((layers * D, B, H)), rng.standard_normal((layers * D, B, H))
    lengths = None if lengths is None else np.array(lengths)

    dh, dc = rng.standard_normal(h0.shape), rng.standard_normal(h0.shape)
    run = torch_run(torch, module, linear, X, h0, c0, dh, dc, lengths, rng)
    out, Y_t, dY = run["out"], run["Y"], run["dY"]
    h_n_t, c_n_t = run["finals"] if cell == "lstm" else (run["finals"][0], None)
    X_t, h0_t, c0_t = run["X"], run["h0"], run["c0"]

    state = (h0, c0) if cell == "lstm" else h0
    top, final = reference.forward(params, X, state, lengths=lengths, return_state=True)
    assert relative_error(top, out.detach().numpy()) < 1e-12
    assert relative_error(reference.output(params, top, lengths), Y_t.detach().numpy()) < 1e-12
    h_n, c_n = final if cell == "lstm" else (final, None)
    assert relative_error(h_n, h_n_t.detach().numpy()) < 1e-12
    if cell == "lstm":
        assert relative_error(c_n, c_n_t.detach().numpy()) < 1e-12
    grads = reference.backward(params, X, dY, state, (dh, dc) if cell == "lstm" else dh,
                               lengths=lengths)
    expected = from_torch_module_grads(module, linear, cell)
    for name, value in expected.items():
        assert relative_error(grads[name], value) < 1e-12, name
    assert relative_error(grads["h0"].reshape(h0.shape), h0_t.grad.numpy()) < 1e-12
    assert relative_error(grads["X"], X_t.grad.numpy()) < 1e-12
    if cell == "lstm":
        assert relative_error(grads["c0"].reshape(c0.shape), c0_t.grad.numpy()) < 1e-12


def torch_run(torch, module, linear, X, h0, c0, dh, dc, lengths, rng):
    """Autograd through a torch nn.LSTM / nn.GRU (+ Linear) from (h0, c0),
    packed sequences for lengths, of sum(dY * Y) + sum(dh * h_n) (+ sum(dc *
    c_n)) with dY drawn from rng: a dict of out, Y, dY, finals (h_n, and
    c_n) and the leaf tensors X, h0, c0 holding their gradients."""
    lstm = isinstance(module, torch.nn.LSTM)
    T = X.shape[0]
    X_t = torch.from_numpy(X).requires_grad_()
    h0_t, c0_t = torch.from_numpy(h0).requires_grad_(), torch.from_numpy(c0).requires_grad_()
    state_t = (h0_t, c0_t) if lstm else h0_t
    if lengths is None:
        out, final_t = module(X_t, state_t)
    else:
        packed = torch.nn.utils.rnn.pack_padded_sequence(X_t, torch.from_numpy(lengths),
                                                         enforce_sorted=False)
        out, final_t = module(packed, state_t)
        out = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=T)[0]
    Y_t = out if linear is None else linear(out)
    if lengths is not None and linear is not None:
        Y_t = Y_t * (torch.arange(T)[:, None] < torch.from_numpy(lengths))[..., None]
    dY = rng.standard_normal(tuple(Y_t.shape)).astype(X.dtype)
    finals = final_t if lstm else (final_t,)
    total = (Y_t * torch.from_numpy(dY)).sum()
    for state, d in zip(finals, (dh, dc)):
        total = total + (state * torch.from_numpy(d)).sum()
    total.backward()
    return {"out": out, "Y": Y_t, "dY": dY, "finals": finals, "X": X_t, "h0": h0_t, "c0": c0_t}


def from_torch_module_grads(module, linear, cell):
    """PyTorch's gradients under the reference's names: bh's are bias_ih's
    (bias_hh's are the same for an LSTM's and a GRU's r, z rows), bhn's are
    bias_hh's n rows."""
    H = module.hidden_size
    grads = {}
    for s, tensors in layers_of(module):
        grads["Wxh" + s], grads["Whh" + s] = (tensors[n].grad.numpy()
                                             for n in ("weight_ih", "weight_hh"))
        if module.bias:
            grads["bh" + s] = tensors["bias_ih"].grad.numpy()[:, None]
            if cell == "gru":
                grads["bhn" + s] = tensors["bias_hh"].grad.numpy()[2 * H:, None]
    if linear is not None:
        grads["Why"], grads["by"] = linear.weight.grad.numpy(), linear.bias.grad.numpy()[:, None]
    return grads
