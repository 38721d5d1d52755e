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

from ._files import atomic_write
from .rnn import CELLS

__all__ = ["Checkpoint", "save", "load"]

FORMAT = "crnn-checkpoint-3"
FORMATS = ("crnn-checkpoint-1", "crnn-checkpoint-2", FORMAT)  # what load reads


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


def save(path, rnn, *, vocabulary=None, optimizer=None, step=0, losses=(), run=None):
    """Write ``rnn`` (and the rest; ``run``: a dict of arrays) to ``path`` atomically."""
    arrays = {
        "format": np.array(FORMAT),
        # output_size 0: no output layer
        "sizes": np.array([rnn.input_size, rnn.hidden_size, rnn.output_size or 0],
                          dtype=np.int64),
        "cell": np.array(rnn.cell),
        "options": np.array(json.dumps(rnn._options())),
        "dtype": np.array(rnn.dtype.name),
        "step": np.array(int(step), dtype=np.int64),
        "losses": np.asarray(losses, dtype=np.float64),
    }
    arrays.update({f"param/{k}": v for k, v in rnn.parameters().items()})
    if vocabulary is not None:
        arrays["vocabulary"] = np.array(str(vocabulary))
    if optimizer is not None:
        for key, value in optimizer.state_dict().items():
            arrays[f"optimizer/{key}"] = np.asarray(value)
    for key, value in (run or {}).items():
        arrays[f"run/{key}"] = np.asarray(value)
    atomic_write(path, lambda f: np.savez(f, **arrays))


def load(path):
    """Read a checkpoint; ValueError says what is wrong with a file that is
    not one, or not a whole one."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such checkpoint: {path}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a crnn checkpoint (not an .npz archive)")
    try:
        with np.load(path, allow_pickle=False) as data:
            contents = {key: data[key] for key in data.files}
    except FileNotFoundError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise ValueError(f"{path} is not a readable crnn checkpoint ({error})") from None
    return _from_arrays(path, contents)


def _require(path, contents, key):
    if key not in contents:
        raise ValueError(f"{path} is not a crnn checkpoint: it has no {key!r}")
    return contents[key]


KNOWN = {"format", "cell", "sizes", "options", "dtype", "step", "losses", "vocabulary"}
KNOWN_PREFIXES = ("param/", "optimizer/", "run/")


def _from_arrays(path, contents):
    unknown = sorted(k for k in contents if k not in KNOWN and not k.startswith(KNOWN_PREFIXES))
    if unknown:
        raise ValueError(f"{path} holds entries a crnn checkpoint does not: {unknown}")
    version = str(_require(path, contents, "format"))
    if version not in FORMATS:
        raise ValueError(f"{path} is not a {FORMAT} file (format {version})")
    sizes = _require(path, contents, "sizes")
    if sizes.shape != (3,) or sizes.dtype.kind != "i" or sizes[:2].min() < 1 \
            or sizes.min() < 0 or sizes.max() > 2**20:
        raise ValueError(f"{path}: sizes must be three integers in [1, 2^20] (the output "
                         f"size 0 for none), got {sizes!r}")
    I, H, O = (int(n) for n in sizes)
    dtype = str(_require(path, contents, "dtype"))
    if dtype not in ("float32", "float64"):
        raise ValueError(f"{path}: dtype must be float32 or float64, got {dtype!r}")
    options = _options(path, contents) if version != FORMATS[0] else {}
    cell = str(contents.get("cell", "rnn"))
    if cell not in CELLS:
        raise ValueError(f"{path}: cell must be one of {sorted(CELLS)}, got {cell!r}")
    try:
        rnn = CELLS[cell](I, O or None, H, dtype=dtype, seed=0, **options)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: its options do not make a model: {error}") from None
    for p in rnn.layout.parameters:
        value = _require(path, contents, f"param/{p.name}")
        if value.shape != p.shape or value.dtype != rnn.dtype:
            raise ValueError(f"{path}: param/{p.name} must be {dtype} of shape {p.shape}, "
                             f"got {value.dtype} of shape {value.shape}")
        rnn.parameters()[p.name][...] = value
    extra_params = sorted(k for k in contents
                          if k.startswith("param/") and k[len("param/"):] not in rnn.layout.by_name)
    if extra_params:
        raise ValueError(f"{path} holds parameters this model does not have: {extra_params}")
    vocabulary = str(contents["vocabulary"]) if "vocabulary" in contents else None
    if vocabulary is not None and len(vocabulary) != I:
        raise ValueError(f"{path}: a vocabulary of {len(vocabulary)} characters for "
                         f"input_size {I}")
    optimizer_state = {key[len("optimizer/"):]: (value if value.ndim else value.item())
                       for key, value in contents.items() if key.startswith("optimizer/")}
    run = {key[len("run/"):]: value for key, value in contents.items() if key.startswith("run/")}
    return Checkpoint(rnn, vocabulary, optimizer_state or None,
                      int(contents.get("step", 0)), contents.get("losses", ()), run or None)


OPTIONS = {"num_layers": int, "nonlinearity": str, "bidirectional": bool, "bias": bool,
           "dropout": float, "batch_first": bool, "init": str, "forget_bias": float}


def _options(path, contents):
    """The model's options, as a dict its class takes; only the known ones."""
    try:
        options = json.loads(str(_require(path, contents, "options")))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: options are not JSON ({error})") from None
    if not isinstance(options, dict) or set(options) - set(OPTIONS) or any(
            type(v) is not OPTIONS[k] and not (OPTIONS[k] is float and type(v) is int)
            for k, v in options.items()):
        raise ValueError(f"{path}: options must be a JSON object of {sorted(OPTIONS)} "
                         f"with their types, got {options!r}")
    return options
