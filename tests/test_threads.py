"""Models shared between threads, the GIL released during compute, and
models that travel (pickle, deepcopy)."""
import copy
import pickle
import threading

import numpy as np
import pytest

import crnn

from conftest import random_model


def test_eight_threads_sharing_a_model_get_the_serial_results():
    rnn = random_model(7, 33, 5)
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal((9, 3, 7)) if i % 2 else rng.integers(0, 7, (9, 3))
              for i in range(8)]
    sequences = [rng.standard_normal((6, 7)) for _ in range(8)]  # the seed API's forward
    serial = [rnn.forward_batch(x) for x in inputs]
    serial_seq = [rnn.forward(x) for x in sequences]
    results, results_seq = [None] * 8, [None] * 8
    barrier = threading.Barrier(8)

    def work(i):
        barrier.wait()
        for _ in range(50):
            results[i] = rnn.forward_batch(inputs[i])
            results_seq[i] = rnn.forward(sequences[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for (Y, Hs), (Y_s, Hs_s) in zip(results + results_seq, serial + serial_seq):
        np.testing.assert_array_equal(Y, Y_s)
        np.testing.assert_array_equal(Hs, Hs_s)


def test_the_gil_is_released_during_compute():
    """While one thread computes a large forward pass, another runs Python."""
    rnn = crnn.RNN(256, 64, 512, dtype=np.float32, seed=0)
    X = np.random.default_rng(0).standard_normal((50, 64, 256)).astype(np.float32)
    rnn.forward_batch(X)  # warm up
    done = threading.Event()
    ticks = 0

    def compute():
        for _ in range(3):
            rnn.forward_batch(X)
        done.set()

    worker = threading.Thread(target=compute)
    worker.start()
    while not done.is_set():
        ticks += 1
    worker.join()
    assert ticks > 10_000  # with the GIL held throughout, this thread would barely run


def test_backward_must_follow_a_forward_of_its_own_thread():
    rnn = crnn.RNN(3, 2, 4, seed=0)
    rnn.forward_batch(np.zeros((2, 1, 3)))
    errors = []

    def other():
        try:
            rnn.backward_batch(np.zeros((2, 1, 2)))
        except ValueError as error:
            errors.append(str(error))

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert errors and "needs a forward_batch() call before it in this thread" in errors[0]
    rnn.backward_batch(np.zeros((2, 1, 2)))  # the forward's own thread may


@pytest.mark.parametrize("travel", [lambda m: pickle.loads(pickle.dumps(m)), copy.deepcopy])
def test_models_pickle_and_deepcopy(travel):
    rnn = random_model(4, 6, 3, dtype=np.float32)
    twin = travel(rnn)
    assert repr(twin) == repr(rnn) == "RNN(input_size=4, output_size=3, hidden_size=6, dtype=float32)"
    X = np.random.default_rng(0).standard_normal((5, 2, 4))
    np.testing.assert_array_equal(twin.forward_batch(X)[0], rnn.forward_batch(X)[0])
    twin.Whh[0, 0] += 1  # independent copies
    assert rnn.Whh[0, 0] != twin.Whh[0, 0]


def test_threads_sharing_a_stacked_bidirectional_model_with_lengths():
    rnn = crnn.RNN(5, 3, 16, num_layers=2, bidirectional=True, nonlinearity="relu",
                   init="pytorch", seed=0)
    rng = np.random.default_rng(1)
    calls = [(rng.standard_normal((8, 3, 5)), rng.integers(1, 9, 3)) for _ in range(6)]
    serial = [rnn.forward_batch(x, lengths=n, return_state=True) for x, n in calls]
    results = [None] * 6
    barrier = threading.Barrier(6)

    def work(i):
        barrier.wait()
        for _ in range(30):
            results[i] = rnn.forward_batch(calls[i][0], lengths=calls[i][1], return_state=True)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, expected in zip(results, serial):
        for a, b in zip(got, expected):
            np.testing.assert_array_equal(a, b)


def test_threads_training_on_one_model_each_get_their_own_forwards_backward():
    # forward then backward from several threads on one model, each thread
    # its own batch size: each thread's forward is kept in its own workspace,
    # so every backward is its own forward's (the gradient array, the
    # model's, written by one backward at a time), never another's shapes
    rnn = crnn.GRU(3, 2, 16, seed=0)
    errors, refused, done = [], [], []

    def work(B):
        X = np.ones((6, B, 3))
        for _ in range(150):
            try:
                Y, _ = rnn.forward_batch(X)
                grads = rnn.backward_batch(np.ones_like(Y))
                assert grads["h0"].shape == (B, 16)
                done.append(B)
            except ValueError as error:
                assert "thread" in str(error), str(error)
                refused.append(B)
            except Exception as error:  # noqa: BLE001 - any other is the failure
                errors.append(repr(error))

    threads = [threading.Thread(target=work, args=(B,)) for B in (1, 2, 3, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and refused == []
    assert len(done) == 600


def test_predict_beside_a_training_thread_keeps_its_mode_to_itself():
    # predict runs in evaluation mode for its own thread only: a thread
    # training the same model (dropout on) keeps its dropout, and the
    # predictions, made without dropout, equal the serial ones
    model = crnn.LSTM(4, 3, 8, num_layers=2, dropout=0.5, seed=0)
    rng = np.random.default_rng(2)
    X = rng.standard_normal((10, 7, 4))
    expected = model.predict(X)
    assert model.training
    batch = rng.standard_normal((7, 10, 4))
    errors, predictions, dropped = [], [], []
    start = threading.Barrier(2)

    def predicting():
        start.wait()
        for _ in range(60):
            predictions.append(model.predict(X))

    def training():
        start.wait()
        for _ in range(60):
            try:
                Y, _ = model.forward_batch(batch)
                dropped.append(model._engine.masks is not None)
                model.backward_batch(np.ones_like(Y))
            except Exception as error:  # noqa: BLE001 - any error is the failure
                errors.append(repr(error))

    threads = [threading.Thread(target=f) for f in (predicting, training)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and model.training
    assert len(dropped) == 60 and all(dropped)
    for p in predictions:
        np.testing.assert_array_equal(p, expected)
