"""Training: windows, one step, and the classic char-RNN reproduced against
its plain NumPy loop (crnn.reference.min_char_rnn)."""
import numpy as np
import pytest

import crnn
from crnn import losses, optim, reference, training
from crnn.text import Vocabulary, default_corpus


def test_windows_follow_min_char_rnn():
    ids = np.arange(60)
    got = [(x[:, 0].tolist(), y[:, 0].tolist(), fresh)
           for _, (x, y, fresh) in zip(range(4), training.windows(ids, 25))]
    assert got[0] == (list(range(0, 25)), list(range(1, 26)), True)
    assert got[1] == (list(range(25, 50)), list(range(26, 51)), False)
    assert got[2] == (list(range(0, 25)), list(range(1, 26)), True)  # 50 + 25 + 1 >= 60
    with pytest.raises(ValueError, match="has 10 ids; windows of 25 need at least 27"):
        next(training.windows(np.arange(10), 25))


def test_train_step_is_forward_loss_backward_clip_update():
    rng = np.random.default_rng(0)
    a, b = crnn.RNN(5, 5, 8, seed=1), crnn.RNN(5, 5, 8, seed=1)
    x, y = rng.integers(0, 5, size=(6, 2)), rng.integers(0, 5, size=(6, 2))
    h0 = rng.standard_normal((2, 8))
    opt_a, opt_b = optim.Adam(a.parameters(), lr=0.01), optim.Adam(b.parameters(), lr=0.01)
    loss, h = a.train_step(x, y, h0=h0, optimizer=opt_a, loss="ce_mean", clip=0.1)
    Y, Hs = b.forward_batch(x, h0)
    expected_loss, dY = losses.softmax_cross_entropy(Y, y, "mean")
    grads = b.backward_batch(dY)
    optim.clip_elementwise(grads, 0.1)
    opt_b.step(grads)
    assert loss == expected_loss
    np.testing.assert_array_equal(h, Hs[-1])
    for name in a.parameters():
        np.testing.assert_array_equal(a.parameters()[name], b.parameters()[name])


def test_a_nan_loss_stops_before_any_update():
    rnn = crnn.RNN(3, 3, 4, seed=0)
    rnn.Why[0, 0] = np.nan
    before = {k: v.copy() for k, v in rnn.parameters().items()}
    with pytest.raises(FloatingPointError, match="the loss is nan"):
        rnn.train_step(np.array([0, 1, 2]), np.array([1, 2, 0]),
                       optimizer=optim.SGD(rnn.parameters(), lr=0.1))
    for k, v in rnn.parameters().items():
        np.testing.assert_array_equal(v, before[k])


def test_train_step_arguments():
    rnn = crnn.RNN(3, 3, 4, seed=0)
    opt = optim.SGD(rnn.parameters())
    with pytest.raises(ValueError, match="loss must be one of"):
        rnn.train_step(np.array([0, 1]), np.array([1, 2]), optimizer=opt, loss="hinge")
    with pytest.raises(TypeError, match="optimizer must be a crnn.optim optimizer"):
        rnn.train_step(np.array([0, 1]), np.array([1, 2]), optimizer=None)


def char_rnn(ids, vocab_size, seed, iterations):
    """The classic setup through crnn: returns its losses and the NumPy loop's."""
    rnn = crnn.RNN(vocab_size, vocab_size, 100, seed=seed)
    start = {k: v.copy() for k, v in rnn.parameters().items()}
    opt = optim.Adagrad(rnn.parameters(), lr=0.1, eps=1e-8)
    ours, h = [], None
    for _, (x, y, fresh) in zip(range(iterations), training.windows(ids, 25)):
        loss, h = rnn.train_step(x, y, h0=None if fresh else h, optimizer=opt, clip=5.0)
        ours.append(loss)
    return np.array(ours), start


def test_first_iterations_equal_the_numpy_loop():
    vocabulary = Vocabulary(default_corpus())
    ids = vocabulary.encode(default_corpus())
    ours, start = char_rnn(ids, len(vocabulary), seed=0, iterations=5)
    theirs = np.array(reference.min_char_rnn(ids, len(vocabulary), start, 5))
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)


def test_learning_matches_the_numpy_loop():
    """Later the two diverge chaotically under Adagrad: compare the mean loss
    over iterations 2001-3000, averaged over three initial seeds."""
    text = default_corpus()
    vocabulary = Vocabulary(text)
    ids = vocabulary.encode(text)
    ours, theirs = [], []
    for seed in range(3):
        losses_ours, start = char_rnn(ids, len(vocabulary), seed, 3000)
        ours.append(losses_ours[2000:].mean())
        theirs.append(np.mean(reference.min_char_rnn(ids, len(vocabulary), start, 3000)[2000:]))
    uniform = np.log(len(vocabulary)) * 25
    assert np.mean(theirs) < 0.8 * uniform  # the loop itself learned
    assert abs(np.mean(ours) - np.mean(theirs)) < 0.1 * np.mean(theirs)


def test_clip_norm_is_over_the_parameters_gradients_only():
    """As PyTorch's clip_grad_norm_(model.parameters()): the state's gradient
    (grads["h0"]) is not part of the norm."""
    import copy
    rnn = crnn.RNN(4, 4, 6, seed=1, init="pytorch")
    twin = copy.deepcopy(rnn)
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 4, (7, 2)), rng.integers(0, 4, (7, 2))
    h0 = rng.standard_normal((2, 6)) * 3
    rnn.train_step(x, y, h0, optimizer=crnn.optim.SGD(rnn.parameters(), lr=0.5), clip_norm=0.1)
    Y, _ = twin.forward_batch(x, h0)
    _, dY = crnn.losses.softmax_cross_entropy(Y, y, "sum")
    grads = twin.backward_batch(dY)
    params = {name: grads[name] for name in twin.parameters()}
    crnn.optim.clip_global_norm(params, 0.1)
    crnn.optim.SGD(twin.parameters(), lr=0.5).step(params)
    for name, p in rnn.parameters().items():
        np.testing.assert_allclose(p, twin.parameters()[name], rtol=1e-13, atol=1e-15)
