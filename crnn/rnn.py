"""The user-facing Elman RNN: parameters, forward and backpropagation through time.

Data flows one way: this module validates and converts user input, then calls
the compiled Engine in crnn._core, which calls the C core in src_c/.
"""
import math
import threading

import numpy as np

from . import _checks, _core, torch_interop, training

def parameter_shapes(input_size, hidden_size, output_size):
    I, H, O = input_size, hidden_size, output_size
    return {"Wxh": (H, I), "Whh": (H, H), "bh": (H, 1), "Why": (O, H), "by": (O, 1)}


def _offsets(shapes):
    """Where each array of ``shapes`` starts in one flat allocation, and its size."""
    offsets, offset = {}, 0
    for name, shape in shapes.items():
        offsets[name] = offset
        offset += math.prod(shape)
    return offsets, offset


def _split(flat, shapes, offsets):
    """Views into the one allocation ``flat``, one per entry of ``shapes``."""
    return {name: flat[offsets[name]:offsets[name] + math.prod(shape)].reshape(shape)
            for name, shape in shapes.items()}


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
        offsets, size = _offsets(shapes)
        _checks.check_allocation(size * 2 * self.dtype.itemsize,  # parameters and gradients
                                 f"input_size={self.input_size}, hidden_size="
                                 f"{self.hidden_size}, output_size={self.output_size}")
        # llm.c's layout: all parameters in one allocation, and their gradients in another
        self._param_flat = np.zeros(size, dtype=self.dtype)
        self._grad_flat = np.zeros(size, dtype=self.dtype)
        self._params = _split(self._param_flat, shapes, offsets)
        self._grads = _split(self._grad_flat, shapes, offsets)
        rng = np.random.default_rng(seed)
        for name in ("Wxh", "Whh", "Why"):
            self._params[name][...] = rng.standard_normal(shapes[name]) * 0.01
        self._engine = _core.Engine(self._param_flat, self._grad_flat, offsets,
                                    self.input_size, self.hidden_size, self.output_size)

    # pickling and copy.deepcopy carry the sizes, dtype and parameters (not
    # the gradients, nor what the last forward left for backward)
    def __getstate__(self):
        return {"sizes": (self.input_size, self.output_size, self.hidden_size),
                "dtype": self.dtype.name, "parameters": self._param_flat.copy()}

    def __setstate__(self, state):
        input_size, output_size, hidden_size = state["sizes"]
        self.__init__(input_size, output_size, hidden_size, dtype=state["dtype"], seed=0)
        self._param_flat[...] = state["parameters"]

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

    def gradients(self):
        """A dict of the gradient arrays the last backward filled, shaped like
        the parameters: the same arrays every time, overwritten by each
        backward (copy them to keep them)."""
        return dict(self._grads)

    # Each method below first offers its input to the compiled engine, which
    # takes it as it is when it is already in canonical form (C-contiguous,
    # of the model's dtype, well shaped). Otherwise the engine changes nothing
    # and returns None; the input is then validated here, with messages in the
    # user's terms, converted, and offered again.

    # ---- the seed notebook's API: one sequence, many-to-one -----------------

    def forward(self, inputs):
        """Run one sequence and read the output from its last hidden state.

        inputs: a list of T vectors of ``input_size`` numbers (shape (I,) or
        (I, 1)), or an array (T, I). Starts from a zero hidden state.
        Returns ``output`` (O, 1) and the last hidden state ``h`` (H, 1), new
        arrays.
        """
        result = self._engine.forward_sequence(inputs)
        if result is None:
            result = self._engine.forward_sequence(self._sequence_as_array(inputs))
        return _canonical(result)

    def backward(self, d_y, learning_rate=0.01):
        """Exact BPTT of the last ``forward``, then one SGD step.

        d_y (O, 1): dLoss/d(output). Every parameter p becomes
        ``p - learning_rate * dLoss/dp``. Returns the gradients, a dict with
        keys Wxh, Whh, bh, Why, by: the model's gradient arrays, which the
        next backward overwrites (see ``gradients``). The forward's states are
        used up: call ``forward`` again before the next ``backward``.
        """
        if not isinstance(learning_rate, (int, float, np.integer, np.floating)) or \
                isinstance(learning_rate, bool):
            raise TypeError(f"learning_rate must be a real number, got {learning_rate!r}")
        if self._engine.backward_sequence(d_y, learning_rate) is None:
            self._require_forward("forward", "backward")
            d_y = _checks.as_numeric_array("d_y", d_y)
            O = self.output_size
            if d_y.shape not in ((O, 1), (O,)):
                raise ValueError(f"d_y must have shape (output_size, 1) = ({O}, 1), "
                                 f"got {_checks.shape_str(d_y.shape)}")
            _canonical(self._engine.backward_sequence(
                np.ascontiguousarray(d_y, dtype=self.dtype), learning_rate))
        return dict(self._grads)

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
        return np.ascontiguousarray(steps.reshape(len(steps), I), dtype=self.dtype)

    # ---- batches, every step ------------------------------------------------

    def forward_batch(self, X, h0=None):
        """Run B sequences of T steps together and read an output at every step.

        X: floats (T, B, I), or integer token ids (T, B) in [0, input_size).
        h0: the initial hidden states (B, H); zeros if None.
        Returns Y (T, B, O) and the hidden states Hs (T, B, H), new arrays.
        """
        result = self._engine.forward_batch(X, h0)
        if result is None:
            X = self._batch_inputs(X)
            if h0 is not None:
                h0 = _checks.as_numeric_array("h0", h0)
                _checks.check_shape("h0", h0, (X.shape[1], self.hidden_size),
                                    "(B, hidden_size)")
                h0 = np.ascontiguousarray(h0, dtype=self.dtype)
            result = self._engine.forward_batch(X, h0)
        return _canonical(result)

    def backward_batch(self, dY, dh=None, *, input_grad=False):
        """BPTT of the last ``forward_batch``; the parameters are not changed.

        dY (T, B, O): dLoss/dY for every step. dh (B, H) or None: a further
        dLoss/dh of the last hidden state (from a later window, say).
        Returns a dict: the gradients of Wxh, Whh, bh, Why, by (the model's
        gradient arrays, which the next backward overwrites: see
        ``gradients``), and new arrays "h0" (B, H) and, with
        ``input_grad=True``, "X" (T, B, I), which float inputs only have.
        """
        result = self._engine.backward_batch(dY, dh, input_grad)
        if result is None:
            self._require_forward("forward_batch", "backward_batch")
            engine = self._engine
            T, B, H, O = engine.T, engine.B, self.hidden_size, self.output_size
            dY = _checks.as_numeric_array("dY", dY)
            _checks.check_shape("dY", dY, (T, B, O), "(T, B, output_size)")
            if dh is not None:
                dh = _checks.as_numeric_array("dh", dh)
                _checks.check_shape("dh", dh, (B, H), "(B, hidden_size)")
                dh = np.ascontiguousarray(dh, dtype=self.dtype)
            if input_grad and engine.tokens:
                raise ValueError("input_grad=True needs float inputs: the last forward_batch "
                                 "had token ids, which have no gradient")
            result = self._engine.backward_batch(np.ascontiguousarray(dY, dtype=self.dtype),
                                                 dh, input_grad)
        dh0, dX = _canonical(result)
        grads = dict(self._grads)
        grads["h0"] = dh0
        if input_grad:
            grads["X"] = dX
        return grads

    def _batch_inputs(self, X):
        """X validated and in canonical form: float (T, B, I) of the model's
        dtype, or int64 token ids (T, B)."""
        I = self.input_size
        X = _checks.as_numeric_array("X", X)
        if X.ndim == 2 and _checks.is_token_ids(X):
            if X.size == 0:
                raise ValueError(f"X is empty: shape {_checks.shape_str(X.shape)}; "
                                 "expected at least one step and one sequence")
            _checks.check_token_range(X, I)
            return np.ascontiguousarray(X, dtype=np.int64)
        if X.ndim != 3:
            kind = "an integer" if _checks.is_token_ids(X) else f"a {X.dtype.name}"
            raise ValueError(f"X must be floats of shape (T, B, input_size) = (T, B, {I}) or "
                             f"integer token ids of shape (T, B); got {kind} array of "
                             f"shape {_checks.shape_str(X.shape)}")
        if X.shape[2] != I or X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(f"X must have shape (T, B, input_size) = (T, B, {I}) with T, B >= 1, "
                             f"got {_checks.shape_str(X.shape)}")
        return np.ascontiguousarray(X, dtype=self.dtype)

    # ---- PyTorch's names and modules (crnn/torch_interop.py) --------------------

    @classmethod
    def from_torch(cls, rnn_module, linear):
        """An RNN with the weights of a torch ``nn.RNN`` (one layer, tanh) and
        ``nn.Linear``; its bh is the sum of their two hidden biases."""
        return torch_interop.from_torch(cls, rnn_module, linear)

    def to_torch(self):
        """A torch ``nn.RNN`` and ``nn.Linear`` with the same function."""
        return torch_interop.to_torch(self)

    def state_dict(self):
        """The parameters under PyTorch's names ("rnn.weight_ih_l0", ...,
        "linear.bias"), as NumPy arrays; torch is not needed."""
        return torch_interop.state_dict(self)

    def load_state_dict(self, state):
        """Set the parameters from a dict with PyTorch's names (arrays or tensors)."""
        torch_interop.load_state_dict(self, state)

    # ---- training ------------------------------------------------------------

    def train_step(self, inputs, targets, h0=None, *, optimizer, loss="ce_sum", clip=None,
                   clip_norm=None):
        """One step of training: forward, loss, BPTT, clipping, optimizer step.

        inputs: token ids (T,) or (T, B), or floats (T, B, I). targets: ids
        of the same shape for "ce_sum" (cross-entropy summed over steps and
        sequences) and "ce_mean" (averaged over them); floats (T, B, O) for
        "mse" (mean squared error) and "mse_sum". h0: the hidden state to
        start from (B, H), e.g. the ``h`` of the previous window (truncated
        BPTT: no gradient flows back into it). clip: clip each gradient value
        to [-clip, clip]; clip_norm: scale the gradients to that global norm
        at most. optimizer: a crnn.optim optimizer over ``parameters()``.
        Returns the loss (a float) and the last hidden state h (B, H). A loss
        that is NaN or infinite raises FloatingPointError before any update.
        """
        return training.train_step(self, inputs, targets, h0, optimizer=optimizer,
                                   loss=loss, clip=clip, clip_norm=clip_norm)

    def _require_forward(self, forward_name, backward_name):
        last = self._engine.last
        if last != forward_name:
            raise ValueError(f"{backward_name}() needs a {forward_name}() call before it"
                             + (f" (the last call was {last}())" if last else ""))
        if self._engine.forward_thread != threading.get_ident():
            raise ValueError(f"{backward_name}() must run in the thread of the "
                             f"{forward_name}() it follows; the last {forward_name}() ran in "
                             "another thread (give each thread its own model: copy.deepcopy)")


def _canonical(result):
    """The engine's answer to input that was put in canonical form."""
    if result is None:
        raise RuntimeError("crnn internal error: the engine refused canonical input")
    return result
