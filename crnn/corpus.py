"""Corpora for character models, and their held-out split by document.

The default corpus is the docstrings of the standard library's modules and
their members (about 860 KB and 102 distinct characters on Python 3.11),
gathered at run time in a separate interpreter (crnn/_stdlib_docs.py): no
download, the same text for the same Python. The builtins' docstrings
(``crnn.text.default_corpus``, about 30 KB) stay the small corpus.

A held-out split takes whole documents, never the middle of one: every
``every``-th document (the 20th, 40th, ...) for evaluation, the rest for
training, so both sample the whole library.
"""
import json
import os
import subprocess
import sys
import tempfile

from .text import builtins_documents

__all__ = ["stdlib_documents", "split"]

SEPARATOR = "\n\n"


def stdlib_documents():
    """[(module name, its document)] in module name order. A module whose
    import takes the interpreter down (``crypt`` does under AddressSanitizer)
    is left out, and the rest gathered again."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_stdlib_docs.py")
    left_out = []
    with tempfile.TemporaryDirectory() as directory:
        path, progress = (os.path.join(directory, name) for name in ("documents.json", "progress"))
        for _ in range(10):
            if os.path.exists(progress):
                os.remove(progress)
            result = subprocess.run([sys.executable, "-I", "-S", script, path, progress, *left_out],
                                    stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
            if result.returncode == 0 and os.path.exists(path):
                with open(path, encoding="utf-8") as f:
                    return [(name, text) for name, text in json.load(f)]
            last = _last_line(progress)
            if last is None or last in left_out:
                break
            left_out.append(last)
    raise RuntimeError("gathering the standard library's docstrings failed: "
                       + result.stderr.decode(errors="replace")[-2000:])


def _last_line(path):
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        lines = f.read().split()
    return lines[-1] if lines else None


def split(documents, every=20):
    """(training text, held-out text): every ``every``-th document held out,
    each text the documents joined by a blank line."""
    if every < 2 or len(documents) < every:
        raise ValueError(f"a held-out split of every {every}th document needs at least "
                         f"{every} documents, got {len(documents)}")
    held = [text for i, (_, text) in enumerate(documents) if i % every == every - 1]
    kept = [text for i, (_, text) in enumerate(documents) if i % every != every - 1]
    return SEPARATOR.join(kept) + "\n", SEPARATOR.join(held) + "\n"
