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
``partial_fit`` for data that comes in parts (one epoch per call, the model
and the optimizer's state carried from call to call), ``predict``,
``predict_proba``, ``score``, pickling, ``clone``, Pipeline and
GridSearchCV. ``EXPECTED_FAILED_CHECKS`` lists the estimator checks that
read a 2-D X as samples of independent features, with the reason each
conflicts with sequences.
"""
import numpy as np


from ._optional import missing_message

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d
except ImportError as error:
    raise ImportError(missing_message("sklearn", "crnn.sklearn")) from error

from .fit import OPTIMIZERS
from .rnn import CELLS

__all__ = ["RNNClassifier", "RNNRegressor"]

_STEPS = ("X's second axis is the number of steps of each sequence, which may differ "
          "between fit and predict; n_features_in_ counts the features of one step")
EXPECTED_FAILED_CHECKS = {
    "check_n_features_in": _STEPS,
    "check_n_features_in_after_fitting": _STEPS,
    "check_classifiers_train": _STEPS + " (it requires predict to refuse X[:, :-1])",
    "check_regressors_train": _STEPS + " (it requires predict to refuse X[:, :-1])",
    "check_estimators_partial_fit_n_features":
        _STEPS + " (it requires partial_fit to refuse X[:, :-1] after X)",
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


_PARAMETERS = """
    Parameters
    ----------
    cell : {"gru", "lstm", "rnn"}, default="gru"
        The recurrent cell: :class:`crnn.GRU`, :class:`crnn.LSTM` or
        :class:`crnn.RNN` (tanh, PyTorch's initialisation).
    hidden_size : int, default=32
        Hidden units per layer and direction.
    num_layers : int, default=1
        Stacked recurrent layers.
    bidirectional : bool, default=False
        Read each sequence both ways.
    dropout : float, default=0.0
        Dropout between stacked layers while training.
    optimizer : {"adam", "adamw", "sgd", "rmsprop", "adagrad"}, default="adam"
        The optimizer of :mod:`crnn.optim`.
    lr : float or None, default=1e-2
        Its learning rate (None: the optimizer's default).
    epochs : int, default=20
        Passes over the training data in ``fit`` (``partial_fit`` makes one).
    batch_size : int, default=32
        Sequences per step; batches group sequences of similar length.
    clip_norm : float or None, default=1.0
        Scale the gradients to this global norm at most.
    early_stopping : int or None, default=None
        Stop after this many epochs without a better loss (the validation
        loss with ``validation_split``) and keep the best epoch's weights.
    validation_split : float, default=0.0
        The share of the training sequences (the last ones) held out to
        monitor, in [0, 1).
    dtype : {"float64", "float32"}, default="float64"
        The model's floats.
    random_state : int, RandomState or None, default=None
        Seeds the initial weights, dropout and the batches' order.
    many_to_one : {"last_step", "final_states"}, default="last_step"
        What a sequence's output reads: the top layer's output at its last
        step, or each direction's final state (the backward one's after the
        whole sequence: Keras's bidirectional reading); the same with one
        direction.
"""

_ATTRIBUTES = """
    Attributes
    ----------
    model_ : crnn.RNN, crnn.LSTM or crnn.GRU
        The trained model.
    optimizer_ : crnn.optim.Optimizer
        Its optimizer, whose state ``partial_fit`` carries on.
    history_ : crnn.fit.History
        The losses (and accuracies) of every epoch of the last call.
    n_features_in_ : int
        Features per step (the number of steps may differ from sequence to
        sequence, and between fit and predict).
"""


class _RNNEstimator(BaseEstimator):
    """The parameters both estimators share; see the module's docstring."""

    def __init__(self, cell="gru", hidden_size=32, num_layers=1, bidirectional=False,
                 dropout=0.0, optimizer="adam", lr=1e-2, epochs=20, batch_size=32,
                 clip_norm=1.0, early_stopping=None, validation_split=0.0,
                 dtype="float64", random_state=None, many_to_one="last_step"):
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.many_to_one = many_to_one
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

    def _fit_model(self, sequences, targets, n_outputs, partial=False):
        """Train on (sequences, targets): a new model and optimizer unless
        ``partial`` and there is one; ``partial`` runs one epoch."""
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {self.cell!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, "
                             f"got {self.optimizer!r}")
        if len(targets) != len(sequences):
            raise ValueError(f"y has {len(targets)} samples, X has {len(sequences)}")
        if not (partial and hasattr(self, "model_")):
            self.n_features_in_ = sequences[0].shape[1]
            seed = self._seed()
            options = {"init": "pytorch"} if self.cell == "rnn" else {}
            self.model_ = CELLS[self.cell](self.n_features_in_, n_outputs, self.hidden_size,
                                           num_layers=self.num_layers,
                                           bidirectional=self.bidirectional,
                                           many_to_one=self.many_to_one,
                                           dropout=self.dropout, dtype=self.dtype, seed=seed,
                                           **options)
            rate = {} if self.lr is None else {"lr": self.lr}  # None: the optimizer's own
            self.optimizer_ = OPTIMIZERS[self.optimizer](self.model_.parameters(), **rate)
            # the batches' order of each call after the first: drawn from here
            self._batch_seeds = np.random.default_rng(seed)
            fit_seed = seed
        else:
            fit_seed = int(self._batch_seeds.integers(2**63))
        self.history_ = self.model_.fit(
            sequences, targets, optimizer=self.optimizer_, epochs=1 if partial else self.epochs,
            batch_size=self.batch_size, clip_norm=self.clip_norm,
            early_stopping=None if partial else self.early_stopping,
            validation_split=0.0 if partial else self.validation_split,
            seed=fit_seed, progress=False)
        return self

    # pickling and deepcopy keep the optimizer bound to the model: it updates
    # the model's arrays in place, and pickled as it is it would come back
    # holding copies of them (a partial_fit after unpickling would not train)
    def __getstate__(self):
        state = super().__getstate__()
        if "optimizer_" in state:
            state["optimizer_"] = state["optimizer_"].state_dict()
        return state

    def __setstate__(self, state):
        record = state.get("optimizer_")
        super().__setstate__(state)
        if isinstance(record, dict):
            kinds = {kind.__name__: kind for kind in OPTIMIZERS.values()}
            self.optimizer_ = kinds[record["type"]](self.model_.parameters())
            self.optimizer_.load_state_dict(record)

    def _outputs(self, X):
        check_is_fitted(self, "model_")
        return self.model_.predict(_sequences(X, self.n_features_in_)).astype(np.float64)

    def _sequences_for(self, X, partial):
        """X checked; on a ``partial_fit`` after the first, against the
        features per step of the model being trained."""
        known = partial and hasattr(self, "model_")
        return _sequences(X, self.n_features_in_ if known else None)


class RNNClassifier(ClassifierMixin, _RNNEstimator):
    __doc__ = """A recurrent classifier of sequences: one label per sequence, from the
    softmax of its last step's output.
""" + _PARAMETERS + _ATTRIBUTES + """    classes_ : ndarray
        The labels, sorted.
"""

    def fit(self, X, y):
        """Train a new model for ``epochs`` on X (N sequences) and y (N labels)."""
        self._check_y_given(y)
        sequences = _sequences(X)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        self.classes_, encoded = np.unique(y, return_inverse=True)
        return self._fit_model(sequences, encoded.astype(np.int64), max(len(self.classes_), 2))

    def partial_fit(self, X, y, classes=None):
        """One epoch on X and y, continuing the model of the calls before (the
        first call makes it). The first call needs ``classes``, every label
        any call's y may hold."""
        self._check_y_given(y)
        first = not hasattr(self, "model_")
        sequences = self._sequences_for(X, partial=True)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if first:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit: "
                                 "every label y may hold")
            self.classes_ = np.unique(classes)
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"classes={np.unique(classes)!r} is not the classes_ of the first "
                             f"call to partial_fit, {self.classes_!r}")
        encoded = np.searchsorted(self.classes_, y).clip(0, len(self.classes_) - 1)
        unknown = y[self.classes_[encoded] != y]
        if unknown.size:
            raise ValueError(f"y holds labels not in classes: {np.unique(unknown)!r}")
        return self._fit_model(sequences, encoded.astype(np.int64),
                               max(len(self.classes_), 2), partial=True)

    def predict_proba(self, X):
        """(N, n_classes): each sequence's probability of each label."""
        logits = self._outputs(X)[:, :len(self.classes_)]
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X):
        """(N,): each sequence's most probable label."""
        p = self.predict_proba(X)  # refuses first when not fitted
        return self.classes_[np.argmax(p, axis=1)]


class RNNRegressor(RegressorMixin, _RNNEstimator):
    __doc__ = """A recurrent regressor of sequences: one value, or ``n_outputs`` values,
    per sequence, from its last step's output, trained on the mean squared error.
""" + _PARAMETERS + _ATTRIBUTES

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X, y):
        """Train a new model for ``epochs`` on X (N sequences) and y, (N,)
        values or (N, n_outputs)."""
        return self._fit(X, y, partial=False)

    def partial_fit(self, X, y):
        """One epoch on X and y, continuing the model of the calls before (the
        first call makes it)."""
        return self._fit(X, y, partial=True)

    def _fit(self, X, y, partial):
        self._check_y_given(y)
        sequences = self._sequences_for(X, partial)
        y = check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")
        if y.ndim not in (1, 2):
            raise ValueError(f"y must be (n_samples,) or (n_samples, n_outputs), got shape "
                             f"{y.shape}")
        targets = y[:, None] if y.ndim == 1 else y
        if partial and hasattr(self, "model_") and targets.shape[1] != self.model_.output_size:
            raise ValueError(f"y has {targets.shape[1]} outputs per sample, but the model of "
                             f"the first call to partial_fit has {self.model_.output_size}")
        self._one_output = y.ndim == 1
        return self._fit_model(sequences, targets, targets.shape[1], partial)

    def predict(self, X):
        """(N,) values, or (N, n_outputs) when y had several per sequence."""
        outputs = self._outputs(X)
        return outputs[:, 0] if self._one_output else outputs
