"""The benchmark's own logic: configurations, FLOP counts, and a run of its
command line on the smallest configuration (correctness only; speed is
measured by running it, never in a test)."""
import io
import json
import sys

import numpy as np
import pytest

import crnn
from crnn import bench


def test_flops_count_every_product():
    # the performance issue's figure: 3.1 MFLOP for a char-RNN window
    assert bench.flops(25, 1, 65, 100, 65, backward=True) == 3_125_000
    T, B, I, H, O = 2, 3, 4, 5, 6
    assert bench.flops(T, B, I, H, O, backward=False) == 2 * T * B * (I * H + H * H + H * O)


@pytest.mark.parametrize("text,sizes", [("charrnn", (25, 1, 65, 100, 65)), ("3,2,5,7,4", (3, 2, 5, 7, 4))])
def test_configurations_by_name_or_sizes(text, sizes):
    assert bench.parse_config(text) == (text, sizes)


@pytest.mark.parametrize("text", ["huge", "1,2,3", "1,2,3,4,0", "a,b,c,d,e"])
def test_bad_configurations_are_refused(text):
    with pytest.raises(Exception, match="T,B,I,H,O"):
        bench.parse_config(text)


def test_a_run_writes_its_figures(tmp_path, capsys):
    out = tmp_path / "figures.json"
    bench.main(["--config", "seed", "--config", "4,2,3,5,2", "--systems", "crnn,numpy",
                "--repeat", "3", "--json", str(out)])
    printed = capsys.readouterr().out
    assert "seed API" in printed and "numpy reference" in printed
    record = json.loads(out.read_text())
    rows = {(r["config"], r["system"]): r for r in record["results"]}
    assert set(rows) == {("seed", "crnn"), ("seed", "crnn seed API"), ("seed", "numpy reference"),
                         ("4,2,3,5,2", "crnn"), ("4,2,3,5,2", "numpy reference")}
    for row in rows.values():
        assert row["fwd"] > 0 and row["fwd+bwd"] > 0
    crnn_row, numpy_row = rows[("4,2,3,5,2", "crnn")], rows[("4,2,3,5,2", "numpy reference")]
    assert crnn_row["fwd+bwd ratio"] == 1.0
    assert np.isclose(numpy_row["fwd+bwd ratio"], numpy_row["fwd+bwd"] / crnn_row["fwd+bwd"])
    assert record["threads"] == 1 and record["dtype"] == "float32"


def test_training_rates_are_measured(monkeypatch):
    ours, theirs = bench.training_rates(np.float32, repeat=1, iterations=20, numpy_iterations=3)
    assert ours > 0 and theirs > 0


def test_the_family_flags(tmp_path, capsys):
    out = tmp_path / "family.json"
    bench.main(["--config", "4,2,3,5,2", "--systems", "crnn,numpy", "--repeat", "3",
                "--layers", "2", "--bidirectional", "--lengths", "--json", str(out)])
    printed = capsys.readouterr().out
    record = json.loads(out.read_text())
    rows = {(r["config"], r["system"]) for r in record["results"]}
    assert rows == {(c, s) for c in ("4,2,3,5,2 L2 bi", "4,2,3,5,2 L2 bi len")
                    for s in ("crnn", "numpy reference")}
    assert "vs crnn, no lengths" in printed  # the overhead of lengths, judged
    # two layers, two directions: the second layer reads 2H features
    assert bench.flops(4, 2, 3, 5, 2, False, layers=2, directions=2) == \
        2 * 4 * 2 * (2 * 5 * 2 + 2 * (3 * 5 + 25) + 2 * (10 * 5 + 25))


def test_cells_and_the_recurrence_bound(tmp_path, capsys):
    out = tmp_path / "cells.json"
    bench.main(["--config", "4,1,3,5,2", "--systems", "crnn,numpy", "--repeat", "3",
                "--cell", "lstm", "--cell", "gru", "--bound", "--json", str(out)])
    printed = capsys.readouterr().out
    rows = {(r["config"], r["system"], r["cell"]) for r in json.loads(out.read_text())["results"]}
    assert rows == {(f"4,1,3,5,2 {c}", s, c) for c in ("lstm", "gru")
                    for s in ("crnn", "numpy reference")}
    assert "4,1,3,5,2 lstm" in printed and "forward per step" in printed
    # an LSTM's products have four gates' rows: four times the Elman cell's recurrence
    assert bench.flops(1, 1, 1, 5, 1, False, gates=4) - bench.flops(1, 1, 1, 5, 1, False) \
        == 2 * 3 * (1 * 5 + 5 * 5)


def test_batched_training_throughput(capsys):
    assert bench.training_flops_per_character(10, 4, 1) == 2 * 3 * (4 * 4 + 4 * 10)
    rate = bench.crnn_training_throughput("lstm", np.float32, iterations=2, repeat=1)
    assert rate > 0
    rows = [{"cell": "rnn", "crnn": 200.0, "crnn_2_threads": 300.0, "torch": 100.0,
             "peak_share": 0.8},
            {"cell": "lstm", "crnn": 100.0, "crnn_2_threads": None, "torch": None,
             "peak_share": 0.5}]
    targets = bench.print_throughputs(rows, "float32", sys.stdout)
    printed = capsys.readouterr().out
    assert "rnn   crnn 200 (80 % of peak), 2 threads 300 (1.50x); PyTorch 100 (2.00x)" in printed
    assert [(t["config"], t["peer"], t["met"]) for t in targets] == [
        ("training rnn", "% of peak", True), ("training rnn", "vs PyTorch", True),
        ("training rnn", "2 threads", False), ("training lstm", "% of peak", False)]


def test_pytorch_training_throughput():
    pytest.importorskip("torch")
    assert bench.torch_training_throughput("lstm", np.float32, iterations=2, repeat=1) > 0


def test_any_available_kernel_path_runs_and_is_restored(tmp_path, capsys):
    before = crnn.get_kernel()
    for kernel in crnn.available_kernels():
        bench.main(["--kernel", kernel, "--config", "4,2,3,5,2", "--systems", "crnn",
                    "--repeat", "2", "--json", str(tmp_path / "run.json")])
        assert f"kernel path {kernel}," in capsys.readouterr().out
        assert json.loads((tmp_path / "run.json").read_text())["kernel"] == kernel
        assert crnn.get_kernel() == before
    unavailable = set(crnn._core.kernel_names()) - set(crnn.available_kernels())
    for kernel in unavailable:
        with pytest.raises(SystemExit):
            bench.main(["--kernel", kernel])
        assert f"{kernel} is not available on this CPU" in capsys.readouterr().err


@pytest.mark.parametrize("path, blas, wanted", [
    ("avx2", "openblas SkylakeX", "OPENBLAS_CORETYPE=Haswell"),
    ("avx512", "openblas Haswell", "OPENBLAS_CORETYPE=SkylakeX"),
    ("avx2", "openblas Haswell", None), ("avx512", "openblas SapphireRapids", None),
    ("portable", "openblas Haswell", None), ("neon", "openblas NeoverseN1", None),
    ("avx2", None, None), ("avx2", "mkl Haswell", None)])
def test_a_peak_of_another_instruction_set_is_named(path, blas, wanted):
    """The peak beside crnn's figures is its own instruction set's, or the
    run says which variable makes it so."""
    note = bench.peak_isa_note(path, blas)
    if wanted is None:
        assert note is None
    else:
        assert wanted in note and path in note


def test_the_avx2_path_is_judged_by_its_own_targets():
    """On the AVX2 path the run judges issue 18's AVX2 targets (large at least
    1.3x PyTorch), not the default path's (1.1x)."""
    rows = [{"config": "large", "system": "torch", "lengths": False, "fwd+bwd ratio": 1.2},
            {"config": "large", "system": "crnn", "lengths": False, "fwd+bwd": 1.0}]
    judged = {path: [t for t in bench.check_targets(rows, "float32", 1, io.StringIO(), path)
                     if t["peer"] == "torch"] for path in ("avx512", "avx2")}
    assert [(t["target"], t["met"]) for t in judged["avx512"]] == [(1.1, True)]
    assert [(t["target"], t["met"]) for t in judged["avx2"]] == [(1.3, False)]


def test_figures_compared_are_timed_in_turns():
    """median_times runs its calls in turns (each warmed in its turn), so that
    what is compared is measured under the same load; a call's median is its
    own."""
    calls = []
    medians = bench.median_times({"a": lambda: calls.append("a"),
                                  "b": lambda: calls.append("b")}, repeat=4)
    assert set(medians) == {"a", "b"} and all(m >= 0 for m in medians.values())
    timed = calls[4:]  # after the two warm-up calls of each
    assert timed == ["a", "a", "b", "b"] * 4  # a turn: one untimed call, one timed


def test_lengths_and_two_threads_are_judged_against_crnn_in_the_same_turns(tmp_path, capsys):
    out = tmp_path / "bi.json"
    bench.main(["--config", "small", "--systems", "crnn", "--repeat", "3",
                "--bidirectional", "--lengths", "--json", str(out)])
    printed = capsys.readouterr().out
    record = json.loads(out.read_text())
    rows = {r["config"]: r for r in record["results"]}
    assert set(rows) == {"small bi", "small bi len"}
    assert rows["small bi len"]["fwd+bwd without lengths"] > 0
    judged = {(t["config"], t["peer"], t["measure"]) for t in record["targets"]}
    assert ("small bi len", "crnn, no lengths", "fwd+bwd") in judged
    if "fwd on 2 threads" in rows["small bi"]:  # a machine of two CPUs or more
        assert ("small bi", "crnn, 1 thread", "fwd, 2 threads") in judged
        assert "2 threads vs crnn, 1 thread" in printed
