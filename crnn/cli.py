"""The command line: ``crnn train``, ``crnn sample``, ``crnn bench``.

    crnn train                 # a char-RNN on the builtins' docstrings
    crnn train book.txt --iterations 100000 --checkpoint book.npz
    crnn train book.txt --checkpoint book.npz --resume
    crnn train --cell lstm --layers 2 --hidden 128   # an LSTM, two layers
    crnn sample book.npz --length 300 --temperature 0.8 --prime "The "
    crnn bench --config charrnn

``python -m crnn`` is the same; with no command it runs ``train``.
"""
import argparse
import sys
import time

import numpy as np

from . import checkpoint, optim
from .rnn import CELLS
from .text import Vocabulary, default_corpus, sample_text
from .training import windows


class CLIError(Exception):
    """A problem with what the user asked for: printed, exit status 2."""


def read_corpus(path):
    if path is None:
        return default_corpus(), "the docstrings of Python's builtins"
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise CLIError(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise CLIError(f"cannot read {path}: {error}") from None
    if not text:
        raise CLIError(f"{path} is empty")
    return text, path


def load_checkpoint(path):
    try:
        return checkpoint.load(path)
    except FileNotFoundError:
        raise CLIError(f"no such checkpoint: {path}") from None
    except ValueError as error:
        raise CLIError(str(error)) from None


class Progress:
    """A tqdm bar showing the loss and iterations per second, or, without
    tqdm, a line every so often."""

    def __init__(self, total, initial):
        self.total, self.count = total, initial
        self.start, self.last_line = time.perf_counter(), 0.0
        try:
            from tqdm import tqdm
        except ImportError:
            self.bar = None
            print("(pip install tqdm for a progress bar)", file=sys.stderr)
        else:
            self.bar = tqdm(total=total, initial=initial, unit="it", smoothing=0.1,
                            dynamic_ncols=True)

    def update(self, loss):
        self.count += 1
        if self.bar is not None:
            self.bar.update(1)
            if self.count % 50 == 0:
                self.bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
        elif time.perf_counter() - self.last_line > 2.0:
            self.last_line = time.perf_counter()
            self.write(f"iteration {self.count}/{self.total}  loss {loss:.3f}")

    def write(self, text):
        if self.bar is not None:
            self.bar.write(text)
        else:
            print(text, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def train(args):
    text, source = read_corpus(args.file)
    vocabulary = Vocabulary(text)
    resumed = None
    if args.resume:
        resumed = load_checkpoint(args.checkpoint)
        if resumed.vocabulary is None or not set(text) <= set(resumed.vocabulary):
            raise CLIError(f"{args.checkpoint} was trained on another alphabet than {source}; "
                           "train a new model instead of --resume")
        vocabulary = Vocabulary(resumed.vocabulary)
        saved = {"cell": resumed.rnn.cell, "hidden": resumed.rnn.hidden_size,
                 "layers": resumed.rnn.num_layers,
                 "nonlinearity": resumed.rnn.nonlinearity, "dropout": resumed.rnn.dropout}
        for option, value in saved.items():
            if option in args.given and getattr(args, option) != value:
                raise CLIError(f"{args.checkpoint} has {option.replace('hidden', 'hidden size')} "
                               f"{value}, not {getattr(args, option)}")
    ids = vocabulary.encode(text)
    if len(ids) < args.seq_length + 2:
        raise CLIError(f"{source} has {len(ids)} characters; windows of {args.seq_length} "
                       f"need at least {args.seq_length + 2}")
    if resumed is not None:
        rnn, step, losses = resumed.rnn, resumed.step, list(resumed.losses)
    else:
        if args.cell != "rnn" and "nonlinearity" in args.given:
            raise CLIError(f"--nonlinearity is the Elman RNN's; an {args.cell.upper()} has "
                           "its own gates")
        options = {"nonlinearity": args.nonlinearity} if args.cell == "rnn" else {}
        rnn = CELLS[args.cell](len(vocabulary), len(vocabulary), args.hidden,
                               num_layers=args.layers, dropout=args.dropout, dtype=args.dtype,
                               seed=args.seed, **options)
        step, losses = 0, []
    opt = optim.Adagrad(rnn.parameters(), lr=args.lr, eps=1e-8)
    if resumed is not None and resumed.optimizer_state is not None:
        opt.load_state_dict(resumed.optimizer_state)
    shape = (f"{type(rnn).__name__}, " + (f"{rnn.num_layers} layers of {rnn.hidden_size}"
                                          if rnn.num_layers > 1 else f"hidden {rnn.hidden_size}")
             + (f", {rnn.nonlinearity}" if rnn.cell == "rnn" and rnn.nonlinearity != "tanh" else "")
             + (f", dropout {rnn.dropout}" if rnn.dropout else ""))
    print(f"training on {source}: {len(ids):,} characters, {len(vocabulary)} distinct; "
          f"{shape}, windows of {args.seq_length}, Adagrad lr {args.lr}, "
          f"{rnn.dtype.name}" + (f"; resuming at iteration {step}" if step else ""))

    def save():
        checkpoint.save(args.checkpoint, rnn, vocabulary=vocabulary.characters,
                        optimizer=opt, step=step, losses=losses)

    def show_sample():
        sample = sample_text(rnn, vocabulary, text[0], args.sample_length, temperature=0.8,
                             seed=step)
        progress.write(f"--- sample at iteration {step}:\n{sample}\n---")

    progress = Progress(args.iterations, step)
    h = None
    # the windows restart at the text's start after a resume: a fresh state
    batches = windows(ids, args.seq_length)
    try:
        while step < args.iterations:
            inputs, targets, fresh = next(batches)
            try:
                loss, h = rnn.train_step(inputs, targets, h0=None if fresh else h,
                                         optimizer=opt, clip=5.0)
            except FloatingPointError as error:
                progress.close()
                print(f"crnn: training diverged at iteration {step}: {error}. The last "
                      f"checkpoint ({args.checkpoint}) was kept; try a lower --lr.",
                      file=sys.stderr)
                return 1
            step += 1
            losses.append(loss / args.seq_length)
            progress.update(losses[-1])
            if args.sample_every and step % args.sample_every == 0:
                show_sample()
            if args.checkpoint_every and step % args.checkpoint_every == 0:
                save()
    except KeyboardInterrupt:
        save()
        progress.close()
        print(f"\ninterrupted at iteration {step}: saved {args.checkpoint}; "
              f"continue with --resume", file=sys.stderr)
        return 130
    progress.close()
    save()
    recent = np.mean(losses[-min(len(losses), 500):]) if losses else float("nan")
    print(f"done: iteration {step}, loss per character {recent:.3f} (a uniform guess: "
          f"{np.log(len(vocabulary)):.3f}); saved {args.checkpoint}")
    print(sample_text(rnn, vocabulary, text[0], args.sample_length, temperature=0.8,
                      seed=args.seed))
    if args.plot:
        plot_losses(losses, args.plot)
    return 0


def plot_losses(losses, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("crnn: --plot needs matplotlib: pip install matplotlib", file=sys.stderr)
        return
    from ._files import atomic_write
    window = max(1, min(len(losses) // 50, 500))
    smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(np.arange(len(smooth)) + window, smooth)
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss per character")
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=120))
    print(f"loss curve: {path}")


def sample(args):
    saved = load_checkpoint(args.checkpoint)
    if saved.vocabulary is None:
        raise CLIError(f"{args.checkpoint} has no vocabulary: it is not a text model")
    vocabulary = Vocabulary(saved.vocabulary)
    prime = args.prime if args.prime is not None else saved.vocabulary[0]
    try:
        print(sample_text(saved.rnn, vocabulary, prime, args.length, args.temperature,
                          args.top_k, args.seed))
    except ValueError as error:
        raise CLIError(f"the prime cannot be read by this model: {error}") from None
    return 0


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def probability(text):
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {value}")
    return value


def parser():
    top = argparse.ArgumentParser(prog="crnn", description="Fast compiled recurrent networks: "
                                  "Elman RNN, LSTM and GRU.")
    commands = top.add_subparsers(dest="command")
    t = commands.add_parser("train", help="train a character-level RNN, LSTM or GRU on a "
                            "text file")
    t.add_argument("file", nargs="?", help="a UTF-8 text file (default: the builtins' docstrings)")
    t.add_argument("--cell", choices=sorted(CELLS), default="rnn",
                   help="the recurrent cell: rnn (Elman), lstm or gru (default rnn)")
    t.add_argument("--hidden", type=positive_int, default=100)
    t.add_argument("--layers", type=positive_int, default=1, help="stacked layers (default 1)")
    t.add_argument("--nonlinearity", choices=["tanh", "relu"], default="tanh",
                   help="the Elman RNN's activation (default tanh)")
    t.add_argument("--dropout", type=probability, default=0.0,
                   help="dropout between layers, in [0, 1) (default 0)")
    t.add_argument("--seq-length", type=positive_int, default=25)
    t.add_argument("--lr", type=positive_float, default=0.1)
    t.add_argument("--iterations", type=positive_int, default=50000)
    t.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--checkpoint", default="crnn-checkpoint.npz")
    t.add_argument("--checkpoint-every", type=int, default=10000)
    t.add_argument("--sample-every", type=int, default=10000)
    t.add_argument("--sample-length", type=positive_int, default=200)
    t.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    t.add_argument("--plot", metavar="FILE.png", help="draw the loss curve (needs matplotlib)")
    s = commands.add_parser("sample", help="sample text from a checkpoint")
    s.add_argument("checkpoint")
    s.add_argument("--length", type=positive_int, default=300)
    s.add_argument("--temperature", type=positive_float, default=0.8)
    s.add_argument("--top-k", type=positive_int, default=None)
    s.add_argument("--prime", default=None, help="text to start from (default: its first character)")
    s.add_argument("--seed", type=int, default=None)
    commands.add_parser("bench", help="the benchmark (python -m crnn.bench --help)",
                        add_help=False)
    return top


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        from . import bench
        return bench.main(argv[1:]) or 0
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = ["train"] + argv
    args = parser().parse_args(argv)
    if args.command == "train":
        # the options a resumed model must agree with, when the user gave them
        args.given = {option for option in ("cell", "hidden", "layers", "nonlinearity", "dropout")
                      if any(a == f"--{option}" or a.startswith(f"--{option}=") for a in argv)}
    try:
        return {"train": train, "sample": sample}[args.command](args)
    except CLIError as error:
        print(f"crnn: error: {error}", file=sys.stderr)
        return 2


def run():
    """The console script's entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
