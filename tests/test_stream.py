"""model.stream(): one step at a time, forward_batch's outputs and states,
on every cell, layer count, input kind, dtype and kernel path; its errors;
streams beside other calls in threads."""
import threading

import numpy as np
import pytest

import crnn

CELLS = [crnn.RNN, crnn.LSTM, crnn.GRU]
# a stream's step multiplies by W in place (dot products), forward_batch by
# its transpose: the sums run in another order, so the results agree to
# rounding, not bit for bit
TOLERANCE = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}


def _states(h):
    return h if isinstance(h, tuple) else (h,)


def _model(cell, dtype, num_layers, output_size=3, seed=0, **options):
    model = cell(5, output_size, 16, num_layers=num_layers, dtype=dtype, init="pytorch",
                 seed=seed, **options)
    return model.eval()


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("tokens", [False, True], ids=["floats", "ids"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stepping_gives_forward_batch_outputs_and_states(kernel, cell, num_layers, tokens,
                                                         dtype):
    model = _model(cell, dtype, num_layers)
    rng = np.random.default_rng(1)
    T, B = 9, 3
    X = rng.integers(0, 5, (T, B)) if tokens else rng.standard_normal((T, B, 5)).astype(dtype)
    h0 = rng.standard_normal((num_layers, B, 16)).astype(dtype)
    h0 = (h0, h0 * 0.5) if cell is crnn.LSTM else h0
    Y, _, h_n = model.forward_batch(X, h0, return_state=True)
    stream = model.stream(B, h0)
    steps = np.stack([stream.step(X[t]) for t in range(T)])
    np.testing.assert_allclose(steps, Y, **TOLERANCE[dtype])
    for got, expected in zip(_states(stream.state), _states(h_n)):
        assert got.shape == (num_layers, B, 16) and got.dtype == dtype
        np.testing.assert_allclose(got, expected, **TOLERANCE[dtype])


@pytest.mark.parametrize("cell", CELLS)
def test_a_model_without_an_output_layer_streams_its_top_states(cell):
    model = _model(cell, np.float64, 2, output_size=None)
    X = np.random.default_rng(2).standard_normal((6, 2, 5))
    _, Hs = model.forward_batch(X)
    stream = model.stream(2)
    out = np.empty((2, 16))
    for t in range(6):
        assert stream.step(X[t], out) is out  # written in place, nothing allocated
        np.testing.assert_allclose(out, Hs[t], **TOLERANCE[np.float64])


@pytest.mark.parametrize("cell", CELLS)
def test_reset_starts_again_and_state_is_a_copy(cell):
    model = _model(cell, np.float64, 1)
    X = np.random.default_rng(3).standard_normal((5, 1, 5))
    stream = model.stream()
    first = [stream.step(x).copy() for x in X]
    state = stream.state
    for s in _states(state):
        s[...] = 7.0  # a copy: the stream's own states are untouched
    stream.reset()
    again = [stream.step(x) for x in X]
    np.testing.assert_array_equal(np.array(again), np.array(first))
    h = np.random.default_rng(4).standard_normal((1, 1, 16))
    stream.reset((h, h) if cell is crnn.LSTM else h[0])  # (B, H) taken for one layer
    Y, _ = model.forward_batch(X, (h, h) if cell is crnn.LSTM else h)
    np.testing.assert_allclose(stream.step(X[0]), Y[0], **TOLERANCE[np.float64])


def test_a_stream_reads_the_parameters_as_they_are_at_each_step():
    model = _model(crnn.GRU, np.float64, 1)
    X = np.random.default_rng(5).standard_normal((2, 1, 5))
    stream = model.stream()
    stream.step(X[0])
    h = stream.state
    model.Whh[...] *= 0.5  # no stale copy of the weights inside the stream
    Y, _ = model.forward_batch(X[1:], h)
    np.testing.assert_allclose(stream.step(X[1]), Y[0], **TOLERANCE[np.float64])


def test_a_stream_runs_without_dropout_whatever_the_mode():
    model = crnn.LSTM(5, 3, 16, num_layers=3, dropout=0.5, seed=0)
    assert model.training
    X = np.random.default_rng(6).standard_normal((4, 2, 5))
    stream = model.stream(2)
    steps = np.stack([stream.step(x) for x in X])
    expected, _ = model.eval().forward_batch(X)
    np.testing.assert_allclose(steps, expected, **TOLERANCE[np.float64])


def test_a_stream_converts_what_it_can():
    model = _model(crnn.RNN, np.float32, 1)
    stream = model.stream(2)
    x = np.random.default_rng(7).standard_normal((2, 5))  # float64 for a float32 model
    y = stream.step(x.tolist())
    assert y.dtype == np.float32 and y.shape == (2, 3)
    stream.reset()
    np.testing.assert_array_equal(stream.step(x.astype(np.float32)), y)
    stream.reset()
    ids = stream.step(np.array([1, 4], dtype=np.int32))
    stream.reset()
    np.testing.assert_array_equal(stream.step(np.array([1, 4])), ids)


@pytest.mark.parametrize("call, message", [
    (lambda s: s.step(np.zeros((3, 5))), r"x must have shape \(batch_size, input_size\) "
                                          r"floats or \(batch_size,\) token ids = \(2, 5\), "
                                          r"got \(3, 5\)"),
    (lambda s: s.step(np.zeros(5)), r"= \(2, 5\), got \(5,\)"),
    (lambda s: s.step(np.array([0, 1, 2])), r"x must have shape \(batch_size,\) token ids "
                                             r"= \(2,\), got \(3,\)"),
    (lambda s: s.step(np.array([0, 5])), r"token ids must be in \[0, input_size=5\), got 5"),
    (lambda s: s.step(np.array([-1, 0])), r"token ids must be in \[0, input_size=5\), got -1"),
    (lambda s: s.step(np.zeros((2, 5)), np.zeros((2, 4))),
     r"out must be a writable C-contiguous float64 array of shape \(2, 3\) \(batch_size, "
     r"output_size\), got a float64 array of shape \(2, 4\)"),
    (lambda s: s.step(np.zeros((2, 5)), np.zeros((2, 3), dtype=np.float32)),
     r"got a float32 array of shape \(2, 3\)"),
    (lambda s: s.step(np.zeros((2, 5)), np.zeros((3, 2)).T), r"got a non-contiguous float64"),
    (lambda s: s.step(np.zeros((2, 5)), [[0.0] * 3] * 2), r"got a list"),
    (lambda s: s.reset(np.zeros((2, 15))), r"h0 must have shape \(B, hidden_size\) = \(2, 16\)"),
])
def test_bad_steps_say_what_was_expected_and_change_nothing(call, message):
    model = _model(crnn.RNN, np.float64, 1)
    stream = model.stream(2)
    x = np.random.default_rng(8).standard_normal((2, 5))
    stream.step(x)
    before = stream.state
    with pytest.raises(ValueError, match=message):
        call(stream)
    np.testing.assert_array_equal(stream.state, before)


def test_read_only_out_is_refused():
    stream = _model(crnn.GRU, np.float64, 1).stream()
    out = np.zeros((1, 3))
    out.flags.writeable = False
    with pytest.raises(ValueError, match="got a read-only float64 array"):
        stream.step(np.zeros((1, 5)), out)


@pytest.mark.parametrize("bad, error, message", [
    (dict(batch_size=0), ValueError, "batch_size must be a positive integer"),
    (dict(batch_size=1.5), TypeError, "batch_size"),
    (dict(h0=np.zeros((2, 1, 16))), ValueError, r"h0 must have shape"),
])
def test_bad_streams_are_refused(bad, error, message):
    with pytest.raises(error, match=message):
        _model(crnn.LSTM if "h0" not in bad else crnn.GRU, np.float64, 1).stream(**bad)


@pytest.mark.parametrize("cell", CELLS)
def test_a_bidirectional_model_cannot_stream(cell):
    model = cell(5, 3, 8, bidirectional=True, seed=0)
    with pytest.raises(ValueError, match="a bidirectional model cannot stream"):
        model.stream()


def test_threads_mixing_streams_predictions_and_training_on_one_model():
    # streams, predict and a training forward/backward (no parameter change)
    # on one shared model from 6 threads: nothing crashes or is refused, and
    # every result is the one the same call gives alone
    model = crnn.GRU(5, 3, 32, num_layers=2, seed=0)
    rng = np.random.default_rng(9)
    X = rng.standard_normal((12, 4, 5))
    expected_steps = model.eval().forward_batch(X)[0]
    expected_predict = model.predict(X.swapaxes(0, 1))
    model.train()
    errors = []
    start = threading.Barrier(6)

    def streaming():
        start.wait()
        for _ in range(20):
            stream = model.stream(4)
            steps = np.stack([stream.step(x) for x in X])
            np.testing.assert_allclose(steps, expected_steps, **TOLERANCE[np.float64])

    def predicting():
        start.wait()
        for _ in range(20):
            np.testing.assert_array_equal(model.predict(X.swapaxes(0, 1)), expected_predict)

    def training():
        start.wait()
        for _ in range(20):
            Y, _ = model.forward_batch(X)
            model.backward_batch(np.ones_like(Y))

    def run(work):
        try:
            work()
        except Exception as error:  # noqa: BLE001 - any error is the failure
            errors.append(repr(error))

    threads = [threading.Thread(target=run, args=(w,))
               for w in (streaming, streaming, predicting, predicting, training, training)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_threads_stepping_and_predicting_while_one_trains_never_crash():
    # a thread training the shared model (an optimizer step a call, so the
    # parameters change under the others: the caller's business, as in
    # PyTorch) beside streams and predictions: none crashes, is refused or
    # reads outside its buffers (the sanitizer run covers this test), and
    # every output stays finite
    model = crnn.LSTM(5, 3, 24, num_layers=2, seed=0)
    optimizer = crnn.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(10)
    X = rng.standard_normal((8, 3, 5))
    targets = rng.integers(0, 3, (8, 3))
    errors, outputs = [], []
    start = threading.Barrier(4)

    def run(work):
        try:
            start.wait()
            for _ in range(15):
                outputs.append(work())
        except Exception as error:  # noqa: BLE001 - any error is the failure
            errors.append(repr(error))

    def streaming():
        stream = model.stream(3)
        return np.stack([stream.step(x) for x in X])

    works = [lambda: np.array([model.train_step(X, targets, optimizer=optimizer, clip=5.0)[0]]),
             streaming, lambda: model.predict(X.swapaxes(0, 1)), streaming]
    threads = [threading.Thread(target=run, args=(w,)) for w in works]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(outputs) == 60
    assert all(np.isfinite(o).all() for o in outputs)
