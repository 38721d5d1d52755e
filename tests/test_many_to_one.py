"""A sequence's one output read from each direction's final state
(many_to_one="final_states", Keras's Bidirectional read many-to-one), and
lengths read from trailing padding (mask_value, Keras's Masking): the
outputs against the final states forward_batch returns and against PyTorch's
cat(h_n[-2], h_n[-1]), their gradients by finite differences through the
seed API and fit's loss, and the options kept by checkpoints and copies."""
import copy

import numpy as np
import pytest

import crnn
from crnn import fit as crnn_fit

CELLS = (crnn.RNN, crnn.LSTM, crnn.GRU)


def model(cls, dtype=np.float64, **options):
    options.setdefault("many_to_one", "final_states")
    return cls(3, 2, 4, num_layers=2, bidirectional=True, init="pytorch", dtype=dtype, seed=1,
               **options)


def final_states(m, X, lengths):
    """Why [h_fwd(last step); h_rev(step 0)] + by from forward_batch's h_n."""
    _, _, h_n = m.forward_batch(X.swapaxes(0, 1), lengths=lengths, return_state=True)
    h = h_n[0] if isinstance(h_n, tuple) else h_n
    return np.concatenate([h[-2], h[-1]], axis=1) @ m.Why.T + m.by[:, 0]


@pytest.mark.parametrize("cls", CELLS)
def test_predict_reads_each_directions_final_state(cls):
    rng = np.random.default_rng(0)
    m = model(cls).eval()
    X, lengths = rng.standard_normal((5, 6, 3)), np.array([6, 3, 1, 4, 6])
    expected = final_states(m, X, lengths)
    np.testing.assert_allclose(m.predict(X, lengths), expected, rtol=1e-12, atol=1e-12)
    last_step = model(cls, many_to_one="last_step").predict(X, lengths)
    assert np.abs(last_step - expected).max() > 1e-3  # the two readings differ
    # the seed API reads the same, one sequence at a time
    for i in range(3):
        output, h = m.forward(X[i, :lengths[i]])
        np.testing.assert_allclose(output[:, 0], expected[i], rtol=1e-12, atol=1e-12)
        assert h.shape == (8, 1)


@pytest.mark.parametrize("cls", CELLS)
def test_one_direction_reads_the_same_either_way(cls):
    X = np.random.default_rng(1).standard_normal((4, 5, 3))
    lengths = np.array([5, 2, 4, 1])
    one = [cls(3, 2, 4, num_layers=2, init="pytorch", seed=2, many_to_one=m).eval()
           for m in ("last_step", "final_states")]
    np.testing.assert_array_equal(one[0].predict(X, lengths), one[1].predict(X, lengths))


@pytest.mark.parametrize("cls", CELLS)
def test_torch_cat_of_the_last_layers_h_n(cls):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    m = model(cls).eval()
    module, linear = m.to_torch()
    X = rng.standard_normal((4, 7, 3))
    with torch.no_grad():
        _, h_n = module(torch.from_numpy(X.swapaxes(0, 1)))
        h_n = h_n[0] if cls is crnn.LSTM else h_n
        expected = linear(torch.cat([h_n[-2], h_n[-1]], dim=1)).numpy()
    np.testing.assert_allclose(m.predict(X), expected, rtol=1e-10, atol=1e-12)


def numeric_gradient(f, P, rng, count=4):
    """(index, central difference) at ``count`` random entries of P."""
    out = []
    for _ in range(count):
        index = tuple(int(rng.integers(0, s)) for s in P.shape)
        old = P[index]
        P[index] = old + 1e-6
        up = f()
        P[index] = old - 1e-6
        down = f()
        P[index] = old
        out.append((index, (up - down) / 2e-6))
    return out


@pytest.mark.parametrize("cls", CELLS)
def test_seed_api_gradients_by_finite_differences(cls):
    rng = np.random.default_rng(3)
    m = model(cls)
    x, d_y = rng.standard_normal((5, 3)), rng.standard_normal((2, 1))
    m.forward(list(x))
    grads = {k: v.copy() for k, v in m.backward(d_y, learning_rate=0.0).items()}

    def loss():
        return float((d_y.T @ m.forward(list(x))[0]).item())
    for name, P in m.parameters().items():
        for index, numeric in numeric_gradient(loss, P, rng, 2):
            assert abs(grads[name][index] - numeric) <= 1e-7 * max(1.0, abs(numeric)), name


@pytest.mark.parametrize("cls", CELLS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fit_trains_the_final_states_reading(cls, dtype):
    """fit's gradient of the mean loss over a batch, read from the final
    states, against finite differences of that loss (float64), and a few
    epochs lowering it (both dtypes)."""
    rng = np.random.default_rng(4)
    X, lengths = rng.standard_normal((6, 5, 3)), np.array([5, 2, 4, 1, 5, 3])
    y = rng.integers(0, 2, 6)
    if dtype == np.float64:
        m = model(cls)
        data = crnn_fit.Dataset(m, X, y, lengths)
        X_b, lengths_b, targets_b = data.batch(m, np.arange(6))

        def loss():
            Y, features = crnn_fit._forward(m, X_b, lengths_b, data)
            return crnn_fit._batch_loss(m, data, Y, features, lengths_b, targets_b, "ce")[0]
        Y, features = crnn_fit._forward(m, X_b, lengths_b, data)
        _, dY, d_out, _, _ = crnn_fit._batch_loss(m, data, Y, features, lengths_b, targets_b,
                                                  "ce")
        assert d_out is not None and not dY.any()
        grads = {k: v.copy() for k, v in m._backward_final_states(dY, d_out, features).items()}
        for name, P in m.parameters().items():
            for index, numeric in numeric_gradient(loss, P, rng, 2):
                assert abs(grads[name][index] - numeric) <= 1e-7 * max(1.0, abs(numeric)), name
    m = model(cls, dtype=dtype)
    history = m.fit(X, y, lengths=lengths, epochs=15, lr=0.05, progress=False, seed=0)
    assert history["loss"][-1] < 0.8 * history["loss"][0]


@pytest.mark.parametrize("cls", CELLS)
def test_options_survive_checkpoints_copies_and_repr(cls, tmp_path):
    m = model(cls, mask_value=-1.5)
    assert "many_to_one='final_states'" in repr(m) and "mask_value=-1.5" in repr(m)
    crnn.save_checkpoint(tmp_path / "m.npz", m)
    for other in (crnn.load_checkpoint(tmp_path / "m.npz").rnn, copy.deepcopy(m),
                  m.astype(np.float32)):
        assert (other.many_to_one, other.mask_value) == ("final_states", -1.5)
    plain = cls(3, 2, 4)
    crnn.save_checkpoint(tmp_path / "plain.npz", plain)
    back = crnn.load_checkpoint(tmp_path / "plain.npz").rnn
    assert (back.many_to_one, back.mask_value) == ("last_step", None)


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="many_to_one must be one of 'last_step', "
                                         "'final_states', got 'first'"):
        crnn.GRU(3, 2, 4, many_to_one="first")
    with pytest.raises(TypeError, match="mask_value must be a real number"):
        crnn.LSTM(3, 2, 4, mask_value="0")
    with pytest.raises(ValueError, match="mask_value must be finite"):
        crnn.RNN(3, 2, 4, mask_value=np.nan)


@pytest.mark.parametrize("cls", CELLS)
def test_mask_value_reads_lengths_from_trailing_padding(cls):
    rng = np.random.default_rng(5)
    m = cls(3, 2, 4, bidirectional=True, init="pytorch", seed=0, mask_value=0.0)
    X, lengths = rng.standard_normal((5, 6, 3)), np.array([6, 2, 4, 1, 3])
    for i, n in enumerate(lengths):
        X[i, n:] = 0.0
    X[2, 1, 0] = 0.0  # one feature of a real step at the mask value: not padding
    np.testing.assert_array_equal(m.predict(X), m.predict(X, lengths))
    np.testing.assert_array_equal(m.predict(X, per_step=True),
                                  m.predict(X, lengths, per_step=True))
    tokens = cls(7, 2, 4, seed=0, mask_value=0)  # Keras's mask_zero
    ids = rng.integers(1, 7, (3, 5))
    ids[0, 3:] = 0
    ids[2, 1:] = 0
    np.testing.assert_array_equal(tokens.predict(ids), tokens.predict(ids, [3, 5, 1]))
    # given lengths win over the padding
    np.testing.assert_array_equal(m.predict(X, np.full(5, 6)),
                                  cls(3, 2, 4, bidirectional=True, init="pytorch",
                                      seed=0).predict(X))


def test_mask_value_refuses_padding_inside_a_sequence_and_all_padding():
    m = crnn.GRU(3, 2, 4, seed=0, mask_value=0.0)
    X = np.ones((3, 5, 3))
    X[1, 2] = 0.0  # a masked step with real ones after it: Keras skips it, crnn cannot
    with pytest.raises(ValueError, match=r"X\[1\] step 2 equals the model's mask_value=0.0 "
                                         "but steps after it do not"):
        m.predict(X)
    X[1] = 0.0
    with pytest.raises(ValueError, match=r"X\[1\] is all padding"):
        m.predict(X)
    with pytest.raises(ValueError, match=r"X\[1\] is all padding"):
        m.fit(X, np.zeros(3, dtype=np.int64), epochs=1, progress=False)
