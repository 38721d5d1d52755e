"""Sphinx configuration of crnn's documentation site.

Built from the repository root, in the venv the README's commands make:

    .venv/bin/pip install -e '.[docs]'
    .venv/bin/sphinx-build -W --keep-going -b html docs docs/_build/html
    .venv/bin/sphinx-build -W --keep-going -b doctest docs docs/_build/doctest

The second runs every ``>>>`` example of the pages as a doctest. Examples
that need an optional peer (PyTorch, ONNX Runtime) are skipped, not failed,
where it is absent; .ci/run installs them, so CI runs them all.
"""
import crnn

project = "crnn"
author = "the crnn developers"
copyright = "2026, the crnn developers"
version = release = crnn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",   # the docstrings' "Parameters" / "Returns" sections
    "sphinx.ext.doctest",    # the pages' examples, run by `-b doctest`
    "matplotlib.sphinxext.plot_directive",  # the benchmark's plot, drawn at build time
]
exclude_patterns = ["_build"]

html_theme = "furo"
html_title = f"crnn {release}"

autodoc_member_order = "bysource"
autodoc_typehints = "none"  # signatures as written; the docstrings give shapes and types
napoleon_google_docstring = False
napoleon_numpy_docstring = True

# every page's examples start from this (a page may import more)
doctest_global_setup = """
import numpy as np
import crnn
try:
    import torch
except ImportError:
    torch = None
try:
    import onnxruntime
except ImportError:
    onnxruntime = None
try:
    import sklearn
except ImportError:
    sklearn = None
import os
os.environ.setdefault("KERAS_BACKEND", "torch")  # Keras 3 on PyTorch, where both are
try:
    import keras
except Exception:  # absent, or its backend is
    keras = None
"""

plot_include_source = False
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 110)]
