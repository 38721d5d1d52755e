"""fit() and predict() over datasets of sequences of different lengths. ::

    history = model.fit(X, y, epochs=20, validation_split=0.1, seed=0)
    outputs = model.predict(X)

A dataset is N sequences, sample first whatever the model's ``batch_first``:
a list of N arrays (T_i, I) of floats or (T_i,) of token ids, or a padded
array (N, T, I) or (N, T) with ``lengths`` (N,). Targets are one per
sequence, read from each sequence's own last step (many-to-one): (N,) class
ids or (N, O) floats; or one per step (many-to-many): a list of (T_i,) ids or
(T_i, O) floats, or a padded (N, T) or (N, T, O) array. Class ids train with
softmax cross-entropy, floats with the mean squared error ("ce" and "mse";
either may be named), averaged over the targets of a batch.

Batches group sequences of similar length: the sequences are shuffled, then
sorted by length (a stable sort: equal lengths stay shuffled), cut into
batches, and the batches shuffled; each sequence is in exactly one batch of
an epoch, and the order follows ``seed``.
"""
import math

import numpy as np

from . import _checks, optim
from .losses import mean_squared_error, softmax_cross_entropy

__all__ = ["History", "Dataset", "batches", "fit", "predict", "evaluate"]

OPTIMIZERS = {"sgd": optim.SGD, "adagrad": optim.Adagrad, "rmsprop": optim.RMSprop,
              "adam": optim.Adam, "adamw": optim.AdamW}


class History(dict):
    """Per-epoch figures by name: "loss", and "val_loss" with validation,
    "accuracy" and "val_accuracy" for class targets; ``epoch`` is the number
    of epochs run, ``best_epoch`` the one whose weights the model holds when
    early stopping restored them (else None)."""

    def __init__(self):
        super().__init__()
        self.epochs = 0
        self.best_epoch = None


class Dataset:
    """N sequences and their targets, validated, kept as the user gave them
    (no padded copy of the whole set): ``inputs[i]`` (T_i, I) or (T_i,),
    ``targets[i]``, ``lengths`` (N,), and what the targets are."""

    def __init__(self, model, X, y=None, lengths=None, name="X"):
        self.tokens = self.padded = self._inputs = None
        self.lengths = self._sequences(model, X, lengths, name)
        self.per_step = self.classes = None
        if y is not None:
            self.targets = self._targets(model, y)

    def __len__(self):
        return len(self.lengths)

    @property
    def inputs(self):
        """The sequences, (T_i, I) or (T_i,) each: views of a padded array,
        made when first read."""
        if self._inputs is None:
            self._inputs = [self.padded[i, :n] for i, n in enumerate(self.lengths)]
        return self._inputs

    @inputs.setter
    def inputs(self, sequences):
        self._inputs = sequences

    def _sequences(self, model, X, lengths, name):
        I = model.input_size
        if isinstance(X, (list, tuple)):
            if lengths is not None:
                raise ValueError("lengths goes with a padded array; a list of sequences has "
                                 "its own lengths")
            if not X:
                raise ValueError(f"{name} is empty: expected at least one sequence")
            sequences = [_checks.as_numeric_array(f"{name}[{i}]", x) for i, x in enumerate(X)]
        else:
            padded = _checks.as_numeric_array(name, X)
            if padded.ndim not in (2, 3) or padded.shape[0] == 0 or padded.shape[1] == 0:
                raise ValueError(f"{name} must be a list of sequences or a padded array (N, T, "
                                 f"input_size) or (N, T) of token ids with N, T >= 1, got "
                                 f"shape {_checks.shape_str(padded.shape)}")
            N, T = padded.shape[:2]
            if lengths is not None:
                lengths = _checks.check_lengths(lengths, T, N)
            elif model.mask_value is not None:
                lengths = _masked_lengths(padded, model.mask_value, name)
            else:
                lengths = np.full(N, T, dtype=np.int64)
            self.padded = padded
            if self._padded_checks(padded, lengths, I):
                return lengths
            self.tokens = None  # checked one by one: the first wrong one is named
            sequences = [padded[i, :n] for i, n in enumerate(lengths)]
        for i, x in enumerate(sequences):
            tokens = x.ndim == 1 and _checks.is_token_ids(x)
            if self.tokens is None:
                self.tokens = tokens
            if tokens != self.tokens or (not tokens and (x.ndim != 2 or x.shape[1] != I)) \
                    or len(x) == 0:
                raise ValueError(f"{name}[{i}] must be {'token ids (T_i,)' if self.tokens else f'floats (T_i, {I})'} "
                                 f"with T_i >= 1, like {name}[0]; got a {x.dtype} array of shape "
                                 f"{_checks.shape_str(x.shape)}")
            if tokens:
                _checks.check_token_range(x, I, f"{name}[{i}]")
        self.inputs = sequences
        return np.array([len(x) for x in sequences], dtype=np.int64)

    def _padded_checks(self, padded, lengths, I):
        """Whether a padded array of sequences passes every check at once
        (floats (N, T, I), or token ids (N, T) in range, every step of them
        when none is shorter): then there is nothing to name."""
        self.tokens = tokens = padded.ndim == 2 and _checks.is_token_ids(padded)
        if tokens:
            if lengths.min() < padded.shape[1]:
                return False
            low, high = padded.min(), padded.max()
            return bool(low >= 0 and high < I)
        return padded.ndim == 3 and padded.shape[2] == I

    def _targets(self, model, y):
        N, O = len(self.inputs), model.output_size or model.layout.top_size
        if isinstance(y, (list, tuple)) and y and np.ndim(y[0]) >= 1:
            targets = [_checks.as_numeric_array(f"y[{i}]", t) for i, t in enumerate(y)]
            self.per_step = True
        else:
            array = _checks.as_numeric_array("y", y)
            if array.ndim == 1 and not _checks.is_token_ids(array) and O == 1:
                array = array[:, None]  # (N,) values of a one-output regression, as Keras takes
            self.per_step = array.ndim == (2 if _checks.is_token_ids(array) else 3)
            targets = ([array[i, :n] for i, n in enumerate(self.lengths)] if self.per_step
                       else list(array))
            if len(array) != N:
                raise ValueError(f"y must hold one target or target sequence per sequence: "
                                 f"{N}, got {len(array)}")
        if len(targets) != N:
            raise ValueError(f"y must hold one target sequence per sequence: {N}, got "
                             f"{len(targets)}")
        self.classes = _checks.is_token_ids(np.asarray(targets[0]))
        for i, (t, n) in enumerate(zip(targets, self.lengths)):
            t = np.asarray(t)
            expected = (() if self.classes else (O,))
            if self.per_step:
                expected = (int(n),) + expected
            if _checks.is_token_ids(t) != self.classes or t.shape != expected:
                kind = "class ids" if self.classes else "floats"
                raise ValueError(f"y[{i}] must be {kind} of shape {_checks.shape_str(expected)}"
                                 f" (like y[0]), got a {t.dtype} array of shape "
                                 f"{_checks.shape_str(t.shape)}")
            if self.classes:
                _checks.check_token_range(t, O, f"y[{i}]", "output_size")
        return targets

    def batch(self, model, indices):
        """Sequences ``indices`` padded into (T, B, ...) inputs of the model's
        kind, their lengths, and their targets (or None): (T, B) ids or
        (T, B, O) floats per step (zeros past each length), (B,) or (B, O)
        per sequence."""
        lengths = self.lengths[indices]
        T, B = int(lengths.max()), len(indices)
        X = self._padded_view(indices, T, np.int64 if self.tokens else model.dtype)
        if X is None:
            X = np.zeros((T, B) + (() if self.tokens else (model.input_size,)),
                         dtype=np.int64 if self.tokens else model.dtype)
            for b, i in enumerate(indices):
                X[:lengths[b], b] = self.inputs[i]
        if not hasattr(self, "targets"):
            return X, lengths, None
        if not self.per_step:
            return X, lengths, np.array([self.targets[i] for i in indices])
        first = np.asarray(self.targets[indices[0]])
        targets = np.zeros((T, B) + first.shape[1:],
                           dtype=np.int64 if self.classes else model.dtype)
        for b, i in enumerate(indices):
            targets[:lengths[b], b] = self.targets[i]
        return X, lengths, targets

    def _padded_view(self, indices, T, dtype):
        """The (T, B, ...) view of the padded array's rows ``indices``, no
        copy (the engine copies it in), when they are consecutive rows of the
        same length T in the model's dtype; else None."""
        padded, first = self.padded, indices[0]
        if (padded is None or padded.dtype != dtype or not padded.flags.c_contiguous
                or padded.shape[1] != T or indices[-1] - first != len(indices) - 1
                or not np.array_equal(indices, np.arange(first, first + len(indices)))
                or self.lengths[first:first + len(indices)].min() != T):
            return None
        return padded[first:first + len(indices)].swapaxes(0, 1)

    def subset(self, indices):
        """The sequences ``indices`` and their targets, as a Dataset."""
        part = Dataset.__new__(Dataset)
        part.__dict__.update(self.__dict__)
        part.inputs = [self.inputs[i] for i in indices]
        part.padded = None  # its rows are no longer the indices
        part.lengths = self.lengths[indices]
        if hasattr(self, "targets"):
            part.targets = [self.targets[i] for i in indices]
        return part


def _masked_lengths(padded, mask_value, name):
    """(N,) lengths of a padded (N, T, I) or (N, T) array whose padding is
    the trailing steps equal to ``mask_value`` (every feature of a step, or
    its token id); a sequence all padding, or one with a masked step before
    an unmasked one (which Keras skips and crnn cannot), is refused."""
    masked = padded == mask_value
    if padded.ndim == 3:
        masked = masked.all(axis=2)                                  # (N, T)
    N, T = masked.shape
    kept = ~masked
    lengths = T - np.argmax(kept[:, ::-1], axis=1)                  # past the last kept step
    empty = np.flatnonzero(~kept.any(axis=1))
    if len(empty):
        raise ValueError(f"{name}[{empty[0]}] is all padding (every step equals the model's "
                         f"mask_value={mask_value!r}): a sequence needs at least one step")
    inside = masked & (np.arange(T)[None, :] < lengths[:, None])
    if inside.any():
        i, t = np.argwhere(inside)[0]
        raise ValueError(f"{name}[{i}] step {t} equals the model's mask_value={mask_value!r} "
                         f"but steps after it do not: crnn reads padding only at the end of "
                         f"a sequence (give lengths, or set mask_value=None)")
    return lengths.astype(np.int64)


def batches(lengths, batch_size, rng, shuffle=True):
    """Lists of sequence indices, each of similar lengths: every index in
    exactly one. Shuffled (from ``rng``) before a stable sort by length and
    after cutting, when ``shuffle``; else in length order."""
    order = rng.permutation(len(lengths)) if shuffle else np.arange(len(lengths))
    order = order[np.argsort(lengths[order], kind="stable")]
    cut = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if shuffle:
        cut = [cut[i] for i in rng.permutation(len(cut))]
    return cut


def _batch_loss(model, data, Y, features, lengths, targets, loss):
    """The mean loss over a batch's targets, dLoss/dY (T, B, O), dLoss/d of
    the outputs read from the final states ``features`` (None when there are
    none: see _forward), and the number of correct class predictions (None
    for floats)."""
    T, B, O = Y.shape
    dY = np.zeros_like(Y)
    if data.per_step:
        t_index, b_index = np.nonzero(np.arange(T)[:, None] < lengths[None, :])
        wanted = targets[t_index, b_index]                           # the valid steps'
    else:
        t_index, b_index = lengths - 1, np.arange(B)                 # each one's last step
        wanted = targets
    rows = (Y[t_index, b_index] if features is None                  # (n, O)
            else model._final_outputs(features))
    if loss == "ce":
        value, d_rows = softmax_cross_entropy(rows[:, None], wanted[:, None], "mean")
        correct = int(np.sum(np.argmax(rows, axis=1) == wanted))
    else:
        value, d_rows = mean_squared_error(rows[:, None], wanted[:, None].astype(Y.dtype),
                                           "mean")
        correct = None
    if features is not None:
        return value, dY, d_rows[:, 0], correct, len(rows)
    dY[t_index, b_index] = d_rows[:, 0]
    return value, dY, None, correct, len(rows)


def _check_options(model, data, loss, optimizer, lr, batch_size, epochs, validation_split,
                   early_stopping, clip_norm):
    if model.output_size is None:
        raise ValueError("fit() trains an output layer, and this model has none "
                         "(output_size=None)")
    loss = loss or ("ce" if data.classes else "mse")
    _checks.check_choice("loss", loss, ("ce", "mse"))
    if (loss == "ce") != data.classes:
        raise ValueError(f"loss={loss!r} needs {'class ids' if loss == 'ce' else 'float'} "
                         f"targets; y holds {'class ids' if data.classes else 'floats'}")
    if isinstance(optimizer, str):
        _checks.check_choice("optimizer", optimizer, tuple(OPTIMIZERS))
    elif not hasattr(optimizer, "step"):
        raise TypeError(f"optimizer must be a name ({', '.join(OPTIMIZERS)}) or a crnn.optim "
                        f"optimizer, got {optimizer!r}")
    _checks.check_size("batch_size", batch_size)
    _checks.check_size("epochs", epochs)
    if early_stopping is not None:
        _checks.check_size("early_stopping", early_stopping)
    validation_split = _checks.check_real("validation_split", validation_split)
    if not 0 <= validation_split < 1:
        raise ValueError(f"validation_split must be in [0, 1), got {validation_split!r}")
    for name, value in (("lr", lr), ("clip_norm", clip_norm)):
        if value is not None and not _checks.check_real(name, value) > 0:
            raise ValueError(f"{name} must be a positive number, got {value!r}")
    return loss


def fit(model, X, y, *, lengths=None, loss=None, optimizer="adam", lr=None, batch_size=32,
        epochs=10, validation_split=0.0, validation_data=None, shuffle=True, clip_norm=None,
        early_stopping=None, seed=None, progress=True):
    """Train ``model`` on (X, y); see Recurrent.fit."""
    if y is None:
        raise TypeError("fit needs targets y: one per sequence ((N,) class ids, (N,) or "
                        "(N, O) floats) or one per step; got None")
    data = Dataset(model, X, y, lengths)
    loss = _check_options(model, data, loss, optimizer, lr, batch_size, epochs,
                          validation_split, early_stopping, clip_norm)
    shuffle = _checks.check_flag("shuffle", shuffle)
    rng = np.random.default_rng(seed)
    validation = None
    if validation_data is not None:
        if validation_split:
            raise ValueError("give validation_data or validation_split, not both")
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise TypeError("validation_data must be (X, y) or (X, y, lengths)")
        validation = Dataset(model, *validation_data[:2],
                             validation_data[2] if len(validation_data) == 3 else None,
                             name="validation X")
        if (validation.per_step, validation.classes) != (data.per_step, data.classes):
            raise ValueError("validation_data's targets must be of the kind y's are")
    elif validation_split:
        # the last sequences, as Keras takes them, before any shuffling
        n_val = int(math.ceil(len(data) * validation_split))
        if n_val >= len(data):
            raise ValueError(f"validation_split={validation_split} leaves no sequence of "
                             f"{len(data)} to train on")
        validation = data.subset(np.arange(len(data) - n_val, len(data)))
        data = data.subset(np.arange(len(data) - n_val))
    if isinstance(optimizer, str):
        options = {} if lr is None else {"lr": lr}
        optimizer = OPTIMIZERS[optimizer](model.parameters(), **options)
    names = list(model.parameters())
    history = History()
    monitor = "val_loss" if validation is not None else "loss"
    best, best_params, waited = math.inf, None, 0
    bar = _progress_bar(progress, epochs)
    training = model.training
    try:
        for epoch in range(epochs):
            model.train()
            total, correct, count = 0.0, 0, 0
            for indices in batches(data.lengths, batch_size, rng, shuffle):
                X_b, lengths_b, targets_b = data.batch(model, indices)
                Y, features = _forward(model, X_b, lengths_b, data)
                value, dY, d_out, right, n = _batch_loss(model, data, Y, features, lengths_b,
                                                         targets_b, loss)
                if not math.isfinite(value):
                    raise FloatingPointError(f"the loss is {value} in epoch {epoch + 1}; the "
                                             "parameters were not updated by that batch")
                if d_out is None:
                    grads = model.backward_batch(dY.swapaxes(0, 1) if model.batch_first else dY)
                else:
                    grads = model._backward_final_states(dY, d_out, features)
                grads = {name: grads[name] for name in names}
                if clip_norm is not None:
                    optim.clip_global_norm(grads, clip_norm)
                optimizer.step(grads)
                total, count = total + value * n, count + n
                correct += right or 0
            _record(history, "loss", total / count)
            if data.classes:
                _record(history, "accuracy", correct / count)
            if validation is not None:
                val_loss, val_correct = evaluate(model, validation, loss, batch_size)
                _record(history, "val_loss", val_loss)
                if data.classes:
                    _record(history, "val_accuracy", val_correct)
            history.epochs = epoch + 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix({k: f"{v[-1]:.4g}" for k, v in history.items()})
            if early_stopping is not None:
                if history[monitor][-1] < best:
                    best, waited = history[monitor][-1], 0
                    best_params, history.best_epoch = model._param_flat.copy(), epoch + 1
                else:
                    waited += 1
                    if waited >= early_stopping:
                        break
    finally:
        if bar is not None:
            bar.close()
        model.train(training)
    if best_params is not None and history.best_epoch != history.epochs:
        model._param_flat[...] = best_params  # the best epoch's weights
    return history


def _record(history, name, value):
    history.setdefault(name, []).append(float(value))


def _progress_bar(progress, epochs):
    if not progress:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is optional: no bar without it
        return None
    return tqdm(total=epochs, unit="epoch", leave=False)


def evaluate(model, data, loss, batch_size):
    """The mean loss over ``data``'s targets and the fraction of classes
    right (None for floats), in evaluation mode."""
    total, correct, count = 0.0, 0, 0
    for _, Y, features, lengths_b, targets_b in _outputs(model, data, batch_size):
        value, _, _, right, n = _batch_loss(model, data, Y, features, lengths_b, targets_b,
                                            loss)
        total, count = total + value * n, count + n
        correct += right or 0
    return total / count, (correct / count if data.classes else None)


def _outputs(model, data, batch_size):
    """(indices, Y (T, B, O), features, lengths, targets) of each batch of
    ``data``, in length order, in evaluation mode, nothing kept for a
    backward; features as _forward gives them."""
    with model._inferring():
        for indices in batches(data.lengths, batch_size, None, shuffle=False):
            X_b, lengths_b, targets_b = data.batch(model, indices)
            Y, features = _forward(model, X_b, lengths_b, data)
            model._engine.use_up()  # nothing kept for a backward
            yield indices, Y, features, lengths_b, targets_b


def _forward(model, X_b, lengths_b, data):
    """Y (T, B, O) of a batch padded time first, whatever ``batch_first``,
    and the final states (B, 2H) that the outputs of one target per sequence
    read when the model's many_to_one says so (else None)."""
    X_b = X_b.swapaxes(0, 1) if model.batch_first else X_b
    if data.per_step is not True and model._reads_final_states():
        Y, _, h_n = model.forward_batch(X_b, lengths=lengths_b, return_state=True)
        features = model._final_features(h_n)
    else:
        (Y, _), features = model.forward_batch(X_b, lengths=lengths_b), None
    return (Y.swapaxes(0, 1) if model.batch_first else Y), features


def predict(model, X, lengths=None, *, per_step=False, batch_size=256):
    """Outputs for every sequence, in batches, in evaluation mode; see
    Recurrent.predict."""
    if model.output_size is None:
        raise ValueError("predict() reads an output layer, and this model has none "
                         "(output_size=None): use forward_batch()")
    _checks.check_flag("per_step", per_step)
    _checks.check_size("batch_size", batch_size)
    data = Dataset(model, X, None, lengths)
    N, O = len(data), model.output_size
    per_sequence = np.empty((N, O), dtype=model.dtype)
    steps = [None] * N
    for indices, Y, features, lengths_b, _ in _outputs(model, data, batch_size):
        per_sequence[indices] = (Y[lengths_b - 1, np.arange(len(indices))] if features is None
                                 else model._final_outputs(features))
        if per_step:
            for b, i in enumerate(indices):
                steps[i] = Y[:lengths_b[b], b].copy()
    if not per_step:
        return per_sequence
    if isinstance(X, (list, tuple)):
        return steps
    padded = np.zeros((N, int(np.asarray(X).shape[1]), O), dtype=model.dtype)
    for i, s in enumerate(steps):
        padded[i, :len(s)] = s
    return padded
