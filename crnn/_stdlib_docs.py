"""Gather the docstrings of the standard library: run as a script, by
crnn.corpus, in a separate interpreter (``python -I -S``) so that importing
some 190 modules changes nothing in the caller's process. Writes a JSON list
of [module name, text] to the path given as its first argument; the second
is a file where it notes each module before importing it (so that the
caller learns which one took the interpreter down, if one does), and the
rest are modules to leave out.

A module's document is its docstring, then the docstrings of its public
members defined in it (functions, classes, and the classes' public
methods), in name order; a docstring already taken (an inherited "Return
self==value.", say) is not taken again. Modules with effects beyond their
import (a browser, a GUI, printing) and the test suite are left out.
"""
import contextlib
import importlib
import inspect
import io
import json
import os
import pkgutil
import sys
import sysconfig
import warnings

LEFT_OUT = {"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "test",
            "ensurepip", "venv", "lib2to3", "pydoc_data", "xxlimited", "xxlimited_35",
            "xxsubtype"}


def module_names():
    names = getattr(sys, "stdlib_module_names", None)
    if names is None:  # Python 3.9: the stdlib directory and the built-in modules
        stdlib = sysconfig.get_paths()["stdlib"]
        names = {m.name for m in pkgutil.iter_modules([stdlib])} | set(sys.builtin_module_names)
    return sorted(n for n in names if not n.startswith("_") and n not in LEFT_OUT)


def docstring(obj):
    doc = getattr(obj, "__doc__", None)
    return doc.strip() if isinstance(doc, str) and doc.strip() else None


def members(module):
    """The module's public functions and classes defined in it, then each
    class's public methods, in name order."""
    names = getattr(module, "__all__", None)
    if not isinstance(names, (list, tuple)):
        names = [n for n in dir(module) if not n.startswith("_")]
    for name in sorted(set(n for n in names if isinstance(n, str))):
        try:
            obj = getattr(module, name)
        except Exception:
            continue
        if not (inspect.isclass(obj) or inspect.isroutine(obj)):
            continue
        if getattr(obj, "__module__", module.__name__) != module.__name__:
            continue  # imported from elsewhere
        yield obj
        if inspect.isclass(obj):
            for attribute in sorted(vars(obj)):
                method = vars(obj)[attribute]
                if not attribute.startswith("_") and inspect.isroutine(method):
                    yield method


def document(name, seen):
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            module = importlib.import_module(name)
        except BaseException:  # not on this platform, or needs what is missing
            return None
        parts = []
        for obj in [module, *members(module)]:
            doc = docstring(obj)
            if doc is not None and doc not in seen:
                seen.add(doc)
                parts.append(doc)
    return "\n\n".join(parts) if parts else None


def main(path, progress, left_out):
    seen, documents = set(), []
    for name in module_names():
        if name in left_out:
            continue
        with open(progress, "a", encoding="utf-8") as note:
            note.write(name + "\n")
        text = document(name, seen)
        if text is not None:
            documents.append([name, text])
    with open(path, "w", encoding="utf-8") as f:
        json.dump(documents, f)
    os._exit(0)  # no atexit handler of an imported module runs


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], set(sys.argv[3:]))
