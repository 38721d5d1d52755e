"""Training a character model in batches, the main job of ``crnn train``.

The training text's ids are cut into B equal rows, one stream each (char-rnn's
batching): each iteration reads the next window of T characters of every
stream, predicts each next character, and carries each stream's state into
its next window (truncated BPTT). At the end of the rows every stream goes
back to its row's start with a fresh state: an epoch.

Everything a run depends on is in ``RunState`` and the model and optimizer:
the iteration, the streams' position and states, the model's random
generator (dropout), the losses and held-out evaluations, and the best
held-out model so far. A checkpoint holds all of it, so a resumed run
computes the same parameters, bit for bit, as one that never stopped.
"""
import json
import math
import time

import numpy as np

from . import _checks
from .losses import softmax_cross_entropy

__all__ = ["Streams", "RunState", "check_run_arrays", "bits_per_character", "learning_rate",
           "step", "evaluate", "train"]

LN2 = math.log(2)
SCHEDULES = ("constant", "cosine")


class Streams:
    """B streams through ``ids`` (any integer dtype), windows of T."""

    def __init__(self, ids, batch_size, seq_length):
        batch_size = _checks.check_size("batch_size", batch_size)
        seq_length = _checks.check_size("seq_length", seq_length)
        row = (len(ids) - 1) // batch_size
        if row < seq_length:
            raise ValueError(f"{len(ids)} characters make rows of {row} for {batch_size} "
                             f"streams, fewer than a window of {seq_length}: use a smaller "
                             "--batch-size or --seq-length")
        self.inputs = ids[:batch_size * row].reshape(batch_size, row)
        self.targets = ids[1:batch_size * row + 1].reshape(batch_size, row)
        self.seq_length = seq_length
        self.windows = row // seq_length  # per epoch

    def window(self, position):
        """Inputs and targets (T, B) int64 of window ``position`` (< windows)."""
        span = slice(position * self.seq_length, (position + 1) * self.seq_length)
        return (np.ascontiguousarray(self.inputs[:, span].T, dtype=np.int64),
                np.ascontiguousarray(self.targets[:, span].T, dtype=np.int64))


def bits_per_character(model, ids, streams=16, window=200):
    """The model's mean loss on ``ids`` in bits per character: each character
    predicted from all before it in its stream (``streams`` equal parts of the
    text, read in windows with the state carried), in evaluation mode."""
    streams = _checks.check_size("streams", streams)
    window = _checks.check_size("window", window)
    row = (len(ids) - 1) // streams
    if row < 1:
        raise ValueError(f"{len(ids)} characters are too few to evaluate on {streams} streams")
    inputs = ids[:streams * row].reshape(streams, row)
    targets = ids[1:streams * row + 1].reshape(streams, row)
    total, state = 0.0, None
    with model._inferring():
        for start in range(0, row, window):
            x = np.ascontiguousarray(inputs[:, start:start + window].T, dtype=np.int64)
            y = np.ascontiguousarray(targets[:, start:start + window].T, dtype=np.int64)
            Y, _, state = model.forward_batch(x, state, return_state=True)
            model._engine.use_up()
            total += softmax_cross_entropy(Y, y, "sum")[0]
    return total / (streams * row) / LN2


def learning_rate(lr, schedule, iteration, iterations):
    """The rate at ``iteration``: ``lr`` throughout, or a cosine from ``lr``
    down to lr/10 at ``iterations``."""
    if schedule == "constant":
        return lr
    done = min(iteration / max(iterations, 1), 1.0)
    return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * done)))


class RunState:
    """Where a run is, all of it saved in a checkpoint: ``iteration``, the
    streams' ``position`` (a window of the epoch) and ``state`` (the model's
    h_n, an LSTM's pair, or None at an epoch's start), ``losses`` (each
    iteration's training loss, nats per character), ``evaluations``
    ([iteration, held-out bits per character]), ``best`` (the lowest
    held-out figure) and ``best_parameters`` (that model's flat parameters)."""

    def __init__(self):
        self.iteration, self.position, self.epoch = 0, 0, 0
        self.state = None
        self.losses, self.evaluations = [], []
        self.best, self.best_parameters = math.inf, None
        self.characters = 0

    def arrays(self, model):
        """The state as checkpoint entries (plain arrays and JSON)."""
        record = {"iteration": self.iteration, "position": self.position, "epoch": self.epoch,
                  "characters": self.characters, "best": self.best,
                  "evaluations": self.evaluations, "rng": model._rng.bit_generator.state}
        arrays = {"run": np.array(json.dumps(record)),
                  "losses": np.asarray(self.losses, dtype=np.float64)}
        states = self.state if isinstance(self.state, tuple) else (self.state,)
        for name, value in zip(("h", "c"), states):
            if value is not None:
                arrays[f"state_{name}"] = value
        if self.best_parameters is not None:
            arrays["best_parameters"] = self.best_parameters
        return arrays

    @classmethod
    def from_arrays(cls, arrays, model):
        """The state ``arrays`` (a checkpoint's ``run`` entries) describe, for ``model``."""
        run = cls()
        record = json.loads(str(arrays["run"]))
        run.iteration, run.position = int(record["iteration"]), int(record["position"])
        run.epoch, run.characters = int(record["epoch"]), int(record["characters"])
        run.best = float(record["best"])
        run.evaluations = [list(e) for e in record["evaluations"]]
        model._rng.bit_generator.state = record["rng"]
        run.losses = list(np.asarray(arrays["losses"], dtype=np.float64))
        if "state_h" in arrays:
            h = np.array(arrays["state_h"], dtype=model.dtype)
            run.state = (h, np.array(arrays["state_c"], dtype=model.dtype)) \
                if model.cell == "lstm" else h
        if "best_parameters" in arrays:
            run.best_parameters = np.array(arrays["best_parameters"], dtype=model.dtype)
        return run


RUN_ENTRIES = ("run", "losses", "state_h", "state_c", "best_parameters", "config")
RECORD_COUNTS = ("iteration", "position", "epoch", "characters")


def check_run_arrays(arrays, layout, dtype):
    """ValueError naming the first of a run's entries (a checkpoint's
    ``run/...``, as ``RunState.arrays`` and ``crnn train`` write them) that
    does not fit a model of ``layout`` and ``dtype``: each entry's kind and
    shape, the record's fields, and the generator's state."""
    def fail(key, why):
        raise ValueError(f"run/{key} {why}")

    unknown = sorted(set(arrays) - set(RUN_ENTRIES))
    if unknown:
        raise ValueError(f"run/ entries crnn does not write: {unknown}")
    if ("run" in arrays) != ("losses" in arrays):
        fail("run" if "run" not in arrays else "losses", "is missing: a run's record and its "
             "losses go together")
    if "run" in arrays:
        record = _json_object(arrays["run"], "run", fail)
        for name in RECORD_COUNTS:
            value = record.get(name)
            if type(value) is not int or value < 0:
                fail("run", f"must give {name} as an integer >= 0, got {value!r}")
        best = record.get("best")
        if type(best) not in (int, float) or best != best:
            fail("run", f"must give best as a number, got {best!r}")
        evaluations = record.get("evaluations")
        if not isinstance(evaluations, list) or not all(
                isinstance(e, list) and len(e) == 2 and type(e[0]) is int
                and type(e[1]) in (int, float) for e in evaluations):
            fail("run", "must give evaluations as a list of [iteration, bits per character]")
        try:  # the model's generator takes it, or it is not one of its states
            np.random.default_rng().bit_generator.state = record.get("rng")
        except (TypeError, ValueError, KeyError) as error:
            fail("run", f"holds no state of the model's random generator ({error})")
    if "losses" in arrays:
        losses = arrays["losses"]
        if losses.ndim != 1 or losses.dtype.kind not in "fiu":
            fail("losses", f"must be numbers (iterations,), got {losses.dtype} of shape "
                           f"{losses.shape}")
    if "best_parameters" in arrays:
        best = arrays["best_parameters"]
        if best.shape != (layout.size,) or best.dtype != dtype:
            fail("best_parameters", f"must be {dtype} of shape ({layout.size},), the model's "
                                    f"parameters, got {best.dtype} of shape {best.shape}")
    if "state_c" in arrays and ("state_h" not in arrays or layout.cell != "lstm"):
        fail("state_c", "is an LSTM's cell state, and needs its state_h" if layout.cell ==
             "lstm" else f"is an LSTM's cell state; this model is a {layout.cell.upper()}")
    if layout.cell == "lstm" and "state_h" in arrays and "state_c" not in arrays:
        fail("state_c", "is missing: an LSTM's state is the pair state_h, state_c")
    for key in ("state_h", "state_c"):
        if key in arrays:
            _check_state(arrays[key], key, layout, dtype, fail)
    if "state_c" in arrays and arrays["state_c"].shape != arrays["state_h"].shape:
        fail("state_c", f"has shape {arrays['state_c'].shape}, state_h "
                        f"{arrays['state_h'].shape}: the pair has one shape")
    if "config" in arrays:
        _json_object(arrays["config"], "config", fail)


def _json_object(array, key, fail):
    """The JSON object a 0-d text entry holds."""
    if array.shape != () or array.dtype.kind != "U":
        fail(key, f"must be one JSON text, got {array.dtype} of shape {array.shape}")
    try:
        value = json.loads(str(array))
    except ValueError as error:
        fail(key, f"is not JSON ({error})")
    if not isinstance(value, dict):
        fail(key, f"must be a JSON object, got {type(value).__name__}")
    return value


def _check_state(state, key, layout, dtype, fail):
    """A carried state: (L*D, B, H), or (B, H) for one layer and direction."""
    LD, H = layout.num_layers * layout.directions, layout.hidden_size
    fits = state.ndim == 3 and state.shape[0] == LD and state.shape[2] == H
    fits = fits or (LD == 1 and state.ndim == 2 and state.shape[1] == H)
    if not fits or state.dtype != dtype or 0 in state.shape:
        fail(key, f"must be {dtype} of shape ({LD}, B, {H})"
                  + (f" or (B, {H})" if LD == 1 else "")
                  + f" with B >= 1, got {state.dtype} of shape {state.shape}")


def step(model, optimizer, streams, run, *, lr, schedule, iterations, clip_norm):
    """One iteration: the next window of every stream, forward, loss, BPTT,
    clipping, update; the streams move on (a fresh state at an epoch's end)."""
    optimizer.lr = learning_rate(lr, schedule, run.iteration, iterations)
    inputs, targets = streams.window(run.position)
    loss, run.state = model.train_step(inputs, targets, run.state, optimizer=optimizer,
                                       loss="ce_mean", clip_norm=clip_norm)
    run.iteration += 1
    run.characters += inputs.size
    run.losses.append(loss)
    run.position += 1
    if run.position == streams.windows:
        run.position, run.state, run.epoch = 0, None, run.epoch + 1
    return loss


def evaluate(model, held_out, run):
    """The held-out figure now, recorded; keeps the model if it is the best."""
    bits = bits_per_character(model, held_out)
    run.evaluations.append([run.iteration, bits])
    if bits < run.best:
        run.best, run.best_parameters = bits, model._param_flat.copy()
    return bits


def train(model, optimizer, streams, held_out, run, *, iterations, lr, schedule="constant",
          clip_norm=None, minutes=None, eval_every=0, on_step=None, on_evaluation=None,
          stop=None):
    """Iterations until ``iterations`` (or ``minutes`` of wall time, or
    ``stop()`` true between iterations), evaluating on ``held_out`` every
    ``eval_every`` iterations and at the end. Returns the reason it stopped:
    "done", "time" or "stopped"."""
    start = time.perf_counter()
    while run.iteration < iterations:
        if stop is not None and stop():
            return "stopped"
        if minutes is not None and time.perf_counter() - start >= 60 * minutes:
            break
        loss = step(model, optimizer, streams, run, lr=lr, schedule=schedule,
                    iterations=iterations, clip_norm=clip_norm)
        if on_step is not None:
            on_step(run, loss)
        if eval_every and run.iteration % eval_every == 0 and held_out is not None:
            bits = evaluate(model, held_out, run)
            if on_evaluation is not None:
                on_evaluation(run, bits)
    if held_out is not None and (not run.evaluations or run.evaluations[-1][0] != run.iteration):
        bits = evaluate(model, held_out, run)
        if on_evaluation is not None:
            on_evaluation(run, bits)
    return "done" if run.iteration >= iterations else "time"
