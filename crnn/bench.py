"""The benchmark: crnn against plain NumPy, PyTorch and ONNX Runtime. ::

    python -m crnn.bench                       # every configuration, float32, 1 thread
    python -m crnn.bench --config charrnn --config 10,4,8,16,8 --dtype float64
    python -m crnn.bench --threads 2 --json out.json --plot out.png
    python -m crnn.bench --config charrnn --layers 2 --bidirectional --lengths
    python -m crnn.bench --cell lstm --cell gru --config small

Each system gets the same weights and inputs. ``--cell`` (rnn, lstm, gru;
repeatable), ``--layers``, ``--bidirectional`` and ``--lengths`` (each
sequence's length drawn uniformly from [T/2, T]; PyTorch then runs
``pack_padded_sequence``, ONNX Runtime ``sequence_lens``) change the model; a
row's configuration names them ("medium lstm L2 bi len"). Times are medians
of repeated runs, measured in one process, the systems of a configuration in
turns (one call of each, then the next round), so that ratios compare figures
taken under the same load; ratios are a peer's median over crnn's. With
``--lengths``, crnn without lengths is timed in the same turns, and with
``--bidirectional`` on one thread, crnn on two threads (its directions at
once), each judged against crnn. Forward alone is inference: crnn's model in
eval mode, PyTorch under ``inference_mode``; forward+backward is a training
forward and BPTT from dY to every parameter gradient (no input gradient).
Forward is the recurrence and the output layer at every step. GFLOP/s count
2 FLOP per multiply-add of the products; "% peak" is against the machine's
own matrix-multiply rate, measured here in the same run with the same number
of threads.

Optional peers, each imported only if installed: torch (nn.RNN, nn.LSTM or
nn.GRU + nn.Linear), onnxruntime with onnx (the RNN, LSTM or GRU operator +
MatMul/Add; forward only, float32 only: ONNX Runtime has no float64 RNN
kernel), threadpoolctl (to hold NumPy's
BLAS to --threads), matplotlib (for --plot).
"""
import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

import numpy as np

from . import RNN, _core, reference
from ._arguments import Parser, output_file, positive_int
from ._checks import MAX_LAYERS, MAX_SIZE, check_memory
from ._files import atomic_write
from .rnn import CELLS
from .layers import Layout

__all__ = ["main"]

CONFIGS = {  # T, B, I, H, O
    "seed": (3, 1, 3, 3, 2),
    "charrnn": (25, 1, 65, 100, 65),
    "small": (100, 1, 32, 64, 32),
    "medium": (100, 32, 64, 256, 64),
    "large": (50, 64, 256, 1024, 256),
}

# (configuration, peer, measure, dtype, threads, at least this many times faster)
TARGETS = [
    ("charrnn", "torch", "fwd+bwd", "float32", 1, 20),
    ("small", "torch", "fwd+bwd", "float32", 1, 30),
    ("charrnn", "onnxruntime", "fwd", "float32", 1, 2.5),
    ("small", "onnxruntime", "fwd", "float32", 1, 3),
    ("medium", "torch", "fwd+bwd", "float32", 1, 1.5),
    ("large", "torch", "fwd+bwd", "float32", 1, 1.1),
    ("large", "torch", "fwd+bwd", "float32", 2, 1.1),
    ("charrnn", "torch", "fwd+bwd", "float64", 1, 12),
    ("small", "torch", "fwd+bwd", "float64", 1, 20),
    ("medium", "torch", "fwd+bwd", "float64", 1, 1.5),
    ("large", "torch", "fwd+bwd", "float64", 1, 1.1),
]
# the Elman family's issue, on models beyond one layer and direction
TARGETS += [
    ("charrnn L2", "torch", "fwd+bwd", "float32", 1, 15),
    ("small bi", "torch", "fwd+bwd", "float32", 1, 20),
    ("medium L2", "torch", "fwd+bwd", "float32", 1, 1.5),
    ("medium len", "torch", "fwd+bwd", "float32", 1, 5),
]
# the gated cells' issue: against nn.LSTM / nn.GRU and ONNX Runtime's operators
for _cell, _torch_factor in (("lstm", 4), ("gru", 10)):
    TARGETS += [
        (f"charrnn {_cell}", "torch", "fwd+bwd", "float32", 1, _torch_factor),
        (f"small {_cell}", "torch", "fwd+bwd", "float32", 1, _torch_factor),
        (f"charrnn {_cell}", "onnxruntime", "fwd", "float32", 1, 1.5),
        (f"small {_cell}", "onnxruntime", "fwd", "float32", 1, 1.5),
        (f"medium {_cell}", "torch", "fwd+bwd", "float32", 1, 1.5),
        (f"large {_cell}", "torch", "fwd+bwd", "float32", 1, 1.1),
    ]
# the gated cells at the Elman RNN's fraction of peak: the forward alone as apps
# infer it, and lengths through PyTorch's packed sequences
TARGETS += [
    ("medium lstm", "torch", "fwd", "float32", 1, 1.3),
    ("medium lstm", "onnxruntime", "fwd", "float32", 1, 1.3),
    ("medium gru", "onnxruntime", "fwd", "float32", 1, 1.3),
    ("medium lstm len", "torch", "fwd+bwd", "float32", 1, 5),
    ("medium gru len", "torch", "fwd+bwd", "float32", 1, 5),
]
# the AVX2 path's, with every system held to AVX2 (ISA_VARIABLES), judged in
# place of the others when crnn runs that path
AVX2_TARGETS = [
    ("large", "torch", "fwd+bwd", "float32", 1, 1.3),
    ("large", "numpy reference", "fwd+bwd", "float32", 1, 1.6),
    ("medium", "torch", "fwd+bwd", "float32", 1, 2),
    ("charrnn", "torch", "fwd+bwd", "float32", 1, 20),
    ("medium lstm", "torch", "fwd+bwd", "float32", 1, 1.6),
    ("medium gru", "torch", "fwd+bwd", "float32", 1, 1.6),
]
# crnn with lengths against crnn without, on the same configuration: at most 5 % slower
LENGTHS_OVERHEAD_TARGET = 1.05
SEED_API_TARGET_US = 5.0
# a small bidirectional model (one sequence) on two threads, its directions at
# once, against one thread
DIRECTIONS_TWO_THREADS_TARGET = 1.5
TRAINING_TARGET = 15  # crnn's char-RNN training iterations per second over the NumPy loop's
# batched character training (H = 256, B = 32, T = 50, Adam, clip 5), per cell:
# crnn's characters/s over PyTorch's, and crnn's share of the matmul peak
THROUGHPUT_TARGET, PEAK_SHARE_TARGET, TWO_THREADS_TARGET = 1.8, 0.75, 1.6
THROUGHPUT = {"hidden": 256, "batch": 32, "window": 50}


def flops(T, B, I, H, O, backward, layers=1, directions=1, gates=1):
    """2 FLOP per multiply-add. Forward, per row: each layer and direction
    IN*GH + H*GH (IN = I, then D*H; GH = gates*H: 4H for an LSTM, 3H for a
    GRU), and D*H*O for the output layer. Backward adds 2*D*H*O (dY Why,
    dWhy), 2*H*GH per layer and direction (recurrence, dWhh), IN*GH (dWxh),
    and IN*GH more above the first layer (its dX)."""
    DH, GH = directions * H, gates * H
    forward = DH * O
    extra = 2 * DH * O
    for k in range(layers):
        IN = I if k == 0 else DH
        forward += directions * (IN * GH + H * GH)
        extra += directions * (2 * H * GH + IN * GH + (IN * GH if k else 0))
    return 2 * T * B * (forward + (extra if backward else 0))


def median_times(runs, repeat, budget=2.0):
    """Median seconds of each ``runs[key]()``, timed in turns: two warm-up
    calls each, then rounds of one timed call each, ``repeat`` in all (fewer,
    at least 3, for a call that takes long). On a shared machine the load
    changes from one second to the next: in turns, the figures compared with
    each other are measured under the same load (measured here: crnn with
    lengths against crnn without, timed one after the other, gave 0.89 and
    1.11 of its time in two runs of the same code). A call of under 50 ms
    runs once untimed in its turn first, so that it is timed on its own data
    in cache, not on what the call before it left there (measured: crnn's
    small bidirectional forward, 85 us alone, took 140 us after PyTorch's)."""
    counts, short = {}, {}
    for key, run in runs.items():
        run()
        start = time.perf_counter()
        run()
        first = time.perf_counter() - start
        counts[key] = max(3, min(repeat, math.ceil(budget / max(first, 1e-9))))
        short[key] = first < 0.05
    times = {key: [] for key in runs}
    for round_ in range(max(counts.values(), default=0)):
        for key, run in runs.items():
            if round_ < counts[key]:
                if short[key]:
                    run()
                start = time.perf_counter()
                run()
                times[key].append(time.perf_counter() - start)
    return {key: statistics.median(values) for key, values in times.items()}


def median_time(run, repeat, budget=2.0):
    """Median seconds of ``run()`` (median_times of one)."""
    return median_times({None: run}, repeat, budget)[None]


# ---- the systems: each returns {"fwd": callable, "fwd+bwd": callable} or None

def crnn_model(layout, params, dtype):
    """A crnn model of ``layout`` (its cell) with the parameters ``params`` (by name)."""
    rnn = CELLS[layout.cell](layout.input_size, layout.output_size, layout.hidden_size,
                             num_layers=layout.num_layers,
                             bidirectional=layout.directions == 2, dtype=dtype)
    for name, value in params.items():
        rnn.parameters()[name][...] = value
    return rnn


def crnn_system(layout, params, X, dY, lengths, dtype):
    """crnn's forward alone as apps infer (a model in eval mode), and a
    training forward and backward."""
    rnn, inferring = crnn_model(layout, params, dtype), crnn_model(layout, params, dtype).eval()

    def forward():
        inferring.forward_batch(X, lengths=lengths)

    def forward_backward():
        rnn.forward_batch(X, lengths=lengths)
        rnn.backward_batch(dY)

    return {"fwd": forward, "fwd+bwd": forward_backward}


def crnn_seed_api_system(layout, params, X, dY, lengths, dtype):
    """The seed notebook's API: one sequence, output from the last step."""
    if X.shape[1] != 1 or lengths is not None:
        return None
    rnn = crnn_model(layout, params, dtype)
    inputs = list(X[:, 0])
    d_y = dY[-1, 0][:, None]

    def forward():
        rnn.forward(inputs)

    def forward_backward():
        rnn.forward(inputs)
        rnn.backward(d_y, learning_rate=0.0)

    return {"fwd": forward, "fwd+bwd": forward_backward}


def reference_system(layout, params, X, dY, lengths, dtype):
    def forward():
        reference.output(params, reference.forward(params, X, lengths=lengths), lengths)

    def forward_backward():
        reference.output(params, reference.forward(params, X, lengths=lengths), lengths)
        reference.backward(params, X, dY, lengths=lengths)

    return {"fwd": forward, "fwd+bwd": forward_backward}


def torch_system(layout, params, X, dY, lengths, dtype):
    """nn.RNN, nn.LSTM or nn.GRU + nn.Linear; with lengths, through
    pack_padded_sequence, as PyTorch runs variable lengths; the forward alone
    under inference_mode, as PyTorch infers."""
    try:
        import torch
    except ImportError:
        return None
    rnn, linear = crnn_model(layout, params, dtype).to_torch()
    X_t, dY_t = torch.from_numpy(X), torch.from_numpy(dY)
    parameters = list(rnn.parameters()) + list(linear.parameters())
    pack = torch.nn.utils.rnn.pack_padded_sequence
    unpack = torch.nn.utils.rnn.pad_packed_sequence
    lengths_t = None if lengths is None else torch.from_numpy(lengths)

    def run():
        if lengths_t is None:
            return linear(rnn(X_t)[0])
        packed = pack(X_t, lengths_t, enforce_sorted=False)
        return linear(unpack(rnn(packed)[0], total_length=X.shape[0])[0])

    def forward():
        with torch.inference_mode():
            run()

    def forward_backward():
        for p in parameters:
            p.grad = None
        run().backward(dY_t)

    return {"fwd": forward, "fwd+bwd": forward_backward}


def on_threads(threads, runs):
    """``runs`` with crnn on ``threads`` threads for each call, then back to one."""
    def wrapped(run):
        def on():
            _core.set_num_threads(threads)
            try:
                run()
            finally:
                _core.set_num_threads(1)
        return on
    return {measure: wrapped(run) for measure, run in runs.items()}


def onnxruntime_system(layout, params, X, dY, lengths, dtype, threads):
    if dtype != np.float32:
        return None
    try:
        import onnxruntime
        from .onnx import build_model
    except ImportError:
        return None
    try:
        model = build_model(crnn_model(layout, params, dtype), lengths is not None)
    except ImportError:
        return None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(model.SerializeToString(), options,
                                           providers=["CPUExecutionProvider"])
    feed = {"X": X}
    if lengths is not None:
        feed["sequence_lens"] = lengths.astype(np.int32)

    def forward():
        session.run(None, feed)

    return {"fwd": forward}


# ---- the machine ----------------------------------------------------------

def limit_threads(threads):
    """Hold every system to ``threads``; returns what NumPy's BLAS is held by."""
    _core.set_num_threads(threads)
    try:
        import torch
        torch.set_num_threads(threads)
    except ImportError:
        pass
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(limits=threads)


def matmul_peak(dtype, threads):
    """The best GFLOP/s of a square matrix product here: NumPy's BLAS (held
    to ``threads`` when threadpoolctl is installed) and PyTorch's."""
    n = 1024
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n)).astype(dtype), rng.standard_normal((n, n)).astype(dtype)
    rates = {"numpy": 2 * n**3 / median_time(lambda: a @ b, 7) / 1e9}
    try:
        import torch
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        rates["torch"] = 2 * n**3 / median_time(lambda: torch.mm(ta, tb), 7) / 1e9
    except ImportError:
        pass
    return rates


def blas_kernel():
    """The kernel NumPy's BLAS runs (OpenBLAS's core type, e.g. "Haswell" or
    "SkylakeX"), as threadpoolctl reads it; None without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    for library in threadpool_info():
        if library.get("user_api") == "blas":
            return f"{library.get('internal_api')} {library.get('architecture')}"
    return None


# what holds crnn, PyTorch and NumPy's BLAS to one instruction set: a run's
# JSON records those set
ISA_VARIABLES = ("CRNN_KERNEL", "ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS",
                 "ONEDNN_MAX_CPU_ISA", "OPENBLAS_CORETYPE")

# OpenBLAS's x86 core types by the widest instruction set their kernels use
BLAS_CORE_ISA = {"Haswell": "avx2", "Zen": "avx2", "SkylakeX": "avx512",
                 "Cooperlake": "avx512", "SapphireRapids": "avx512"}


def peak_isa_note(path, blas):
    """A line saying so when NumPy's BLAS (``blas``, as blas_kernel names it)
    runs another instruction set than crnn's kernel ``path``, so that the
    peak beside crnn's figures would not be its own; else None."""
    core = blas.split()[-1] if blas else None
    isa = BLAS_CORE_ISA.get(core)
    if isa is None or path not in BLAS_CORE_ISA.values() or isa == path:
        return None
    wanted = next(name for name, kind in BLAS_CORE_ISA.items() if kind == path)
    return (f"note: crnn runs its {path} path, NumPy's BLAS its {core} ({isa}) kernels: for "
            f"the same instruction set's peak, run with OPENBLAS_CORETYPE={wanted}")


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# ---- running --------------------------------------------------------------

SYSTEMS = ("crnn", "numpy", "torch", "onnxruntime")


def parse_systems(text):
    """The systems named in ``text``, comma-separated, as a set."""
    systems = set(text.split(","))
    unknown = sorted(systems - set(SYSTEMS))
    if unknown or not systems:
        raise argparse.ArgumentTypeError(f"systems are a comma-separated subset of "
                                         f"{','.join(SYSTEMS)}, got {text!r}")
    return systems


def parse_config(text):
    if text in CONFIGS:
        return text, CONFIGS[text]
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        sizes = ()
    if len(sizes) != 5 or min(sizes) < 1 or max(sizes) > MAX_SIZE:
        raise argparse.ArgumentTypeError(
            f"a configuration is one of {', '.join(CONFIGS)} or T,B,I,H,O (five integers in "
            f"[1, {MAX_SIZE}]), got {text!r}")
    T, B, I, H, O = sizes
    try:  # inputs, outputs and states of every system, and the weights: a few copies each
        check_memory(8 * (4 * T * B * (I + O + 4 * H) + 4 * (I + H + O) * 4 * H),
                     f"the configuration {text}")
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text, sizes


def variant_name(name, layers, bidirectional, lengths, cell="rnn"):
    """A configuration's name with the model's variant: "medium lstm L2 bi len"."""
    return name + (f" {cell}" if cell != "rnn" else "") + (f" L{layers}" if layers > 1 else "") \
        + (" bi" if bidirectional else "") + (" len" if lengths else "")


def random_parameters(layout, dtype, rng):
    """Well-conditioned weights of ``layout``: inputs O(1), a stable recurrence."""
    params = {}
    for p in layout.parameters:
        scale = {"Wxh": 0.5 / math.sqrt(p.shape[1]), "Whh": 0.9 / math.sqrt(p.shape[1]),
                 "Why": 1 / math.sqrt(p.shape[1])}.get(p.role, 0.1)
        params[p.name] = (rng.standard_normal(p.shape) * scale).astype(dtype)
    return params


def benchmark(name, sizes, dtype, threads, repeat, systems, layers=1, bidirectional=False,
              lengths=False, cell="rnn"):
    T, B, I, H, O = sizes
    rng = np.random.default_rng(0)
    layout = Layout(I, H, O, layers, bidirectional, cell=cell)
    params = random_parameters(layout, dtype, rng)
    X = rng.standard_normal((T, B, I)).astype(dtype)
    dY = rng.standard_normal((T, B, O)).astype(dtype)
    seq_lengths = rng.integers(max(T // 2, 1), T + 1, size=B) if lengths else None
    args = (layout, params, X, dY, seq_lengths, dtype)
    makers = {
        "crnn": lambda: crnn_system(*args),
        "crnn seed API": lambda: crnn_seed_api_system(*args) if name == "seed" and cell == "rnn"
        else None,
        "numpy reference": lambda: reference_system(*args),
        "torch": lambda: torch_system(*args),
        "onnxruntime": lambda: onnxruntime_system(*args, threads),
    }
    if lengths:  # crnn without lengths too, timed in turns with the rest
        makers["crnn, no lengths"] = lambda: crnn_system(layout, params, X, dY, None, dtype)
    if bidirectional and threads == 1 and (os.cpu_count() or 1) >= 2:
        makers["crnn, 2 threads"] = lambda: on_threads(2, crnn_system(*args))
    label = variant_name(name, layers, bidirectional, lengths, cell)
    systems_runs = {}
    for system, make in makers.items():
        if system.split()[0].rstrip(",") in systems:
            runs = make()
            if runs is not None:
                systems_runs[system] = runs
    times = median_times({(system, measure): run for system, runs in systems_runs.items()
                          for measure, run in runs.items()}, repeat)
    rows = []
    for system, runs in systems_runs.items():
        if system.startswith("crnn, "):  # figures of the crnn row
            continue
        row = {"config": label, "sizes": sizes, "system": system, "cell": cell, "layers": layers,
               "bidirectional": bidirectional, "lengths": bool(lengths)}
        for measure in runs:
            row[measure] = times[system, measure]
            for other, key in (("crnn, no lengths", "without lengths"),
                               ("crnn, 2 threads", "on 2 threads")):
                if system == "crnn" and (other, measure) in times:
                    row[f"{measure} {key}"] = times[other, measure]
        rows.append(row)
    base = next((r for r in rows if r["system"] == "crnn"), None)
    directions = 2 if bidirectional else 1
    for row in rows:
        for measure in ("fwd", "fwd+bwd"):
            if measure in row:
                row[f"{measure} GFLOP/s"] = flops(*sizes, measure == "fwd+bwd", layers,
                                                  directions, layout.gates) / row[measure] / 1e9
                if base is not None and measure in base:
                    row[f"{measure} ratio"] = row[measure] / base[measure]
    return rows


def format_time(seconds):
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def print_table(rows, peak, out):
    width = max([9] + [len(r["config"]) for r in rows])
    header = (f"{'config':{width}s} {'system':16s} {'fwd':>10s} {'x crnn':>7s} {'fwd+bwd':>10s} "
              f"{'x crnn':>7s} {'GFLOP/s':>8s} {'% peak':>7s}")
    print(header, file=out)
    print("-" * len(header), file=out)
    for row in rows:
        fwd_ratio, both_ratio = (f"{row[m]:.2f}" if m in row else "-"
                                 for m in ("fwd ratio", "fwd+bwd ratio"))
        rate = row.get("fwd+bwd GFLOP/s", row.get("fwd GFLOP/s"))
        print(f"{row['config']:{width}s} {row['system']:16s} {format_time(row.get('fwd')):>10s} "
              f"{fwd_ratio:>7s} {format_time(row.get('fwd+bwd')):>10s} {both_ratio:>7s} "
              f"{rate:8.1f} {100 * rate / peak:6.1f}%", file=out)


def check_targets(rows, dtype, threads, out, kernel=None):
    """Each target of the performance issues these rows can judge, for crnn's
    kernel path: met or missed."""
    found = []
    for config, peer, measure, target_dtype, target_threads, factor in (
            AVX2_TARGETS if kernel == "avx2" else TARGETS):
        if target_dtype != dtype or target_threads != threads:
            continue
        row = next((r for r in rows if r["config"] == config and r["system"] == peer), None)
        if row is None or f"{measure} ratio" not in row:
            continue
        ratio = row[f"{measure} ratio"]
        found.append({"config": config, "peer": peer, "measure": measure, "target": factor,
                      "ratio": ratio, "met": ratio >= factor})
    for row in rows:  # crnn with lengths against itself without them, timed in turns
        if row["system"] == "crnn" and "fwd+bwd without lengths" in row and threads == 1:
            slower = row["fwd+bwd"] / row["fwd+bwd without lengths"]
            found.append({"config": row["config"], "peer": "crnn, no lengths",
                          "measure": "fwd+bwd", "target": f"<= {LENGTHS_OVERHEAD_TARGET}",
                          "ratio": slower, "met": slower <= LENGTHS_OVERHEAD_TARGET})
    for row in rows:  # a bidirectional model on two threads against one
        if row["system"] == "crnn" and "fwd on 2 threads" in row and row["config"].startswith(
                "small") and threads == 1:
            for measure in ("fwd", "fwd+bwd"):
                faster = row[measure] / row[f"{measure} on 2 threads"]
                found.append({"config": row["config"], "peer": "crnn, 1 thread",
                              "measure": f"{measure}, 2 threads",
                              "target": DIRECTIONS_TWO_THREADS_TARGET, "ratio": faster,
                              "met": faster >= DIRECTIONS_TWO_THREADS_TARGET})
    seed = next((r for r in rows if r["system"] == "crnn seed API"), None)
    if seed is not None and dtype == "float32":
        found.append({"config": "seed", "peer": "seed API", "measure": "fwd+bwd",
                      "target": f"< {SEED_API_TARGET_US} us", "ratio": seed["fwd+bwd"] * 1e6,
                      "met": seed["fwd+bwd"] * 1e6 < SEED_API_TARGET_US})
    if found:
        print("\ntargets (crnn faster than the peer by at least the target factor):", file=out)
        for t in found:
            verdict = "met" if t["met"] else "MISSED"
            what = (f"{t['ratio']:.1f} us" if t["peer"] == "seed API"
                    else f"{t['ratio']:.3f} of its time (target {t['target']})"
                    if t["peer"] == "crnn, no lengths"
                    else f"{t['ratio']:.2f}x (target {t['target']}x)")
            print(f"  {t['config']:14s} {t['measure']:8s} vs {t['peer']:16s} {what:36s} {verdict}",
                  file=out)
    return found


def draw(rows, ax):
    """On matplotlib's ``ax``, for each configuration, how many times crnn's
    time each peer takes (log scale; above 1: crnn is faster), like with
    like: forward+backward, or the forward where the peer has no backward
    (ONNX Runtime)."""
    configs = list(dict.fromkeys(r["config"] for r in rows))
    peers = [s for s in dict.fromkeys(r["system"] for r in rows) if s != "crnn"]
    width = 0.8 / max(len(peers), 1)
    for i, system in enumerate(peers):
        mine = {r["config"]: r for r in rows if r["system"] == system}
        measure = "fwd+bwd" if any("fwd+bwd ratio" in r for r in mine.values()) else "fwd"
        values = [mine.get(config, {}).get(f"{measure} ratio", np.nan) for config in configs]
        ax.bar(np.arange(len(configs)) + i * width, values, width, label=f"{system}, {measure}")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(np.arange(len(configs)) + 0.4 - width / 2, configs)
    ax.set_yscale("log")
    ax.set_ylabel("the peer's time / crnn's")


def plot(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        from ._optional import missing_message
        raise SystemExit(missing_message("matplotlib", "--plot")) from None
    configs = list(dict.fromkeys(r["config"] for r in rows))
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(configs), 4.5))
    draw(rows, ax)
    ax.legend()
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=120))


def recurrence_bound(cell, sizes, dtype, repeat):
    """For one sequence (B = 1), where each step streams the recurrent weights
    (G*H, H) from the cache they fit in: crnn's time per step (the forward at
    2T less the forward at T, over T: the recurrence, and each step's share
    of the input projection and output layer) and the time of NumPy's BLAS for the
    same product, Whh times a vector, with Whh in the same cache (the bound:
    reading Whh once). Returns (per step, bound), in seconds."""
    T, _, I, H, O = sizes
    layout = Layout(I, H, O, cell=cell)
    rng = np.random.default_rng(0)
    model = crnn_model(layout, random_parameters(layout, dtype, rng), dtype)
    short, long = (rng.standard_normal((n, 1, I)).astype(dtype) for n in (T, 2 * T))
    per_step = (median_time(lambda: model.forward_batch(long), repeat)
                - median_time(lambda: model.forward_batch(short), repeat)) / T
    # the same product at BLAS's speed: Whh (G*H, H) times a vector, 1000
    # times over in one call (a stack of views of the same array, so the
    # weights stay in their cache and the call's overhead is spread)
    Whh = model.parameters()["Whh"]
    stack, h = np.broadcast_to(Whh, (1000,) + Whh.shape), rng.standard_normal(H).astype(dtype)
    return per_step, median_time(lambda: np.matmul(stack, h), repeat) / 1000


def training_flops_per_character(V, H, gates):
    """2 FLOP per multiply-add of a character model's training step, per
    character: the recurrence H*GH and output layer H*V forward, twice each
    backward (the input's gradient and the weights'). One-hot inputs are a
    gather and a scatter: no product."""
    return 2 * 3 * (H * gates * H + H * V)


def _throughput_data():
    """A character text's streams and its vocabulary size, for the throughput."""
    from .chartrain import Streams
    from .text import Vocabulary, default_corpus
    text = default_corpus()
    vocabulary = Vocabulary(text)
    ids = vocabulary.encode(text, np.uint8)
    return Streams(ids, THROUGHPUT["batch"], THROUGHPUT["window"]), len(vocabulary)


def crnn_training_throughput(cell, dtype, iterations=40, repeat=3, data=None):
    """Characters per second of crnn's batched training step (the main job's:
    crnn.chartrain.step), median of ``repeat`` runs of ``iterations``; ``data``
    as _throughput_data gives it (read-only), made when None."""
    from .chartrain import RunState, step
    from .optim import Adam
    streams, V = data or _throughput_data()
    model = CELLS[cell](V, V, THROUGHPUT["hidden"], dtype=dtype, init="pytorch", seed=0)
    optimizer, run = Adam(model.parameters(), lr=1e-3), RunState()

    def once():
        step(model, optimizer, streams, run, lr=1e-3, schedule="constant", iterations=1,
             clip_norm=5.0)

    seconds = median_time(lambda: [once() for _ in range(iterations)], repeat)
    return iterations * THROUGHPUT["batch"] * THROUGHPUT["window"] / seconds


def torch_training_throughput(cell, dtype, iterations=20, repeat=3, data=None):
    """The same step in PyTorch: nn.RNN or nn.LSTM on one-hot inputs, an
    nn.Linear, cross-entropy, clip_grad_norm_, Adam; None without torch."""
    try:
        import torch
    except ImportError:
        return None
    streams, V = data or _throughput_data()
    tdtype = torch.float32 if dtype == np.float32 else torch.float64
    kind = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    recurrent = kind(V, THROUGHPUT["hidden"]).to(tdtype)
    linear = torch.nn.Linear(THROUGHPUT["hidden"], V).to(tdtype)
    parameters = list(recurrent.parameters()) + list(linear.parameters())
    optimizer = torch.optim.Adam(parameters, lr=1e-3)
    state = {"h": None, "position": 0}

    def once():
        x, y = streams.window(state["position"])
        state["position"] = (state["position"] + 1) % streams.windows
        inputs = torch.nn.functional.one_hot(torch.from_numpy(x), V).to(tdtype)
        out, h = recurrent(inputs, state["h"])
        loss = torch.nn.functional.cross_entropy(linear(out).reshape(-1, V),
                                                 torch.from_numpy(y).reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 5.0)
        optimizer.step()
        state["h"] = tuple(s.detach() for s in h) if isinstance(h, tuple) else h.detach()

    seconds = median_time(lambda: [once() for _ in range(iterations)], repeat)
    return iterations * THROUGHPUT["batch"] * THROUGHPUT["window"] / seconds


def training_throughputs(dtype, peak):
    """Per cell: crnn on one and two threads, PyTorch on one, characters/s;
    the rows of the batched-training table and its targets."""
    rows, data = [], _throughput_data()  # one text for every measurement
    V = data[1]
    before = _core.get_num_threads()
    try:
        for cell in ("rnn", "lstm"):
            _core.set_num_threads(1)
            one = crnn_training_throughput(cell, dtype, data=data)
            theirs = torch_training_throughput(cell, dtype, data=data)
            two = None
            if os.cpu_count() >= 2 and _core.set_num_threads(2) == 2:
                two = crnn_training_throughput(cell, dtype, data=data)
            share = one * training_flops_per_character(V, THROUGHPUT["hidden"],
                                                       Layout(1, 1, 1, cell=cell).gates) / 1e9 / peak
            rows.append({"cell": cell, "crnn": one, "crnn_2_threads": two, "torch": theirs,
                         "peak_share": share})
    finally:
        _core.set_num_threads(before)
    return rows


def print_throughputs(rows, dtype_name, out):
    print(f"\nbatched character training ({dtype_name}, hidden {THROUGHPUT['hidden']}, "
          f"{THROUGHPUT['batch']} streams, windows of {THROUGHPUT['window']}, Adam, clip 5), "
          "characters/s:", file=out)
    targets = []
    for r in rows:
        two = "-" if r["crnn_2_threads"] is None else \
            f"{r['crnn_2_threads']:,.0f} ({r['crnn_2_threads'] / r['crnn']:.2f}x)"
        theirs = "-" if r["torch"] is None else f"{r['torch']:,.0f} ({r['crnn'] / r['torch']:.2f}x)"
        print(f"  {r['cell']:5s} crnn {r['crnn']:,.0f} ({100 * r['peak_share']:.0f} % of peak), "
              f"2 threads {two}; PyTorch {theirs}", file=out)
        checks = [("% of peak", r["peak_share"], PEAK_SHARE_TARGET)]
        if r["torch"] is not None:
            checks.append(("vs PyTorch", r["crnn"] / r["torch"], THROUGHPUT_TARGET))
        if r["crnn_2_threads"] is not None:
            checks.append(("2 threads", r["crnn_2_threads"] / r["crnn"], TWO_THREADS_TARGET))
        for what, value, target in checks:
            targets.append({"config": f"training {r['cell']}", "peer": what, "measure": "chars/s",
                            "target": target, "ratio": value, "met": value >= target})
            print(f"    {what:10s} {value:.2f} (target {target}): "
                  f"{'met' if value >= target else 'MISSED'}", file=out)
    return targets


def training_rates(dtype, repeat=3, iterations=2000, numpy_iterations=300):
    """Iterations per second of the classic char-RNN training (hidden 100,
    windows of 25, Adagrad 0.1, clip 5, on the builtins' docstrings): crnn's
    train_step against min-char-rnn's NumPy loop (crnn.reference)."""
    from .optim import Adagrad
    from .text import Vocabulary, default_corpus
    from .training import windows
    text = default_corpus()
    vocabulary = Vocabulary(text)
    ids, V = vocabulary.encode(text), len(vocabulary)

    def crnn_rate():
        rnn = RNN(V, V, 100, dtype=dtype, seed=0)
        opt = Adagrad(rnn.parameters(), lr=0.1, eps=1e-8)
        h, start = None, time.perf_counter()
        for _, (x, y, fresh) in zip(range(iterations), windows(ids, 25)):
            _, h = rnn.train_step(x, y, h0=None if fresh else h, optimizer=opt, clip=5.0)
        return iterations / (time.perf_counter() - start)

    def numpy_rate():
        params = RNN(V, V, 100, seed=0).parameters()
        start = time.perf_counter()
        reference.min_char_rnn(ids, V, params, numpy_iterations)
        return numpy_iterations / (time.perf_counter() - start)

    return (statistics.median(crnn_rate() for _ in range(repeat)),
            statistics.median(numpy_rate() for _ in range(repeat)))


def main(argv=None):
    """Run ``python -m crnn.bench`` with the arguments ``argv`` (default: the
    command line's) and print its tables."""
    parser = Parser(prog="python -m crnn.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--config", action="append", type=parse_config,
                        help="a configuration name or T,B,I,H,O; repeatable (default: all)")
    parser.add_argument("--threads", type=positive_int, default=1,
                        help="threads for every system (default 1)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--repeat", type=positive_int, default=30,
                        help="timed runs per figure, at most")
    parser.add_argument("--systems", type=parse_systems, default=",".join(SYSTEMS),
                        help=f"comma-separated subset of {','.join(SYSTEMS)}")
    parser.add_argument("--json", metavar="FILE", type=output_file,
                        help="also write the figures as JSON")
    parser.add_argument("--plot", metavar="FILE.png", type=output_file,
                        help="draw the times (needs matplotlib)")
    parser.add_argument("--kernel", choices=_core.kernel_names(),
                        help="crnn's kernel path (default: the widest this CPU runs; "
                             "CRNN_KERNEL sets it too)")
    parser.add_argument("--cell", action="append", choices=sorted(CELLS),
                        help="the recurrent cell, rnn, lstm or gru; repeatable (default rnn)")
    parser.add_argument("--layers", type=positive_int, default=1,
                        help="stacked layers (default 1)")
    parser.add_argument("--bidirectional", action="store_true", help="both directions")
    parser.add_argument("--lengths", action="store_true",
                        help="also run each configuration with lengths uniform in [T/2, T]")
    parser.add_argument("--bound", action="store_true",
                        help="also time each one-sequence configuration's recurrence per step "
                             "against streaming its recurrent weights")
    parser.add_argument("--training", action="store_true",
                        help="also time char-RNN training against min-char-rnn's NumPy loop, "
                             "and batched character training against PyTorch")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if args.layers > MAX_LAYERS:
        parser.error(f"argument --layers: at most {MAX_LAYERS}, got {args.layers}")
    if args.kernel is not None and args.kernel not in _core.available_kernels():
        parser.error(f"argument --kernel: {args.kernel} is not available on this CPU; "
                     f"available: {', '.join(_core.available_kernels())}")
    systems = args.systems  # a set: --systems's type parsed it (its default too)
    configs = args.config or list(CONFIGS.items())
    dtype = np.dtype(args.dtype).type

    threads_before, kernel_before = _core.get_num_threads(), _core.get_kernel()
    limiter = limit_threads(args.threads)
    try:
        if args.kernel is not None:
            _core.set_kernel(args.kernel)
        run(args, argv, configs, systems, dtype, limiter)
    finally:  # main() may be called from a program that goes on
        _core.set_num_threads(threads_before)
        _core.set_kernel(kernel_before)
        if limiter is not None:
            limiter.restore_original_limits()


def run(args, argv, configs, systems, dtype, limiter):
    peaks = matmul_peak(dtype, args.threads)
    peak = max(peaks.values())
    kernel = _core.get_kernel()
    print(f"crnn {sys.modules['crnn'].__version__}, kernel path {kernel}, {args.dtype}, "
          f"{args.threads} thread(s); {cpu_name()}, {os.cpu_count()} CPUs")
    blas = blas_kernel()
    print("matrix-multiply peak here: " + ", ".join(f"{k} {v:.1f}" for k, v in peaks.items())
          + " GFLOP/s" + (f" (NumPy's BLAS: {blas})" if blas else "")
          + ("" if limiter is not None else
             " (NumPy's BLAS not held to --threads: pip install threadpoolctl)"))
    note = peak_isa_note(kernel, blas)
    if note:
        print(note)
    used = _core.get_num_threads()
    print(f"crnn was built without OpenMP: it runs on {used} thread\n" if used != args.threads else "")
    rows = []
    for cell in args.cell or ["rnn"]:
        for name, sizes in configs:
            for lengths in ([False, True] if args.lengths else [False]):
                rows += benchmark(name, sizes, dtype, args.threads, args.repeat, systems,
                                  args.layers, args.bidirectional, lengths, cell)
    print_table(rows, peak, sys.stdout)
    targets = check_targets(rows, args.dtype, args.threads, sys.stdout, kernel)
    if args.bound:
        print("\nforward per step, one sequence (at 2T less at T: the recurrence and a step's "
              "projections), against NumPy's BLAS for Whh times a vector (Whh read once):")
        for cell in args.cell or ["rnn"]:
            for name, sizes in configs:
                if sizes[1] == 1:
                    step, bound = recurrence_bound(cell, sizes, dtype, args.repeat)
                    print(f"  {variant_name(name, 1, False, False, cell):14s} "
                          f"{format_time(step):>9s} per step, BLAS {format_time(bound):>9s} "
                          f"({bound / step:.0%} of crnn's step)")
    if args.training:
        ours, theirs = training_rates(dtype)
        print(f"\nchar-RNN training ({args.dtype}, hidden 100, windows of 25, Adagrad, clip 5): "
              f"crnn {ours:,.0f} it/s, min-char-rnn's NumPy loop {theirs:,.0f} it/s: "
              f"{ours / theirs:.1f}x (target {TRAINING_TARGET}x): "
              f"{'met' if ours / theirs >= TRAINING_TARGET else 'MISSED'}")
        targets.append({"config": "char-RNN training", "peer": "NumPy loop", "measure": "it/s",
                        "target": TRAINING_TARGET, "ratio": ours / theirs,
                        "met": ours / theirs >= TRAINING_TARGET,
                        "crnn_it_per_s": ours, "numpy_it_per_s": theirs})
        throughput = training_throughputs(dtype, peak)
        targets += print_throughputs(throughput, args.dtype, sys.stdout)
    if args.json:
        peers = {name: getattr(sys.modules.get(name), "__version__", None)
                 for name in ("torch", "onnxruntime")}
        record = {"command": " ".join(["python -m crnn.bench"] + list(argv)),
                  "environment": {name: os.environ[name] for name in ISA_VARIABLES
                                  if name in os.environ},
                  "date": time.strftime("%Y-%m-%d"),
                  "machine": {"cpu": cpu_name(), "cpus": os.cpu_count(),
                              "python": platform.python_version(), "numpy": np.__version__,
                              **{name: v for name, v in peers.items() if v is not None}},
                  "kernel": kernel, "blas_kernel": blas,
                  "dtype": args.dtype, "threads": args.threads,
                  "matmul_peak_gflops": peaks, "results": rows, "targets": targets}
        atomic_write(args.json, lambda f: f.write(json.dumps(record, indent=1).encode()))
    if args.plot:
        plot(rows, args.plot)


if __name__ == "__main__":
    main()
