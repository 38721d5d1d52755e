"""The scikit-learn estimators (run where scikit-learn is installed):
scikit-learn's own estimator checks, and the estimators in Pipeline,
GridSearchCV and cross_val_score with two jobs, on a data set it ships."""
import pickle

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from crnn.sklearn import EXPECTED_FAILED_CHECKS, RNNClassifier, RNNRegressor  # noqa: E402


@parametrize_with_checks([RNNClassifier(epochs=5, random_state=0),
                          RNNRegressor(epochs=5, random_state=0)],
                         expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def digits():
    """The 8x8 digits, each read row by row: 8 steps of 8 pixels, in [0, 1]."""
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).reshape(-1, 8, 8), y


def test_digits_as_sequences_in_a_search_on_two_jobs(digits):
    X, y = digits
    X_train, y_train, X_test, y_test = X[:1200], y[:1200], X[1200:], y[1200:]
    search = GridSearchCV(RNNClassifier(epochs=15, random_state=0),
                          {"cell": ["gru", "lstm"], "hidden_size": [16, 32]}, cv=3, n_jobs=2)
    search.fit(X_train, y_train)
    serial = GridSearchCV(RNNClassifier(epochs=15, random_state=0),
                          {"cell": ["gru", "lstm"], "hidden_size": [16, 32]}, cv=3, n_jobs=1)
    serial.fit(X_train, y_train)
    np.testing.assert_array_equal(search.cv_results_["mean_test_score"],
                                  serial.cv_results_["mean_test_score"])
    assert search.best_params_ == serial.best_params_
    assert search.score(X_test, y_test) >= 0.9


def test_pipeline_cross_validation_and_variable_lengths(digits):
    X, y = digits
    # a Pipeline of a transformer of the flat images and the classifier
    pipeline = make_pipeline(FunctionTransformer(lambda flat: flat.reshape(-1, 8, 8)),
                             RNNClassifier(epochs=25, random_state=0))
    scores = cross_val_score(pipeline, X[:600].reshape(600, 64), y[:600], cv=3, n_jobs=2)
    assert scores.mean() >= 0.8  # the folds of 200 differ: 0.87, 0.90, 0.79 here
    # sequences of different lengths: each image cut after a random number of rows
    rng = np.random.default_rng(0)
    ragged = [x[:rng.integers(5, 9)] for x in X[:600]]
    model = RNNClassifier(epochs=25, random_state=0).fit(ragged[:500], y[:500])
    assert model.n_features_in_ == 8 and model.score(ragged[500:], y[500:600]) >= 0.6
    with pytest.raises(ValueError, match="X has 4 features per step, but this estimator is "
                                         "expecting 8"):
        model.predict(X[:3, :, :4])


def test_regression_pickling_and_clones():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((200, 10, 2))
    y = np.c_[X[:, :, 0].sum(axis=1), X[:, :, 1].mean(axis=1)]  # two outputs
    model = RNNRegressor(epochs=30, random_state=0).fit(X, y)
    assert model.predict(X).shape == (200, 2) and model.score(X, y) >= 0.8
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    fresh = clone(model)
    assert not hasattr(fresh, "model_") and fresh.get_params() == model.get_params()
    np.testing.assert_array_equal(fresh.fit(X, y).predict(X), model.predict(X))


def test_a_search_on_a_dask_cluster_equals_the_serial_one(digits):
    """GridSearchCV through joblib's Dask backend on a LocalCluster of two
    worker processes: the same scores as the serial search."""
    joblib = pytest.importorskip("joblib")
    distributed = pytest.importorskip("distributed")
    X, y = digits[0][:600], digits[1][:600]
    grid = {"cell": ["gru", "rnn"], "hidden_size": [8, 16]}
    serial = GridSearchCV(RNNClassifier(epochs=5, random_state=0), grid, cv=3).fit(X, y)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster), joblib.parallel_backend("dask"):
        on_dask = GridSearchCV(RNNClassifier(epochs=5, random_state=0), grid, cv=3,
                               n_jobs=-1).fit(X, y)
    np.testing.assert_array_equal(on_dask.cv_results_["mean_test_score"],
                                  serial.cv_results_["mean_test_score"])
    assert on_dask.best_params_ == serial.best_params_


def test_the_digits_example(capsys):
    from crnn import digits
    digits.main()
    out = capsys.readouterr().out
    assert "LogisticRegression, 64 pixels" in out and "RNNClassifier search, serial" in out
    accuracies = [float(line.split("held-out accuracy")[1].split()[0])
                  for line in out.splitlines() if "held-out accuracy" in line]
    assert min(accuracies) >= 0.85
    if "on Dask" in out:
        assert "scores equal to the serial search's" in out


def test_partial_fit_learns_from_data_in_parts(digits):
    X, y = digits
    model = RNNClassifier(random_state=0)
    # the first call is fit's first epoch exactly: the same model, optimizer and batches
    model.partial_fit(X[:300], y[:300], classes=np.arange(10))
    once = RNNClassifier(epochs=1, random_state=0).fit(X[:300], y[:300])
    np.testing.assert_array_equal(model.model_._param_flat, once.model_._param_flat)
    # then parts of 300 images, twelve passes: the optimizer's state goes on
    trained, steps = model.model_, model.optimizer_.step_count
    for _ in range(12):
        for start in range(0, 1200, 300):
            model.partial_fit(X[start:start + 300], y[start:start + 300])
    assert model.model_ is trained and model.optimizer_.step_count == steps + 12 * 4 * 10
    assert model.score(X[1200:], y[1200:]) >= 0.85  # 0.90 here; fit with 12 epochs: 0.91


def test_partial_fit_resumes_exactly_after_pickling(digits):
    X, y = digits
    straight = RNNRegressor(random_state=0)
    for start in range(0, 400, 100):
        straight.partial_fit(X[start:start + 100], y[start:start + 100] / 9.0)
    stopped = RNNRegressor(random_state=0)
    for start in range(0, 200, 100):
        stopped.partial_fit(X[start:start + 100], y[start:start + 100] / 9.0)
    resumed = pickle.loads(pickle.dumps(stopped))
    for start in range(200, 400, 100):
        resumed.partial_fit(X[start:start + 100], y[start:start + 100] / 9.0)
    np.testing.assert_array_equal(resumed.model_._param_flat, straight.model_._param_flat)


def test_partial_fit_refuses_what_does_not_continue_the_first_call(digits):
    X, y = digits
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        RNNClassifier().partial_fit(X[:50], y[:50])
    model = RNNClassifier(random_state=0).partial_fit(X[:50], y[:50] % 5, classes=range(5))
    with pytest.raises(ValueError, match=r"y holds labels not in classes: array\(\[5, 7\]\)"):
        model.partial_fit(X[:4], np.array([1, 5, 7, 2]))
    with pytest.raises(ValueError, match="is not the classes_ of the first call"):
        model.partial_fit(X[:4], y[:4] % 5, classes=range(6))
    with pytest.raises(ValueError, match="X has 4 features per step, but this estimator is "
                                         "expecting 8"):
        model.partial_fit(X[:4, :, :4], y[:4] % 5)
    regressor = RNNRegressor(random_state=0).partial_fit(X[:50], np.ones((50, 2)))
    with pytest.raises(ValueError, match="y has 1 outputs per sample, but the model of the "
                                         "first call to partial_fit has 2"):
        regressor.partial_fit(X[:50], np.ones(50))
    # a new fit starts again, and partial_fit then continues that one
    model.fit(X[:50], y[:50])
    assert list(model.classes_) == list(range(10))
    model.partial_fit(X[50:100], y[50:100])


def test_many_to_one_reaches_the_model():
    """many_to_one="final_states": the estimator's model reads each
    direction's final state, and its predictions are that model's."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 6, 3))
    y = rng.standard_normal(20)
    estimator = RNNRegressor(bidirectional=True, many_to_one="final_states", epochs=2,
                             random_state=0).fit(X, y)
    assert estimator.model_.many_to_one == "final_states"
    np.testing.assert_allclose(estimator.predict(X), estimator.model_.predict(X)[:, 0])
