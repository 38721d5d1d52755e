"""Every optional dependency, when missing, gets a message naming what
needed it and the extra that installs it, never a bare ModuleNotFoundError:
each is hidden here as an absent package is (None in sys.modules)."""
import importlib
import subprocess
import sys

import numpy as np
import pytest

import crnn
from crnn import _optional


def hide(monkeypatch, *packages):
    """Make ``packages`` (and their submodules) fail to import, as absent ones do."""
    for name in list(sys.modules):
        if name.split(".")[0] in packages:
            monkeypatch.delitem(sys.modules, name)
    for package in packages:
        monkeypatch.setitem(sys.modules, package, None)


@pytest.mark.parametrize("module,extra", sorted((m, e) for m, (_, e) in _optional.OPTIONAL.items()))
def test_each_optional_package_names_its_extra(monkeypatch, module, extra):
    hide(monkeypatch, module)
    with pytest.raises(ImportError, match=rf"the thing needs .*pip install 'crnn\[{extra}\]'"):
        _optional.require(module, "the thing")


def test_digits_without_scikit_learn_says_which_extra(monkeypatch):
    import crnn.digits
    hide(monkeypatch, "sklearn", "joblib")
    with pytest.raises(ImportError, match=r"crnn.digits needs scikit-learn.*crnn\[sklearn\]"):
        crnn.digits.main()


def test_python_m_crnn_digits_without_scikit_learn_exits_with_the_message():
    """The issue's report: python -m crnn.digits ended in a bare
    ModuleNotFoundError for joblib; the command now says what to install."""
    code = ("import sys, runpy; sys.modules['sklearn'] = sys.modules['joblib'] = None; "
            "runpy.run_module('crnn.digits', run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    assert "pip install 'crnn[sklearn]'" in done.stderr
    assert "Traceback" not in done.stderr and "ModuleNotFoundError" not in done.stderr


def test_crnn_sklearn_without_scikit_learn(monkeypatch):
    hide(monkeypatch, "sklearn")
    monkeypatch.delitem(sys.modules, "crnn.sklearn", raising=False)
    with pytest.raises(ImportError, match=r"crnn.sklearn needs scikit-learn.*crnn\[sklearn\]"):
        importlib.import_module("crnn.sklearn")


def test_torch_conversions_without_torch(monkeypatch):
    model = crnn.GRU(3, 2, 4, seed=0)
    hide(monkeypatch, "torch")
    with pytest.raises(ImportError, match=r"to_torch needs torch.*crnn\[torch\]"):
        model.to_torch()
    with pytest.raises(ImportError, match=r"GRU.from_torch needs torch.*crnn\[torch\]"):
        crnn.GRU.from_torch(object())


def test_onnx_export_without_onnx(monkeypatch, tmp_path):
    import crnn.onnx
    model = crnn.LSTM(3, 2, 4, dtype=np.float32, seed=0)
    hide(monkeypatch, "onnx")
    with pytest.raises(ImportError, match=r"ONNX export needs onnx.*crnn\[onnx\]"):
        crnn.onnx.export(model, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_keras_files_without_h5py(monkeypatch, tmp_path):
    import json
    import zipfile
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps({"class_name": "Sequential",
                                                    "config": {"layers": []}}))
        archive.writestr("model.weights.h5", b"")
    hide(monkeypatch, "h5py")
    with pytest.raises(ImportError, match=r"crnn.from_keras reading a .keras file needs h5py.*"
                                          r"crnn\[keras\]"):
        crnn.from_keras(path)
