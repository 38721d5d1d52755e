"""The command lines' argument types (``crnn`` and ``python -m crnn.bench``):
each refuses what it cannot take with a message argparse prints as
``error: argument --x: ...`` and exit status 2, never a traceback."""
import argparse
import math
import sys

from ._files import check_writable


class Parser(argparse.ArgumentParser):
    """argparse's parser, its errors one ``crnn: error: ...`` line after the
    usage, as every other user error of the command line (a subcommand's
    parser would say ``crnn train: error:``)."""

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(2, f"crnn: error: {message}\n")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's default in its help, but None's and False's (the
    help says what their absence means)."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def _checked(text, kind, fits, wanted):
    """``text`` read as ``kind``, refused unless ``fits(value)``: it must be ``wanted``."""
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not fits(value):
        raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}")
    return value


def positive_int(text):
    return _checked(text, int, lambda n: n >= 1, "an integer, at least 1")


def non_negative_int(text):
    return _checked(text, int, lambda n: n >= 0, "an integer, 0 or more")


def seed(text):
    """A generator's seed: NumPy takes integers 0 and up."""
    return _checked(text, int, lambda n: n >= 0, "a seed, an integer 0 or more")


def positive_float(text):
    return _checked(text, float, lambda x: 0 < x < math.inf, "a positive finite number")


def probability(text):
    return _checked(text, float, lambda x: 0 <= x < 1, "a number in [0, 1)")


def output_file(text):
    """A file the command will write: refused before any work when it cannot be."""
    try:
        check_writable(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


__all__ = ["Parser", "HelpFormatter", "positive_int", "non_negative_int", "seed", "positive_float", "probability",
           "output_file"]
