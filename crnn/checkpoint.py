"""Checkpoints: one ``.npz`` file with a model's cell (RNN, LSTM or GRU;
RNN when a file names none), sizes, options (layers, directions,
nonlinearity, ...), dtype and parameters, and optionally its
vocabulary, optimizer state, step count, loss history and a training run's
state (``run/...``: crnn.chartrain's RunState and configuration, for an
exact resume). Files of the earlier formats still load.

Loading never executes code (``allow_pickle=False``: no object arrays) and
checks every array against the sizes the file declares; saving writes a
temporary file and renames it, so an interrupted save leaves the previous
checkpoint intact.
"""
import json
import os
import zipfile

import numpy as np

from . import _checks, chartrain
from ._archive import Archive
from ._files import atomic_write
from .layers import Layout
from .optim import OPTIMIZERS, Optimizer
from .rnn import CELLS, Recurrent

__all__ = ["Checkpoint", "save", "load", "check_vocabulary"]

FORMAT = "crnn-checkpoint-3"
FORMATS = ("crnn-checkpoint-1", "crnn-checkpoint-2", FORMAT)  # what load reads
TEXT_LIMIT = 1 << 16  # characters of a name or an options text


class Checkpoint:
    """What a checkpoint holds: ``rnn``, and ``vocabulary`` (a string or
    None), ``optimizer_state`` (a dict or None), ``step``, ``losses`` and
    ``run`` (a dict of a training run's arrays, or None)."""

    def __init__(self, rnn, vocabulary=None, optimizer_state=None, step=0, losses=(), run=None):
        self.rnn = rnn
        self.vocabulary = vocabulary
        self.optimizer_state = optimizer_state
        self.step = int(step)
        self.losses = np.asarray(losses, dtype=np.float64)
        self.run = run


def check_vocabulary(vocabulary, input_size):
    """A vocabulary as crnn.text.Vocabulary gives it: distinct characters in
    sorted order (the ids are their ranks), one per input."""
    if not isinstance(vocabulary, str):
        raise TypeError(f"vocabulary must be a string of characters (Vocabulary.characters), "
                        f"got {type(vocabulary).__name__}")
    if len(vocabulary) != input_size:
        raise ValueError(f"a vocabulary of {len(vocabulary)} characters for input_size "
                         f"{input_size}: one character per input")
    if vocabulary != "".join(sorted(set(vocabulary))):
        raise ValueError("the vocabulary's characters must be distinct and in sorted order, as "
                         "Vocabulary.characters gives them: ids are ranks in that order")
    return vocabulary


def save(path, rnn, *, vocabulary=None, optimizer=None, step=0, losses=(), run=None):
    """Write ``rnn`` (and the rest; ``run``: a dict of arrays) to ``path``
    atomically. Everything is checked before anything is written: a file
    that would not load is never written over a good one."""
    if not isinstance(rnn, Recurrent):
        raise TypeError(f"save_checkpoint saves a crnn.RNN, LSTM or GRU, got "
                        f"{type(rnn).__name__}")
    if vocabulary is not None:
        check_vocabulary(vocabulary, rnn.input_size)
    step = _checks.check_count("step", step, 2**63 - 1)
    losses = _checks.as_numeric_array("losses", losses)
    if losses.ndim != 1:
        raise ValueError(f"losses must be a list of numbers, got shape {losses.shape}")
    arrays = {
        "format": np.array(FORMAT),
        # output_size 0: no output layer
        "sizes": np.array([rnn.input_size, rnn.hidden_size, rnn.output_size or 0],
                          dtype=np.int64),
        "cell": np.array(rnn.cell),
        "options": np.array(json.dumps(rnn._options())),
        "dtype": np.array(rnn.dtype.name),
        "step": np.array(step, dtype=np.int64),
        "losses": losses.astype(np.float64),
    }
    arrays.update({f"param/{k}": v for k, v in rnn.parameters().items()})
    if vocabulary is not None:
        arrays["vocabulary"] = np.array(vocabulary)
    if optimizer is not None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be a crnn.optim optimizer, got "
                            f"{type(optimizer).__name__}")
        record = optimizer.state_dict()
        type(optimizer).check_state(record, rnn.layout.size, rnn.dtype)
        for key, value in record.items():
            arrays[f"optimizer/{key}"] = np.asarray(value)
    if run is not None:
        if not isinstance(run, dict):
            raise TypeError(f"run must be a dict of arrays, got {type(run).__name__}")
        run = {key: np.asarray(value) for key, value in run.items()}
        chartrain.check_run_arrays(run, rnn.layout, rnn.dtype)
        arrays.update({f"run/{key}": value for key, value in run.items()})
    atomic_write(path, lambda f: np.savez(f, **arrays))


def load(path):
    """Read a checkpoint; ValueError says what is wrong with a file that is
    not one, or not a whole one, naming the file and the entry.

    Everything is checked before a model is made: the sizes and options it
    declares (and the memory they imply), each entry's header against the
    shape the declared model gives it (before its data is read), the
    vocabulary, the optimizer's state and the run's entries against the
    parameters actually present. A hostile file costs no more than reading
    its headers."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such checkpoint: {path}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a crnn checkpoint (not an .npz archive)")
    try:
        with Archive(path) as archive:
            return _read(path, archive)
    except FileNotFoundError:
        raise
    except (OSError, EOFError, zipfile.BadZipFile, NotImplementedError, RuntimeError,
            UnicodeError) as error:  # a damaged zip, or one crnn's reader cannot open
        raise ValueError(f"{path} is not a readable crnn checkpoint ({error})") from None


KNOWN = {"format", "cell", "sizes", "options", "dtype", "step", "losses", "vocabulary"}
KNOWN_PREFIXES = ("param/", "optimizer/", "run/")


def _text(path, archive, key, limit=TEXT_LIMIT):
    """A 0-d text entry, as a str."""
    shape, dtype = archive.header(key)
    if shape != () or dtype.kind != "U" or dtype.itemsize > 4 * limit:
        raise ValueError(f"{path}: {key} must be a text of at most {limit} characters, got "
                         f"{dtype} of shape {shape}")
    return str(archive.read(key))


def _require(path, archive, key):
    if key not in archive.entries:
        raise ValueError(f"{path} is not a crnn checkpoint: it has no {key!r}")
    return key


def _read(path, archive):
    unknown = sorted(k for k in archive.keys()
                     if k not in KNOWN and not k.startswith(KNOWN_PREFIXES))
    if unknown:
        raise ValueError(f"{path} holds entries a crnn checkpoint does not: {unknown}")
    # what its entries claim in all, read or not, against the machine's memory
    _checks.check_memory(sum(info.file_size for info in archive.entries.values()),
                         f"{path}: its entries, as their sizes claim,")
    version = _text(path, archive, _require(path, archive, "format"))
    if version not in FORMATS:
        raise ValueError(f"{path} is not a {FORMAT} file (format {version!r})")
    model_class, arguments = _declared_model(path, archive, version)
    layout = Layout(*model_class._sizes(arguments))
    dtype = arguments["dtype"]
    # the parameters: each header against the shape the model gives it
    extra = sorted(k for k in archive.keys()
                   if k.startswith("param/") and k[len("param/"):] not in layout.by_name)
    if extra:
        raise ValueError(f"{path} holds parameters this model does not have: {extra}")
    params = {}
    for p in layout.parameters:
        key = _require(path, archive, f"param/{p.name}")
        shape, found = archive.header(key)
        if shape != p.shape or found != dtype:
            raise ValueError(f"{path}: {key} must be {dtype} of shape {p.shape}, "
                             f"got {found} of shape {shape}")
        params[p.name] = archive.read(key)
    vocabulary = None
    if "vocabulary" in archive.entries:
        vocabulary = _text(path, archive, "vocabulary", max(arguments["input_size"], 1))
        try:
            check_vocabulary(vocabulary, arguments["input_size"])
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
    step = archive.read("step") if "step" in archive.entries else np.array(0)
    if step.shape != () or step.dtype.kind not in "iu" or step < 0:
        raise ValueError(f"{path}: step must be one integer >= 0, got {step.dtype} of shape "
                         f"{step.shape}" + (f" ({step})" if step.shape == () else ""))
    losses = archive.read("losses") if "losses" in archive.entries else np.zeros(0)
    if losses.ndim != 1 or losses.dtype.kind not in "fiu":
        raise ValueError(f"{path}: losses must be numbers (steps,), got {losses.dtype} of "
                         f"shape {losses.shape}")
    optimizer_state = _optimizer_state(path, archive, layout, dtype)
    run = {key[len("run/"):]: archive.read(key) for key in archive.keys()
           if key.startswith("run/")}
    try:
        chartrain.check_run_arrays(run, layout, dtype)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    # all of it checked: the model is made
    options = {k: v for k, v in arguments.items()
               if k in model_class._DEFAULTS and k not in ("input_size", "output_size",
                                                           "hidden_size", "dtype")}
    rnn = model_class(arguments["input_size"], arguments["output_size"],
                      arguments["hidden_size"], dtype=dtype, seed=0, **options)
    for name, value in params.items():
        rnn.parameters()[name][...] = value
    return Checkpoint(rnn, vocabulary, optimizer_state, int(step), losses, run or None)


def _declared_model(path, archive, version):
    """The model class and its checked arguments, from the sizes, cell,
    dtype and options the file declares; the memory they imply checked."""
    key = _require(path, archive, "sizes")
    shape, dtype = archive.header(key)
    sizes = archive.read(key) if shape == (3,) and dtype.kind in "iu" else None
    if sizes is None or sizes[:2].min() < 1 or sizes.max() > _checks.MAX_SIZE:
        raise ValueError(f"{path}: sizes must be three integers in [1, {_checks.MAX_SIZE}] "
                         f"(the output size 0 for none), got {dtype} of shape {shape}"
                         + (f": {sizes.tolist()}" if sizes is not None else ""))
    I, H, O = (int(n) for n in sizes)
    dtype = _text(path, archive, _require(path, archive, "dtype"))
    if dtype not in ("float32", "float64"):
        raise ValueError(f"{path}: dtype must be float32 or float64, got {dtype!r}")
    cell = _text(path, archive, "cell") if "cell" in archive.entries else "rnn"
    if cell not in CELLS:
        raise ValueError(f"{path}: cell must be one of {sorted(CELLS)}, got {cell!r}")
    model_class = CELLS[cell]
    options = _options(path, archive, model_class) if version != FORMATS[0] else {}
    try:
        arguments = model_class._arguments(I, O or None, H, dtype=dtype, **options)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: its sizes and options do not make a model: {error}") from None
    return model_class, arguments


OPTIONS = {"num_layers": int, "nonlinearity": str, "bidirectional": bool, "bias": bool,
           "dropout": float, "batch_first": bool, "init": str, "forget_bias": float,
           "many_to_one": str, "mask_value": float}
NULLABLE = {"mask_value"}  # the options whose value may be None


def _options(path, archive, model_class):
    """The model's options, as a dict its class takes; only the known ones,
    of their types."""
    text = _text(path, archive, _require(path, archive, "options"))
    try:
        options = json.loads(text)
    except ValueError as error:
        raise ValueError(f"{path}: options are not JSON ({error})") from None
    if not isinstance(options, dict) or set(options) - set(model_class._DEFAULTS) or any(
            type(v) is not OPTIONS[k] and not (OPTIONS[k] is float and type(v) is int)
            and not (v is None and k in NULLABLE) for k, v in options.items()):
        raise ValueError(f"{path}: options must be a JSON object of "
                         f"{sorted(model_class._DEFAULTS)} with their types, got {options!r}")
    return options


def _optimizer_state(path, archive, layout, dtype):
    """The optimizer's record, checked by its class against the parameters:
    its state arrays' headers before their data."""
    keys = [k for k in archive.keys() if k.startswith("optimizer/")]
    if not keys:
        return None
    record = {}
    for key in keys:
        name = key[len("optimizer/"):]
        shape, found = archive.header(key)
        if name.startswith("state/") and shape != (layout.size,):
            raise ValueError(f"{path}: {key} has shape {shape}, expected ({layout.size},): "
                             "one number per parameter")
        if not name.startswith("state/") and (shape != () or found.itemsize > 4 * TEXT_LIMIT):
            raise ValueError(f"{path}: {key} must be one number or name, got {found} of "
                             f"shape {shape}")
        value = archive.read(key)
        record[name] = value if value.ndim else value.item()
    kind = OPTIMIZERS.get(record.get("type")) if isinstance(record.get("type"), str) else None
    if kind is None:
        raise ValueError(f"{path}: optimizer/type must be one of {sorted(OPTIMIZERS)}, got "
                         f"{record.get('type')!r}")
    try:
        kind.check_state(record, layout.size, dtype)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: {error}") from None
    return record
