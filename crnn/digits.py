"""A worked example of crnn in scikit-learn: the digits scikit-learn ships,
each 8x8 image read row by row as a sequence of 8 steps of 8 pixels. ::

    python -m crnn.digits

A grid search of RNNClassifier (GRU or LSTM, hidden 16 or 32, 3-fold) run
serially, then the same search on a Dask cluster of two worker processes
(when dask.distributed is installed; the README shows a real cluster's
address in its place), against a plain LogisticRegression of the 64 pixels.
Prints each one's held-out accuracy and time.
"""
import time

import numpy as np

__all__ = ["main"]


def main():
    """Run ``python -m crnn.digits``: the three fits, each one's accuracy and time."""
    from ._optional import require
    what = "python -m crnn.digits"
    joblib = require("joblib", what)
    load_digits = require("sklearn.datasets", what).load_digits
    LogisticRegression = require("sklearn.linear_model", what).LogisticRegression
    GridSearchCV = require("sklearn.model_selection", what).GridSearchCV

    from .sklearn import RNNClassifier

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    train, test = slice(0, 1200), slice(1200, None)
    grid = {"cell": ["gru", "lstm"], "hidden_size": [16, 32]}
    rows = []

    start = time.perf_counter()
    linear = LogisticRegression(max_iter=5000).fit(X[train], y[train])
    rows.append(("LogisticRegression, 64 pixels", linear.score(X[test], y[test]),
                 time.perf_counter() - start, ""))

    sequences = X.reshape(-1, 8, 8)
    start = time.perf_counter()
    serial = GridSearchCV(RNNClassifier(epochs=15, random_state=0), grid, cv=3)
    serial.fit(sequences[train], y[train])
    rows.append(("RNNClassifier search, serial", serial.score(sequences[test], y[test]),
                 time.perf_counter() - start, str(serial.best_params_)))

    try:
        import distributed
    except ImportError:
        distributed = None
    if distributed is not None:
        start = time.perf_counter()
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster, \
                distributed.Client(cluster), joblib.parallel_backend("dask"):
            on_dask = GridSearchCV(RNNClassifier(epochs=15, random_state=0), grid, cv=3,
                                   n_jobs=-1).fit(sequences[train], y[train])
        same = np.array_equal(on_dask.cv_results_["mean_test_score"],
                              serial.cv_results_["mean_test_score"])
        rows.append(("the same search on Dask, 2 workers", on_dask.score(sequences[test],
                                                                          y[test]),
                     time.perf_counter() - start,
                     "scores equal to the serial search's" if same else "SCORES DIFFER"))

    print(f"digits: {len(y[train])} training images, {len(y[test])} held out")
    for name, accuracy, seconds, note in rows:
        print(f"  {name:36s} held-out accuracy {accuracy:.3f}   {seconds:6.2f} s   {note}")


if __name__ == "__main__":
    try:
        main()
    except ImportError as error:  # scikit-learn missing: say how to get it
        raise SystemExit(f"crnn.digits: {error}") from None
