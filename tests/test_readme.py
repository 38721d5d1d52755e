"""The README's Python examples run as written."""
import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def python_blocks():
    if not README.exists():
        return []
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


@pytest.mark.skipif(not README.exists(), reason="run from a source checkout")
@pytest.mark.parametrize("index", range(len(python_blocks())))
def test_example_runs(index, tmp_path, monkeypatch):
    block = python_blocks()[index]
    # an example of an optional peer (scikit-learn, torch, ...) runs where it is installed
    for module in re.findall(r"^(?:from|import) (\w+)", block, re.M):
        if module not in ("crnn", "numpy"):
            pytest.importorskip(module)
    monkeypatch.chdir(tmp_path)  # examples may write files
    exec(compile(block, f"README block {index}", "exec"), {})


def test_the_readme_has_examples():
    assert not README.exists() or len(python_blocks()) >= 3
