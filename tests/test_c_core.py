"""The C core is plain, portable C99: it builds alone, without Python, with
every warning an error."""
import pathlib
import shutil
import subprocess

import pytest

SRC = pathlib.Path(__file__).resolve().parent.parent / "src_c"


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
@pytest.mark.skipif(not SRC.is_dir(), reason="run from a source checkout")
@pytest.mark.parametrize("openmp", [[], ["-fopenmp"]], ids=["serial", "openmp"])
@pytest.mark.parametrize("unit", ["crnn.c", "dispatch.c", "kernels_x86.c"])
def test_c_core_compiles_as_strict_c99(unit, openmp, tmp_path):
    result = subprocess.run(
        ["cc", "-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", "-O2", *openmp, "-c",
         str(SRC / unit), "-o", str(tmp_path / "unit.o")],
        capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(not SRC.is_dir(), reason="run from a source checkout")
def test_c_core_does_not_include_python():
    for path in SRC.iterdir():
        assert "Python.h" not in path.read_text(), path
