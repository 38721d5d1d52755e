"""Bad input gets a ValueError or TypeError naming what was expected and what
came, never a crash or a silently wrong result."""
import numpy as np
import pytest

import crnn
from crnn import RNN

I, H, O = 3, 4, 2


@pytest.fixture
def rnn():
    return RNN(I, O, H, seed=0)


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(input_size=0, output_size=2), ValueError,
     "input_size must be a positive integer up to 2147483647, got 0"),
    (dict(input_size=3, output_size=-1), ValueError, "output_size must be a positive integer up to"),
    (dict(input_size=2**31, output_size=2), ValueError, "up to 2147483647, got 2147483648"),
    (dict(input_size=2**31 - 1, output_size=2**31 - 1, hidden_size=2**31 - 1), ValueError,
     r"RNN\(input_size=2147483647, .*\)'s parameters and their gradients would take .* bytes\), "
     "more than this machine's memory"),
    (dict(input_size=2, output_size=2, num_layers=10**6), ValueError,
     "num_layers must be a positive integer up to 1024, got 1000000"),
    (dict(input_size=3, output_size=2, hidden_size=2.5), TypeError, "hidden_size must be a positive integer, got float"),
    (dict(input_size=True, output_size=2), TypeError, "input_size must be a positive integer"),
    (dict(input_size=3, output_size=2, dtype=np.int32), ValueError, "float32 or float64, got int32"),
    (dict(input_size=3, output_size=2, dtype=np.float16), ValueError, "float32 or float64, got float16"),
    (dict(input_size=3, output_size=2, dtype="no such type"), TypeError, "float32 or float64"),
])
def test_constructor(kwargs, error, match):
    with pytest.raises(error, match=match):
        RNN(**kwargs)


def test_numpy_integer_sizes_and_dtype_names_are_accepted():
    rnn = RNN(np.int64(3), np.int32(2), hidden_size=np.uint8(5), dtype="float32")
    assert rnn.Wxh.shape == (5, 3) and rnn.dtype == np.float32


@pytest.mark.parametrize("X,error,match", [
    (np.zeros((5, 3)), ValueError, r"\(T, B, 3\) or integer token ids of shape \(T, B\); got a float64 array of shape \(5, 3\)"),
    (np.zeros(5, dtype=int), ValueError, r"got an integer array of shape \(5,\)"),
    (np.zeros((5, 1, 4)), ValueError, r"\(T, B, input_size\) = \(T, B, 3\) with T, B >= 1, got \(5, 1, 4\)"),
    (np.zeros((0, 1, 3)), ValueError, r"got \(0, 1, 3\)"),
    (np.zeros((4, 0, 3)), ValueError, r"got \(4, 0, 3\)"),
    (np.zeros((0, 2), dtype=int), ValueError, r"X is empty: shape \(0, 2\)"),
    (np.array([[0, 1], [3, 2]]), ValueError, r"token ids must be in \[0, input_size=3\), got 3 at index \(1, 0\)"),
    (np.array([[0, -1]]), ValueError, r"got -1 at index \(0, 1\)"),
    (np.array([[2**63 + 5]], dtype=np.uint64), ValueError, "token ids must be in"),
    (np.zeros((2, 1, 3), dtype=complex), TypeError, "real numbers, got dtype complex128"),
    (np.array([[["a", "b", "c"]]]), TypeError, "real numbers, got dtype <U1"),
    (None, TypeError, "got None"),
    ([[[1.0, 2.0, 3.0]], [[1.0, 2.0]]], ValueError, "rectangular"),
])
def test_forward_batch_inputs(rnn, X, error, match):
    with pytest.raises(error, match=match):
        rnn.forward_batch(X)


def test_forward_batch_h0(rnn):
    X = np.zeros((5, 2, I))
    with pytest.raises(ValueError, match=r"h0 must have shape \(B, hidden_size\) = \(2, 4\), got \(4,\)"):
        rnn.forward_batch(X, h0=np.zeros(H))
    with pytest.raises(ValueError, match=r"= \(2, 4\), got \(1, 4\)"):
        rnn.forward_batch(X, h0=np.zeros((1, H)))
    with pytest.raises(TypeError, match="h0 must hold real numbers"):
        rnn.forward_batch(X, h0=np.zeros((2, H), dtype=object))


def test_backward_before_forward(rnn):
    with pytest.raises(ValueError, match=r"backward\(\) needs a forward\(\) call before it"):
        rnn.backward(np.zeros((O, 1)))
    with pytest.raises(ValueError, match=r"backward_batch\(\) needs a forward_batch\(\) call"):
        rnn.backward_batch(np.zeros((1, 1, O)))


def test_backward_after_the_other_forward(rnn):
    rnn.forward_batch(np.zeros((3, 1, I)))
    with pytest.raises(ValueError, match=r"this thread.s last call was forward_batch\(\)"):
        rnn.backward(np.zeros((O, 1)))
    rnn.forward([np.zeros(I)] * 3)
    with pytest.raises(ValueError, match=r"this thread.s last call was forward\(\)"):
        rnn.backward_batch(np.zeros((3, 1, O)))


def test_seed_backward_uses_up_its_forward(rnn):
    rnn.forward([np.zeros(I)] * 3)
    rnn.backward(np.ones((O, 1)))
    with pytest.raises(ValueError, match="needs a forward"):
        rnn.backward(np.ones((O, 1)))


def test_failed_forward_leaves_nothing_for_backward(rnn):
    rnn.forward_batch(np.zeros((3, 1, I)))
    with pytest.raises(ValueError):
        rnn.forward_batch(np.array([[7]]))
    rnn.backward_batch(np.zeros((3, 1, O)))  # the earlier forward is still valid
    with pytest.raises(ValueError):
        rnn.forward_batch(np.zeros((3, 1, I)), h0=np.zeros((2, H)))
    rnn.backward_batch(np.zeros((3, 1, O)))


@pytest.mark.parametrize("d_y,match", [
    (np.zeros((O + 1, 1)), r"d_y must have shape \(output_size, 1\) = \(2, 1\), got \(3, 1\)"),
    (np.zeros((1, O)), r"got \(1, 2\)"),
    ("zz", "real numbers"),
])
def test_backward_d_y(rnn, d_y, match):
    rnn.forward([np.zeros(I)] * 3)
    with pytest.raises((ValueError, TypeError), match=match):
        rnn.backward(d_y)


def test_backward_batch_arguments(rnn):
    rnn.forward_batch(np.zeros((5, 2, I)))
    with pytest.raises(ValueError, match=r"dY must have shape \(T, B, output_size\) = \(5, 2, 2\), got \(5, 2\)"):
        rnn.backward_batch(np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"dh must have shape \(B, hidden_size\) = \(2, 4\), got \(4, 2\)"):
        rnn.backward_batch(np.zeros((5, 2, O)), np.zeros((4, 2)))
    rnn.forward_batch(np.zeros((5, 2), dtype=int))
    with pytest.raises(ValueError, match="input_grad=True needs float inputs"):
        rnn.backward_batch(np.zeros((5, 2, O)), input_grad=True)


@pytest.mark.parametrize("inputs,error,match", [
    ([], ValueError, "empty sequence"),
    (np.zeros((0, I)), ValueError, "empty sequence"),
    ([np.zeros(I), np.zeros(I + 1)], ValueError, r"inputs\[1\] must hold input_size=3 numbers \(shape \(3,\) or \(3, 1\)\), got shape \(4,\)"),
    (np.zeros((4, I + 2)), ValueError, r"\(T, input_size\) = \(T, 3\), got \(4, 5\)"),
    (np.float64(1.0), TypeError, "got the scalar"),
    (None, TypeError, "got None"),
    (5, TypeError, "sequence of T vectors of input_size=3 numbers, got the scalar 5"),
    ([np.zeros(I), "abc"], TypeError, r"inputs\[1\] must hold real numbers"),
])
def test_seed_forward_inputs(rnn, inputs, error, match):
    with pytest.raises(error, match=match):
        rnn.forward(inputs)


def test_seed_forward_accepts_columns_and_arrays(rnn):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, I))
    expected = rnn.forward(X)
    for same in ([x.reshape(I, 1) for x in X], list(X), X[:, :, None], np.asfortranarray(X)):
        out, h = rnn.forward(same)
        np.testing.assert_array_equal(out, expected[0])
        np.testing.assert_array_equal(h, expected[1])


def test_parameter_assignment(rnn):
    with pytest.raises(ValueError, match=r"Wxh must have shape \(4, 3\), got \(4, 4\)"):
        rnn.Wxh = np.zeros((H, H))  # the seed notebook's mistake
    with pytest.raises(TypeError, match="real numbers"):
        rnn.Whh = "x"
    rnn.bh = np.arange(H)                 # (H,) is taken for (H, 1)
    assert rnn.bh.shape == (H, 1) and rnn.bh[3, 0] == 3
    view = rnn.Wxh
    rnn.Wxh = np.ones((H, I))             # assignment writes into the live view
    assert view[0, 0] == 1 and rnn.parameters()["Wxh"] is not None


def test_engine_refuses_what_is_not_canonical_and_changes_nothing(rnn):
    """The compiled engine takes only well-shaped input of the model's dtype,
    C-contiguous time first or batch first (rnn.py validates and converts what users give); anything
    else is refused with an internal error before the C core or the engine's
    state is touched, so no wrongly sized buffer ever reaches C."""
    engine = rnn._engine
    X = np.random.default_rng(0).standard_normal((3, 2, I))
    engine.forward(X, None, None, None, "forward_batch", False)
    refused = [
        (np.zeros((3, 2, I + 1)), None, None),               # wrong input size
        (np.zeros((3, 2, I), dtype=np.float32), None, None),  # wrong dtype
        (np.zeros((3, 2, 2 * I))[:, :, ::2], None, None),     # steps not contiguous
        (np.zeros((2, 3, 2, I))[:, :, 0].transpose(1, 0, 2), None, None),  # nor rows
        (np.zeros((3, 2), dtype=np.int32), None, None),      # ids must be int64
        (X, np.zeros((1, 1, H)), None),                      # h0 of the wrong batch
        (X, np.zeros((2, H)), None),                         # h0 without its layer axis
        (X, None, np.array([3, 3], dtype=np.int32)),         # lengths must be int64
        (X, None, np.array([3], dtype=np.int64)),            # one length per sequence
    ]
    for args in refused:
        with pytest.raises(RuntimeError, match="crnn internal error"):
            engine.forward(*args, None, "forward_batch", False)
    with pytest.raises(RuntimeError, match="crnn internal error"):
        engine.forward([1, 2, 3], None, None, None, "forward_batch", False)  # no buffer
    assert engine.last == "forward_batch" and (engine.T, engine.B) == (3, 2)
    for dY, dh in [(np.zeros((3, 2, O + 1)), None), (np.zeros((3, 2, O)), np.zeros((1, 2, H + 1))),
                   (np.zeros((3, 2, O), dtype=np.float32), None)]:
        with pytest.raises(RuntimeError, match="crnn internal error"):
            engine.backward(dY, dh, False)
    # what the first forward recorded is intact
    expected = engine.backward(np.ones((3, 2, O)), None, False)
    expected = rnn.gradients()["Wxh"].copy()
    rnn.forward_batch(X)
    np.testing.assert_array_equal(rnn.backward_batch(np.ones((3, 2, O)))["Wxh"], expected)


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(num_layers=0), ValueError, "num_layers must be a positive integer up to"),
    (dict(num_layers=1.5), TypeError, "num_layers must be a positive integer, got float"),
    (dict(nonlinearity="sigmoid"), ValueError,
     "nonlinearity must be one of 'tanh', 'relu', got 'sigmoid'"),
    (dict(nonlinearity=None), ValueError, "nonlinearity must be one of"),
    (dict(init="xavier"), ValueError,
     "init must be one of 'normal', 'pytorch', 'orthogonal', 'identity', got 'xavier'"),
    (dict(dropout=1.0), ValueError, r"dropout must be in \[0, 1\), got 1.0"),
    (dict(dropout=-0.1), ValueError, r"dropout must be in \[0, 1\), got -0.1"),
    (dict(dropout="0.5"), TypeError, r"dropout must be a number in \[0, 1\), got '0.5'"),
    (dict(bidirectional=1), TypeError, "bidirectional must be True or False, got 1"),
    (dict(bias="no"), TypeError, "bias must be True or False, got 'no'"),
    (dict(batch_first=None), TypeError, "batch_first must be True or False, got None"),
    (dict(output_size=0), ValueError, "output_size must be a positive integer"),
])
def test_constructor_options(kwargs, error, match):
    with pytest.raises(error, match=match):
        RNN(**{"input_size": 3, "output_size": 2, **kwargs})


@pytest.mark.parametrize("lengths,error,match", [
    ([5, 6], ValueError, r"lengths must be in \[1, T=5\], got 6 at index 1"),
    ([0, 3], ValueError, r"lengths must be in \[1, T=5\], got 0 at index 0"),
    ([-2, 3], ValueError, r"got -2 at index 0"),
    ([5], ValueError, r"lengths must have shape \(B,\) = \(2,\), got \(1,\)"),
    ([[5, 5]], ValueError, r"lengths must have shape \(B,\) = \(2,\), got \(1, 2\)"),
    ([2.0, 3.0], TypeError, "lengths must be integers, got dtype float64"),
    ([True, True], TypeError, "lengths must be integers, got dtype bool"),
    ("ab", TypeError, "lengths must hold real numbers"),
])
def test_lengths(rnn, lengths, error, match):
    with pytest.raises(error, match=match):
        rnn.forward_batch(np.zeros((5, 2, I)), lengths=lengths)
    rnn.forward_batch(np.zeros((5, 2, I)), lengths=[5, 1])  # and the model still works


def test_states_of_stacked_models():
    rnn = RNN(I, O, H, num_layers=2, bidirectional=True, seed=0)
    X = np.zeros((5, 2, I))
    with pytest.raises(ValueError, match=r"h0 must have shape \(num_layers \* directions, B, "
                                         r"hidden_size\) = \(4, 2, 4\), got \(2, 4\)"):
        rnn.forward_batch(X, h0=np.zeros((2, H)))
    with pytest.raises(ValueError, match=r"= \(4, 2, 4\), got \(2, 2, 4\)"):
        rnn.forward_batch(X, h0=np.zeros((2, 2, H)))
    rnn.forward_batch(X, h0=np.zeros((4, 2, H)))
    with pytest.raises(ValueError, match=r"dh must have shape \(num_layers \* directions, B, "
                                         r"hidden_size\) = \(4, 2, 4\), got \(4, 1, 4\)"):
        rnn.backward_batch(np.zeros((5, 2, O)), dh=np.zeros((4, 1, H)))
    with pytest.raises(ValueError, match=r"dY must have shape \(T, B, output_size\) = "
                                         r"\(5, 2, 2\), got \(5, 2, 8\)"):
        rnn.backward_batch(np.zeros((5, 2, 8)))
    one = RNN(I, None, H, batch_first=True, seed=0)
    one.forward_batch(np.zeros((2, 5, I)))
    with pytest.raises(ValueError, match=r"dY must have shape \(B, T, D\*hidden_size\) = "
                                         r"\(2, 5, 4\), got \(5, 2, 4\)"):
        one.backward_batch(np.zeros((5, 2, H)))
    with pytest.raises(ValueError, match=r"X must have shape \(B, T, input_size\) = \(B, T, 3\)"):
        one.forward_batch(np.zeros((2, 5, I + 1)))


def test_lstm_states_are_pairs():
    lstm = crnn.LSTM(I, O, H, num_layers=2, seed=0)
    X = np.zeros((5, 2, I))
    with pytest.raises(TypeError, match=r"an LSTM's h0 is a pair \(h0, c0\) of arrays "
                                        r"\(num_layers \* directions, B, hidden_size\), or "
                                        r"None; got a ndarray"):
        lstm.forward_batch(X, np.zeros((2, 2, H)))
    with pytest.raises(TypeError, match=r"h0 is a pair \(h0, c0\).*got a tuple of 3"):
        lstm.forward_batch(X, (np.zeros((2, 2, H)),) * 3)
    with pytest.raises(ValueError, match=r"c0 must have shape \(num_layers \* directions, B, "
                                         r"hidden_size\) = \(2, 2, 4\), got \(2, 2, 5\)"):
        lstm.forward_batch(X, (np.zeros((2, 2, H)), np.zeros((2, 2, H + 1))))
    with pytest.raises(TypeError, match="c0 must hold real numbers"):
        lstm.forward_batch(X, (None, np.array([["a"]])))
    _, _, (h_n, c_n) = lstm.forward_batch(X, (None, np.ones((2, 2, H))), return_state=True)
    with pytest.raises(TypeError, match=r"an LSTM's dh is a pair \(dh, dc\)"):
        lstm.backward_batch(np.zeros((5, 2, O)), h_n)
    with pytest.raises(ValueError, match=r"dc must have shape .* = \(2, 2, 4\), got \(2, 4\)"):
        lstm.backward_batch(np.zeros((5, 2, O)), (h_n, np.zeros((2, H))))
    grads = lstm.backward_batch(np.zeros((5, 2, O)), (None, c_n))
    assert grads["h0"].shape == grads["c0"].shape == (2, 2, H)


@pytest.mark.parametrize("cell,kwargs,error,match", [
    ("lstm", dict(nonlinearity="relu"), TypeError, "unexpected keyword argument 'nonlinearity'"),
    ("gru", dict(init="identity"), ValueError,
     "init must be one of 'pytorch', 'orthogonal', 'normal', got 'identity'"),
    ("lstm", dict(forget_bias="1"), TypeError, "forget_bias must be a real number, got '1'"),
    ("lstm", dict(forget_bias=float("nan")), ValueError, "forget_bias must be finite, got nan"),
    ("lstm", dict(forget_bias=1.0, bias=False), ValueError,
     "forget_bias=1.0 needs the biases: bias=True"),
    ("gru", dict(forget_bias=1.0), TypeError, "unexpected keyword argument 'forget_bias'"),
])
def test_gated_constructor_options(cell, kwargs, error, match):
    with pytest.raises(error, match=match):
        crnn.rnn.CELLS[cell](3, 2, 4, **kwargs)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_the_parameter_count_checked_before_building_is_the_layouts(cell):
    # the memory check counts the parameters without building the layout:
    # the count must be the layout's own, for every shape
    from crnn.layers import Layout, parameter_count
    rng = np.random.default_rng(1)
    for _ in range(40):
        sizes = (int(rng.integers(1, 9)), int(rng.integers(1, 9)),
                 None if rng.random() < 0.3 else int(rng.integers(1, 9)),
                 int(rng.integers(1, 4)), bool(rng.random() < 0.5), bool(rng.random() < 0.7),
                 cell)
        assert parameter_count(*sizes) == Layout(*sizes).size, sizes


def test_a_batch_beyond_memory_is_refused_before_anything_changes(monkeypatch):
    rnn = crnn.GRU(3, 2, 256, num_layers=4, dropout=0.5, seed=0)
    X = np.zeros((4, 2), dtype=np.int64)
    Y, _ = rnn.forward_batch(X)
    generator = rnn._rng.bit_generator.state
    # a machine of 64 MB: 100 x 100 rows of states of 4 layers of 256 take more
    monkeypatch.setattr(crnn._checks, "memory_limit", lambda: 64 << 20)
    with pytest.raises(ValueError, match=r"a call of T=100 steps and B=100 sequences "
                                         r".* would take .* more than this machine's memory, "
                                         r"64.0 MB"):
        rnn.forward_batch(np.zeros((100, 100), dtype=np.int64))
    assert rnn._rng.bit_generator.state == generator  # no dropout mask drawn
    grads = rnn.backward_batch(np.ones_like(Y))       # the earlier forward is still there
    assert grads["h0"].shape == (4, 2, 256)
    rnn.forward_batch(X)  # a size the scratch holds is not checked again, and runs


def test_a_refused_load_state_dict_writes_nothing():
    rnn = crnn.GRU(3, 2, 4, num_layers=2, seed=0)
    before = rnn._param_flat.copy()
    state = rnn.state_dict()
    for key in state:
        state[key] = state[key] + 1.0
    state["linear.bias"] = np.array(["a", "b"])  # the last entry, found late
    with pytest.raises(TypeError, match="linear.bias must hold real numbers, got dtype <U1"):
        rnn.load_state_dict(state)
    state["linear.bias"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"linear.bias must have shape \(2,\), got \(3,\)"):
        rnn.load_state_dict(state)
    np.testing.assert_array_equal(rnn._param_flat, before)
    with pytest.raises(TypeError, match="state must be a dict of arrays or tensors by PyTorch's "
                                        "names, as state_dict\\(\\) gives it, got NoneType"):
        rnn.load_state_dict(None)


def test_a_refused_forward_batch_leaves_the_last_forward_for_its_backward(rnn):
    X = np.zeros((3, 2, I))
    Y, _ = rnn.forward_batch(X)              # h0 omitted: its gradient comes as (B, H)
    with pytest.raises(ValueError, match="lengths must be in"):
        rnn.forward_batch(X, h0=np.zeros((1, 2, H)), lengths=[3, 9])
    with pytest.raises(TypeError, match="must hold real numbers"):
        rnn.forward_batch(np.zeros((3, 2, I), dtype=complex), h0=np.zeros((1, 2, H)))
    grads = rnn.backward_batch(np.ones_like(Y))
    assert grads["h0"].shape == (2, H)       # not the refused calls' (1, B, H)
    output, _ = rnn.forward([np.ones(I)] * 4)
    with pytest.raises(ValueError, match=r"inputs\[1\] must hold input_size=3 numbers"):
        rnn.forward([np.ones(I), np.ones(I + 1)])
    rnn.backward(np.ones((O, 1)))            # the good forward's backward still runs


def test_flags_and_rates_that_are_not_what_they_say_are_refused(rnn):
    X = np.zeros((3, 2, I))
    with pytest.raises(TypeError, match="return_state must be True or False, got 'yes'"):
        rnn.forward_batch(X, return_state="yes")
    Y, _ = rnn.forward_batch(X)
    with pytest.raises(TypeError, match="input_grad must be True or False, got 'no'"):
        rnn.backward_batch(np.ones_like(Y), input_grad="no")  # "no" is truthy: refused
    assert "X" not in rnn.backward_batch(np.ones_like(Y))  # the forward is still there
    before = rnn._param_flat.copy()
    rnn.forward([np.ones(I)])
    with pytest.raises(ValueError, match="learning_rate must be finite, got nan"):
        rnn.backward(np.ones((O, 1)), float("nan"))
    np.testing.assert_array_equal(rnn._param_flat, before)


def test_files_cannot_be_written_over_a_folder(tmp_path, rnn):
    with pytest.raises(ValueError, match="is a folder, not a file"):
        crnn.save_checkpoint(tmp_path, rnn)
    with pytest.raises(ValueError, match="the folder .*missing does not exist"):
        crnn.save_checkpoint(tmp_path / "missing" / "model.npz", rnn)
    assert list(tmp_path.iterdir()) == []
