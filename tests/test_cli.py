"""The command line: training, resuming, sampling, and its errors."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from crnn import checkpoint, cli

TEXT = "the quick brown fox jumps over the lazy dog. " * 40


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text(TEXT)
    return path


def train(corpus, tmp_path, *extra):
    ck = tmp_path / "model.npz"
    status = cli.main(["train", str(corpus), "--hidden", "16", "--checkpoint", str(ck),
                       "--sample-every", "0", "--sample-length", "20", *extra])
    return status, ck


def test_train_learns_saves_and_resumes(corpus, tmp_path, capsys):
    status, ck = train(corpus, tmp_path, "--iterations", "600")
    out = capsys.readouterr().out
    assert status == 0 and "done: iteration 600" in out
    saved = checkpoint.load(ck)
    assert saved.step == 600 and saved.vocabulary == "".join(sorted(set(TEXT)))
    assert len(saved.losses) == 600
    assert np.mean(saved.losses[-100:]) < 0.5 * np.log(len(saved.vocabulary))
    assert saved.optimizer_state["type"] == "Adagrad"

    status, _ = train(corpus, tmp_path, "--iterations", "800", "--resume")
    assert status == 0 and "resuming at iteration 600" in capsys.readouterr().out
    resumed = checkpoint.load(ck)
    assert resumed.step == 800 and len(resumed.losses) == 800
    np.testing.assert_array_equal(resumed.losses[:600], saved.losses)


def test_sample(corpus, tmp_path, capsys):
    _, ck = train(corpus, tmp_path, "--iterations", "300")
    capsys.readouterr()
    assert cli.main(["sample", str(ck), "--length", "40", "--prime", "the ", "--seed", "3"]) == 0
    first = capsys.readouterr().out
    assert first.startswith("the ") and len(first.strip("\n")) == 44
    cli.main(["sample", str(ck), "--length", "40", "--prime", "the ", "--seed", "3"])
    assert capsys.readouterr().out == first  # the seed makes it reproducible


@pytest.mark.parametrize("argv,message", [
    (["train", "/no/such/file.txt"], "no such file: /no/such/file.txt"),
    (["sample", "/no/such/model.npz"], "no such checkpoint: /no/such/model.npz"),
])
def test_missing_files(argv, message, capsys):
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_bad_files(tmp_path, corpus, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert cli.main(["train", str(empty)]) == 2
    assert "is empty" in capsys.readouterr().err
    short = tmp_path / "short.txt"
    short.write_text("abc")
    assert cli.main(["train", str(short)]) == 2
    assert "has 3 characters; windows of 25 need at least 27" in capsys.readouterr().err
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a checkpoint")
    assert cli.main(["sample", str(junk)]) == 2
    assert "is not a crnn checkpoint (not an .npz archive)" in capsys.readouterr().err
    _, ck = train(corpus, tmp_path, "--iterations", "50")
    capsys.readouterr()
    assert cli.main(["sample", str(ck), "--prime", "XYZ"]) == 2
    assert "characters not in the vocabulary: 'XYZ'" in capsys.readouterr().err
    status, _ = train(corpus, tmp_path, "--iterations", "60", "--resume", "--hidden", "32")
    assert status == 2 and "has hidden size 16, not 32" in capsys.readouterr().err


def test_ctrl_c_saves_a_checkpoint_and_exits_cleanly(corpus, tmp_path):
    ck = tmp_path / "model.npz"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "crnn", "train", str(corpus), "--hidden", "16",
         "--iterations", "100000000", "--checkpoint", str(ck), "--sample-every", "0",
         "--checkpoint-every", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        # a run started in the background inherits SIGINT ignored: Ctrl-C's default back
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert process.stdout.readline().startswith("training on")
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "interrupted at iteration" in err and "continue with --resume" in err
    saved = checkpoint.load(ck)
    assert saved.step > 0 and len(saved.losses) == saved.step


def test_plot_says_how_to_get_matplotlib_when_missing(corpus, tmp_path, capsys, monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("no matplotlib here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    status, _ = train(corpus, tmp_path, "--iterations", "30", "--plot", str(tmp_path / "l.png"))
    assert status == 0
    assert "--plot needs matplotlib: pip install matplotlib" in capsys.readouterr().err
    assert not (tmp_path / "l.png").exists()


def test_bench_command(capsys):
    assert cli.main(["bench", "--config", "seed", "--systems", "crnn", "--repeat", "3"]) == 0
    assert "seed API" in capsys.readouterr().out


def test_no_command_means_train_on_the_default_corpus(tmp_path, capsys):
    status = cli.main(["--hidden", "8", "--iterations", "20", "--sample-every", "0",
                       "--checkpoint", str(tmp_path / "m.npz")])
    assert status == 0 and "the docstrings of Python's builtins" in capsys.readouterr().out


def test_train_a_stacked_relu_model_with_dropout(corpus, tmp_path, capsys):
    status, ck = train(corpus, tmp_path, "--iterations", "30", "--layers", "2",
                       "--nonlinearity", "relu", "--dropout", "0.2")
    assert status == 0 and "2 layers of 16, relu, dropout 0.2" in capsys.readouterr().out
    saved = checkpoint.load(ck).rnn
    assert (saved.num_layers, saved.nonlinearity, saved.dropout) == (2, "relu", 0.2)
    status, _ = train(corpus, tmp_path, "--iterations", "40", "--resume", "--layers", "3")
    assert status == 2 and "has layers 2, not 3" in capsys.readouterr().err
    status, _ = train(corpus, tmp_path, "--iterations", "40", "--resume")
    assert status == 0 and checkpoint.load(ck).step == 40
    assert cli.main(["sample", str(ck), "--length", "10", "--seed", "1"]) == 0
    with pytest.raises(SystemExit):
        cli.main(["train", str(corpus), "--dropout", "1.5"])


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_train_and_sample_a_gated_cell(cell, corpus, tmp_path, capsys):
    status, ck = train(corpus, tmp_path, "--iterations", "600", "--cell", cell)
    out = capsys.readouterr().out
    assert status == 0 and f"{cell.upper()}, hidden 16" in out
    saved = checkpoint.load(ck)
    assert saved.rnn.cell == cell
    assert np.mean(saved.losses[-100:]) < 0.5 * np.log(len(saved.vocabulary))
    assert cli.main(["sample", str(ck), "--length", "30", "--prime", "the ", "--seed", "2"]) == 0
    assert capsys.readouterr().out.startswith("the ")
    status, _ = train(corpus, tmp_path, "--iterations", "620", "--resume", "--cell", "rnn")
    assert status == 2 and f"has cell {cell}, not rnn" in capsys.readouterr().err
    status, _ = train(corpus, tmp_path, "--iterations", "10", "--cell", cell,
                      "--nonlinearity", "relu")
    assert status == 2 and "--nonlinearity is the Elman RNN's" in capsys.readouterr().err
