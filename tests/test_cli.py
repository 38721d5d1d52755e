"""The command line: training, resuming, sampling, and its errors."""
import json
import os
import re
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


def train(corpus, tmp_path, *extra, name="model.npz"):
    ck = tmp_path / name
    status = cli.main(["train", str(corpus), "--hidden", "16", "--batch-size", "8",
                       "--seq-length", "20", "--checkpoint", str(ck), "--sample-length", "20",
                       "--eval-every", "50", *extra])
    return status, ck


def test_train_learns_saves_and_resumes(corpus, tmp_path, capsys):
    status, ck = train(corpus, tmp_path, "--iterations", "300", "--lr-schedule", "constant")
    out = capsys.readouterr().out
    assert status == 0 and "done: iteration 300" in out and "held-out" in out
    saved = checkpoint.load(ck)
    assert saved.step == 300 and saved.vocabulary == "".join(sorted(set(TEXT)))
    assert len(saved.losses) == 300
    assert np.mean(saved.losses[-50:]) < 0.5 * np.log(len(saved.vocabulary))
    assert saved.optimizer_state["type"] == "Adam"
    run = json.loads(str(saved.run["run"]))
    assert [e[0] for e in run["evaluations"]] == [50, 100, 150, 200, 250, 300]
    assert run["best"] == min(e[1] for e in run["evaluations"])

    status, _ = train(corpus, tmp_path, "--iterations", "400", "--resume")
    assert status == 0 and "resuming at iteration 300" in capsys.readouterr().out
    resumed = checkpoint.load(ck)
    assert resumed.step == 400 and len(resumed.losses) == 400
    np.testing.assert_array_equal(resumed.losses[:300], saved.losses)


def parameters(ck):
    saved = checkpoint.load(ck)
    return saved.rnn._param_flat.copy(), saved


@pytest.mark.parametrize("options", [
    ("--cell", "lstm", "--layers", "2", "--dropout", "0.3"),   # states in pairs, dropout's generator
    ("--cell", "rnn", "--lr-schedule", "cosine"),
])
def test_resume_is_exact(corpus, tmp_path, capsys, options):
    """A run resumed from a checkpoint ends with the parameters, bit for bit,
    of one that never stopped (across epochs: 11 windows each here)."""
    whole = ("--iterations", "60", "--checkpoint-every", "0", *options)
    assert train(corpus, tmp_path, *whole, name="whole.npz")[0] == 0
    assert train(corpus, tmp_path, *whole, "--minutes", "1e-9", name="part.npz")[0] == 0
    first, _ = parameters(tmp_path / "part.npz")
    assert checkpoint.load(tmp_path / "part.npz").step < 60   # stopped by its time budget
    assert train(corpus, tmp_path, *whole[:2], "--resume", name="part.npz")[0] == 0
    expected, reference = parameters(tmp_path / "whole.npz")
    got, resumed = parameters(tmp_path / "part.npz")
    assert resumed.step == 60 and not np.array_equal(first, got)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(resumed.losses, reference.losses)
    for key, value in reference.optimizer_state.items():
        np.testing.assert_array_equal(resumed.optimizer_state[key], value)


def test_a_resume_with_another_configuration_is_refused(corpus, tmp_path, capsys):
    train(corpus, tmp_path, "--iterations", "20")
    capsys.readouterr()
    status, _ = train(corpus, tmp_path, "--iterations", "40", "--resume", "--hidden", "32")
    assert status == 2 and "has hidden 16, not 32" in capsys.readouterr().err
    status, _ = train(corpus, tmp_path, "--resume", "--batch-size", "4")
    assert status == 2 and "has batch-size 8, not 4" in capsys.readouterr().err
    status, _ = train(corpus, tmp_path, "--resume", "--iterations", "40")
    assert status == 2 and "has iterations 20 (its cosine schedule reads them), not 40" \
        in capsys.readouterr().err
    other = tmp_path / "other.txt"
    other.write_text(TEXT[::-1])
    status = cli.main(["train", str(other), "--checkpoint", str(tmp_path / "model.npz"),
                       "--resume"])
    assert status == 2 and "trained on another text" in capsys.readouterr().err


def test_sample(corpus, tmp_path, capsys):
    _, ck = train(corpus, tmp_path, "--iterations", "300")
    capsys.readouterr()
    assert cli.main(["sample", str(ck), "--length", "40", "--prime", "the ", "--seed", "3"]) == 0
    first = capsys.readouterr().out
    assert first.startswith("the ") and len(first.strip("\n")) == 44
    cli.main(["sample", str(ck), "--length", "40", "--prime", "the ", "--seed", "3"])
    assert capsys.readouterr().out == first  # the seed makes it reproducible
    cli.main(["sample", str(ck), "--length", "40", "--prime", "the ", "--seed", "3", "--last"])
    assert capsys.readouterr().out.startswith("the ")


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
    short.write_text("abcdefghij" * 10)
    assert cli.main(["train", str(short)]) == 2
    assert "make rows of 2 for 32 streams, fewer than a window of 50" in capsys.readouterr().err
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a checkpoint")
    assert cli.main(["sample", str(junk)]) == 2
    assert "is not a crnn checkpoint (not an .npz archive)" in capsys.readouterr().err
    _, ck = train(corpus, tmp_path, "--iterations", "50")
    capsys.readouterr()
    assert cli.main(["sample", str(ck), "--prime", "XYZ"]) == 2
    assert "characters not in the vocabulary: 'XYZ'" in capsys.readouterr().err


def run_in_background(corpus, ck, *extra):
    """`crnn train` in a process of its own, once it has started training."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "crnn", "train", str(corpus), *RUN, "--iterations", "100000000",
         "--checkpoint", str(ck), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        # a run started in the background inherits SIGINT ignored: Ctrl-C's default back
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert process.stdout.readline().startswith("training on")
    time.sleep(1.5)
    return process


RUN = ["--hidden", "16", "--batch-size", "8", "--seq-length", "20", "--lr-schedule", "constant",
       "--eval-every", "0"]


def assert_resumes_exactly(corpus, tmp_path, ck):
    """Resumed to 10 iterations past where it stopped, the run ends as one
    that never stopped does, bit for bit."""
    stopped = checkpoint.load(ck).step
    end = str(stopped + 10)
    assert cli.main(["train", str(corpus), "--checkpoint", str(ck), "--resume",
                     "--iterations", end]) == 0
    whole = tmp_path / "whole.npz"
    assert cli.main(["train", str(corpus), *RUN, "--iterations", end, "--checkpoint",
                     str(whole)]) == 0
    np.testing.assert_array_equal(checkpoint.load(ck).rnn._param_flat,
                                  checkpoint.load(whole).rnn._param_flat)
    return stopped


@pytest.mark.parametrize("signal_number,status,word", [(signal.SIGINT, 130, "interrupted"),
                                                       (signal.SIGTERM, 143, "terminated")])
def test_a_signal_saves_the_run_and_it_resumes_exactly(corpus, tmp_path, signal_number, status,
                                                       word):
    ck = tmp_path / "model.npz"
    process = run_in_background(corpus, ck, "--checkpoint-every", "0")
    process.send_signal(signal_number)
    _, err = process.communicate(timeout=60)
    assert process.returncode == status, err
    assert f"{word} at iteration" in err and "continue with --resume" in err
    saved = checkpoint.load(ck)
    assert saved.step > 0 and len(saved.losses) == saved.step
    assert assert_resumes_exactly(corpus, tmp_path, ck) == saved.step


def test_a_killed_run_resumes_exactly_from_its_last_checkpoint(corpus, tmp_path):
    ck = tmp_path / "model.npz"
    process = run_in_background(corpus, ck, "--checkpoint-every", "7")
    process.kill()
    process.communicate(timeout=60)
    stopped = assert_resumes_exactly(corpus, tmp_path, ck)
    assert stopped > 0 and stopped % 7 == 0


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
    assert "--plot needs matplotlib, which is not installed: pip install 'crnn[plot]'" in \
        capsys.readouterr().err
    assert not (tmp_path / "l.png").exists()


def test_bench_command(capsys):
    assert cli.main(["bench", "--config", "seed", "--systems", "crnn", "--repeat", "3"]) == 0
    assert "seed API" in capsys.readouterr().out


def test_no_command_means_train_on_the_default_corpus(tmp_path, capsys):
    status = cli.main(["--hidden", "8", "--iterations", "20", "--sample-every", "0",
                       "--checkpoint", str(tmp_path / "m.npz")])
    out = capsys.readouterr().out
    assert status == 0 and "the docstrings of Python's standard library" in out
    assert "held-out" in out and "done: iteration 20" in out
    status = cli.main(["--corpus", "builtins", "--hidden", "8", "--batch-size", "4",
                       "--iterations", "5", "--checkpoint", str(tmp_path / "b.npz")])
    assert status == 0 and "the docstrings of Python's builtins" in capsys.readouterr().out


def test_train_a_stacked_relu_model_with_dropout(corpus, tmp_path, capsys):
    status, ck = train(corpus, tmp_path, "--iterations", "30", "--layers", "2", "--cell", "rnn",
                       "--lr-schedule", "constant",
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
    assert status == 2 and "--nonlinearity is the Elman RNN's; a" in capsys.readouterr().err


def test_every_option_says_what_it_does_and_its_default():
    commands = cli.parser()._subparsers._group_actions[0].choices
    for command in ("train", "sample"):
        parser = commands[command]
        for action in parser._actions:
            if action.option_strings and action.dest not in ("help", "resume", "last"):
                assert action.help, (command, action.dest)
                shown = parser.formatter_class("crnn")._get_help_string(action)
                if action.default is None:  # its help says what its absence means
                    assert "default: " in shown, (command, action.dest)
                else:
                    assert "(default: %(default)s)" in shown, (command, action.dest)


@pytest.mark.parametrize("argv,message", [
    (["train", "--checkpoint", "{tmp}/no/such/folder/x.npz"], r"argument --checkpoint: cannot "
     r"write .*/no/such/folder/x.npz: the folder .*/no/such/folder does not exist"),
    (["train", "--checkpoint", "{tmp}"], r"argument --checkpoint: .* is a folder, not a file"),
    (["train", "--plot", "{tmp}/missing/curves.png"], r"argument --plot: cannot write"),
    (["train", "--seed", "-1"], r"argument --seed: must be a seed, an integer 0 or more, got '-1'"),
    (["train", "--lr", "inf"], r"argument --lr: must be a positive finite number, got 'inf'"),
    (["train", "--lr", "nan"], r"argument --lr: must be a positive finite number, got 'nan'"),
    (["train", "--clip-norm", "inf"], r"argument --clip-norm: must be a positive finite number"),
    (["train", "--eval-every", "-5"], r"argument --eval-every: must be an integer, 0 or more, got '-5'"),
    (["train", "--hidden", "ten"], r"argument --hidden: must be an integer, at least 1, got 'ten'"),
    (["sample", "x.npz", "--seed", "-1"], r"argument --seed: must be a seed, an integer 0 or more"),
    (["sample", "x.npz", "--temperature", "inf"], r"argument --temperature: must be a positive "
                                                  r"finite number"),
    (["bench", "--systems", "bogus"], r"argument --systems: systems are a comma-separated "
                                      r"subset of crnn,numpy,torch,onnxruntime, got 'bogus'"),
    (["bench", "--json", "{tmp}/no/such/folder/bench.json"], r"argument --json: cannot write"),
])
def test_user_errors_are_refused_before_any_work(argv, message, tmp_path, capsys):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    with pytest.raises(SystemExit) as exit:
        cli.main(argv)
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert re.search(r"^crnn: error: argument ", err, re.M), err  # one line, after the usage
    assert "Traceback" not in err and os.listdir(tmp_path) == []


def test_errors_found_after_parsing_are_one_line_and_a_status(corpus, tmp_path, capsys):
    status = cli.main(["train", str(corpus), "--hidden", str(2**31 - 1), "--checkpoint",
                       str(tmp_path / "x.npz")])
    err = capsys.readouterr().err
    assert status == 2 and re.match(r"crnn: error: --hidden 2147483647 --layers 1: GRU\(.*\)'s "
                                    r"parameters and their gradients would take", err), err
    # a model without an output layer, saved with a vocabulary: no sampling
    import crnn
    headless = tmp_path / "headless.npz"
    checkpoint.save(headless, crnn.RNN(3, None, 4), vocabulary="abc")
    assert cli.main(["sample", str(headless)]) == 2
    assert re.match(r"crnn: error: .*headless.npz: sampling feeds each id drawn from the "
                    r"outputs back as the next input: it needs output_size == input_size",
                    capsys.readouterr().err)


def test_a_resume_of_a_tampered_run_is_refused_in_one_line(corpus, tmp_path, capsys):
    status, ck = train(corpus, tmp_path, "--iterations", "20", "--lr-schedule", "constant")
    assert status == 0
    capsys.readouterr()
    with np.load(ck) as data:
        arrays = {k: data[k] for k in data.files}
    for change, message in [
        ({"run/config": json.dumps({"cell": "gru"})}, "its run's configuration has no hidden"),
        ({"run/config": None}, r"its run's configuration has hidden 'a lot', which --hidden "
                               r"does not take"),
        ({"run/run": None}, r"its run is at window 10000 of \d+"),
    ]:
        tampered = dict(arrays)
        if change.get("run/config", 0) is None:
            config = json.loads(str(arrays["run/config"]))
            tampered["run/config"] = np.array(json.dumps({**config, "hidden": "a lot"}))
        elif change.get("run/run", 0) is None:
            record = json.loads(str(arrays["run/run"]))
            tampered["run/run"] = np.array(json.dumps({**record, "position": 10000}))
        else:
            tampered.update({k: np.array(v) for k, v in change.items()})
        np.savez(ck, **tampered)
        status, _ = train(corpus, tmp_path, "--iterations", "40", "--resume")
        err = capsys.readouterr().err
        assert status == 2 and re.search(message, err) and "Traceback" not in err, err


def test_convert_a_checkpoint_and_what_it_cannot_read(tmp_path, capsys):
    """crnn convert between crnn's own files (the Keras and ONNX ones are in
    test_keras_import.py and test_onnx_import.py), and its refusals."""
    import crnn
    model = crnn.GRU(3, 2, 4, bidirectional=True, many_to_one="final_states", seed=0)
    crnn.save_checkpoint(tmp_path / "a.npz", model)
    assert cli.main(["convert", str(tmp_path / "a.npz"), str(tmp_path / "b.npz")]) == 0
    assert "many_to_one='final_states'" in capsys.readouterr().out
    back = crnn.load_checkpoint(tmp_path / "b.npz").rnn
    np.testing.assert_array_equal(back._param_flat, model._param_flat)
    for argv, message in [
            (["a.txt", "b.npz"], r"a.txt: crnn convert reads .keras, .onnx, .npz files"),
            (["a.npz", "b.h5"], r"b.h5: crnn convert writes a crnn checkpoint \(.npz\) or an "
                                r"ONNX file"),
            (["absent.keras", "b.npz"], r"absent.keras -> .*b.npz: no such file"),
            (["absent.npz", "b.npz"], r"no such checkpoint: .*absent.npz")]:
        argv = [str(tmp_path / a) for a in argv]
        assert cli.main(["convert"] + argv) == 2
        assert re.search(message, capsys.readouterr().err)
    (tmp_path / "junk.onnx").write_bytes(b"\x00junk" * 20)
    pytest.importorskip("onnx")
    assert cli.main(["convert", str(tmp_path / "junk.onnx"), str(tmp_path / "c.npz")]) == 2
    assert "junk.onnx is not an ONNX model" in capsys.readouterr().err
    assert not (tmp_path / "c.npz").exists()
