"""A corpus of hostile checkpoints, built here (never committed): each is
refused with a ValueError naming the file and what is wrong, in a process
whose address space is capped (Linux), so that a file declaring terabytes can only
fail the test, never take the machine.

Each file is small (under a few KB but the good one it is cut from); what it
claims is absurd: sizes near the limits, a million layers, headers declaring
10**12 numbers, a zip entry claiming gigabytes from a kilobyte, pickles,
vocabularies and run entries that do not fit the model.
"""
import io
import json
import os
import re
import subprocess
import sys
import textwrap
import warnings
import zipfile

import numpy as np
import pytest

import crnn
from crnn import chartrain, checkpoint, optim

# the address space a refusal may take, beyond what the loading process has
# once Python, NumPy and crnn are imported (about 150 MB here; more where
# NumPy's BLAS starts a thread, and its stack, per core)
ADDRESS_SPACE = 400 << 20


def good_arrays(tmp_path):
    """The entries of a whole checkpoint: an LSTM of two layers, its Adam
    state, a vocabulary and a training run's state."""
    model = crnn.LSTM(4, 4, 6, num_layers=2, dtype=np.float32, seed=0)
    opt = optim.Adam(model.parameters(), lr=0.01)
    ids = np.array([[0, 1], [2, 3], [1, 0]])
    _, state = model.train_step(ids, ids, optimizer=opt)
    run = chartrain.RunState()
    run.iteration, run.state, run.losses = 1, state, [1.5]
    run.best_parameters = model._param_flat.copy()
    path = tmp_path / "good.npz"
    checkpoint.save(path, model, vocabulary="abcd", optimizer=opt, step=1, losses=[1.5],
                    run={**run.arrays(model), "config": np.array(json.dumps({"cell": "lstm"}))})
    with np.load(path) as data:
        return path, {k: data[k] for k in data.files}


def npy(descr, shape, data=b""):
    """An .npy entry whose header says ``descr`` and ``shape``, whatever ``data`` holds."""
    f = io.BytesIO()
    np.lib.format.write_array_header_1_0(f, {"descr": descr, "fortran_order": False,
                                             "shape": shape})
    return f.getvalue() + data


def write_zip(path, members, compression=zipfile.ZIP_STORED):
    with warnings.catch_warnings(), zipfile.ZipFile(path, "w", compression) as z:
        warnings.simplefilter("ignore", UserWarning)  # a name twice, on purpose
        for name, data in members:
            z.writestr(name, data)


def as_members(arrays):
    out = []
    for key, value in arrays.items():
        f = io.BytesIO()
        np.lib.format.write_array(f, np.asanyarray(value), allow_pickle=True)
        out.append((key + ".npy", f.getvalue()))
    return out


def corpus(tmp_path):
    """[(name, path, the message's pattern)], every file built here."""
    good_path, good = good_arrays(tmp_path)
    files = []

    def variant(name, message, change=None, members=None, compression=zipfile.ZIP_STORED):
        arrays = dict(good)
        if change is not None:
            change(arrays)
        path = tmp_path / f"{name}.npz"
        write_zip(path, members if members is not None else as_members(arrays), compression)
        files.append((name, path, message))

    def options(**changes):
        return lambda a: a.update(options=np.array(json.dumps(
            {**json.loads(str(a["options"])), **changes})))

    params_only_removed = {k: v for k, v in good.items() if not k.startswith("param/")}
    variant("a million layers, no parameters", r"num_layers must be a positive integer up to 1024",
            members=as_members({**params_only_removed, "options": np.array(json.dumps(
                {"num_layers": 10**6}))}))
    variant("10**5 layers", r"num_layers must be a positive integer up to 1024, got 100000",
            options(num_layers=10**5))
    variant("the largest sizes", r"sizes and options do not make a model: LSTM\(input_size="
            r"2147483647.*would take .* more than this machine's memory",
            lambda a: a.update(sizes=np.array([2**31 - 1] * 3)))
    variant("1024 layers of 2**20", r"would take .* more than this machine's memory",
            lambda a: a.update(sizes=np.array([2**20] * 3)) or options(num_layers=1024)(a))
    variant("sizes beyond a C int", r"sizes must be three integers in \[1, 2147483647\]",
            lambda a: a.update(sizes=np.array([4, 2**40, 4])))
    variant("negative sizes", r"sizes must be three integers",
            lambda a: a.update(sizes=np.array([-4, 6, 4])))
    variant("sizes as text", r"sizes must be three integers",
            lambda a: a.update(sizes=np.array(["4", "6", "4"])))
    variant("an unknown option", r"options must be a JSON object of \[", options(surprise=1))
    variant("a string for num_layers", r"options must be a JSON object", options(num_layers="2"))
    variant("a nonlinearity for an LSTM", r"options must be a JSON object", options(nonlinearity="relu"))
    variant("options not JSON", r"options are not JSON",
            lambda a: a.update(options=np.array("{num_layers: 2")))
    variant("a megabyte of options", r"options must be a text of at most 65536 characters",
            lambda a: a.update(options=np.array(" " * (1 << 20))))
    variant("an unknown cell", r"cell must be one of \['gru', 'lstm', 'rnn'\], got 'transformer'",
            lambda a: a.update(cell=np.array("transformer")))
    variant("a parameter declaring 10**12 numbers", r"entry 'param/Whh' declares float32 of "
            r"shape \(1000000, 1000000\), which its 16 bytes of data do not hold",
            members=[(k, npy("<f4", (10**6, 10**6), b"\0" * 16) if k == "param/Whh.npy" else v)
                     for k, v in as_members(good)])
    variant("a parameter of the wrong shape", r"param/Whh must be float32 of shape \(24, 6\), "
            r"got float32 of shape \(6, 24\)",
            lambda a: a.update({"param/Whh": np.zeros((6, 24), np.float32)}))
    variant("a parameter missing", r"it has no 'param/Whh_l1'", lambda a: a.pop("param/Whh_l1"))
    variant("a pickle", r"entry 'param/Wxh' holds object, not numbers or text",
            lambda a: a.update({"param/Wxh": np.array([{"code": "run me"}], dtype=object)}))
    members = as_members(good)
    variant("a zip entry claiming gigabytes", r"claims .* more than deflate can expand to|"
            r"not a readable crnn checkpoint", members=None, change=None)
    # (rewritten below: the size field of a deflated entry says 4 GB)
    variant("a version 3.0 header", r"is an .npy of version \(3, 0\)",
            members=[(k, v[:6] + b"\x03\x00" + v[8:] if k == "losses.npy" else v)
                     for k, v in members])
    variant("a member that is not an array", r"holds 'notes.txt', which is not one array",
            members=members + [("notes.txt", b"hello")])
    variant("one entry twice", r"holds 'step.npy', which is not one array",
            members=members + [("step.npy", members[0][1])])
    variant("an unsorted vocabulary", r"must be distinct and in sorted order",
            lambda a: a.update(vocabulary=np.array("dcba")))
    variant("a vocabulary longer than the inputs", r"vocabulary must be a text of at most 4 "
            r"characters|a vocabulary of 5 characters",
            lambda a: a.update(vocabulary=np.array("abcde")))
    variant("a step that is text", r"step must be one integer >= 0",
            lambda a: a.update(step=np.array("seven")))
    variant("a negative step", r"step must be one integer >= 0",
            lambda a: a.update(step=np.array(-1)))
    variant("losses as a matrix", r"losses must be numbers \(steps,\)",
            lambda a: a.update(losses=np.zeros((2, 2))))
    variant("an optimizer state of the wrong size", r"optimizer/state/m has shape \(3,\)",
            lambda a: a.update({"optimizer/state/m": np.zeros(3, np.float32)}))
    variant("an optimizer's NaN rate", r"optimizer state's lr must be a positive finite number, "
            r"got nan", lambda a: a.update({"optimizer/lr": np.array(np.nan)}))
    variant("an unknown optimizer", r"optimizer/type must be one of",
            lambda a: a.update({"optimizer/type": np.array("os.system")}))
    variant("best parameters of the wrong shape", r"run/best_parameters must be float32 of shape",
            lambda a: a.update({"run/best_parameters": np.zeros(3, np.float32)}))
    variant("best parameters in float64", r"run/best_parameters must be float32",
            lambda a: a.update({"run/best_parameters": a["run/best_parameters"].astype(np.float64)}))
    variant("a run record that is not JSON", r"run/run is not JSON",
            lambda a: a.update({"run/run": np.array("{")}))
    variant("a run record without a generator", r"run/run holds no state of the model's random "
            r"generator", lambda a: a.update({"run/run": np.array(json.dumps(
                {**json.loads(str(a["run/run"])), "rng": {"bit_generator": "MT19937"}}))}))
    variant("a negative iteration", r"run/run must give iteration as an integer >= 0",
            lambda a: a.update({"run/run": np.array(json.dumps(
                {**json.loads(str(a["run/run"])), "iteration": -5}))}))
    variant("a state of the wrong width", r"run/state_h must be float32 of shape \(2, B, 6\)",
            lambda a: a.update({"run/state_h": np.zeros((2, 2, 5), np.float32)}))
    variant("an LSTM's state without its cell", r"run/state_c is missing",
            lambda a: a.pop("run/state_c"))
    variant("an unknown run entry", r"run/ entries crnn does not write: \['script'\]",
            lambda a: a.update({"run/script": np.array("import os")}))
    variant("an unknown entry", r"holds entries a crnn checkpoint does not: \['surprise'\]",
            lambda a: a.update(surprise=np.zeros(3)))
    variant("a foreign format", r"is not a crnn-checkpoint-3 file",
            lambda a: a.update(format=np.array("pickle-1")))
    # the deflated entry whose size field claims 4 GB: patch the local and
    # central headers' uncompressed sizes of "losses.npy"
    name, path, message = files[[f[0] for f in files].index("a zip entry claiming gigabytes")]
    buffer = io.BytesIO()
    write_zip(buffer, members, zipfile.ZIP_DEFLATED)
    data = bytearray(buffer.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        info = z.getinfo("losses.npy")
    for offset in _size_fields(data, b"losses.npy", info):
        data[offset:offset + 4] = (2**32 - 1).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good_path.read_bytes()[:-100])
    files.append(("a truncated file", truncated, r"not a crnn checkpoint|not a readable crnn "
                                                 r"checkpoint"))
    return files


def _size_fields(data, name, info):
    """Offsets of the uncompressed-size fields of entry ``name`` in a zip's
    bytes: its local header's (at 22) and its central directory record's (at 24)."""
    local = data.find(b"PK\x03\x04")
    while local >= 0:
        if data[local + 30:local + 30 + len(name)] == name:
            yield local + 22
        local = data.find(b"PK\x03\x04", local + 4)
    central = data.find(b"PK\x01\x02")
    while central >= 0:
        if data[central + 46:central + 46 + len(name)] == name:
            yield central + 24
        central = data.find(b"PK\x01\x02", central + 4)


LOADER = textwrap.dedent("""
    import json, os, sys, time
    try:
        import resource
    except ImportError:  # Windows
        resource = None
    import crnn
    # ASan reserves terabytes of address space for its shadow: no cap there
    sanitized = "libasan" in os.environ.get("LD_PRELOAD", "")
    capped = resource is not None and not sanitized and os.path.exists("/proc/self/status")
    if capped:
        with open("/proc/self/status") as status:
            used = next(int(line.split()[1]) * 1024 for line in status
                        if line.startswith("VmSize:"))
        resource.setrlimit(resource.RLIMIT_AS, (used + {limit}, used + {limit}))
    results = []
    for path in sys.argv[1:]:
        start = time.perf_counter()
        try:
            crnn.load_checkpoint(path)
            outcome = ("loaded", "")
        except Exception as error:
            outcome = (type(error).__name__, str(error))
        results.append((path,) + outcome + (time.perf_counter() - start,))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss if resource else None
    print(json.dumps({{"results": results, "capped": capped, "peak": peak}}))
""")


def test_the_good_file_of_the_corpus_loads(tmp_path):
    path, _ = good_arrays(tmp_path)
    saved = crnn.load_checkpoint(path)
    assert saved.vocabulary == "abcd" and saved.run["state_h"].shape == (2, 2, 6)


def test_every_hostile_checkpoint_is_refused_in_a_capped_process(tmp_path):
    files = corpus(tmp_path)
    assert len(files) >= 40
    script = LOADER.format(limit=ADDRESS_SPACE)
    done = subprocess.run([sys.executable, "-c", script] + [str(p) for _, p, _ in files],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    slowest = max(r[3] for r in report["results"])
    print(f"\n{len(files)} hostile checkpoints refused; slowest {slowest * 1e3:.1f} ms"
          + (f", peak RSS {report['peak'] / 1024:.0f} MB"
             if report["peak"] and sys.platform.startswith("linux") else "")
          + (f", with {ADDRESS_SPACE >> 20} MB of address space beyond the imports"
             if report["capped"] else ", with no address-space cap here (ASan, or not Linux)"))
    for (name, path, pattern), (_, kind, message, _) in zip(files, report["results"]):
        assert kind == "ValueError", f"{name}: {kind}: {message}"
        assert str(path) in message, f"{name}: the message names no file: {message}"
        assert re.search(pattern, message), f"{name}: {message!r} !~ {pattern!r}"


def test_a_refused_save_writes_nothing_over_a_good_file(tmp_path):
    model = crnn.RNN(3, 3, 4, seed=0)
    path = tmp_path / "model.npz"
    crnn.save_checkpoint(path, model, vocabulary="abc")
    before = path.read_bytes()
    for kwargs, error, message in [
        (dict(vocabulary="abcd"), ValueError, "a vocabulary of 4 characters for input_size 3"),
        (dict(vocabulary="cba"), ValueError, "distinct and in sorted order"),
        (dict(vocabulary="aab"), ValueError, "distinct and in sorted order"),
        (dict(vocabulary=["a", "b", "c"]), TypeError, "vocabulary must be a string"),
        (dict(step=-1), ValueError, r"step must be an integer in \[0, "),
        (dict(step="7"), TypeError, "step must be a non-negative integer, got str"),
        (dict(losses=[[1.0]]), ValueError, "losses must be a list of numbers"),
        (dict(losses=["a"]), TypeError, "losses must hold real numbers"),
        (dict(optimizer="adam"), TypeError, "optimizer must be a crnn.optim optimizer"),
        (dict(optimizer=optim.SGD(crnn.RNN(3, 3, 5).parameters(), momentum=0.9)), ValueError,
         r"optimizer state 'state/velocity'|has shape"),
        (dict(run={"best_parameters": np.zeros(3)}), ValueError, "run/best_parameters must be"),
        (dict(run=[1, 2]), TypeError, "run must be a dict of arrays"),
    ]:
        with pytest.raises(error, match=message):
            crnn.save_checkpoint(path, model, **kwargs)
        assert path.read_bytes() == before
    with pytest.raises(TypeError, match="saves a crnn.RNN, LSTM or GRU, got str"):
        crnn.save_checkpoint(path, "abc")
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["model.npz"]
