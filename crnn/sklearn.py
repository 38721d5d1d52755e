"""scikit-learn estimators of sequences: ``RNNClassifier`` and ``RNNRegressor``
(scikit-learn itself is optional: importing this module needs it). ::

    from crnn.sklearn import RNNClassifier
    model = RNNClassifier(cell="gru", hidden_size=32, epochs=20, random_state=0)
    model.fit(X, y).score(X_test, y_test)

X is N sequences: a 3-D array (N, T, n_features), a 2-D array (N, T) read
as T steps of one feature, or a list of N arrays (T_i, n_features) or (T_i,)
of different lengths. ``n_features_in_`` is the number of features per step;
the number of steps may differ between fit and predict, as sequences' do. y
holds one label (classifier) or value (regressor; or several, (N,
n_outputs)) per sequence, read from each sequence's last step.

They are crnn's ``fit``/``predict`` behind scikit-learn's API: parameters set
in the constructor and left alone, a fresh model for every ``fit``,
``predict``, ``predict_proba``, ``score``, pickling, ``clone``, Pipeline and
GridSearchCV. ``EXPECTED_FAILED_CHECKS`` lists the estimator checks that
read a 2-D X as samples of independent features, with the reason each
conflicts with sequences.
"""
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d

from .rnn import CELLS

__all__ = ["RNNClassifier", "RNNRegressor"]

_STEPS = ("X's second axis is the number of steps of each sequence, which may differ "
          "between fit and predict; n_features_in_ counts the features of one step")
EXPECTED_FAILED_CHECKS = {
    "check_n_features_in": _STEPS,
    "check_n_features_in_after_fitting": _STEPS,
    "check_classifiers_train": _STEPS + " (it requires predict to refuse X[:, :-1])",
    "check_regressors_train": _STEPS + " (it requires predict to refuse X[:, :-1])",
}


def _sequences(X, n_features=None):
    """X as a list of float64 arrays (T_i, n_features), finite, non-empty,
    with scikit-learn's messages for what is not."""
    if isinstance(X, (list, tuple)) and X and np.ndim(X[0]) >= 1 \
            and len({np.shape(x) for x in X}) > 1:  # ragged: sequence by sequence
        sequences = [check_array(x, ensure_2d=False, dtype=np.float64, input_name=f"X[{i}]")
                     for i, x in enumerate(X)]
        sequences = [x[:, None] if x.ndim == 1 else x for x in sequences]
        for i, x in enumerate(sequences):
            if x.ndim != 2 or len(x) == 0:
                raise ValueError(f"X[{i}] must be a sequence (T_i, n_features) with T_i >= 1, "
                                 f"got shape {x.shape}")
    else:
        array = check_array(X, allow_nd=True, dtype=np.float64)
        if array.ndim == 2:
            array = array[:, :, None]
        if array.ndim != 3:
            raise ValueError(f"X must be (n_samples, T, n_features), (n_samples, T) or a list "
                             f"of sequences; got an array of shape {array.shape}")
        sequences = list(array)
    width = sequences[0].shape[1]
    if any(x.shape[1] != width for x in sequences):
        raise ValueError("every sequence of X must have the same number of features per step")
    if n_features is not None and width != n_features:
        raise ValueError(f"X has {width} features per step, but this estimator is expecting "
                         f"{n_features} features per step as input")
    return sequences


class _RNNEstimator(BaseEstimator):
    """The parameters both estimators share; see the module's docstring."""

    def __init__(self, cell="gru", hidden_size=32, num_layers=1, bidirectional=False,
                 dropout=0.0, optimizer="adam", lr=1e-2, epochs=20, batch_size=32,
                 clip_norm=1.0, early_stopping=None, validation_split=0.0,
                 dtype="float64", random_state=None):
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.optimizer = optimizer
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.clip_norm = clip_norm
        self.early_stopping = early_stopping
        self.validation_split = validation_split
        self.dtype = dtype
        self.random_state = random_state

    def _seed(self):
        if isinstance(self.random_state, np.random.RandomState):
            return int(self.random_state.randint(2**31 - 1))
        return self.random_state

    def _check_y_given(self, y):
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target "
                             "y is None")

    def _fit_model(self, sequences, targets, n_outputs):
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {self.cell!r}")
        if len(targets) != len(sequences):
            raise ValueError(f"y has {len(targets)} samples, X has {len(sequences)}")
        self.n_features_in_ = sequences[0].shape[1]
        seed = self._seed()
        options = {"init": "pytorch"} if self.cell == "rnn" else {}
        self.model_ = CELLS[self.cell](self.n_features_in_, n_outputs, self.hidden_size,
                                       num_layers=self.num_layers,
                                       bidirectional=self.bidirectional, dropout=self.dropout,
                                       dtype=self.dtype, seed=seed, **options)
        self.history_ = self.model_.fit(
            sequences, targets, optimizer=self.optimizer, lr=self.lr, epochs=self.epochs,
            batch_size=self.batch_size, clip_norm=self.clip_norm,
            early_stopping=self.early_stopping, validation_split=self.validation_split,
            seed=seed, progress=False)
        return self

    def _outputs(self, X):
        check_is_fitted(self, "model_")
        return self.model_.predict(_sequences(X, self.n_features_in_)).astype(np.float64)


class RNNClassifier(ClassifierMixin, _RNNEstimator):
    """A recurrent classifier of sequences: one label per sequence, from the
    softmax of its last step's output. ``classes_`` holds the labels."""

    def fit(self, X, y):
        self._check_y_given(y)
        sequences = _sequences(X)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        self.classes_, encoded = np.unique(y, return_inverse=True)
        return self._fit_model(sequences, encoded.astype(np.int64), max(len(self.classes_), 2))

    def predict_proba(self, X):
        logits = self._outputs(X)[:, :len(self.classes_)]
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X):
        p = self.predict_proba(X)  # refuses first when not fitted
        return self.classes_[np.argmax(p, axis=1)]


class RNNRegressor(RegressorMixin, _RNNEstimator):
    """A recurrent regressor of sequences: one value, or ``n_outputs`` values,
    per sequence, from its last step's output."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X, y):
        self._check_y_given(y)
        sequences = _sequences(X)
        y = check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")
        if y.ndim not in (1, 2):
            raise ValueError(f"y must be (n_samples,) or (n_samples, n_outputs), got shape "
                             f"{y.shape}")
        self._one_output = y.ndim == 1
        targets = y[:, None] if self._one_output else y
        return self._fit_model(sequences, targets, targets.shape[1])

    def predict(self, X):
        outputs = self._outputs(X)
        return outputs[:, 0] if self._one_output else outputs
