"""The main job for now: train a character-level RNN on a short embedded text
and print the loss falling, then a sample. Run it with ``python -m crnn``.

Next-character prediction: token ids in, one output per step, softmax
cross-entropy summed over a window of 25 characters, the hidden state carried
from window to window, Adagrad with element-wise gradient clipping (the
classic min-char-rnn recipe).
"""
import time

import numpy as np

from .rnn import RNN

TEXT = (
    "recurrent neural networks learn patterns in sequential data: text, "
    "speech and time series. an elman network keeps a hidden state and "
    "feeds it back at every step. "
)


def softmax_cross_entropy(Y, targets):
    """Summed cross-entropy of softmax(Y) (T, B, V) against ids (T, B), and dLoss/dY."""
    shifted = Y - Y.max(axis=-1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(log_p, targets[..., None], axis=-1)  # log p(target)
    dY = np.exp(log_p)
    np.put_along_axis(dY, targets[..., None], np.exp(picked) - 1, axis=-1)  # p - onehot
    return -picked.sum(), dY


def sample(rnn, h, first_id, length, rng):
    """Draw ``length`` ids, one step at a time, feeding each back in."""
    ids, token = [], first_id
    for _ in range(length):
        Y, Hs = rnn.forward_batch(np.array([[token]]), h0=h)
        p = np.exp(Y[0, 0] - Y[0, 0].max())
        token = int(rng.choice(len(p), p=p / p.sum()))
        h = Hs[-1]
        ids.append(token)
    return ids


def train(iterations=2000, window=25, hidden_size=64, learning_rate=0.1, clip=5.0,
          seed=0, report_every=200, out=print):
    """Train on TEXT; returns the RNN and the loss of every iteration."""
    vocabulary = sorted(set(TEXT))
    ids = np.array([vocabulary.index(c) for c in TEXT])
    V = len(vocabulary)
    rnn = RNN(V, V, hidden_size, seed=seed)
    adagrad_memory = {name: np.zeros_like(p) for name, p in rnn.parameters().items()}
    losses, h, position = [], None, 0
    start = time.perf_counter()
    for iteration in range(iterations):
        if position + window + 1 > len(ids):
            position, h = 0, None  # back to the start of the text, from a fresh state
        inputs = ids[position:position + window, None]            # (T, 1)
        targets = ids[position + 1:position + window + 1, None]   # (T, 1)
        Y, Hs = rnn.forward_batch(inputs, h0=h)
        loss, dY = softmax_cross_entropy(Y, targets)
        grads = rnn.backward_batch(dY)
        for name, param in rnn.parameters().items():
            g = np.clip(grads[name], -clip, clip)
            adagrad_memory[name] += g * g
            param -= learning_rate * g / np.sqrt(adagrad_memory[name] + 1e-8)
        losses.append(loss / window)
        h, position = Hs[-1], position + window
        if report_every and (iteration + 1) % report_every == 0:
            recent = np.mean(losses[-report_every:])
            out(f"iteration {iteration + 1:5d}   loss per character {recent:.3f}   "
                f"({(iteration + 1) / (time.perf_counter() - start):,.0f} it/s)")
    return rnn, vocabulary, losses


def main():
    print(f"crnn demo: next-character prediction on {len(TEXT)} characters of text")
    vocabulary_size = len(set(TEXT))
    print(f"a uniform guess costs {np.log(vocabulary_size):.3f} per character")
    rnn, vocabulary, losses = train()
    rng = np.random.default_rng(1)
    ids = sample(rnn, None, vocabulary.index("r"), 120, rng)
    print("sample: r" + "".join(vocabulary[i] for i in ids))


if __name__ == "__main__":
    main()
