"""The command lines' argument types (``crnn`` and ``python -m crnn.bench``):
each refuses what it cannot take with a message argparse prints as
``error: argument --x: ...`` and exit status 2, never a traceback."""
import argparse
import math

from ._files import check_writable


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's default in its help, but None's and False's (the
    help says what their absence means)."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def _number(text, kind):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {'an integer' if kind is int else 'a number'}"
                                         f", got {text!r}") from None


def positive_int(text):
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text):
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def seed(text):
    """A generator's seed: NumPy takes integers 0 and up."""
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"a seed must be an integer 0 or more, got {value}")
    return value


def positive_float(text):
    value = _number(text, float)
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text}")
    return value


def probability(text):
    value = _number(text, float)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def output_file(text):
    """A file the command will write: refused before any work when it cannot be."""
    try:
        check_writable(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


__all__ = ["HelpFormatter", "positive_int", "non_negative_int", "seed", "positive_float", "probability",
           "output_file"]
