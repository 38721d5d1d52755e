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


@pytest.mark.parametrize("call,error,message", [
    (lambda m, v: sample_text(m, v, "ab", -1), ValueError, r"length must be an integer in \[0, "),
    (lambda m, v: sample_text(m, v, "ab", 2.5), TypeError, "length must be a non-negative integer"),
    (lambda m, v: sample_text(m, v, "ab", 5, top_k=2.5), TypeError,
     "top_k must be a positive integer, got float 2.5"),
    (lambda m, v: sample_text(m, v, "ab", 5, top_k=0), ValueError, "top_k must be a positive"),
    (lambda m, v: sample_text(m, v, "ab", 5, temperature=float("nan")), ValueError,
     "temperature must be finite"),
    (lambda m, v: sample_text(m, v, "ab", 5, temperature="hot"), TypeError,
     "temperature must be a real number"),
    (lambda m, v: sample_text(m, v, "ab", 5, seed=-1), ValueError,
     "seed must be None or an integer 0 or more, got -1"),
    (lambda m, v: sample_text(m, "abc", "ab", 5), TypeError,
     "vocabulary must be a crnn.text.Vocabulary, got str"),
    (lambda m, v: sample_text(m, v, ["a"], 5), TypeError, "the prime must be a string"),
    (lambda m, v: sample_text(crnn.RNN(3, None, 4), v, "ab", 5), ValueError,
     "it needs output_size == input_size, got output_size=None and input_size=3"),
    (lambda m, v: sample_text(crnn.RNN(4, 4, 4), v, "ab", 5), ValueError,
     "a vocabulary of 3 characters for a model of input_size 4"),
    (lambda m, v: sample_ids(m, [0, 3], 5), ValueError, r"token ids must be in \[0, input_size=3\)"),
    (lambda m, v: sample_ids(m, [0.5], 5), TypeError, "prime_ids must be integer token ids"),
    (lambda m, v: sample_ids("model", [0], 5), TypeError, "sampling takes a crnn.RNN, LSTM or GRU"),
])
def test_sampling_refuses_what_it_cannot_draw(call, error, message):
    model, vocabulary = crnn.RNN(3, 3, 4, seed=0), Vocabulary("abc")
    with pytest.raises(error, match=message):
        call(model, vocabulary)
    assert sample_text(model, vocabulary, "ab", 0) == "ab"  # a length of 0 is no draw
