"""The adding problem example: its data, a short IRNN that learns it, and
its command line."""
import numpy as np

from crnn import adding


def test_the_data():
    X, targets = adding.adding_batch(np.random.default_rng(0), 12, 50)
    assert X.shape == (12, 50, 2) and targets.shape == (50, 1)
    markers = X[..., 1]
    assert (markers.sum(axis=0) == 2).all()
    assert markers[:6].sum(axis=0).tolist() == [1] * 50  # one marker in each half
    np.testing.assert_allclose(targets[:, 0], (X[..., 0] * markers).sum(axis=0))


def test_an_irnn_learns_a_short_adding_problem():
    """T = 10: predicting 1 always gives 0.167; the IRNN gets to 1e-4 here."""
    rnn = adding.train("relu", "identity", 6000, 10, 3e-3, seed=0, hidden=32)
    assert adding.held_out_mse(rnn, 10) < 0.01


def test_the_command_line(capsys):
    results = adding.main(["--steps", "50", "--length", "8"])
    out = capsys.readouterr().out
    assert set(results) == set(adding.MODELS)
    for name in adding.MODELS:
        assert f"{name:28s} held-out MSE" in out
