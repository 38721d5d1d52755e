"""A model stepped one input at a time: sampling text, online time series,
anything that answers as its data arrives.

A stream owns a workspace of its own (a crnn._core.StreamWorkspace holding B
sequences' states between calls), so a step is one C call on the model's
shared parameters: the forward of T = 1, its states written back in place,
nothing allocated when ``out`` is given. Streams of one model run in any
threads at once, beside its other calls; like those, they read the
parameters as they are at each step.
"""
import numpy as np

from . import _checks, _core

__all__ = ["Stream"]


class Stream:
    """``model.stream(batch_size=1, h0=None)``: B sequences stepped together.

    ``step(x, out=None)`` takes one step's input, floats (B, input_size) or
    token ids (B,), and returns that step's output (B, output_size), or the
    top layer's states (B, hidden_size) for a model without an output layer,
    into ``out`` when given ((B, width) of the model's dtype, C-contiguous):
    step by step, a sequence's outputs are ``forward_batch``'s. ``state`` is
    the states after the last step, (num_layers, B, hidden_size) as
    ``forward_batch`` returns h_n (an LSTM's, the pair (h, c)), copies.
    ``reset(h0=None)`` starts again from ``h0`` (zeros if None).
    """

    def __init__(self, model, batch_size=1, h0=None):
        if model.directions != 1:
            raise ValueError("a bidirectional model cannot stream: its reverse direction reads "
                             "each sequence from its end (run whole sequences with "
                             "forward_batch or predict)")
        self.model = model
        self.batch_size = _checks.check_size("batch_size", batch_size)
        self.width = model.output_size or model.hidden_size
        engine = model._new_engine(_core.StreamWorkspace)
        _checks.check_memory(engine.scratch_bytes(1, self.batch_size),
                             f"a stream of batch_size={self.batch_size} sequences")
        self._engine = engine
        self.reset(h0)

    def __repr__(self):
        return f"Stream({self.model!r}, batch_size={self.batch_size})"

    def reset(self, h0=None):
        """Starts again from the states ``h0`` (as ``forward_batch`` takes
        them), or zeros."""
        h, c = None, None
        if h0 is not None:
            h, c, _ = self.model._state_arrays(("h0", "c0"), h0, self.batch_size)
        self._engine.start(self.batch_size, h, c)

    @property
    def state(self):
        """The states after the last step: h (num_layers, B, hidden_size), an
        LSTM's the pair (h, c); copies."""
        h, c = self._engine.state()
        return h if c is None else (h, c)

    def step(self, x, out=None):
        """One step's outputs (B, width) from one step's inputs (B, input_size)
        or token ids (B,); the states advance."""
        result = self._engine.step(x, out)
        if result is None:  # not as the C core takes it: checked, converted, or refused
            result = self._engine.step(self._inputs(x), self._out(out))
            if result is None:
                raise RuntimeError("crnn internal error: a checked step was refused")
        return result

    def _inputs(self, x):
        model, B, I = self.model, self.batch_size, self.model.input_size
        x = _checks.as_numeric_array("x", x)
        if x.ndim == 1 and _checks.is_token_ids(x):
            _checks.check_shape("x", x, (B,), "(batch_size,) token ids")
            _checks.check_token_range(x, I)
            return np.ascontiguousarray(x, dtype=np.int64)
        _checks.check_shape("x", x, (B, I), "(batch_size, input_size) floats or "
                            "(batch_size,) token ids")
        return np.ascontiguousarray(x, dtype=model.dtype)

    def _out(self, out):
        if out is None:
            return None
        shape, dtype = (self.batch_size, self.width), self.model.dtype
        if not (isinstance(out, np.ndarray) and out.shape == shape and out.dtype == dtype
                and out.flags.c_contiguous and out.flags.writeable):
            raise ValueError(f"out must be a writable C-contiguous {dtype.name} array of shape "
                             f"{_checks.shape_str(shape)} (batch_size, "
                             f"{'output_size' if self.model.output_size else 'hidden_size'}), "
                             f"got {_describe(out)}")
        return out


def _describe(value):
    if isinstance(value, np.ndarray):
        layout = "" if value.flags.c_contiguous else "non-contiguous "
        layout += "" if value.flags.writeable else "read-only "
        return f"a {layout}{value.dtype.name} array of shape {_checks.shape_str(value.shape)}"
    return f"a {type(value).__name__}"
