"""Reading a Keras 3 model for crnn.from_keras: its layers from the input to
the output, each with its config and its weights, from a Keras model object
or from a ``.keras`` file. A ``.keras`` file is a zip of ``config.json`` (the
model's serialized config) and ``model.weights.h5``, read here with zipfile
and h5py alone: Keras itself is not needed for a file.

In ``model.weights.h5`` a layer's variables lie under ``layers/<key>``, the
key being the snake-cased class name made unique by a counter in the order
of ``model.layers`` (``lstm``, ``lstm_1``, ...), not the layer's own name;
a recurrent layer's under ``cell/vars/0..2`` (kernel, recurrent kernel,
bias), a Bidirectional's under ``forward_layer/`` and ``backward_layer/``,
a TimeDistributed's under ``layer/``.
"""
import io
import json
import os
import re
import zipfile
import zlib
from typing import Callable, NamedTuple

import numpy as np

from ._optional import require

__all__ = ["KerasLayer", "read", "malformed_as_value_error"]

RECURRENT = ("SimpleRNN", "LSTM", "GRU")
# operations a functional graph holds to compute a Masking layer's mask
MASK_OPERATIONS = ("NotEqual", "Any")


class KerasLayer(NamedTuple):
    class_name: str            # "LSTM", "Bidirectional", "Dense", ...
    name: str                  # the layer's own name, for messages
    config: dict               # its serialized config
    weights: Callable          # weights(part) -> list of arrays; part None, or
    #                            "forward_layer", "backward_layer", "layer" (a wrapper's)


def read(model_or_path):
    """The layers of a Keras model object or ``.keras`` file, from the input
    to the output: a list of KerasLayer."""
    if isinstance(model_or_path, (str, os.PathLike)):
        config, arrays = _read_file(os.fspath(model_or_path))

        def weights(key, entry, part):
            return _file_weights(arrays, key, entry, part)
    elif hasattr(model_or_path, "get_layer") and hasattr(model_or_path, "get_config"):
        keras = require("keras", "crnn.from_keras")
        config = keras.saving.serialize_keras_object(model_or_path)

        def weights(key, entry, part):
            layer = model_or_path.get_layer(entry["config"]["name"])
            return [np.asarray(w) for w in (getattr(layer, part) if part else layer).get_weights()]
    else:
        raise TypeError(f"crnn.from_keras takes a Keras model or the path of a .keras file, "
                        f"got {type(model_or_path).__name__}")
    return malformed_as_value_error(_chain, config, weights)


def malformed_as_value_error(function, *args):
    """``function(*args)``, a KeyError, IndexError, TypeError or
    AttributeError of a config missing what it should hold turned into a
    ValueError that says so."""
    try:
        return function(*args)
    except (KeyError, IndexError, TypeError, AttributeError) as error:
        raise ValueError(f"the Keras model's config is malformed where crnn reads it "
                         f"({type(error).__name__}: {error})") from None


# ---- the file -----------------------------------------------------------------

def _read_file(path):
    """(config dict, {dataset path: array}) of a .keras file."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file: {path}")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            for needed in ("config.json", "model.weights.h5"):
                if needed not in names:
                    raise ValueError(f"{path} holds no {needed}: a .keras file is a zip of "
                                     "config.json and model.weights.h5")
            config_text = archive.read("config.json")
            weights = archive.read("model.weights.h5")
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise ValueError(f"{path} is not a readable .keras file (a zip archive): "
                         f"{error}") from None
    try:
        config = json.loads(config_text)
    except ValueError as error:
        raise ValueError(f"{path}: config.json is not JSON ({error})") from None
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise ValueError(f"{path}: config.json does not describe a Keras model")
    h5py = require("h5py", "crnn.from_keras reading a .keras file")
    arrays = {}
    try:
        with h5py.File(io.BytesIO(weights), "r") as h5:
            h5.visititems(lambda name, item: arrays.__setitem__(name, item[()])
                          if isinstance(item, h5py.Dataset) else None)
    except (OSError, ValueError, KeyError) as error:
        raise ValueError(f"{path}: model.weights.h5 is not a readable HDF5 file "
                         f"({error})") from None
    return config, arrays


def _file_weights(arrays, key, entry, part):
    """The variables of the layer stored under ``layers/<key>`` (its ``part``
    for a wrapper), in order: a recurrent layer's are its cell's."""
    inner = entry if part is None else entry["config"].get(part) or entry["config"]["layer"]
    prefix = f"layers/{key}" + (f"/{part}" if part else "")
    if inner["class_name"] in RECURRENT:
        prefix += "/cell"
    found = {int(name[len(prefix) + 6:]): value for name, value in arrays.items()
             if name.startswith(prefix + "/vars/") and name[len(prefix) + 6:].isdigit()}
    if not found:
        raise ValueError(f"model.weights.h5 holds no weights for layer "
                         f"{entry['config'].get('name')!r} (looked under {prefix})")
    if sorted(found) != list(range(len(found))):
        raise ValueError(f"model.weights.h5: the variables of layer "
                         f"{entry['config'].get('name')!r} under {prefix}/vars are "
                         f"{sorted(found)}, not 0..{len(found) - 1}")
    return [np.asarray(found[i]) for i in range(len(found))]


# ---- the chain of layers --------------------------------------------------------

def _snake(class_name):
    """Keras's snake case of a class name (keras.src.utils.naming)."""
    name = re.sub(r"\W+", "", class_name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _is_operation(entry):
    """A Keras operation (keras.ops), not a layer: it has no weights and no
    place in model.layers."""
    return str(entry.get("module", "")).startswith("keras.src.ops")


def _chain(config, weights):
    """The layers of a Sequential or functional model's ``config`` in order,
    each with its weights read by ``weights(key, entry, part)``."""
    kind, body = config.get("class_name"), config["config"]
    entries = body.get("layers")
    if not isinstance(entries, list) or not all(isinstance(e, dict) and "class_name" in e
                                                and isinstance(e.get("config"), dict)
                                                for e in entries):
        raise ValueError("the Keras model's config lists no layers")
    if kind == "Sequential":
        order = [e for e in entries if e["class_name"] != "InputLayer"]
        stored = order
    elif kind in ("Functional", "Model"):
        order = _functional_order(body, entries)
        stored = [e for e in entries if not _is_operation(e)]
    else:
        raise NotImplementedError(f"a Keras {kind} model: crnn reads Sequential and "
                                  "functional models (a subclassed model has no config "
                                  "to read)")
    keys, used = {}, {}
    for entry in stored:  # keras.src.saving.saving_lib's names, in model.layers' order
        key = _snake(entry["class_name"])
        if key in used:
            used[key] += 1
            key = f"{key}_{used[key]}"
        else:
            used[key] = 0
        keys[id(entry)] = key
    return [KerasLayer(e["class_name"], e["config"].get("name", e["class_name"]), e["config"],
                       lambda part=None, e=e: weights(keys[id(e)], e, part))
            for e in order if e["class_name"] != "InputLayer"]


def _single(references, what):
    """The one layer name in a functional config's input_layers or
    output_layers (one [name, node, tensor] triple, or a list of them)."""
    if references and isinstance(references[0], str):
        references = [references]
    if len(references) != 1:
        raise NotImplementedError(f"the Keras model has {len(references)} {what}s: crnn reads "
                                  f"models of one input and one output")
    return references[0][0]


def _functional_order(body, entries):
    """A functional model's layers from its input to its output, walking back
    from the output along each layer's one input; the mask computations of
    Masking are the only other operations allowed."""
    by_name = {e.get("name", e["config"].get("name")): e for e in entries}
    first = _single(body.get("input_layers", []), "input")
    name = _single(body.get("output_layers", []), "output")
    order, seen = [], set()
    while True:
        entry = by_name.get(name)
        if entry is None:
            raise ValueError(f"the Keras model's config names layer {name!r} but does not "
                             "define it")
        if name in seen:
            raise ValueError(f"the Keras model's config has a cycle through {name!r}")
        seen.add(name)
        order.append(entry)
        if name == first:
            break
        nodes = entry.get("inbound_nodes") or []
        if len(nodes) != 1:
            raise NotImplementedError(f"Keras layer {name!r} is called {len(nodes)} times: "
                                      "crnn reads a chain of layers, each called once")
        tensors = [a for a in _flat(nodes[0].get("args", [])) if _is_tensor(a)]
        extra = {k: v for k, v in nodes[0].get("kwargs", {}).items()
                 if _is_tensor(v) and k != "mask"}
        if len(tensors) != 1 or extra:
            raise NotImplementedError(f"Keras layer {name!r} ({entry['class_name']}) takes "
                                      f"{len(tensors) + len(extra)} tensors: crnn reads a "
                                      "chain of layers, each taking the one before")
        history = tensors[0]["config"].get("keras_history", [None, 0, 0])
        if history[2] != 0:
            raise NotImplementedError(f"Keras layer {name!r} reads output {history[2]} of "
                                      f"{history[0]!r}: crnn reads a layer's first output")
        name = history[0]
    on_chain = {id(e) for e in order}
    for entry in entries:
        if id(entry) not in on_chain and not (_is_operation(entry)
                                              and entry["class_name"] in MASK_OPERATIONS):
            raise NotImplementedError(
                f"Keras layer {entry['config'].get('name')!r} ({entry['class_name']}) is off "
                "the path from the input to the output: crnn reads a chain of layers")
    return order[::-1]


def _flat(values):
    """The items of nested lists (a Concatenate's args hold a list of tensors)."""
    for value in values:
        if isinstance(value, list):
            yield from _flat(value)
        else:
            yield value


def _is_tensor(value):
    return isinstance(value, dict) and value.get("class_name") == "__keras_tensor__" \
        and isinstance(value.get("config"), dict)
