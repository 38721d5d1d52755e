"""fit() and predict() over datasets of sequences of different lengths:
tasks with known answers learned to a stated accuracy, batches that lose no
sequence, validation, early stopping, and bad datasets refused."""
import numpy as np
import pytest

import crnn
from crnn import fit as crnn_fit


def sign_of_sum(rng, N):
    """Many-to-one: is the sum of a sequence's first feature positive?"""
    X = [rng.standard_normal((rng.integers(5, 30), 2)) for _ in range(N)]
    return X, np.array([int(x[:, 0].sum() > 0) for x in X])


def previous_token(rng, N, V=5):
    """Many-to-many: at every step, the token of the step before (0 first)."""
    X = [rng.integers(0, V, rng.integers(3, 20)) for _ in range(N)]
    return X, [np.r_[0, x[:-1]] for x in X]


@pytest.mark.parametrize("model", [crnn.RNN, crnn.GRU])
def test_many_to_one_classes(model):
    X, y = sign_of_sum(np.random.default_rng(0), 600)
    net = model(2, 2, 16, seed=0, **({"init": "pytorch"} if model is crnn.RNN else {}))
    history = net.fit(X, y, epochs=15, lr=1e-2, validation_split=0.2, seed=0, progress=False)
    assert history.epochs == 15 and set(history) == {"loss", "accuracy", "val_loss",
                                                     "val_accuracy"}
    assert max(history["val_accuracy"]) >= 0.9
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    # predict reads each sequence's own last step, as fit trained it
    held_out, answers = sign_of_sum(np.random.default_rng(1), 200)
    assert np.mean(np.argmax(net.predict(held_out), axis=1) == answers) >= 0.85


def test_many_to_many_classes_with_an_lstm():
    X, y = previous_token(np.random.default_rng(2), 400)
    net = crnn.LSTM(5, 5, 16, seed=0)
    history = net.fit(X, y, epochs=20, lr=2e-2, validation_split=0.1, seed=1, progress=False)
    assert history["val_accuracy"][-1] >= 0.99
    outputs = net.predict(X[:3], per_step=True)
    assert [len(o) for o in outputs] == [len(x) for x in X[:3]]
    for o, target in zip(outputs, y[:3]):
        np.testing.assert_array_equal(np.argmax(o, axis=1), target)


def test_many_to_one_regression_from_a_padded_array():
    """The mean of each sequence's valid steps, from a padded array."""
    rng = np.random.default_rng(3)
    N, T = 500, 12
    lengths = rng.integers(2, T + 1, N)
    X = rng.standard_normal((N, T, 1))
    y = np.array([[X[i, :n, 0].mean()] for i, n in enumerate(lengths)])
    X[np.arange(T)[None, :] >= lengths[:, None]] = 99.0  # what lies past a length is unread
    net = crnn.GRU(1, 1, 16, seed=0)
    history = net.fit(X, y, lengths=lengths, epochs=30, lr=1e-2, validation_split=0.2, seed=0,
                      progress=False)
    assert set(history) == {"loss", "val_loss"}
    assert history["val_loss"][-1] < 0.1 * np.var(y)
    padded = net.predict(X, lengths, per_step=True)
    assert padded.shape == (N, T, 1)
    assert not padded[np.arange(T)[None, :] >= lengths[:, None]].any()
    np.testing.assert_allclose(padded[np.arange(N), lengths - 1], net.predict(X, lengths),
                               rtol=1e-12)


def test_batches_group_lengths_and_lose_no_sequence():
    rng = np.random.default_rng(4)
    lengths = rng.integers(1, 200, 1000)
    cut = crnn_fit.batches(lengths, 32, np.random.default_rng(5))
    every = np.sort(np.concatenate(cut))
    np.testing.assert_array_equal(every, np.arange(1000))
    assert max(len(b) for b in cut) == 32
    # padding: each batch's longest over its mean length stays near 1
    padded = sum(len(b) * lengths[b].max() for b in cut)
    assert padded / lengths.sum() < 1.1
    again = crnn_fit.batches(lengths, 32, np.random.default_rng(5))
    assert all(np.array_equal(a, b) for a, b in zip(cut, again))
    other = crnn_fit.batches(lengths, 32, np.random.default_rng(6))
    assert not all(np.array_equal(a, b) for a, b in zip(cut, other))


def test_a_seed_makes_fit_reproducible_and_a_list_equals_its_padded_array():
    rng = np.random.default_rng(7)
    X, y = sign_of_sum(rng, 100)
    T = max(len(x) for x in X)
    padded = np.zeros((100, T, 2))
    for i, x in enumerate(X):
        padded[i, :len(x)] = x
    lengths = [len(x) for x in X]
    runs = []
    for inputs, extra in ((X, {}), (X, {}), (padded, {"lengths": lengths})):
        net = crnn.RNN(2, 2, 8, seed=0)
        runs.append((net.fit(inputs, y, epochs=3, seed=11, progress=False, **extra),
                     net.Whh.copy()))
    for history, Whh in runs[1:]:
        assert history == runs[0][0]
        np.testing.assert_array_equal(Whh, runs[0][1])


def test_early_stopping_keeps_the_best_epoch():
    X, y = sign_of_sum(np.random.default_rng(8), 200)
    net = crnn.GRU(2, 2, 16, seed=0)
    # a learning rate so large that the validation loss soon stops falling
    history = net.fit(X, y, epochs=40, lr=0.3, validation_split=0.25, early_stopping=2,
                      seed=0, progress=False)
    assert history.epochs < 40
    best = int(np.argmin(history["val_loss"]))
    assert history.best_epoch == best + 1
    assert history.epochs - history.best_epoch == 2
    validation = crnn_fit.Dataset(net, X[150:], y[150:])
    assert np.isclose(crnn_fit.evaluate(net, validation, "ce", 32)[0], history["val_loss"][best],
                      rtol=1e-12)


def test_validation_data_batch_first_and_a_given_optimizer():
    rng = np.random.default_rng(9)
    X, y = previous_token(rng, 120)
    Xv, yv = previous_token(rng, 30)
    net = crnn.GRU(5, 5, 8, batch_first=True, seed=0)
    opt = crnn.optim.SGD(net.parameters(), lr=0.5, momentum=0.9)
    history = net.fit(X, y, validation_data=(Xv, yv), optimizer=opt, epochs=4, batch_size=16,
                      clip_norm=1.0, seed=0, progress=False)
    assert len(history["val_accuracy"]) == 4 and opt.step_count == 4 * 8
    assert net.training  # fit leaves the mode as it found it


def test_progress_bar(capsys):
    pytest.importorskip("tqdm")
    X, y = sign_of_sum(np.random.default_rng(10), 20)
    crnn.RNN(2, 2, 4, seed=0).fit(X, y, epochs=2, progress=True)
    assert "epoch" in capsys.readouterr().err


@pytest.mark.parametrize("call,error,match", [
    (lambda n, X, y: n.fit(X, y[:-1], progress=False), ValueError,
     "y must hold one target or target sequence per sequence: 10, got 9"),
    (lambda n, X, y: n.fit(X, y.astype(float), loss="ce", progress=False), ValueError,
     r"y\[0\] must be floats of shape \(2,\)"),
    (lambda n, X, y: n.fit(X, y, loss="mse", progress=False), ValueError,
     "loss='mse' needs float targets; y holds class ids"),
    (lambda n, X, y: n.fit(X, y, validation_split=1.0, progress=False), ValueError,
     r"validation_split must be in \[0, 1\)"),
    (lambda n, X, y: n.fit(X, y, optimizer="lbfgs", progress=False), ValueError,
     "optimizer must be one of"),
    (lambda n, X, y: n.fit(X + [np.zeros((3, 5))], list(y) + [0], progress=False), ValueError,
     r"X\[10\] must be floats \(T_i, 2\) with T_i >= 1, like X\[0\]"),
    (lambda n, X, y: n.fit([], [], progress=False), ValueError, "X is empty"),
    (lambda n, X, y: n.fit(X, y + 5, progress=False), ValueError,
     r"y\[0\] must be in \[0, output_size=2\)"),
    (lambda n, X, y: n.fit(X, y, lengths=[3] * 10, progress=False), ValueError,
     "lengths goes with a padded array"),
    (lambda n, X, y: n.fit(X, y, epochs=0, progress=False), ValueError,
     "epochs must be a positive integer"),
    (lambda n, X, y: n.predict(np.zeros((2, 3, 4))), ValueError,
     r"X\[0\] must be floats \(T_i, 2\)"),
    (lambda n, X, y: n.fit(X, None, progress=False), TypeError,
     r"fit needs targets y: one per sequence .* got None"),
    (lambda n, X, y: n.fit(X, y, lr=float("inf"), progress=False), ValueError,
     "lr must be finite, got inf"),
    (lambda n, X, y: n.fit(X, y, lr=-1, progress=False), ValueError,
     "lr must be a positive number, got -1"),
    (lambda n, X, y: n.fit(X, y, clip_norm=0, progress=False), ValueError,
     "clip_norm must be a positive number, got 0"),
    (lambda n, X, y: n.fit(X, y, validation_split="0.1", progress=False), TypeError,
     "validation_split must be a real number, got '0.1'"),
    (lambda n, X, y: n.fit(X, y, shuffle="yes", progress=False), TypeError,
     "shuffle must be True or False"),
])
def test_bad_datasets_and_options(call, error, match):
    X, y = sign_of_sum(np.random.default_rng(11), 10)
    net = crnn.RNN(2, 2, 4, seed=0)
    with pytest.raises(error, match=match):
        call(net, X, y)


def test_a_non_finite_loss_stops_before_the_update():
    X, y = sign_of_sum(np.random.default_rng(12), 10)
    X[3][0, 0] = np.nan
    net = crnn.RNN(2, 2, 4, seed=0)
    before = net.Whh.copy()
    with pytest.raises(FloatingPointError, match="the loss is nan in epoch 1"):
        net.fit(X, y, batch_size=10, progress=False)
    np.testing.assert_array_equal(net.Whh, before)


def test_many_to_many_regression_from_a_list_or_its_padded_array():
    """A running sum at every step: the same history from a list of
    sequences and from the padded arrays with lengths."""
    rng = np.random.default_rng(13)
    X = [rng.standard_normal((rng.integers(3, 15), 2)) for _ in range(200)]
    y = [np.cumsum(x[:, :1], axis=0) * 0.3 for x in X]
    history = crnn.LSTM(2, 1, 16, seed=0).fit(X, y, epochs=25, lr=1e-2, validation_split=0.2,
                                               seed=0, progress=False)
    assert history["val_loss"][-1] < 0.05 * np.var(np.concatenate(y))
    T, lengths = 14, [len(x) for x in X]
    X_padded, y_padded = np.zeros((200, T, 2)), np.zeros((200, T, 1))
    for i, (x, t) in enumerate(zip(X, y)):
        X_padded[i, :len(x)], y_padded[i, :len(t)] = x, t
    again = crnn.LSTM(2, 1, 16, seed=0).fit(X_padded, y_padded, lengths=lengths, epochs=25,
                                             lr=1e-2, validation_split=0.2, seed=0,
                                             progress=False)
    assert again == history


def test_numpy_scalars_and_a_one_output_regression_of_1d_targets():
    rng = np.random.default_rng(5)
    X = [rng.standard_normal((int(n), 2)) for n in rng.integers(3, 9, 40)]
    y = np.array([x[:, 0].sum() for x in X])            # (N,) floats, one output
    model = crnn.GRU(2, 1, 8, seed=0)
    history = model.fit(X, y, epochs=3, lr=np.float64(0.02), validation_split=np.float32(0.25),
                        seed=0, progress=False)
    assert len(history["val_loss"]) == 3
    same = crnn.GRU(2, 1, 8, seed=0)
    same.fit(X, y[:, None], epochs=3, lr=0.02, validation_split=0.25, seed=0, progress=False)
    np.testing.assert_array_equal(model._param_flat, same._param_flat)  # (N,) is (N, 1)
    assert model.predict(X[:3]).shape == (3, 1)
    with pytest.raises(ValueError, match=r"y\[0\] must be floats of shape \(2,\)"):
        crnn.GRU(2, 2, 8, seed=0).fit(X, y, progress=False)  # two outputs need (N, 2)
