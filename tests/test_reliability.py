"""Reliability: malformed calls never crash, memory does not grow, reference
counts do not change, and a diverged training never overwrites a checkpoint."""
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import crnn
from crnn import checkpoint, cli

HERE = pathlib.Path(__file__).resolve().parent
UNDER_ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")


def test_malformed_calls_raise_and_never_crash():
    # the crnn this process imports, wherever it comes from
    package_root = str(pathlib.Path(crnn.__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [package_root] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    result = subprocess.run([sys.executable, str(HERE / "fuzz_malformed_calls.py"), "300"],
                            capture_output=True, text=True, timeout=1200, env=env)
    assert result.returncode == 0, (f"exit {result.returncode}\n{result.stdout[-3000:]}\n"
                                    f"{result.stderr[-3000:]}")
    assert "every malformed call raised a clean error" in result.stdout


LEAK_CHECK = """
import os, numpy as np, crnn

def resident_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

rnn = crnn.RNN(3, 2, 3, seed=0)
X, dY = np.eye(3)[:, None, :], np.ones((3, 1, 2))
inputs, d_y = list(np.eye(3)), np.array([[0.0], [1.0]])
stream, out = rnn.stream(), np.empty((1, 2))

def calls():
    rnn.forward_batch(X)
    rnn.backward_batch(dY)
    rnn.forward(inputs)
    rnn.backward(d_y, learning_rate=0.0)
    stream.step(X[0], out)
    rnn.predict(X[:, 0][None])

for _ in range(2000):  # warm up: scratch, caches, NumPy's allocator
    calls()
before = resident_bytes()
for _ in range(50_000):
    calls()
print(resident_bytes() - before)
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux's /proc")
@pytest.mark.skipif(UNDER_ASAN, reason="ASan holds freed memory in quarantine")
def test_memory_does_not_grow_over_300000_calls():
    # in a fresh interpreter: in this one, threads other tests started (a
    # peer's thread pool) allocate as they please and move its resident size
    package_root = str(pathlib.Path(crnn.__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [package_root] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    result = subprocess.run([sys.executable, "-c", LEAK_CHECK], capture_output=True, text=True,
                            timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert int(result.stdout) < 1_000_000


def test_reference_counts_of_inputs_do_not_change():
    rnn = crnn.RNN(3, 2, 4, seed=0)
    X, h0, dY, dh = np.ones((5, 2, 3)), np.zeros((2, 4)), np.ones((5, 2, 2)), np.ones((2, 4))
    ids, bad = np.zeros((5, 2), dtype=np.int64), np.ones((5, 2, 7))
    counts = [sys.getrefcount(a) for a in (X, h0, dY, dh, ids, bad)]
    for _ in range(100):
        rnn.forward_batch(X, h0)
        rnn.backward_batch(dY, dh, input_grad=True)
        rnn.forward_batch(ids, h0)
        with pytest.raises(ValueError):
            rnn.forward_batch(bad)
        with pytest.raises(ValueError):
            rnn.backward_batch(bad)
    assert [sys.getrefcount(a) for a in (X, h0, dY, dh, ids, bad)] == counts


def test_a_diverged_training_keeps_the_last_checkpoint(tmp_path, capsys):
    corpus = tmp_path / "text.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog. " * 20)
    ck = tmp_path / "model.npz"
    args = ["train", str(corpus), "--hidden", "8", "--checkpoint", str(ck), "--batch-size", "4",
            "--seq-length", "20", "--lr-schedule", "constant"]
    assert cli.main(args + ["--iterations", "20"]) == 0
    saved = checkpoint.load(ck)
    saved.rnn.Why[0, 0] = np.nan  # the loss of the next step is NaN
    checkpoint.save(ck, saved.rnn, vocabulary=saved.vocabulary, step=saved.step,
                    losses=saved.losses, run=saved.run)
    good = ck.read_bytes()
    capsys.readouterr()
    assert cli.main(args + ["--iterations", "40", "--resume", "--checkpoint-every", "1"]) == 1
    assert "training diverged at iteration 20" in capsys.readouterr().err
    assert ck.read_bytes() == good
