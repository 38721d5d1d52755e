"""Time-series forecasting with crnn: a noisy sine, predicted one step ahead. ::

    python -m crnn.timeseries

Two ways to read a series with an RNN, both trained with mean squared error
and Adam, both judged on held-out data against the trivial predictor
("tomorrow as today", x_(t+1) = x_t):

* many-to-many: at every step of a window, predict the next value;
* many-to-one: read a window, predict only the value after it.
"""
import numpy as np

from . import optim
from .losses import mean_squared_error
from .rnn import RNN

__all__ = ["main"]


def noisy_sine(length, period=30.0, noise=0.05, seed=0):
    t = np.arange(length)
    return np.sin(2 * np.pi * t / period) + noise * np.random.default_rng(seed).standard_normal(length)


def random_windows(series, window, batch, rng):
    """Inputs (T, B, 1) and the values one step later (T, B, 1)."""
    starts = rng.integers(0, len(series) - window - 1, size=batch)
    index = starts[None, :] + np.arange(window)[:, None]
    return series[index][..., None], series[index + 1][..., None]


def fit_many_to_many(train, window=40, batch=32, steps=400, hidden=32, seed=0):
    rng = np.random.default_rng(seed)
    rnn = RNN(1, 1, hidden, seed=seed)
    opt = optim.Adam(rnn.parameters(), lr=0.01)
    for _ in range(steps):
        inputs, targets = random_windows(train, window, batch, rng)
        rnn.train_step(inputs, targets, optimizer=opt, loss="mse", clip_norm=5.0)
    return rnn


def fit_many_to_one(train, window=40, batch=32, steps=400, hidden=32, seed=0):
    """Only the last step's output is in the loss: dY is zero elsewhere."""
    rng = np.random.default_rng(seed)
    rnn = RNN(1, 1, hidden, seed=seed)
    opt = optim.Adam(rnn.parameters(), lr=0.01)
    dY = np.zeros((window, batch, 1))
    for _ in range(steps):
        inputs, targets = random_windows(train, window, batch, rng)
        Y, _ = rnn.forward_batch(inputs)
        _, dY[-1] = mean_squared_error(Y[-1], targets[-1])
        grads = rnn.backward_batch(dY)
        optim.clip_global_norm(grads, 5.0)
        opt.step(grads)
    return rnn


def evaluate(rnn, test, window=40, last_only=False):
    """Mean squared error of the one-step predictions on every window of
    ``test``, and the trivial predictor's on the same targets."""
    starts = np.arange(len(test) - window - 1)
    index = starts[None, :] + np.arange(window)[:, None]
    inputs, targets = test[index][..., None], test[index + 1][..., None]
    Y, _ = rnn.forward_batch(inputs)
    if last_only:
        Y, inputs, targets = Y[-1:], inputs[-1:], targets[-1:]
    return float(np.mean((Y - targets) ** 2)), float(np.mean((inputs - targets) ** 2))


def main():
    """Run ``python -m crnn.timeseries``: fit both models, print their
    held-out errors beside the trivial predictor's."""
    series = noisy_sine(3000)
    train, test = series[:2400], series[2400:]
    for name, fit, last_only in (("many-to-many", fit_many_to_many, False),
                                 ("many-to-one", fit_many_to_one, True)):
        model_error, trivial_error = evaluate(fit(train), test, last_only=last_only)
        print(f"{name:13s} test MSE {model_error:.5f}   trivial predictor {trivial_error:.5f}   "
              f"({model_error / trivial_error:.2f} of it)")


if __name__ == "__main__":
    main()
