"""Text for character-level models: a vocabulary of characters, the small
corpus, and sampling.

The small corpus is the docstrings of Python's builtins (about 30 KB of
English, the same on every machine with the same Python); crnn.corpus has
the larger default one, the standard library's docstrings.
"""
import builtins

import numpy as np

from . import _checks

__all__ = ["Vocabulary", "sample_text", "sample_ids", "default_corpus", "builtins_documents"]


def builtins_documents():
    """[(name, docstring)] of the builtins, in name order."""
    docs = []
    for name in sorted(dir(builtins)):
        doc = getattr(getattr(builtins, name), "__doc__", None)
        if isinstance(doc, str) and doc.strip() and not name.startswith("_"):
            docs.append((name, doc.strip()))
    return docs


def default_corpus():
    """The docstrings of the builtins, in name order, one after another."""
    return "\n\n".join(doc for _, doc in builtins_documents()) + "\n"


class Vocabulary:
    """The characters of a text, in sorted order, and their ids."""

    def __init__(self, characters):
        if isinstance(characters, bytes) or not hasattr(characters, "__iter__"):
            raise TypeError(f"a vocabulary is made from a text's characters: a string or an "
                            f"iterable of them, got {type(characters).__name__}")
        distinct = set(characters)
        if not all(isinstance(c, str) and len(c) == 1 for c in distinct):
            raise TypeError("a vocabulary is made of single characters")
        self.characters = "".join(sorted(distinct))
        if not self.characters:
            raise ValueError("a vocabulary needs at least one character")
        self._ids = {c: i for i, c in enumerate(self.characters)}

    def __len__(self):
        return len(self.characters)

    def encode(self, text, dtype=np.int64, out=None):
        """The ids of ``text`` (into ``out`` when given); ValueError names
        characters not in the vocabulary. Read a million characters at a
        time, as code points, so a long text is never copied whole."""
        unknown = sorted(set(text) - set(self._ids))
        if unknown:
            raise ValueError(f"characters not in the vocabulary: {''.join(unknown)!r} "
                             f"(it has {len(self)}: {self.characters!r})")
        ids = np.empty(len(text), dtype=dtype) if out is None else out
        points = np.array([ord(c) for c in self.characters], dtype=np.uint32)  # sorted
        for start in range(0, len(text), 1 << 20):
            chunk = text[start:start + (1 << 20)].encode("utf-32-le")
            ids[start:start + len(chunk) // 4] = np.searchsorted(
                points, np.frombuffer(chunk, dtype=np.uint32))
        return ids

    def decode(self, ids):
        """The text of ``ids``."""
        return "".join(self.characters[i] for i in ids)


def sample_ids(rnn, prime_ids, length, temperature=1.0, top_k=None, seed=None, h0=None):
    """Draw ``length`` ids from ``rnn``, each fed back as the next input.

    The model first reads ``prime_ids`` (at least one), then samples from
    softmax(y / temperature), restricted to the ``top_k`` likeliest ids when
    given. ``seed`` makes the draw reproducible; dropout is off meanwhile.
    Returns the ids drawn (not the prime) and the final state (as train_step
    returns it).
    """
    _check_sampler(rnn)
    prime_ids = _checks.as_numeric_array("prime_ids", prime_ids).reshape(-1)
    if not _checks.is_token_ids(prime_ids):
        raise TypeError(f"prime_ids must be integer token ids, got dtype {prime_ids.dtype}")
    if prime_ids.size == 0:
        raise ValueError("sampling needs a prime of at least one id")
    _checks.check_token_range(prime_ids, rnn.input_size)
    length = _checks.check_count("length", length)
    _checks.check_memory(length * 8, f"length={length} ids")
    temperature = _checks.check_real("temperature", temperature)
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    if top_k is not None:
        _checks.check_size("top_k", top_k)
    rng = _checks.check_seed(seed)
    prime_ids = prime_ids.astype(np.int64)
    with rnn._inferring():  # no dropout while sampling
        return _draw(rnn, prime_ids, length, temperature, top_k, rng, h0)


def _check_sampler(rnn):
    """A model that can sample: each drawn output id is its next input."""
    from .rnn import Recurrent
    if not isinstance(rnn, Recurrent):
        raise TypeError(f"sampling takes a crnn.RNN, LSTM or GRU, got {type(rnn).__name__}")
    if rnn.output_size != rnn.input_size:
        raise ValueError(f"sampling feeds each id drawn from the outputs back as the next "
                         f"input: it needs output_size == input_size, got output_size="
                         f"{rnn.output_size} and input_size={rnn.input_size}")
    if rnn.directions != 1:
        raise ValueError("sampling reads one id at a time, which a bidirectional model "
                         "cannot: its reverse direction reads each sequence from its end")


def _draw(rnn, prime_ids, length, temperature, top_k, rng, h0):
    """The prime read in one forward_batch, then a stream: one C call per
    id drawn, into the same arrays every time."""
    Y, _, h = rnn.forward_batch(prime_ids[:, None], h0, return_state=True)
    stream = rnn.stream(1, h)
    y = Y[-1, 0].astype(np.float64)
    drawn = np.empty(length, dtype=np.int64)
    token = np.empty(1, dtype=np.int64)
    out = np.empty((1, rnn.output_size), dtype=rnn.dtype)
    for i in range(length):
        logits = y / temperature
        if top_k is not None and top_k < logits.size:
            cutoff = np.partition(logits, -top_k)[-top_k]
            logits = np.where(logits >= cutoff, logits, -np.inf)
        p = np.exp(logits - logits.max())
        drawn[i] = rng.choice(p.size, p=p / p.sum())
        token[0] = drawn[i]
        y = stream.step(token, out)[0].astype(np.float64)
    h = stream.state
    return drawn, (h[0] if len(h) == 1 else h)


def sample_text(rnn, vocabulary, prime, length, temperature=1.0, top_k=None, seed=None):
    """``prime`` followed by ``length`` characters sampled from ``rnn``."""
    if not isinstance(vocabulary, Vocabulary):
        raise TypeError(f"vocabulary must be a crnn.text.Vocabulary, got "
                        f"{type(vocabulary).__name__}")
    if not isinstance(prime, str):
        raise TypeError(f"the prime must be a string, got {type(prime).__name__}")
    if not prime:
        raise ValueError("the prime must hold at least one character")
    _check_sampler(rnn)
    if len(vocabulary) != rnn.input_size:
        raise ValueError(f"a vocabulary of {len(vocabulary)} characters for a model of "
                         f"input_size {rnn.input_size}: one character per input")
    ids, _ = sample_ids(rnn, vocabulary.encode(prime), length, temperature, top_k, seed)
    return prime + vocabulary.decode(ids)
