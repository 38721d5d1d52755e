"""Vocabulary, the default corpus, and sampling."""
import numpy as np
import pytest

import crnn
from crnn.text import Vocabulary, default_corpus, sample_ids, sample_text


def test_the_default_corpus_is_english_text_of_some_size():
    text = default_corpus()
    assert 10_000 < len(text) < 200_000
    assert "Return" in text and 40 < len(set(text)) < 120


def test_vocabulary_round_trip_and_unknown_characters():
    vocabulary = Vocabulary("hello world")
    assert vocabulary.characters == " dehlorw"
    assert vocabulary.decode(vocabulary.encode("low")) == "low"
    with pytest.raises(ValueError, match=r"characters not in the vocabulary: 'xz'"):
        vocabulary.encode("hex oz")


def test_sampling_is_reproducible_and_respects_top_k():
    rnn = crnn.RNN(6, 6, 8, seed=0)
    rnn.Why = np.random.default_rng(0).standard_normal((6, 8)) * 3
    a, _ = sample_ids(rnn, [0, 1], 50, seed=7)
    b, _ = sample_ids(rnn, [0, 1], 50, seed=7)
    np.testing.assert_array_equal(a, b)
    assert a.min() >= 0 and a.max() < 6
    greedy, _ = sample_ids(rnn, [0], 30, top_k=1, seed=1)
    Y, Hs = rnn.forward_batch(np.array([[0]]))
    assert greedy[0] == np.argmax(Y[0, 0])  # top_k = 1 is the argmax
    cold, _ = sample_ids(rnn, [0], 200, temperature=0.01, seed=2)
    hot, _ = sample_ids(rnn, [0], 200, temperature=100.0, seed=2)
    assert len(set(hot.tolist())) > len(set(cold.tolist()))


def test_sample_text_and_bad_arguments():
    vocabulary = Vocabulary("abc")
    rnn = crnn.RNN(3, 3, 4, seed=0)
    out = sample_text(rnn, vocabulary, "ab", 10, seed=0)
    assert out.startswith("ab") and len(out) == 12 and set(out) <= set("abc")
    with pytest.raises(ValueError, match="characters not in the vocabulary: 'z'"):
        sample_text(rnn, vocabulary, "az", 5)
    with pytest.raises(ValueError, match="temperature must be positive"):
        sample_ids(rnn, [0], 5, temperature=0)
    with pytest.raises(ValueError, match="at least one"):
        sample_text(rnn, vocabulary, "", 5)
