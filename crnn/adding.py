"""The adding problem (Hochreiter and Schmidhuber 1997, as Le, Jaitly and
Hinton 2015 ran it): a long-memory test that a tanh Elman RNN fails and an
IRNN (ReLU, Whh initialised to the identity) learns. ::

    python -m crnn.adding [--steps 8000] [--length 100]

Each sequence has T steps of two inputs: a random number in [0, 1), and a
marker that is 1 at two steps (one in each half) and 0 elsewhere. The target,
read from the last step only, is the sum of the two marked numbers. Always
predicting 1 gives a mean squared error of 1/6 = 0.167; a model beats it
only by carrying the marked numbers across up to T steps.

Both models: H = 100, batches of 16, Adam, gradient norm clipped, the loss on
the last step only; the held-out MSE is measured on 2,000 fresh sequences.
"""
import argparse
import time

import numpy as np

from . import optim
from ._arguments import positive_int, seed
from .rnn import RNN

__all__ = ["adding_batch", "train", "held_out_mse", "main"]


def adding_batch(rng, length, batch):
    """Inputs (T, B, 2) and targets (B, 1)."""
    values = rng.random((length, batch))
    markers = np.zeros((length, batch))
    half = length // 2
    first, second = rng.integers(0, half, batch), rng.integers(half, length, batch)
    markers[first, np.arange(batch)] = 1
    markers[second, np.arange(batch)] = 1
    targets = values[first, np.arange(batch)] + values[second, np.arange(batch)]
    return np.stack([values, markers], axis=-1), targets[:, None]


def train(nonlinearity, init, steps, length, lr, seed=0, hidden=100, batch=16, clip_norm=1.0,
          report=None):
    """A model trained on the adding problem; ``report(step, mse)`` is
    called every 1,000 steps with the mean training MSE since the last."""
    rng = np.random.default_rng(seed)
    rnn = RNN(2, 1, hidden, nonlinearity=nonlinearity, init=init, dtype=np.float32, seed=seed)
    opt = optim.Adam(rnn.parameters(), lr=lr)
    dY = np.zeros((length, batch, 1), dtype=np.float32)
    recent = []
    for step in range(1, steps + 1):
        X, targets = adding_batch(rng, length, batch)
        Y, _ = rnn.forward_batch(X)
        error = Y[-1] - targets
        recent.append(float(np.mean(error**2)))
        dY[-1] = 2 * error / batch  # d(mean squared error)/dY at the last step; 0 before
        grads = rnn.backward_batch(dY)
        if not all(np.isfinite(g).all() for g in grads.values()):
            break  # diverged: keep the last finite parameters
        optim.clip_global_norm(grads, clip_norm)
        opt.step(grads)
        if report is not None and step % 1000 == 0:
            report(step, np.mean(recent))
            recent = []
    return rnn


def held_out_mse(rnn, length, sequences=2000, seed=12345):
    """The mean squared error of ``rnn``'s last-step outputs on ``sequences``
    new sequences of ``length`` steps (drawn from ``seed``, the same for every model)."""
    X, targets = adding_batch(np.random.default_rng(seed), length, sequences)
    Y, _ = rnn.forward_batch(X)
    return float(np.mean((Y[-1] - targets) ** 2))


MODELS = {  # name: nonlinearity, init, Adam's learning rate
    "tanh, normal init": ("tanh", "normal", 1e-3),
    "IRNN (relu, identity init)": ("relu", "identity", 1e-3),
}


def sequence_length(text):
    """T for the command line: two numbers are marked among them."""
    value = positive_int(text)
    if not 2 <= value <= 1 << 20:
        raise argparse.ArgumentTypeError(f"must be an integer in [2, {1 << 20}], got {text!r}")
    return value


def main(argv=None):
    """Run ``python -m crnn.adding`` with the arguments ``argv`` (default: the
    command line's)."""
    parser = argparse.ArgumentParser(prog="python -m crnn.adding",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=positive_int, default=8000,
                        help="training steps per model")
    parser.add_argument("--length", type=sequence_length, default=100,
                        help="sequence length T, at least 2 (two numbers are marked)")
    parser.add_argument("--seed", type=seed, default=0)
    args = parser.parse_args(argv)
    print(f"the adding problem, T = {args.length}: predicting 1 always gives MSE 0.167")
    results = {}
    for name, (nonlinearity, init, lr) in MODELS.items():
        start = time.perf_counter()
        rnn = train(nonlinearity, init, args.steps, args.length, lr, args.seed,
                    report=lambda step, mse: print(f"  {name}: step {step}, training MSE {mse:.4f}"))
        results[name] = held_out_mse(rnn, args.length)
        print(f"{name:28s} held-out MSE {results[name]:.4f}   "
              f"({args.steps} steps in {time.perf_counter() - start:.1f} s)")
    return results


if __name__ == "__main__":
    main()
