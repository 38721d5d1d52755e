"""Validation of user input: every message names what was expected and what came.

Accepted dtypes: floats, integers and booleans are converted to the model's
dtype; complex numbers, objects, strings and dates are refused with TypeError.
Integer arrays of two dimensions (T, B) are token ids.
"""
import operator
import os
import warnings

import numpy as np

from . import _core

SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _integer(name, value, kind):
    """``value`` as an int (Python's or NumPy's; bools refused), or a
    TypeError saying it must be ``kind``."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be {kind}, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be {kind}, got {type(value).__name__} {value!r}") from None


def check_size(name, value, limit=None):
    """A positive int (bools refused), at most ``limit`` (default MAX_SIZE)."""
    limit = MAX_SIZE if limit is None else limit
    size = _integer(name, value, "a positive integer")
    if size <= 0 or size > limit:
        raise ValueError(f"{name} must be a positive integer up to {limit}, got {size}")
    return size


def check_count(name, value, limit=None):
    """A non-negative int (bools refused), at most ``limit`` (default MAX_SIZE)."""
    limit = MAX_SIZE if limit is None else limit
    count = _integer(name, value, "a non-negative integer")
    if not 0 <= count <= limit:
        raise ValueError(f"{name} must be an integer in [0, {limit}], got {count}")
    return count


def check_seed(seed):
    """NumPy's generator of ``seed`` (None, an integer 0 or more, a
    SeedSequence or a generator), or its refusal in crnn's words."""
    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError) as error:
        raise type(error)(f"seed must be None or an integer 0 or more, got {seed!r} (a NumPy "
                          f"generator or SeedSequence is taken too; {error})") from None


# Sizes beyond this are refused before anything is allocated: each size is
# then a C int, and every product the C core forms stays far from overflow.
MAX_SIZE = 2**31 - 1
# Stacked layers: the layout lists every layer's parameters in Python, so a
# count without a bound costs minutes before any memory check could refuse it
# (10**6 layers took 70 s). PyTorch's deepest recurrent models have a few dozen.
MAX_LAYERS = 1024


def memory_limit():
    """The most memory, in bytes, one request may take: this machine's
    physical memory (64 TiB where it cannot be read)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # Windows has no sysconf
        pass
    try:
        import ctypes

        class MemoryStatus(ctypes.Structure):
            _fields_ = [("length", ctypes.c_ulong), ("load", ctypes.c_ulong),
                        ("total_physical", ctypes.c_ulonglong)] + [
                (f"other{i}", ctypes.c_ulonglong) for i in range(6)]

        status = MemoryStatus()
        status.length = ctypes.sizeof(MemoryStatus)
        if ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):
            return int(status.total_physical)
    except (AttributeError, OSError):
        pass
    return 2**46


def format_bytes(n):
    """1.5 GB, 512 KB: bytes in powers of 1024, as people read them."""
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if n < 1024 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024


def check_memory(nbytes, what):
    """ValueError, before anything is allocated, for a request of ``nbytes``
    (``what`` needs them) beyond this machine's memory."""
    limit = memory_limit()
    if nbytes > limit:
        raise ValueError(f"{what} would take {format_bytes(nbytes)} ({int(nbytes):,} bytes), "
                         f"more than this machine's memory, {format_bytes(limit)}")


def check_dtype(dtype):
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if dtype not in SUPPORTED_DTYPES:
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


# NumPy 1.x makes ragged nested lists object arrays with this warning; 2.x raises
_RAGGED_WARNING = getattr(getattr(np, "exceptions", np), "VisibleDeprecationWarning", Warning)


def as_numeric_array(name, value):
    """np.asarray(value), refusing what cannot become a float."""
    if value is None:
        raise TypeError(f"{name} must be an array of numbers, got None")
    try:
        if isinstance(value, (list, tuple)):
            with warnings.catch_warnings():
                warnings.simplefilter("error", _RAGGED_WARNING)
                array = np.asarray(value)
        else:
            array = np.asarray(value)
    except (ValueError, _RAGGED_WARNING) as error:  # ragged nested lists
        raise ValueError(f"{name} must be a rectangular array of numbers: {error}") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    return array


def shape_str(shape):
    """A shape as Python writes a tuple: (4,), (2, 3)."""
    return str(tuple(int(n) for n in shape))


def check_shape(name, array, expected, meaning):
    """``expected`` is a tuple of ints; ``meaning`` names its axes, e.g. "(T, B, O)"."""
    if array.shape != tuple(expected):
        raise ValueError(
            f"{name} must have shape {meaning} = {shape_str(expected)}, got {shape_str(array.shape)}"
        )


def is_token_ids(array):
    return array.dtype.kind in "iu"


def check_token_range(ids, vocabulary, what="token ids", size_name="input_size"):
    """Every id in [0, vocabulary), checked before any cast can wrap it."""
    if ids.dtype == np.int64 and ids.flags.c_contiguous:  # one C loop, not two reductions
        first = _core.first_outside(ids.reshape(-1), 0, vocabulary)
        if first < 0:
            return
        bad = ids.reshape(-1)[first]
    else:
        low, high = ids.min(), ids.max()
        if low >= 0 and high < vocabulary:
            return
        bad = low if low < 0 else high
    where = tuple(int(i) for i in np.argwhere(ids == bad)[0])
    raise ValueError(f"{what} must be in [0, {size_name}={vocabulary}), got {bad} at index {where}")


def check_choice(name, value, choices):
    """One of ``choices`` (strings), else ValueError listing them."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def check_flag(name, value):
    """A bool (NumPy's too); anything else is a TypeError, not a truth value."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_real(name, value):
    """A finite real number (bools refused), as a float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return float(value)


def check_dropout(value):
    """A probability in [0, 1)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"dropout must be a number in [0, 1), got {value!r}")
    if not 0 <= value < 1:
        raise ValueError(f"dropout must be in [0, 1), got {value}")
    return float(value)


def check_lengths(lengths, T, B):
    """lengths (B,) integers in [1, T], as int64."""
    lengths = as_numeric_array("lengths", lengths)
    if not is_token_ids(lengths):
        raise TypeError(f"lengths must be integers, got dtype {lengths.dtype}")
    check_shape("lengths", lengths, (B,), "(B,)")
    low, high = lengths.min(), lengths.max()
    if low < 1 or high > T:
        bad = low if low < 1 else high
        where = int(np.argwhere(lengths == bad)[0, 0])
        raise ValueError(f"lengths must be in [1, T={T}], got {bad} at index {where}")
    return np.ascontiguousarray(lengths, dtype=np.int64)
