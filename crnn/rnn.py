"""The user-facing Elman RNN: parameters, forward and backpropagation through time.

Data flows one way: this module validates and converts user input, then calls
the typed wrappers in crnn._core, which call the C core in src_c/.
"""
import math

import numpy as np

from . import _checks, _core

PARAMETER_NAMES = ("Wxh", "Whh", "bh", "Why", "by")


def parameter_shapes(input_size, hidden_size, output_size):
    I, H, O = input_size, hidden_size, output_size
    return {"Wxh": (H, I), "Whh": (H, H), "bh": (H, 1), "Why": (O, H), "by": (O, 1)}


def _split(flat, shapes):
    """Views into the one allocation ``flat``, one per entry of ``shapes``."""
    views, offset = {}, 0
    for name, shape in shapes.items():
        size = math.prod(shape)
        views[name] = flat[offset:offset + size].reshape(shape)
        offset += size
    return views


class _Scratch:
    """Buffers reused across calls: each grows to the largest size asked of it,
    so steady-state calls allocate nothing."""

    def __init__(self):
        self._buffers = {}

    def take(self, name, shape, dtype):
        size = math.prod(shape)
        buffer = self._buffers.get(name)
        if buffer is None or buffer.size < size or buffer.dtype != dtype:
            buffer = self._buffers[name] = np.empty(size, dtype=dtype)
        return buffer[:size].reshape(shape)


class _ForwardRecord:
    """What backward needs from the last forward: sizes and input kind; the
    arrays themselves are in the scratch buffers."""

    def __init__(self, api, T, B, tokens, has_h0):
        self.api, self.T, self.B, self.tokens, self.has_h0 = api, T, B, tokens, has_h0


def _parameter(name):
    def get(self):
        return self._params[name]

    def set(self, value):
        self._assign(name, value)

    return property(get, set, doc=f"{name}, a live view into the model's parameters; "
                                  "assigning copies into it.")


class RNN:
    """A one-layer Elman RNN with a tanh hidden state and a linear output.

        h_t = tanh(Wxh x_t + Whh h_(t-1) + bh)
        y_t = Why h_t + by

    Parameters: Wxh (H, I), Whh (H, H), bh (H, 1), Why (O, H), by (O, 1), all
    views into one array of ``dtype`` (float32 or float64). They are
    initialised as in the seed notebook: weights ``standard_normal * 0.01``,
    drawn in the order Wxh, Whh, Why from ``numpy.random.default_rng(seed)``
    (in float64, then rounded to ``dtype``), biases zero. ``seed=None`` draws
    fresh entropy.

    Two APIs share the parameters:

    * the seed notebook's, one sequence, many-to-one:
      ``output, h = rnn.forward(inputs)`` and ``rnn.backward(d_y, learning_rate)``;
    * batches, every step: ``Y, Hs = rnn.forward_batch(X, h0)`` and
      ``grads = rnn.backward_batch(dY, dh, input_grad=False)``.

    Each backward uses what its own forward stored last. Input arrays are
    converted to ``dtype``; integer arrays (T, B) given to ``forward_batch``
    are token ids, standing for one-hot vectors of size ``input_size``.
    """

    Wxh = _parameter("Wxh")
    Whh = _parameter("Whh")
    bh = _parameter("bh")
    Why = _parameter("Why")
    by = _parameter("by")

    def __init__(self, input_size, output_size, hidden_size=64, *, dtype=np.float64, seed=None):
        self.input_size = _checks.check_size("input_size", input_size)
        self.output_size = _checks.check_size("output_size", output_size)
        self.hidden_size = _checks.check_size("hidden_size", hidden_size)
        self.dtype = _checks.check_dtype(dtype)
        shapes = parameter_shapes(self.input_size, self.hidden_size, self.output_size)
        size = sum(math.prod(s) for s in shapes.values())
        # llm.c's layout: all parameters in one allocation, and their gradients in another
        self._param_flat = np.zeros(size, dtype=self.dtype)
        self._grad_flat = np.zeros(size, dtype=self.dtype)
        self._params = _split(self._param_flat, shapes)
        self._grads = _split(self._grad_flat, shapes)
        rng = np.random.default_rng(seed)
        for name in ("Wxh", "Whh", "Why"):
            self._params[name][...] = rng.standard_normal(shapes[name]) * 0.01
        self._workspace = np.empty(
            _core.forward_workspace_size(self.input_size, self.hidden_size, self.output_size),
            dtype=self.dtype,
        )
        self._scratch = _Scratch()
        self._record = None

    def __repr__(self):
        return (f"RNN(input_size={self.input_size}, output_size={self.output_size}, "
                f"hidden_size={self.hidden_size}, dtype={self.dtype.name})")

    def parameters(self):
        """A dict of the live parameter arrays: writing into them changes the model."""
        return dict(self._params)

    def _assign(self, name, value):
        target = self._params[name]
        value = _checks.as_numeric_array(name, value)
        if value.shape != target.shape and not (name in ("bh", "by") and value.shape == target.shape[:1]):
            raise ValueError(f"{name} must have shape {_checks.shape_str(target.shape)}, "
                             f"got {_checks.shape_str(value.shape)}")
        target[...] = value.reshape(target.shape)

    # ---- the shared forward -------------------------------------------------

    def _forward_states(self, inputs, h0, api):
        """Copy inputs (and h0) into scratch and run the recurrence; returns the
        hidden states as (T*B, H) rows in scratch."""
        T, B = inputs.shape[:2]
        H, I = self.hidden_size, self.input_size
        tokens = inputs.ndim == 2  # (T, B) token ids; floats are (T, B, I)
        hidden_states = self._scratch.take("hidden_states", (T * B, H), self.dtype)
        h0_rows = None
        if h0 is not None:
            h0_rows = self._scratch.take("h0", (B, H), self.dtype)
            h0_rows[...] = h0
        self._record = None  # a failure below leaves nothing for backward to misuse
        if tokens:
            ids = self._scratch.take("ids", (T * B,), np.int64)
            ids[...] = inputs.reshape(-1)
            _core.rnn_forward_tokens(hidden_states, ids, h0_rows, self.Wxh, self.Whh,
                                     self._bh_vector(self._params), self._workspace, T)
        else:
            X = self._scratch.take("X", (T * B, I), self.dtype)
            X[...] = inputs.reshape(T * B, I)
            _core.rnn_forward(hidden_states, X, h0_rows, self.Wxh, self.Whh,
                              self._bh_vector(self._params), self._workspace, T)
        self._record = _ForwardRecord(api, T, B, tokens, h0 is not None)
        return hidden_states

    @staticmethod
    def _bh_vector(arrays):
        return arrays["bh"].reshape(-1)

    @staticmethod
    def _by_vector(arrays):
        return arrays["by"].reshape(-1)

    def _backward_states(self, d_hidden, dh_last, dh0, dX):
        """BPTT through the recorded forward, adding into the gradient buffers."""
        record = self._record
        h0 = self._scratch.take("h0", (record.B, self.hidden_size), self.dtype) if record.has_h0 else None
        hidden_states = self._scratch.take("hidden_states", (record.T * record.B, self.hidden_size), self.dtype)
        g = self._grads
        if record.tokens:
            ids = self._scratch.take("ids", (record.T * record.B,), np.int64)
            _core.rnn_backward_tokens(g["Wxh"], g["Whh"], self._bh_vector(g), dh0, d_hidden,
                                      dh_last, ids, h0, hidden_states, self.Whh, record.T)
        else:
            X = self._scratch.take("X", (record.T * record.B, self.input_size), self.dtype)
            _core.rnn_backward(g["Wxh"], g["Whh"], self._bh_vector(g), dh0, dX, d_hidden,
                               dh_last, X, h0, hidden_states, self.Wxh, self.Whh, record.T)

    def _gradient_copy(self):
        """The parameter gradients as fresh arrays (one allocation)."""
        flat = self._grad_flat.copy()
        return _split(flat, {name: g.shape for name, g in self._grads.items()})

    # ---- the seed notebook's API: one sequence, many-to-one -----------------

    def forward(self, inputs):
        """Run one sequence and read the output from its last hidden state.

        inputs: a list of T vectors of ``input_size`` numbers (shape (I,) or
        (I, 1)), or an array (T, I). Starts from a zero hidden state.
        Returns ``output`` (O, 1) and the last hidden state ``h`` (H, 1).
        """
        X = self._sequence_as_array(inputs)
        T = X.shape[0]
        hidden_states = self._forward_states(X.reshape(T, 1, self.input_size), None, "forward")
        output = self._scratch.take("Y", (1, self.output_size), self.dtype)
        _core.output_forward(output, hidden_states[T - 1:], self.Why,
                             self._by_vector(self._params), self._workspace)
        return output.T.copy(), hidden_states[T - 1].reshape(-1, 1).copy()

    def backward(self, d_y, learning_rate=0.01):
        """Exact BPTT of the last ``forward``, then one SGD step.

        d_y (O, 1): dLoss/d(output). Every parameter p becomes
        ``p - learning_rate * dLoss/dp``. Returns the gradients (a dict of new
        arrays, keys Wxh, Whh, bh, Why, by, shaped like the parameters).
        The forward's states are used up: call ``forward`` again before the
        next ``backward``.
        """
        record = self._require_record("forward", "backward")
        d_y = _checks.as_numeric_array("d_y", d_y)
        O, H, T = self.output_size, self.hidden_size, record.T
        if d_y.shape not in ((O, 1), (O,)):
            raise ValueError(f"d_y must have shape (output_size, 1) = ({O}, 1), "
                             f"got {_checks.shape_str(d_y.shape)}")
        learning_rate = float(learning_rate)
        dY_last = self._scratch.take("dY", (1, O), self.dtype)
        dY_last[0] = d_y.reshape(-1)
        self._grad_flat.fill(0)
        d_hidden = self._scratch.take("d_hidden", (T, H), self.dtype)
        d_hidden.fill(0)
        hidden_states = self._scratch.take("hidden_states", (T, H), self.dtype)
        g = self._grads
        # only the last step has an output, so only its row of d_hidden gets one
        _core.output_backward(d_hidden[T - 1:], g["Why"], self._by_vector(g), dY_last,
                              hidden_states[T - 1:], self.Why)
        self._backward_states(d_hidden, None, None, None)
        self._record = None
        grads = self._gradient_copy()
        self._param_flat -= learning_rate * self._grad_flat
        return grads

    def _sequence_as_array(self, inputs):
        """The seed's inputs as a (T, I) array: T steps of I numbers each, every
        step of any shape with I elements, as the seed reshapes them."""
        I = self.input_size
        if isinstance(inputs, (list, tuple)):
            vectors = [_checks.as_numeric_array(f"inputs[{t}]", x) for t, x in enumerate(inputs)]
            for t, x in enumerate(vectors):
                if x.size != I:
                    raise ValueError(f"inputs[{t}] must hold input_size={I} numbers "
                                     f"(shape ({I},) or ({I}, 1)), got shape {_checks.shape_str(x.shape)}")
            steps = np.array([x.reshape(-1) for x in vectors]) if vectors else np.empty((0, I))
        else:
            steps = _checks.as_numeric_array("inputs", inputs)
            if steps.ndim == 0:
                raise TypeError(f"inputs must be a sequence of T vectors of input_size={I} "
                                f"numbers, got the scalar {inputs!r}")
        if len(steps) == 0:
            raise ValueError("inputs is an empty sequence: expected at least one step")
        if steps[0].size != I:
            raise ValueError(f"inputs must have shape (T, input_size) = (T, {I}), "
                             f"got {_checks.shape_str(steps.shape)}")
        return steps.reshape(len(steps), I)

    # ---- batches, every step ------------------------------------------------

    def forward_batch(self, X, h0=None):
        """Run B sequences of T steps together and read an output at every step.

        X: floats (T, B, I), or integer token ids (T, B) in [0, input_size).
        h0: the initial hidden states (B, H); zeros if None.
        Returns Y (T, B, O) and the hidden states Hs (T, B, H), new arrays.
        """
        X = self._batch_inputs(X)
        T, B = X.shape[:2]
        H, O = self.hidden_size, self.output_size
        if h0 is not None:
            h0 = _checks.as_numeric_array("h0", h0)
            _checks.check_shape("h0", h0, (B, H), "(B, hidden_size)")
        hidden_states = self._forward_states(X, h0, "forward_batch")
        Y = self._scratch.take("Y", (T * B, O), self.dtype)
        _core.output_forward(Y, hidden_states, self.Why, self._by_vector(self._params),
                             self._workspace)
        return Y.reshape(T, B, O).copy(), hidden_states.reshape(T, B, H).copy()

    def backward_batch(self, dY, dh=None, *, input_grad=False):
        """BPTT of the last ``forward_batch``; the parameters are not changed.

        dY (T, B, O): dLoss/dY for every step. dh (B, H) or None: a further
        dLoss/dh of the last hidden state (from a later window, say).
        Returns a dict of new arrays: the gradients of Wxh, Whh, bh, Why, by
        (shaped like them), "h0" (B, H), and with ``input_grad=True`` "X"
        (T, B, I), which float inputs only have.
        """
        record = self._require_record("forward_batch", "backward_batch")
        T, B = record.T, record.B
        H, I, O = self.hidden_size, self.input_size, self.output_size
        dY = _checks.as_numeric_array("dY", dY)
        _checks.check_shape("dY", dY, (T, B, O), "(T, B, output_size)")
        if dh is not None:
            dh = _checks.as_numeric_array("dh", dh)
            _checks.check_shape("dh", dh, (B, H), "(B, hidden_size)")
            dh_last = self._scratch.take("dh_last", (B, H), self.dtype)
            dh_last[...] = dh
        else:
            dh_last = None
        if input_grad and record.tokens:
            raise ValueError("input_grad=True needs float inputs: the last forward_batch "
                             "had token ids, which have no gradient")
        dY_rows = self._scratch.take("dY", (T * B, O), self.dtype)
        dY_rows[...] = dY.reshape(T * B, O)
        self._grad_flat.fill(0)
        d_hidden = self._scratch.take("d_hidden", (T * B, H), self.dtype)
        d_hidden.fill(0)
        dh0 = np.zeros((B, H), dtype=self.dtype)
        dX = np.zeros((T * B, I), dtype=self.dtype) if input_grad else None
        hidden_states = self._scratch.take("hidden_states", (T * B, H), self.dtype)
        g = self._grads
        _core.output_backward(d_hidden, g["Why"], self._by_vector(g), dY_rows,
                              hidden_states, self.Why)
        self._backward_states(d_hidden, dh_last, dh0, dX)
        grads = self._gradient_copy()
        grads["h0"] = dh0
        if input_grad:
            grads["X"] = dX.reshape(T, B, I)
        return grads

    def _batch_inputs(self, X):
        I = self.input_size
        X = _checks.as_numeric_array("X", X)
        if X.ndim == 2 and _checks.is_token_ids(X):
            if X.size == 0:
                raise ValueError(f"X is empty: shape {_checks.shape_str(X.shape)}; "
                                 "expected at least one step and one sequence")
            _checks.check_token_range(X, I)
            return X
        if X.ndim != 3:
            kind = "an integer" if _checks.is_token_ids(X) else f"a {X.dtype.name}"
            raise ValueError(f"X must be floats of shape (T, B, input_size) = (T, B, {I}) or "
                             f"integer token ids of shape (T, B); got {kind} array of "
                             f"shape {_checks.shape_str(X.shape)}")
        if X.shape[2] != I or X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(f"X must have shape (T, B, input_size) = (T, B, {I}) with T, B >= 1, "
                             f"got {_checks.shape_str(X.shape)}")
        return X

    def _require_record(self, forward_name, backward_name):
        record = self._record
        if record is None or record.api != forward_name:
            raise ValueError(f"{backward_name}() needs a {forward_name}() call before it"
                               + (f" (the last call was {record.api}())" if record else ""))
        return record
