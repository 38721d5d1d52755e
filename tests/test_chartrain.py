"""Character models on a corpus: the standard library's docstrings, the
held-out split by document, the streams, bits per character, and the run's
state that makes a resume exact."""
import math

import numpy as np
import pytest

import crnn
from crnn import chartrain, corpus, reference
from crnn.text import Vocabulary


@pytest.fixture(scope="module")
def documents():
    return corpus.stdlib_documents()


def test_the_standard_library_corpus(documents):
    names = [name for name, _ in documents]
    assert names == sorted(names) and len(names) > 100
    assert "collections" in names and "antigravity" not in names
    text = "\n\n".join(doc for _, doc in documents)
    assert len(text) > 500_000 and 80 <= len(set(text)) <= 200
    assert documents == corpus.stdlib_documents()  # the same text for the same Python


def test_the_held_out_split_takes_whole_documents(documents):
    train, held = corpus.split(documents)
    held_documents = [doc for i, (_, doc) in enumerate(documents) if i % 20 == 19]
    assert held == "\n\n".join(held_documents) + "\n"
    for doc in held_documents:
        assert doc in held
    assert 0.02 < len(held) / (len(train) + len(held)) < 0.15
    with pytest.raises(ValueError, match="needs at least 20 documents, got 3"):
        corpus.split(documents[:3])


def test_encoding_in_chunks():
    text = ("naïve café ─ " * 100_000)[:1_300_000]  # longer than one chunk
    vocabulary = Vocabulary(text)
    ids = vocabulary.encode(text, np.uint8)
    assert ids.dtype == np.uint8 and len(ids) == len(text)
    assert vocabulary.decode(ids[:50]) == text[:50]
    assert vocabulary.decode(ids[-50:]) == text[-50:]
    with pytest.raises(ValueError, match="characters not in the vocabulary: 'Z'"):
        vocabulary.encode("Z")


def test_streams_read_consecutive_windows_of_equal_rows():
    ids = np.arange(103, dtype=np.uint8)
    streams = chartrain.Streams(ids, batch_size=4, seq_length=5)
    assert streams.windows == 5  # rows of 25 characters
    x0, y0 = streams.window(0)
    x1, _ = streams.window(1)
    assert x0.shape == (5, 4) and x0.dtype == np.int64
    np.testing.assert_array_equal(x0[:, 1], np.arange(25, 30))
    np.testing.assert_array_equal(y0, x0 + 1)
    np.testing.assert_array_equal(x1[0], x0[-1] + 1)  # each stream goes on where it was
    with pytest.raises(ValueError, match="fewer than a window of 30"):
        chartrain.Streams(ids, batch_size=4, seq_length=30)


def test_bits_per_character_is_the_carried_streams_cross_entropy():
    rng = np.random.default_rng(0)
    model = crnn.GRU(5, 5, 6, seed=0)
    ids = rng.integers(0, 5, 401)
    # each of the 4 streams read whole by the reference; the targets are the
    # next characters, across the rows' ends too
    inputs, targets = ids[:400].reshape(4, 100), ids[1:401].reshape(4, 100)
    total = 0.0
    for x, y in zip(inputs, targets):
        logits = reference.output(model.parameters(),
                                  reference.forward(model.parameters(), x[:, None]))[:, 0]
        lse = np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1)) + logits.max(1)
        total += np.sum(lse - logits[np.arange(100), y])
    bits = chartrain.bits_per_character(model, ids, streams=4, window=7)
    assert math.isclose(bits, total / 400 / math.log(2), rel_tol=1e-12)
    assert model.training  # evaluation mode only meanwhile


def test_the_cosine_schedule():
    assert chartrain.learning_rate(0.1, "constant", 50, 100) == 0.1
    assert chartrain.learning_rate(0.1, "cosine", 0, 100) == pytest.approx(0.1)
    assert chartrain.learning_rate(0.1, "cosine", 50, 100) == pytest.approx(0.055)
    assert chartrain.learning_rate(0.1, "cosine", 100, 100) == pytest.approx(0.01)
    assert chartrain.learning_rate(0.1, "cosine", 200, 100) == pytest.approx(0.01)


def test_a_run_state_round_trips_through_its_arrays():
    model = crnn.LSTM(4, 4, 3, num_layers=2, dropout=0.5, seed=0)
    run = chartrain.RunState()
    run.iteration, run.position, run.epoch, run.characters = 7, 2, 1, 700
    run.state = (np.ones((2, 5, 3), np.float64), np.full((2, 5, 3), 2.0))
    run.losses, run.evaluations = [1.5, 1.25], [[5, 2.5]]
    run.best, run.best_parameters = 2.5, model._param_flat.copy()
    model._rng.random(3)
    arrays = run.arrays(model)
    draws = model._rng.random(4)
    back = chartrain.RunState.from_arrays(arrays, model)
    np.testing.assert_array_equal(model._rng.random(4), draws)  # the generator restored
    assert (back.iteration, back.position, back.epoch, back.characters) == (7, 2, 1, 700)
    assert back.losses == [1.5, 1.25] and back.evaluations == [[5, 2.5]] and back.best == 2.5
    for got, expected in zip(back.state, run.state):
        np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(back.best_parameters, run.best_parameters)
