"""The command line: ``crnn train``, ``crnn sample``, ``crnn convert``, ``crnn bench``. ::

    crnn train                 # a GRU on the standard library's docstrings, < 1 minute
    crnn train book.txt --iterations 100000 --minutes 60 --checkpoint book.npz
    crnn train book.txt --iterations 100000 --checkpoint book.npz --resume   # exactly
    crnn train --cell lstm --layers 2 --hidden 128   # an LSTM, two layers
    crnn train --corpus builtins --cell rnn          # the small corpus, an Elman RNN
    crnn sample book.npz --length 300 --temperature 0.8 --prime "The "
    crnn convert model.keras model.npz   # a Keras or ONNX file into a crnn checkpoint
    crnn convert model.npz model.onnx    # a crnn checkpoint into ONNX
    crnn bench --config charrnn

``python -m crnn`` is the same; with no command it runs ``train``.
"""
import argparse
import json
import signal
import sys
import time
import zlib

import numpy as np

from . import chartrain, checkpoint, corpus
from ._arguments import (HelpFormatter, Parser, non_negative_int, output_file, positive_float, positive_int,
                         probability, seed)
from .fit import OPTIMIZERS
from .rnn import CELLS
from .text import Vocabulary, builtins_documents, sample_text

__all__ = ["main"]


class CLIError(Exception):
    """A problem with what the user asked for: printed, exit status 2."""


def read_corpus(path, which="stdlib"):
    """(what it is, vocabulary, training ids, held-out ids). Without a path:
    the standard library's docstrings (or, ``which="builtins"``, the
    builtins'), every 20th document held out. A FILE: read
    twice in chunks (its characters, then their ids), so that only its ids
    (one or two bytes a character) are held; its last 5 %, from a line's
    start, is held out."""
    if path is None:
        documents = corpus.stdlib_documents() if which == "stdlib" else builtins_documents()
        train_text, held_text = corpus.split(documents)
        vocabulary = Vocabulary(train_text + held_text)
        dtype = _id_dtype(vocabulary)
        what = "standard library" if which == "stdlib" else "builtins"
        return (f"the docstrings of Python's {what} ({len(documents)} documents, "
                f"every 20th held out)", vocabulary, vocabulary.encode(train_text, dtype),
                vocabulary.encode(held_text, dtype))
    try:
        characters, count = set(), 0
        for chunk in _chunks(path):
            characters.update(chunk)
            count += len(chunk)
        if not count:
            raise CLIError(f"{path} is empty")
        vocabulary = Vocabulary(characters)
        ids, at = np.empty(count, dtype=_id_dtype(vocabulary)), 0
        for chunk in _chunks(path):
            vocabulary.encode(chunk, out=ids[at:at + len(chunk)])
            at += len(chunk)
    except FileNotFoundError:
        raise CLIError(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise CLIError(f"cannot read {path}: {error}") from None
    newline = vocabulary.characters.find("\n")
    cut = int(count * 0.95)
    if newline >= 0:  # the start of the line the cut falls in
        lines = np.flatnonzero(ids[:cut] == newline)
        cut = int(lines[-1]) + 1 if len(lines) and lines[-1] > count // 2 else cut
    return f"{path} (its last {count - cut:,} characters held out)", vocabulary, ids[:cut], ids[cut:]


def _chunks(path, size=1 << 24):
    with open(path, encoding="utf-8") as f:
        while True:
            chunk = f.read(size)
            if not chunk:
                return
            yield chunk


def _id_dtype(vocabulary):
    return np.uint8 if len(vocabulary) <= 256 else np.int32


def load_checkpoint(path):
    try:
        return checkpoint.load(path)
    except FileNotFoundError:
        raise CLIError(f"no such checkpoint: {path}") from None
    except ValueError as error:
        raise CLIError(str(error)) from None


class Progress:
    """A tqdm bar showing bits per character and characters per second, or,
    without tqdm, a line every so often."""

    def __init__(self, total, initial):
        self.total, self.count = total, initial
        self.last_line = 0.0
        self.figures = {}
        try:
            from tqdm import tqdm
        except ImportError:
            self.bar = None
            print("(pip install 'crnn[cli]' for a progress bar)", file=sys.stderr)
        else:
            self.bar = tqdm(total=total, initial=initial, unit="it", smoothing=0.1,
                            dynamic_ncols=True)

    def update(self, **figures):
        self.count += 1
        self.figures.update(figures)
        shown = " ".join(f"{k} {v}" for k, v in self.figures.items())
        if self.bar is not None:
            self.bar.update(1)
            if self.count % 20 == 0:
                self.bar.set_postfix_str(shown, refresh=False)
        elif time.perf_counter() - self.last_line > 2.0:
            self.last_line = time.perf_counter()
            self.write(f"iteration {self.count}/{self.total}  {shown}")

    def write(self, text):
        if self.bar is not None:
            self.bar.write(text)
        else:
            print(text, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


# the default run's settings, chosen by measurement (see the README): on the
# standard library's docstrings, one thread, a GRU reached 2.169 held-out
# bits per character in 47.9 s, an RNN 2.516 and an LSTM 2.510 in the same time
DEFAULTS = {"cell": "gru", "hidden": 256, "batch_size": 32, "seq_length": 50, "lr": 5e-3,
            "lr_schedule": "cosine", "iterations": 1800, "minutes": 0.9}

# what a run is: a resume must agree with all of these (--iterations too when
# the learning rate's schedule reads it)
CONFIGURATION = ("cell", "hidden", "layers", "nonlinearity", "dropout", "batch_size",
                 "seq_length", "optimizer", "lr", "lr_schedule", "clip_norm", "dtype", "seed")


def _configuration(args, vocabulary, train_ids):
    config = {key: getattr(args, key) for key in CONFIGURATION}
    config["corpus"] = [vocabulary.characters, len(train_ids),
                        zlib.crc32(np.ascontiguousarray(train_ids).view(np.uint8))]
    if args.lr_schedule != "constant":
        config["iterations"] = args.iterations
    return config


def _resume(args, resumed, vocabulary, train_ids, source):
    """The saved run's configuration in ``args``; CLIError naming the first
    option given now that differs from it."""
    if resumed.run is None or "config" not in resumed.run or "run" not in resumed.run:
        raise CLIError(f"{args.checkpoint} holds no training run to resume (a checkpoint of "
                       "an earlier crnn); train a new model instead of --resume")
    saved = _saved_configuration(args.checkpoint, json.loads(str(resumed.run["config"])))
    for key in CONFIGURATION:
        if key in saved and key in args.given and getattr(args, key) != saved[key]:
            raise CLIError(f"{args.checkpoint} has {key.replace('_', '-')} {saved[key]}, "
                           f"not {getattr(args, key)}: resume with its configuration, or "
                           "train a new model")
    for key in CONFIGURATION:
        setattr(args, key, saved[key])
    if saved["corpus"] != _configuration(args, vocabulary, train_ids)["corpus"]:
        raise CLIError(f"{args.checkpoint} was trained on another text than {source}; "
                       "train a new model instead of --resume")
    if "iterations" in saved and saved["iterations"] != args.iterations:
        if "iterations" in args.given:
            raise CLIError(f"{args.checkpoint} has iterations {saved['iterations']} (its "
                           f"{args.lr_schedule} schedule reads them), not {args.iterations}")
        args.iterations = saved["iterations"]
    return saved


def _saved_configuration(path, saved):
    """A checkpoint's run configuration, each option checked as the command
    line checks it (a hand-edited or foreign file is refused here, not half
    way into training)."""
    probe = argparse.ArgumentParser()
    _add_train_options(probe)
    actions = {action.dest: action for action in probe._actions}
    for key in CONFIGURATION + ("corpus",):
        if key not in saved:
            raise CLIError(f"{path}: its run's configuration has no {key}")
    for key in CONFIGURATION:
        action, value = actions[key], saved[key]
        try:
            ok = (type(value) in (int, float, str) and not isinstance(value, bool)
                  and (action.type is None or action.type(str(value)) == value)
                  and (action.choices is None or value in action.choices))
        except argparse.ArgumentTypeError:
            ok = False
        if not ok:
            raise CLIError(f"{path}: its run's configuration has {key} {value!r}, which "
                           f"--{key.replace('_', '-')} does not take")
    corpus = saved["corpus"]
    if not (isinstance(corpus, list) and len(corpus) == 3 and isinstance(corpus[0], str)
            and all(type(n) is int for n in corpus[1:])):
        raise CLIError(f"{path}: its run's configuration has no readable corpus record")
    if "iterations" in saved and (type(saved["iterations"]) is not int or saved["iterations"] < 1):
        raise CLIError(f"{path}: its run's configuration has iterations "
                       f"{saved['iterations']!r}")
    return saved


def _new_model(args, vocabulary):
    if args.cell != "rnn" and "nonlinearity" in args.given:
        article = "an" if args.cell == "lstm" else "a"
        raise CLIError(f"--nonlinearity is the Elman RNN's; {article} {args.cell.upper()} has "
                       "its own gates")
    options = {"nonlinearity": args.nonlinearity} if args.cell == "rnn" else {}
    try:
        return CELLS[args.cell](len(vocabulary), len(vocabulary), args.hidden,
                                num_layers=args.layers, dropout=args.dropout, dtype=args.dtype,
                                seed=args.seed, init="pytorch", **options)
    except ValueError as error:  # sizes beyond the limits or the machine's memory
        raise CLIError(f"--hidden {args.hidden} --layers {args.layers}: {error}") from None


def train(args):
    args.file = getattr(args, "file", None)
    source, vocabulary, train_ids, held_ids = read_corpus(args.file, args.corpus)
    resumed = None
    if args.resume:
        resumed = load_checkpoint(args.checkpoint)
        if resumed.vocabulary != vocabulary.characters:
            raise CLIError(f"{args.checkpoint} was trained on another alphabet than {source}; "
                           "train a new model instead of --resume")
        _resume(args, resumed, vocabulary, train_ids, source)
    try:
        streams = chartrain.Streams(train_ids, args.batch_size, args.seq_length)
    except ValueError as error:
        raise CLIError(f"{source}: {error}") from None
    held_out = held_ids if len(held_ids) > 16 else None
    model = resumed.rnn if resumed is not None else _new_model(args, vocabulary)
    optimizer = OPTIMIZERS[args.optimizer](model.parameters(), lr=args.lr)
    run = chartrain.RunState()
    if resumed is not None:
        if resumed.optimizer_state is not None:
            try:
                optimizer.load_state_dict(resumed.optimizer_state)
            except (TypeError, ValueError) as error:
                raise CLIError(f"{args.checkpoint}: {error}") from None
        run = chartrain.RunState.from_arrays(resumed.run, model)
        batch = None if run.state is None else (run.state[0] if isinstance(run.state, tuple)
                                                else run.state).shape[-2]
        if run.position >= streams.windows or batch not in (None, args.batch_size):
            raise CLIError(f"{args.checkpoint}: its run is at window {run.position} of "
                           f"{streams.windows}, with states of {batch} streams for "
                           f"--batch-size {args.batch_size}: it is not a run of this text")
    config = _configuration(args, vocabulary, train_ids)
    shape = (f"{type(model).__name__}, " + (f"{model.num_layers} layers of {model.hidden_size}"
                                            if model.num_layers > 1 else f"hidden {model.hidden_size}")
             + (f", {model.nonlinearity}" if model.cell == "rnn" and model.nonlinearity != "tanh" else "")
             + (f", dropout {model.dropout}" if model.dropout else ""))
    print(f"training on {source}: {len(train_ids):,} characters, {len(vocabulary)} distinct; "
          f"{shape}, {args.batch_size} streams, windows of {args.seq_length}, "
          f"{args.optimizer} lr {args.lr} ({args.lr_schedule}), {model.dtype.name}"
          + (f"; resuming at iteration {run.iteration}" if run.iteration else ""))

    def save():
        checkpoint.save(args.checkpoint, model, vocabulary=vocabulary.characters,
                        optimizer=optimizer, step=run.iteration, losses=run.losses,
                        run={**run.arrays(model), "config": np.array(json.dumps(config))})

    progress = Progress(args.iterations, run.iteration)
    started, characters_before = time.perf_counter(), run.characters

    def on_step(run, loss):
        rate = (run.characters - characters_before) / (time.perf_counter() - started)
        progress.update(train=f"{loss / chartrain.LN2:.3f} bpc", speed=f"{rate:,.0f} chars/s")
        if args.sample_every and run.iteration % args.sample_every == 0:
            sample = sample_text(model, vocabulary, vocabulary.decode(train_ids[:1]),
                                 args.sample_length, temperature=0.8, seed=run.iteration)
            progress.write(f"--- sample at iteration {run.iteration}:\n{sample}\n---")
        if args.checkpoint_every and run.iteration % args.checkpoint_every == 0:
            save()

    def on_evaluation(run, bits):
        progress.figures["held-out"] = f"{bits:.3f} bpc"
        progress.write(f"iteration {run.iteration}: training {_recent_bits(run):.3f} bpc, "
                       f"held-out {bits:.3f} bpc (best {run.best:.3f})")

    stop = _StopOnSignal()
    try:
        with stop:
            reason = chartrain.train(model, optimizer, streams, held_out, run,
                                     iterations=args.iterations, lr=args.lr,
                                     schedule=args.lr_schedule, clip_norm=args.clip_norm,
                                     minutes=args.minutes, eval_every=args.eval_every,
                                     on_step=on_step, on_evaluation=on_evaluation, stop=stop)
    except FloatingPointError as error:
        progress.close()
        print(f"crnn: training diverged at iteration {run.iteration}: {error}. The last "
              f"checkpoint ({args.checkpoint}) was kept; try a lower --lr.", file=sys.stderr)
        return 1
    save()
    progress.close()
    if reason == "stopped":
        print(f"\n{stop.name} at iteration {run.iteration}: saved {args.checkpoint}; "
              f"continue with --resume", file=sys.stderr)
        return 130 if stop.name == "interrupted" else 143
    seconds = time.perf_counter() - started
    recent = _recent_bits(run)
    held = f", held-out {run.evaluations[-1][1]:.3f} (best {run.best:.3f})" \
        if run.evaluations else ""
    print(f"done: iteration {run.iteration}" + (" (time budget)" if reason == "time" else "")
          + f", {(run.characters - characters_before) / seconds:,.0f} characters/s; bits per "
          f"character: training {recent:.3f}{held} (a uniform guess: "
          f"{np.log2(len(vocabulary)):.3f}); saved {args.checkpoint}")
    print(sample_text(model, vocabulary, vocabulary.decode(train_ids[:1]), args.sample_length,
                      temperature=0.8, seed=args.seed))
    if args.plot:
        plot_losses(run, args.plot)
    return 0


def _recent_bits(run):
    """The mean training loss of the last 100 iterations, in bits per character."""
    recent = run.losses[-100:]
    return float(np.mean(recent)) / chartrain.LN2 if recent else float("nan")


class _StopOnSignal:
    """Ctrl-C (SIGINT) or SIGTERM asks the run to stop after the iteration in
    progress, so that what is saved is a whole iteration's state; a second
    Ctrl-C stops at once."""

    def __init__(self):
        self.name, self.previous = None, {}

    def __enter__(self):
        for number in (signal.SIGINT, signal.SIGTERM):
            try:
                self.previous[number] = signal.signal(number, self._handle)
            except ValueError:  # not the main thread: no handler
                pass
        return self

    def __exit__(self, *exc):
        for number, handler in self.previous.items():
            signal.signal(number, handler)

    def _handle(self, number, frame):
        if self.name is not None and number == signal.SIGINT:
            raise KeyboardInterrupt
        self.name = "interrupted" if number == signal.SIGINT else "terminated"

    def __call__(self):
        return self.name is not None


def plot_losses(run, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        from ._optional import missing_message
        print(f"crnn: {missing_message('matplotlib', '--plot')}", file=sys.stderr)
        return
    from ._files import atomic_write
    losses = np.asarray(run.losses) / chartrain.LN2
    window = max(1, min(len(losses) // 50, 500))
    smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(np.arange(len(smooth)) + window, smooth, label="training")
    if run.evaluations:
        ax.plot(*np.array(run.evaluations).T, "o-", label="held-out")
    ax.set_xlabel("iteration")
    ax.set_ylabel("bits per character")
    ax.legend()
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=120))
    print(f"loss curves: {path}")


def sample(args):
    saved = load_checkpoint(args.checkpoint)
    if saved.vocabulary is None:
        raise CLIError(f"{args.checkpoint} has no vocabulary: it is not a text model")
    best = (saved.run or {}).get("best_parameters")
    if best is not None and not args.last:  # the model of the best held-out figure
        saved.rnn._param_flat[...] = best
    vocabulary = Vocabulary(saved.vocabulary)
    prime = args.prime if args.prime is not None else saved.vocabulary[0]
    unknown = sorted(set(prime) - set(saved.vocabulary))
    if not prime or unknown:
        raise CLIError(f"--prime {prime!r}: " + (
            f"characters not in the vocabulary: {''.join(unknown)!r} ({args.checkpoint} "
            f"has {saved.vocabulary!r})" if unknown else "give at least one character"))
    try:
        print(sample_text(saved.rnn, vocabulary, prime, args.length, args.temperature,
                          args.top_k, args.seed))
    except ValueError as error:  # a model sampling cannot run (sizes, no output layer)
        raise CLIError(f"{args.checkpoint}: {error}") from None
    return 0


# what crnn convert reads and writes, by the file's extension
READS = (".keras", ".onnx", ".npz")
WRITES = (".npz", ".onnx")


def convert(args):
    """A .keras, .onnx or crnn checkpoint (.npz) file into a crnn checkpoint
    or an ONNX file, by their extensions."""
    source, target = str(args.input), str(args.output)
    read, write = (next((e for e in extensions if name.lower().endswith(e)), None)
                   for name, extensions in ((source, READS), (target, WRITES)))
    if read is None:
        raise CLIError(f"{source}: crnn convert reads {', '.join(READS)} files (a Keras "
                       "model, an ONNX graph or a crnn checkpoint), by their extension")
    if write is None:
        raise CLIError(f"{target}: crnn convert writes a crnn checkpoint (.npz) or an ONNX "
                       "file (.onnx), by its extension")
    try:
        if read == ".keras":
            from .keras_import import from_keras
            model = from_keras(source, logits=args.logits)
        elif read == ".onnx":
            from .onnx_import import from_onnx
            model = from_onnx(source)
        else:
            model = load_checkpoint(source).rnn
        if write == ".npz":
            checkpoint.save(target, model)
        else:
            from . import onnx
            onnx.export(model, target, sequence_lens=model.mask_value is not None)
    except (ValueError, TypeError, NotImplementedError, ImportError, OSError) as error:
        raise CLIError(f"{source} -> {target}: {error}") from None
    print(f"{source} -> {target}: {model!r}")
    return 0


def _add_train_options(t):
    """The options of ``crnn train``, on parser ``t``."""
    t.add_argument("file", nargs="?", default=argparse.SUPPRESS,
                   help="a UTF-8 text file (default: the docstrings of Python's standard "
                        "library, gathered at run time; see --corpus)")
    t.add_argument("--corpus", choices=["stdlib", "builtins"], default="stdlib",
                   help="without a FILE: the standard library's docstrings (about 860 KB), or "
                        "the builtins' (about 30 KB)")
    t.add_argument("--cell", choices=sorted(CELLS), default=DEFAULTS["cell"],
                   help="the recurrent cell: rnn (Elman), lstm or gru")
    t.add_argument("--hidden", type=positive_int, default=DEFAULTS["hidden"], help="hidden size")
    t.add_argument("--layers", type=positive_int, default=1, help="stacked layers")
    t.add_argument("--nonlinearity", choices=["tanh", "relu"], default="tanh",
                   help="the Elman RNN's activation")
    t.add_argument("--dropout", type=probability, default=0.0,
                   help="dropout between layers, in [0, 1)")
    t.add_argument("--batch-size", type=positive_int, default=DEFAULTS["batch_size"],
                   help="streams through the text, each carrying its state")
    t.add_argument("--seq-length", type=positive_int, default=DEFAULTS["seq_length"],
                   help="characters per window (the steps of truncated BPTT)")
    t.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam",
                   help="the optimizer, with its defaults but the learning rate")
    t.add_argument("--lr", type=positive_float, default=DEFAULTS["lr"], help="learning rate")
    t.add_argument("--lr-schedule", choices=chartrain.SCHEDULES, default=DEFAULTS["lr_schedule"],
                   help="constant, or a cosine down to lr/10 at --iterations")
    t.add_argument("--clip-norm", type=positive_float, default=5.0,
                   help="the gradients' global norm at most this")
    t.add_argument("--iterations", type=positive_int, default=DEFAULTS["iterations"],
                   help="iterations in all (a resumed run counts those done)")
    t.add_argument("--minutes", type=positive_float, default=DEFAULTS["minutes"],
                   help="a time budget for this session's training, beside --iterations")
    t.add_argument("--eval-every", type=non_negative_int, default=500,
                   help="iterations between held-out evaluations (0: at the end only)")
    t.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                   help="the parameters' and computation's floating type")
    t.add_argument("--seed", type=seed, default=0,
                   help="the initial weights' and dropout's seed, an integer 0 or more")
    t.add_argument("--checkpoint", type=output_file, default="crnn-checkpoint.npz",
                   help="where the run is saved, atomically (its folder must exist)")
    t.add_argument("--checkpoint-every", type=non_negative_int, default=2000,
                   help="iterations between checkpoints (0: at the end only)")
    t.add_argument("--sample-every", type=non_negative_int, default=0,
                   help="iterations between samples (0: after training only)")
    t.add_argument("--sample-length", type=positive_int, default=200,
                   help="characters per sample")
    t.add_argument("--resume", action="store_true",
                   help="continue the run saved in --checkpoint, exactly")
    t.add_argument("--plot", metavar="FILE.png", type=output_file,
                   help="draw the training and held-out curves into this PNG (needs "
                        "matplotlib; default: none drawn)")


def parser():
    top = Parser(prog="crnn", description="Fast compiled recurrent networks: "
                 "Elman RNN, LSTM and GRU.")
    commands = top.add_subparsers(dest="command", parser_class=Parser)
    t = commands.add_parser("train", help="train a character-level RNN, LSTM or GRU on a "
                            "text", formatter_class=HelpFormatter)
    _add_train_options(t)
    s = commands.add_parser("sample", help="sample text from a checkpoint",
                            formatter_class=HelpFormatter)
    s.add_argument("checkpoint", help="a checkpoint of a text model, as crnn train saves it")
    s.add_argument("--length", type=positive_int, default=300,
                   help="characters to draw after the prime")
    s.add_argument("--temperature", type=positive_float, default=0.8,
                   help="divides the scores before the softmax: below 1 likelier text, above "
                        "1 more varied")
    s.add_argument("--top-k", type=positive_int, default=None,
                   help="draw from the k likeliest characters only (default: from all)")
    s.add_argument("--prime", default=None,
                   help="text to start from (default: the vocabulary's first character)")
    s.add_argument("--seed", type=seed, default=None,
                   help="the draw's seed, an integer 0 or more (default: a fresh draw each run)")
    s.add_argument("--last", action="store_true",
                   help="the model as training left it, not the best held-out one")
    c = commands.add_parser("convert", help="a Keras or ONNX model into a crnn checkpoint, "
                            "or a checkpoint into ONNX", formatter_class=HelpFormatter)
    c.add_argument("input", help="a .keras file (Keras 3; read with h5py), an .onnx file "
                                 "(needs onnx) or a crnn checkpoint (.npz)")
    c.add_argument("output", type=output_file,
                   help="a crnn checkpoint (.npz) or an ONNX file (.onnx), written atomically")
    c.add_argument("--logits", action="store_true",
                   help="a Keras model's final softmax or sigmoid is dropped: the model gives "
                        "its logits (without this, such a Dense is refused)")
    commands.add_parser("bench", help="the benchmark (python -m crnn.bench --help)",
                        add_help=False)
    return top


def main(argv=None):
    """Run ``crnn`` with the arguments ``argv`` (default: the command line's);
    returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        from . import bench
        return bench.main(argv[1:]) or 0
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = ["train"] + argv
    args = parser().parse_args(argv)
    if args.command == "train":
        # the options a resumed model must agree with, when the user gave them
        flags = {f"--{key.replace('_', '-')}": key for key in CONFIGURATION + ("iterations",)}
        args.given = {key for flag, key in flags.items()
                      if any(a == flag or a.startswith(flag + "=") for a in argv)}
    try:
        return {"train": train, "sample": sample, "convert": convert}[args.command](args)
    except CLIError as error:
        print(f"crnn: error: {error}", file=sys.stderr)
        return 2


def run():
    """The console script's entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
