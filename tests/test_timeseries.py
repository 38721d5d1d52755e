"""The time-series example beats the trivial predictor by far."""
from crnn import timeseries


def test_both_ways_beat_the_trivial_predictor():
    series = timeseries.noisy_sine(3000)
    train, test = series[:2400], series[2400:]
    model, trivial = timeseries.evaluate(timeseries.fit_many_to_many(train), test)
    assert model < 0.5 * trivial
    model, trivial = timeseries.evaluate(timeseries.fit_many_to_one(train), test, last_only=True)
    assert model < 0.3 * trivial
    assert trivial > 0.02  # the noise (0.05^2) is far below what the test asks
