"""The C core runs a whole model with no Python: tests/c/run_network.c,
built here with the machine's C compiler (skipped without one, or outside
the source tree), reads a model's network description, parameters and a
batch that crnn's Python API ran, runs crnn_network_forward and _backward
on a workspace of its own, and must find the same outputs, final states,
gradients and input gradients."""
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import crnn

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ["tests/c/run_network.c", "src_c/crnn.c", "src_c/dispatch.c", "src_c/kernels_x86.c",
           "src_c/kernels_neon.c"]
CELL_CODES = {"rnn": 0, "lstm": 1, "gru": 2}


@pytest.fixture(scope="module")
def run_network(tmp_path_factory):
    compiler = next((c for c in ("cc", "gcc", "clang") if shutil.which(c)), None)
    if compiler is None:
        pytest.skip("no C compiler on this machine")
    if not all((ROOT / s).exists() for s in SOURCES):
        pytest.skip("needs the source tree (src_c/, tests/c/)")
    program = tmp_path_factory.mktemp("c") / "run_network"
    # under .ci/sanitize, built with its sanitizers: any bad access aborts it
    sanitize = (["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-g"]
                if os.environ.get("CRNN_SANITIZE") == "1" else [])
    built = subprocess.run([compiler, "-O1", "-std=c99", *sanitize, "-I", str(ROOT / "src_c"),
                            *(str(ROOT / s) for s in SOURCES), "-lm", "-o", str(program)],
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    return program


def write_network_file(path, model, X, dY, lengths):
    """The file run_network.c reads, from what crnn's Python API computes."""
    layout = model.layout
    Y, _, h_n = model.forward_batch(X, lengths=lengths, return_state=True)
    grads = model.backward_batch(dY, input_grad=True)
    offsets = [[layout.offsets[name] if name is not None else -1 for name in names]
               for _, _, *names in layout.recurrent()]
    T, B = X.shape[:2]
    head = [CELL_CODES[model.cell], 1 if getattr(model, "nonlinearity", "tanh") == "relu" else 0,
            model.input_size, model.hidden_size, model.output_size, model.directions,
            model.num_layers, layout.gates, T, B, layout.size]
    with open(path, "wb") as f:
        f.write(b"crnn-net")
        f.write(np.array(head + sum(offsets, []) + [layout.offsets["Why"], layout.offsets["by"]]
                         + list(lengths), dtype="<i8").tobytes())
        h = h_n[0] if isinstance(h_n, tuple) else h_n
        for array in (model._param_flat, X, Y, h, dY, model._grad_flat, grads["X"]):
            f.write(np.ascontiguousarray(array, dtype="<f8").tobytes())


@pytest.mark.parametrize("cell, options", [
    (crnn.RNN, dict(nonlinearity="relu")),
    (crnn.RNN, dict(num_layers=2, bidirectional=True)),
    (crnn.LSTM, dict(num_layers=2)),
    (crnn.LSTM, dict(bidirectional=True)),
    (crnn.GRU, dict(num_layers=3, bidirectional=True)),
    (crnn.GRU, dict(bias=False)),
])
@pytest.mark.parametrize("lengths", [[7, 7, 7], [4, 7, 2]])  # out of order: run sorted
def test_a_c_program_runs_the_model_python_ran(run_network, tmp_path, cell, options, lengths):
    model = cell(4, 3, 6, init="pytorch", seed=1, **options)
    rng = np.random.default_rng(2)
    X, dY = rng.standard_normal((7, 3, 4)), rng.standard_normal((7, 3, 3))
    path = tmp_path / "model.bin"
    write_network_file(path, model, X, dY, lengths)
    ran = subprocess.run([str(run_network), str(path)], capture_output=True, text=True)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    words = ran.stdout.replace(",", "").split()  # "Y 0, h_n 0, gradients 0, dX 0"
    errors = dict(zip(words[::2], map(float, words[1::2])))
    assert set(errors) == {"Y", "h_n", "gradients", "dX"} and max(errors.values()) <= 1e-12


def test_the_c_program_fails_on_a_model_that_differs(run_network, tmp_path):
    # the comparison can fail: parameters changed after Python ran them
    model = crnn.GRU(4, 3, 6, seed=1)
    rng = np.random.default_rng(3)
    X, dY = rng.standard_normal((5, 2, 4)), rng.standard_normal((5, 2, 3))
    path = tmp_path / "model.bin"
    write_network_file(path, model, X, dY, [5, 3])
    data = bytearray(path.read_bytes())
    start = 8 + 8 * (11 + 4 + 2 + 2)  # the first parameter
    data[start:start + 8] = np.float64(5.0).tobytes()
    path.write_bytes(bytes(data))
    ran = subprocess.run([str(run_network), str(path)], capture_output=True, text=True)
    assert ran.returncode == 1, ran.stdout
    truncated = tmp_path / "short.bin"
    truncated.write_bytes(bytes(data[:100]))
    assert subprocess.run([str(run_network), str(truncated)], capture_output=True).returncode == 2
