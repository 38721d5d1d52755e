"""The user-facing recurrent family, RNN (Elman), LSTM and GRU: parameters,
forward and backpropagation through time, for stacked layers, both
directions, variable lengths and dropout.

Data flows one way: this module validates and converts user input (every
check is here, with messages in the user's terms), then calls the compiled
Engine in crnn._core, which runs the layers in the C core of src_c/.
"""
import contextlib
import math
import re
import threading

import numpy as np

from . import _checks, _core, torch_interop, training
from .layers import GATED_INITS, INITS, NONLINEARITIES, Layout, parameter_count
from .stream import Stream

__all__ = ["Recurrent", "RNN", "LSTM", "GRU"]


# a parameter's name: the seed's five, with a layer and direction suffix, or a GRU's bhn
_PARAMETER_NAME = re.compile(r"(Wxh|Whh|bh|bhn)(_l[0-9]+)?(_reverse)?|Why|by")

# what a sequence's one output (many-to-one) reads: the top layer's output at
# its last step, or each direction's final state (the reverse one's after the
# whole sequence, at step 0), Keras's Bidirectional(return_sequences=False)
MANY_TO_ONE = ("last_step", "final_states")


class Recurrent:
    """What the three cells share: ``RNN``, ``LSTM`` and ``GRU`` are this
    class with their own recurrence (``cell``) and constructor options.

    Layer k > 0 reads the output of layer k-1 (both directions side by side,
    D*H features, D = 2 when bidirectional); the output layer reads the top
    layer's. ``output_size=None`` has no output layer: Y is the top layer's
    output, as PyTorch's modules give it.

    Parameters (see ``crnn.layers``): ``Wxh{s}``, ``Whh{s}``, ``bh{s}`` (and
    a GRU's ``bhn{s}``) for each layer and direction, s = "" for layer 0
    forward (the seed notebook's names), "_l{k}", "_reverse",
    "_l{k}_reverse"; then ``Why`` and ``by``. All are views into one array
    of ``dtype`` (float32 or float64), their gradients into another.

    Two APIs share the parameters:

    * the seed notebook's, one sequence, many-to-one:
      ``output, h = model.forward(inputs)`` and ``model.backward(d_y, learning_rate)``;
    * batches, every step: ``Y, Hs = model.forward_batch(X, h0, lengths=...)``
      and ``grads = model.backward_batch(dY, dh, input_grad=False)``.

    Each backward uses what its own forward stored last. Dropout (between
    layers) is on in training mode, the default; ``eval()`` turns it off.

    A sequence's one output (``forward``, and ``fit``/``predict`` with one
    target per sequence) is the output layer on what ``many_to_one`` names:
    "last_step", the top layer's output at the sequence's last step (both
    directions side by side: the reverse one has then seen that step alone),
    or "final_states", each direction's final state: the forward one's after
    the last step, the reverse one's after the whole sequence (Keras's
    ``Bidirectional(..., return_sequences=False)``; PyTorch users write
    ``cat(h_n[-2], h_n[-1])`` for it). With one direction they are the same.
    ``mask_value``: in a padded array given to ``fit`` or ``predict``
    without ``lengths``, the trailing steps whose features all equal it (or
    whose token id does) are padding, and each sequence's length ends
    before them (Keras's ``Masking`` and ``mask_zero``); None: no
    padding is read from the values.
    """

    cell = None  # "rnn", "lstm" or "gru": crnn.layers.GATES's keys
    # the constructor's keyword options and their defaults, per cell
    _DEFAULTS = {"num_layers": 1, "bidirectional": False, "bias": True, "dropout": 0.0,
                 "batch_first": False, "many_to_one": "last_step", "mask_value": None}

    _INITS = INITS  # the initialisations a cell takes

    @classmethod
    def _arguments(cls, input_size, output_size, hidden_size, *, num_layers=1,
                   bidirectional=False, bias=True, dropout=0.0, batch_first=False, init=None,
                   dtype=np.float64, nonlinearity="tanh", forget_bias=0.0,
                   many_to_one="last_step", mask_value=None):
        """The constructor's arguments checked, as a dict of the attributes
        they set, and the memory the parameters need checked against the
        machine's: nothing is built, so a checkpoint is checked with it too."""
        a = {"input_size": _checks.check_size("input_size", input_size),
             "output_size": (None if output_size is None
                             else _checks.check_size("output_size", output_size)),
             "hidden_size": _checks.check_size("hidden_size", hidden_size),
             "num_layers": _checks.check_size("num_layers", num_layers, _checks.MAX_LAYERS),
             "nonlinearity": _checks.check_choice("nonlinearity", nonlinearity,
                                                  tuple(NONLINEARITIES)),
             "bidirectional": _checks.check_flag("bidirectional", bidirectional),
             "bias": _checks.check_flag("bias", bias),
             "dropout": _checks.check_dropout(dropout),
             "batch_first": _checks.check_flag("batch_first", batch_first),
             "init": _checks.check_choice("init", cls._DEFAULTS["init"] if init is None else init,
                                          cls._INITS),
             "forget_bias": _checks.check_real("forget_bias", forget_bias),
             "many_to_one": _checks.check_choice("many_to_one", many_to_one, MANY_TO_ONE),
             "mask_value": (None if mask_value is None
                            else _checks.check_real("mask_value", mask_value)),
             "dtype": _checks.check_dtype(dtype)}
        if a["forget_bias"] and not a["bias"]:
            raise ValueError(f"forget_bias={forget_bias} needs the biases: bias=True")
        # the parameters and their gradients, counted before anything is built
        _checks.check_memory(parameter_count(*cls._sizes(a)) * 2 * a["dtype"].itemsize,
                             f"{cls.__name__}(input_size={a['input_size']}, "
                             f"output_size={a['output_size']}, hidden_size={a['hidden_size']}, "
                             f"num_layers={a['num_layers']}"
                             + (", bidirectional=True" if a["bidirectional"] else "")
                             + f", dtype={a['dtype'].name})'s parameters and their gradients")
        return a

    @classmethod
    def _sizes(cls, a):
        """What a Layout is made of, from the checked arguments ``a``."""
        return (a["input_size"], a["hidden_size"], a["output_size"], a["num_layers"],
                a["bidirectional"], a["bias"], cls.cell)

    def _build(self, input_size, output_size, hidden_size, *, seed, **options):
        arguments = self._arguments(input_size, output_size, hidden_size, **options)
        rng = _checks.check_seed(seed)
        # everything checked: the model is made
        self.__dict__.update(arguments)
        self.layout = Layout(*self._sizes(arguments))
        self.training = True
        # llm.c's layout: all parameters in one allocation, and their gradients in another
        self._param_flat = np.zeros(self.layout.size, dtype=self.dtype)
        self._grad_flat = np.zeros(self.layout.size, dtype=self.dtype)
        self._params = self.layout.split(self._param_flat)
        self._grads = self.layout.split(self._grad_flat)
        self.__dict__.update(self._params)  # model.Wxh, model.Whh_l1_reverse, ...
        # one generator: the initial weights, then the dropout masks
        self._rng = rng
        self.layout.initialise(self._params, self.init, self._rng)
        if self.forget_bias:  # rows H..2H of an LSTM's biases: its forget gate's
            H = self.hidden_size
            for k, d, _, _, bh, _ in self.layout.recurrent():
                self._params[bh][H:2 * H] += self.forget_bias
        # a (B, H) state stands for the (1, B, H) of one layer and direction
        self._one_state = self.num_layers * self.directions == 1
        # What a call needs lives apart from what the model is (its Network:
        # layout, parameters, gradients): each thread has its own Engine (its
        # scratch, and the states its last forward keeps for its backward),
        # made on the thread's first call, so that threads sharing a model
        # compute at once, each as if alone. The gradient array is the
        # model's: backwards write it one at a time, under its lock.
        self._network = _core.Network(self._param_flat, self._grad_flat, self.layout,
                                      self.nonlinearity)
        self._gradient_lock = self._network.gradients
        self._per_thread = threading.local()

    def _workspace(self):
        """This thread's workspace for this model's calls: its Engine
        (``.engine``), and what its last forward was given, for its backward
        (``.last_forward``: whether h0 came as (B, H), its gradient going
        back so, and the final states a many-to-one output read)."""
        local = self._per_thread
        if "engine" not in local.__dict__:
            return self._thread_workspace()
        return local

    @property
    def _engine(self):
        """This thread's Engine."""
        try:
            return self._per_thread.engine
        except AttributeError:  # the thread's first call
            return self._thread_workspace().engine

    @property
    def _last_forward(self):
        return self._workspace().last_forward

    def _new_engine(self, kind=_core.Engine):
        """A workspace for this model's calls (an Engine, or a stream's
        StreamWorkspace): it reads the model's parameters and writes its
        gradients under the model's lock, and owns its scratch."""
        return kind(self._network)

    def _thread_workspace(self):
        local = self._per_thread
        local.engine = self._new_engine()
        local.last_forward = {"h0_was_2d": True}
        return local

    # Parameters are attributes of each model, not of the class: model.Wxh,
    # model.Whh_l1_reverse are the live arrays, in the model's own __dict__
    # (so reading them, and every other attribute, stays Python's fast path:
    # a __getattr__ would slow every attribute read of every call), and
    # assigning copies into them. A parameter's name this model does not have
    # is refused the same way whatever other models exist.
    def __setattr__(self, name, value):
        params = self.__dict__.get("_params")
        if params is not None and name in params:
            self._assign(name, value)
        elif name[:1] != "_" and _PARAMETER_NAME.fullmatch(name):
            raise AttributeError(f"this {type(self).__name__} has no parameter {name}; its "
                                 f"parameters are {', '.join(params or ())}")
        else:
            object.__setattr__(self, name, value)

    @property
    def directions(self):
        """D: 2 when bidirectional, else 1."""
        return self.layout.directions

    def _options(self):
        """The constructor's keyword arguments that describe this model."""
        return {name: getattr(self, name) for name in self._DEFAULTS}

    # pickling and copy.deepcopy carry the sizes, options, dtype, parameters,
    # mode and generator (not the gradients, nor what the last forward left)
    def __getstate__(self):
        return {"sizes": (self.input_size, self.output_size, self.hidden_size),
                "options": self._options(), "dtype": self.dtype.name,
                "parameters": self._param_flat.copy(), "training": self.training,
                "rng": self._rng.bit_generator.state}

    def __setstate__(self, state):
        input_size, output_size, hidden_size = state["sizes"]
        self.__init__(input_size, output_size, hidden_size, dtype=state["dtype"], seed=0,
                      **state.get("options", {}))
        self._param_flat[...] = state["parameters"]
        self.training = state.get("training", True)
        if "rng" in state:
            self._rng.bit_generator.state = state["rng"]

    def __repr__(self):
        extra = "".join(f", {k}={v!r}" for k, v in self._options().items()
                        if v != self._DEFAULTS[k])
        return (f"{type(self).__name__}(input_size={self.input_size}, output_size="
                f"{self.output_size}, hidden_size={self.hidden_size}{extra}, "
                f"dtype={self.dtype.name})")

    def astype(self, dtype):
        """A new model like this one with its parameters in ``dtype``
        (float32 or float64), rounded to it; the mode and the dropout
        generator's state come along. ``model.astype(np.float32)`` is what
        ONNX export writes for a float64 model."""
        state = self.__getstate__()
        state["dtype"] = _checks.check_dtype(dtype).name
        model = type(self).__new__(type(self))
        model.__setstate__(state)
        return model

    def train(self, mode=True):
        """Training mode (dropout on, the default); returns the model."""
        self.training = _checks.check_flag("mode", mode)
        return self

    def eval(self):
        """Evaluation mode: no dropout. Returns the model."""
        return self.train(False)

    def parameters(self):
        """A dict of the live parameter arrays: writing into them changes the model."""
        return dict(self._params)

    def _assign(self, name, value):
        target = self._params[name]
        value = _checks.as_numeric_array(name, value)
        if value.shape != target.shape and not (target.shape[1:] == (1,)
                                                and value.shape == target.shape[:1]):
            raise ValueError(f"{name} must have shape {_checks.shape_str(target.shape)}, "
                             f"got {_checks.shape_str(value.shape)}")
        target[...] = value.reshape(target.shape)

    def gradients(self):
        """A dict of the gradient arrays the last backward filled, shaped like
        the parameters: the same arrays every time, overwritten by each
        backward (copy them to keep them)."""
        return dict(self._grads)

    # ---- the seed notebook's API: one sequence, many-to-one -----------------

    def forward(self, inputs):
        """Run one sequence and read the output from its last step.

        inputs: a list of T vectors of ``input_size`` numbers (shape (I,) or
        (I, 1)), or an array (T, I). Starts from a zero hidden state.
        Returns ``output`` (O, 1) and ``h`` (D*H, 1), the top layer's output
        at the last step (its hidden state, with one direction), new arrays;
        with ``many_to_one="final_states"`` and two directions, ``h`` is the
        two directions' final states side by side, which ``output`` reads.
        """
        if self.output_size is None:
            raise ValueError("forward() reads an output layer, and this model has none "
                             "(output_size=None): use forward_batch()")
        if self._reads_final_states():
            return self._forward_final_states(inputs)
        if isinstance(inputs, (list, tuple)) and not self._dropping_out():
            result = _core.forward_steps(self._engine, inputs)  # vectors read as they are
            if result is not None:
                return result
        X = self._sequence_as_array(inputs)[:, None, :]
        self._check_memory(len(X), 1)
        masks = self._dropout_masks(len(X), 1)
        output, top, _ = self._engine.forward(X, None, None, masks, "forward", True, False)
        return output, top  # the last step's, (O, 1) and (D*H, 1)

    def backward(self, d_y, learning_rate=0.01):
        """Exact BPTT of the last ``forward``, then one SGD step.

        d_y (O, 1): dLoss/d(output). Every parameter p becomes
        ``p - learning_rate * dLoss/dp``. Returns the gradients, a dict by
        parameter name: the model's gradient arrays, which the next backward
        overwrites (see ``gradients``). The forward's states are used up:
        call ``forward`` again before the next ``backward``.
        """
        if type(learning_rate) is not float or not -math.inf < learning_rate < math.inf:
            learning_rate = _checks.check_real("learning_rate", learning_rate)  # finite
        if not self._reads_final_states():  # d_y read as it is, the SGD step in C
            if _core.backward_steps(self._engine, d_y, learning_rate):
                return dict(self._grads)
        self._require_forward("forward", "backward")
        d_y = _checks.as_numeric_array("d_y", d_y)
        O = self.output_size
        if d_y.shape not in ((O, 1), (O,)):
            raise ValueError(f"d_y must have shape (output_size, 1) = ({O}, 1), "
                             f"got {_checks.shape_str(d_y.shape)}")
        d_y = np.ascontiguousarray(d_y.reshape(1, O), dtype=self.dtype)
        with self._gradient_lock:
            if self._reads_final_states():
                self._backward_final_states(None, d_y, self._last_forward["features"],
                                            ("forward", "backward"))
            else:
                self._engine.backward(d_y, None, False, None, "forward", "backward")
            self._engine.use_up()
            _core.sgd(self._param_flat, None, self._grad_flat, learning_rate, 0.0, False, 0.0)
        return dict(self._grads)

    # ---- many-to-one from each direction's final state ----------------------

    def _reads_final_states(self):
        """Whether a sequence's one output reads the final states, not the
        last step's output: many_to_one="final_states" with two directions."""
        return self.many_to_one == "final_states" and self.layout.directions == 2

    def _final_features(self, h_n):
        """(B, 2H): the top layer's forward and reverse final states side by
        side, from h_n (L*D, B, H) or an LSTM's (h_n, c_n)."""
        h = h_n[0] if self.cell == "lstm" else h_n
        return np.concatenate([h[-2], h[-1]], axis=1)

    def _final_outputs(self, features):
        """(B, O): the output layer on the final states ``features`` (B, 2H)."""
        return features @ self.Why.T + self.by[:, 0]

    def _backward_final_states(self, dY, d_out, features, names=None):
        """BPTT of the last forward from the outputs d_out (B, O) read from the
        final states ``features`` (B, 2H), and from dY on every step (None:
        zeros): the gradients go into the model's arrays. ``names``: the
        engine's (forward, backward) call names; None for forward_batch's."""
        engine, H = self._engine, self.hidden_size
        B = len(d_out)
        d_features = d_out @ self.Why                                 # (B, 2H)
        dh = np.zeros((self.layout.num_layers * 2, B, H), dtype=self.dtype)
        dh[-2], dh[-1] = d_features[:, :H], d_features[:, H:]
        if dY is None:
            dY = np.zeros((engine.T, B, self.output_size), dtype=self.dtype)
        with self._gradient_lock:  # the output layer's share added by this backward
            if names is None:
                grads = self.backward_batch(dY.swapaxes(0, 1) if self.batch_first else dY,
                                            (dh, None) if self.cell == "lstm" else dh)
            else:
                engine.backward(dY, dh, False, None, *names)
                grads = dict(self._grads)
            grads["Why"] += d_out.T @ features
            grads["by"] += d_out.sum(axis=0)[:, None]
        return grads

    def _forward_final_states(self, inputs):
        """The seed API's forward read from the final states: (output (O, 1),
        the final states side by side (2H, 1))."""
        X = self._sequence_as_array(inputs)[:, None, :]
        self._check_memory(len(X), 1)
        masks = self._dropout_masks(len(X), 1)
        _, _, h_n = self._engine.forward(X, None, None, masks, "forward", False, True)
        features = self._final_features(h_n)
        self._last_forward["features"] = features
        return self._final_outputs(features).T.copy(), features.T.copy()

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

    def forward_batch(self, X, h0=None, *, lengths=None, return_state=False):
        """Run B sequences together and read an output at every step.

        X: floats (T, B, I), or integer token ids (T, B) in [0, input_size);
        (B, T, ...) with ``batch_first``. h0: the initial states (L*D, B, H)
        in PyTorch's order (layer by layer, forward then reverse), or (B, H)
        when L*D = 1; zeros if None. An LSTM's is a pair ``(h0, c0)`` of
        such arrays, either None for zeros. lengths: (B,) integers in [1, T], any
        order: steps past a sequence's length give zeros in Y and Hs, leave
        its state alone and get no gradient (PyTorch's packed sequences).
        Returns Y (T, B, O) and Hs (T, B, D*H), the top layer's output (the
        same array as Y without an output layer), new arrays; with
        ``return_state``, also h_n (L*D, B, H), each layer's and direction's
        state after each sequence's last step; an LSTM's, the pair (h_n, c_n).
        """
        X, T, B = self._batch_inputs(X)
        # the gradients of h0 go back in the shape it came in
        if h0 is None:
            c0, h0_was_2d = None, self._one_state
        else:
            h0, c0, h0_was_2d = self._state_arrays(("h0", "c0"), h0, B)
        if lengths is not None:
            lengths = _checks.check_lengths(lengths, T, B)
        if return_state is not False and return_state is not True:
            _checks.check_flag("return_state", return_state)
        workspace = self._workspace()  # this thread's, read once
        engine = workspace.engine
        if T * B > engine.rows or B > engine.batch:  # more scratch than it has
            self._check_memory(T, B)
        # everything checked: from here on the model changes (its generator
        # draws the masks, the engine keeps this forward for its backward)
        masks = self._dropout_masks(T, B) if self.dropout else None
        Y, top, h_n = engine.forward(X, h0, lengths, masks, "forward_batch", False,
                                     return_state, c0)
        workspace.last_forward["h0_was_2d"] = h0_was_2d
        if Y is None:
            Y = top
        if self.batch_first:
            Y, top = Y.swapaxes(0, 1), top.swapaxes(0, 1)
        return (Y, top, h_n) if return_state else (Y, top)

    def backward_batch(self, dY, dh=None, *, input_grad=False):
        """BPTT of the last ``forward_batch``; the parameters are not changed.

        dY (T, B, O): dLoss/dY for every step ((T, B, D*H) without an output
        layer; (B, T, ...) with ``batch_first``). dh: dLoss/dh_n, (L*D, B, H)
        or (B, H) when L*D = 1, or None; an LSTM's, a pair ``(dh, dc)`` of
        such arrays or None. Returns a dict: the gradient of every parameter
        by name (the model's gradient arrays, which the next backward
        overwrites: see ``gradients``), and new arrays "h0" (and an LSTM's
        "c0"), shaped as the forward's h0 was given, and, with
        ``input_grad=True``, "X" shaped as X, which float inputs only have.
        """
        workspace = self._workspace()  # this thread's, read once
        engine = workspace.engine
        if input_grad is not False and input_grad is not True:
            _checks.check_flag("input_grad", input_grad)
        if engine.last != "forward_batch":
            self._require_forward("forward_batch", "backward_batch")  # says which is wrong
        T, B = engine.T, engine.B
        last = self.output_size or self.layout.top_size
        if not (type(dY) is np.ndarray and dY.dtype == self.dtype and dY.flags.c_contiguous
                and dY.shape == (T, B, last) and not self.batch_first):  # else canonical
            dY = self._batch_gradient(dY, T, B, last)
        dc = None
        if dh is not None:
            dh, dc, _ = self._state_arrays(("dh", "dc"), dh, B)
        if input_grad and engine.tokens:
            raise ValueError("input_grad=True needs float inputs: the last forward_batch "
                             "had token ids, which have no gradient")
        dh0, dX = engine.backward(dY, dh, input_grad, dc)  # under the model's gradient lock
        grads = dict(self._grads)
        dc0 = None
        if self.cell == "lstm":
            dh0, dc0 = dh0
        h0_was_2d = workspace.last_forward["h0_was_2d"]
        grads["h0"] = dh0[0] if h0_was_2d else dh0
        if dc0 is not None:
            grads["c0"] = dc0[0] if h0_was_2d else dc0
        if input_grad:
            grads["X"] = dX.swapaxes(0, 1) if self.batch_first else dX
        return grads

    def _batch_gradient(self, dY, T, B, last):
        """dY validated, (T, B) first, of the model's dtype, C-contiguous."""
        dY = _checks.as_numeric_array("dY", dY)
        if self.batch_first:
            _checks.check_shape("dY", dY, (B, T, last), "(B, T, output_size)"
                                if self.output_size else "(B, T, D*hidden_size)")
            dY = dY.swapaxes(0, 1)
        else:
            _checks.check_shape("dY", dY, (T, B, last), "(T, B, output_size)"
                                if self.output_size else "(T, B, D*hidden_size)")
        return np.ascontiguousarray(dY, dtype=self.dtype)

    def _batch_inputs(self, X):
        """X validated and in canonical form, (T, B) first: float (T, B, I) of
        the model's dtype, or int64 token ids (T, B), C-contiguous or the
        swapaxes(0, 1) view of a C-contiguous (B, T, ...) array (the engine
        copies either in); and T, B."""
        I = self.input_size
        if type(X) is np.ndarray and X.flags.c_contiguous and X.size:
            # canonical already, the common case: only the ids' range to check
            if X.ndim == 3 and X.dtype == self.dtype and X.shape[2] == I:
                X = X.swapaxes(0, 1) if self.batch_first else X
                return X, X.shape[0], X.shape[1]
            if X.ndim == 2 and X.dtype == np.int64:
                _checks.check_token_range(X, I)
                X = X.T if self.batch_first else X
                return X, X.shape[0], X.shape[1]
        axes = "(B, T" if self.batch_first else "(T, B"
        X = _checks.as_numeric_array("X", X)
        if X.ndim == 2 and _checks.is_token_ids(X):
            if X.size == 0:
                raise ValueError(f"X is empty: shape {_checks.shape_str(X.shape)}; "
                                 "expected at least one step and one sequence")
            _checks.check_token_range(X, I)
            X = _time_first(X.T if self.batch_first else X, np.int64)
            return X, X.shape[0], X.shape[1]
        if X.ndim != 3:
            kind = "an integer" if _checks.is_token_ids(X) else f"a {X.dtype.name}"
            raise ValueError(f"X must be floats of shape {axes}, input_size) = {axes}, {I}) or "
                             f"integer token ids of shape {axes}); got {kind} array of "
                             f"shape {_checks.shape_str(X.shape)}")
        if X.shape[2] != I or X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(f"X must have shape {axes}, input_size) = {axes}, {I}) with T, B >= 1, "
                             f"got {_checks.shape_str(X.shape)}")
        X = _time_first(X.swapaxes(0, 1) if self.batch_first else X, self.dtype)
        return X, X.shape[0], X.shape[1]

    def _state_arrays(self, names, value, B):
        """h0 or dh as the engine takes them, (h, c): each (L*D, B, H) of the
        model's dtype or None, c None but for an LSTM, whose value is a pair;
        and whether they came as (B, H) (L*D = 1, none (L*D, B, H))."""
        if self.cell != "lstm":
            pair = (value, None)
        elif value is None:
            pair = (None, None)
        elif isinstance(value, (tuple, list)) and len(value) == 2:
            pair = tuple(value)
        else:
            got = f"a {type(value).__name__}" + (
                f" of {len(value)}" if isinstance(value, (tuple, list)) else "")
            raise TypeError(f"an LSTM's {names[0]} is a pair ({names[0]}, {names[1]}) of "
                            f"arrays (num_layers * directions, B, hidden_size), or None; "
                            f"got {got}")
        given = [None if v is None else _checks.as_numeric_array(n, v)
                 for n, v in zip(names, pair)]
        as_2d = self._one_state and not any(v is not None and v.ndim == 3 for v in given)
        h, c = (None if v is None else self._states(n, v, B) for n, v in zip(names, given))
        return h, c, as_2d

    def _states(self, name, states, B):
        """A state or its gradient validated as (L*D, B, H) of the model's
        dtype; (B, H) is taken for L*D = 1."""
        LD, H = self.num_layers * self.directions, self.hidden_size
        if LD == 1 and states.ndim != 3:  # the one-layer form, and today's message
            _checks.check_shape(name, states, (B, H), "(B, hidden_size)")
            states = states[None]
        else:
            _checks.check_shape(name, states, (LD, B, H),
                                "(num_layers * directions, B, hidden_size)")
        return np.ascontiguousarray(states, dtype=self.dtype)

    def _check_memory(self, T, B):
        """ValueError, before anything is allocated, for a call of T steps and
        B sequences whose states (kept for the backward), outputs and dropout
        masks would not fit in this machine's memory."""
        engine = self._engine
        DH, O = self.layout.top_size, self.output_size or 0
        masks = (self.num_layers - 1) * DH if self._dropping_out() else 0
        per_call = T * B * (O + DH + masks) * self.dtype.itemsize
        _checks.check_memory(engine.scratch_bytes(T, B) + per_call,
                             f"a call of T={T} steps and B={B} sequences on this model "
                             f"({self.num_layers} layer(s) of {self.directions} x "
                             f"{self.hidden_size} hidden units, states kept for the backward)")

    def _dropping_out(self):
        return (self.dropout and self.training and self.num_layers > 1
                and not getattr(self._per_thread, "inferring", False))

    @contextlib.contextmanager
    def _inferring(self):
        """Evaluation mode for this thread's calls inside the block (predict,
        evaluate, sampling), whatever the model's mode: the mode itself, which
        other threads read, is left as it is."""
        local = self._per_thread
        outer = getattr(local, "inferring", False)
        local.inferring = True
        try:
            yield
        finally:
            local.inferring = outer

    def _dropout_masks(self, T, B):
        """The masks of this forward's dropout between layers, (L-1, T, B,
        D*H), 0 or 1/(1-p), drawn from the model's generator; None when
        there is none (evaluation mode, p = 0 or one layer). The engine keeps
        them for the backward (``_engine.masks``)."""
        if not self._dropping_out():
            return None
        keep = self._rng.random((self.num_layers - 1, T, B, self.layout.top_size)) >= self.dropout
        return keep.astype(self.dtype) / self.dtype.type(1 - self.dropout)

    # ---- PyTorch's names and modules (crnn/torch_interop.py) --------------------

    @classmethod
    def from_torch(cls, rnn_module, linear=None):
        """A model with the weights of a torch ``nn.RNN`` (for RNN), ``nn.LSTM``
        (LSTM) or ``nn.GRU`` (GRU), of any num_layers, bidirectional, bias,
        batch_first (proj_size refused), and, optionally, an ``nn.Linear``
        on every step; each bh is the sum of its two hidden biases (a GRU's n
        rows keep b_hn apart, in bhn)."""
        return torch_interop.from_torch(cls, rnn_module, linear)

    def to_torch(self):
        """The torch module of this cell (``nn.RNN``, ``nn.LSTM``, ``nn.GRU``)
        and an ``nn.Linear`` (None without an output layer), with the same function."""
        return torch_interop.to_torch(self)

    def state_dict(self):
        """The parameters under PyTorch's names ("rnn.weight_ih_l0", ...,
        "rnn.weight_hh_l1_reverse", "linear.bias"), as NumPy arrays; torch is
        not needed."""
        return torch_interop.state_dict(self)

    def load_state_dict(self, state, rnn_prefix=None, linear_prefix=None):
        """Set the parameters from a dict with PyTorch's names (arrays or
        tensors): "rnn.weight_ih_l0", ..., "linear.bias" as ``state_dict``
        gives them; the bare names of a torch module's own state dict merged
        with its Linear's ("weight_ih_l0", ..., "weight", "bias"); or under
        the prefixes named ("encoder.", "head.")."""
        torch_interop.load_state_dict(self, state, rnn_prefix, linear_prefix)

    # ---- training ------------------------------------------------------------

    def train_step(self, inputs, targets, h0=None, *, optimizer, loss="ce_sum", clip=None,
                   clip_norm=None, lengths=None):
        """One step of training: forward, loss, BPTT, clipping, optimizer step.

        inputs: token ids (T,) or (T, B), or floats (T, B, I). targets: ids
        of the same shape for "ce_sum" (cross-entropy summed over steps and
        sequences) and "ce_mean" (averaged over them); floats (T, B, O) for
        "mse" (mean squared error) and "mse_sum". With ``lengths``, only the
        steps within each sequence's length count, and the means are over
        them. h0: the state to start from, e.g. the ``h`` of the previous
        window (truncated BPTT: no gradient flows back into it). clip: clip
        each gradient value to [-clip, clip]; clip_norm: scale the gradients
        to that global norm at most. optimizer: a crnn.optim optimizer over
        ``parameters()``. Returns the loss (a float) and the final state h_n
        ((B, H) when L*D = 1, else (L*D, B, H); an LSTM's, the pair (h_n,
        c_n), which h0 takes back). A loss that is NaN or
        infinite raises FloatingPointError before any update.
        """
        return training.train_step(self, inputs, targets, h0, optimizer=optimizer,
                                   loss=loss, clip=clip, clip_norm=clip_norm, lengths=lengths)

    def fit(self, X, y, *, lengths=None, loss=None, optimizer="adam", lr=None, batch_size=32,
            epochs=10, validation_split=0.0, validation_data=None, shuffle=True,
            clip_norm=None, early_stopping=None, seed=None, progress=True):
        """Train on N sequences of different lengths; returns a ``History``.

        X: a list of N sequences, each (T_i, input_size) floats or (T_i,)
        token ids, or a padded array (N, T, input_size) or (N, T) with
        ``lengths`` (N,); sample first, whatever ``batch_first``. y: one target
        per sequence, read from its own last step ((N,) class ids or (N, O)
        floats), or one per step (a list of (T_i,) ids or (T_i, O) floats, or
        a padded (N, T) or (N, T, O) array). loss: "ce" (softmax
        cross-entropy, for class ids) or "mse" (floats), chosen from y when
        None, averaged over a batch's targets. optimizer: a name ("adam",
        "adamw", "sgd", "rmsprop", "adagrad", with ``lr`` or its default) or
        a crnn.optim optimizer over ``parameters()``. Batches of
        ``batch_size`` group sequences of similar length, in an order drawn
        from ``seed`` (see crnn.fit). validation_split: the last fraction of
        the sequences is held out (as Keras does), or validation_data=(X, y)
        or (X, y, lengths). clip_norm: the gradients' global norm at most
        this. early_stopping: stop after that many epochs without a lower
        validation loss (training loss without validation), and keep the
        best epoch's weights. progress: a tqdm bar when tqdm is installed.

        The History holds per-epoch "loss", "val_loss", and for class ids
        "accuracy" and "val_accuracy". A NaN or infinite loss raises
        FloatingPointError before that batch's update.
        """
        from . import fit
        return fit.fit(self, X, y, lengths=lengths, loss=loss, optimizer=optimizer, lr=lr,
                       batch_size=batch_size, epochs=epochs, validation_split=validation_split,
                       validation_data=validation_data, shuffle=shuffle, clip_norm=clip_norm,
                       early_stopping=early_stopping, seed=seed, progress=progress)

    def stream(self, batch_size=1, h0=None):
        """A :class:`crnn.stream.Stream` of ``batch_size`` sequences stepped
        one input at a time from the states ``h0`` (as ``forward_batch``
        takes them; zeros if None), in evaluation mode: ``step(x)`` gives
        each step's outputs as data arrives, at the cost of its arithmetic.
        A bidirectional model cannot stream (ValueError)."""
        return Stream(self, batch_size, h0)

    def predict(self, X, lengths=None, *, per_step=False, batch_size=256):
        """The outputs for N sequences (given as to ``fit``), in batches, in
        evaluation mode, keeping nothing for a backward: (N, O) from each
        sequence's last step, or with ``per_step`` every step's: a list of
        (T_i, O) arrays for a list, else (N, T, O) with zeros past each length."""
        from . import fit
        return fit.predict(self, X, lengths, per_step=per_step, batch_size=batch_size)

    def _require_forward(self, forward_name, backward_name):
        last = self._engine.last
        if last != forward_name:
            raise ValueError(f"{backward_name}() needs a {forward_name}() call before it in "
                             f"this thread (each thread's forward keeps its own states for "
                             f"its own backward)"
                             + (f"; this thread's last call was {last}()" if last else ""))


def _time_first(X, dtype):
    """X (T, B, ...) as the engine reads it: of ``dtype``, and C-contiguous or
    the (T, B, ...) view of a C-contiguous (B, T, ...); copied only if not."""
    if X.dtype == dtype and (X.flags.c_contiguous or X.swapaxes(0, 1).flags.c_contiguous):
        return X
    return np.ascontiguousarray(X, dtype=dtype)


class RNN(Recurrent):
    """An Elman RNN: stacked layers, one or two directions, and a linear output. ::

        h_t = act(Wxh x_t + Whh h_(t-1) + bh)      act = tanh or ReLU
        y_t = Why h_t + by

    ``RNN(input_size, output_size, hidden_size=64, *, num_layers=1,
    nonlinearity="tanh", bidirectional=False, bias=True, dropout=0.0,
    batch_first=False, init="normal", many_to_one="last_step", mask_value=None,
    dtype=np.float64, seed=None)``

    PyTorch's ``nn.RNN`` followed by an ``nn.Linear`` on every step (none
    with ``output_size=None``). ``init``: "normal" (weights N(0, 0.01^2), the
    seed notebook's, drawn in parameter order from
    ``numpy.random.default_rng(seed)``), "pytorch", "orthogonal" or
    "identity" (IRNN); see ``crnn.layers.Layout.initialise``. The rest is
    ``Recurrent``'s.
    """

    cell = "rnn"
    _DEFAULTS = {**Recurrent._DEFAULTS, "nonlinearity": "tanh", "init": "normal"}

    def __init__(self, input_size, output_size, hidden_size=64, *, num_layers=1,
                 nonlinearity="tanh", bidirectional=False, bias=True, dropout=0.0,
                 batch_first=False, init="normal", many_to_one="last_step", mask_value=None,
                 dtype=np.float64, seed=None):
        self._build(input_size, output_size, hidden_size, num_layers=num_layers,
                    nonlinearity=nonlinearity, bidirectional=bidirectional, bias=bias,
                    dropout=dropout, batch_first=batch_first, init=init, dtype=dtype, seed=seed,
                    many_to_one=many_to_one, mask_value=mask_value)


class LSTM(Recurrent):
    """A long short-term memory network, PyTorch's ``nn.LSTM`` exactly,
    followed by a linear output on every step (none with ``output_size=None``)::

        [i f g o] = Wxh x_t + Whh h_(t-1) + bh      (gates stacked in that order)
        i, f, o = sigmoid(.),  g = tanh(.)
        c_t = f * c_(t-1) + i * g,   h_t = o * tanh(c_t)
        y_t = Why h_t + by

    ``LSTM(input_size, output_size, hidden_size=64, *, num_layers=1,
    bidirectional=False, bias=True, dropout=0.0, batch_first=False,
    init="pytorch", forget_bias=0.0, many_to_one="last_step", mask_value=None,
    dtype=np.float64, seed=None)``

    Wxh{s} is (4H, IN), Whh{s} (4H, H), bh{s} (4H, 1): the sum of PyTorch's
    two biases. ``init``: "pytorch" (every weight and bias U(-1/sqrt(H),
    1/sqrt(H)), PyTorch's), "orthogonal" (each gate's block of Whh) or
    "normal"; ``forget_bias`` is added to the forget gate's biases (1.0 is a
    common choice). The state is a pair: ``h0=(h0, c0)``, h_n comes back as
    ``(h_n, c_n)`` and its gradient goes in as ``dh=(dh, dc)``. The rest is
    ``Recurrent``'s.
    """

    cell = "lstm"
    _DEFAULTS = {**Recurrent._DEFAULTS, "init": "pytorch", "forget_bias": 0.0}
    _INITS = GATED_INITS

    def __init__(self, input_size, output_size, hidden_size=64, *, num_layers=1,
                 bidirectional=False, bias=True, dropout=0.0, batch_first=False,
                 init="pytorch", forget_bias=0.0, many_to_one="last_step", mask_value=None,
                 dtype=np.float64, seed=None):
        self._build(input_size, output_size, hidden_size, num_layers=num_layers,
                    bidirectional=bidirectional, bias=bias, dropout=dropout,
                    batch_first=batch_first, init=init, dtype=dtype, seed=seed,
                    forget_bias=forget_bias, many_to_one=many_to_one, mask_value=mask_value)


class GRU(Recurrent):
    """A gated recurrent unit network, PyTorch's ``nn.GRU`` exactly, followed
    by a linear output on every step (none with ``output_size=None``)::

        r = sigmoid(W_ir x_t + b_ir + W_hr h_(t-1) + b_hr)
        z = sigmoid(W_iz x_t + b_iz + W_hz h_(t-1) + b_hz)
        n = tanh(W_in x_t + b_in + r * (W_hn h_(t-1) + b_hn))
        h_t = (1 - z) * n + z * h_(t-1),   y_t = Why h_t + by

    ``GRU(input_size, output_size, hidden_size=64, *, num_layers=1,
    bidirectional=False, bias=True, dropout=0.0, batch_first=False,
    init="pytorch", many_to_one="last_step", mask_value=None, dtype=np.float64,
    seed=None)``

    Wxh{s} is (3H, IN) and Whh{s} (3H, H), gates r, z, n; bh{s} (3H, 1)
    holds b_ir + b_hr, b_iz + b_hz and b_in, and bhn{s} (H, 1) b_hn, which
    sits inside r * (...). ``init`` as for the LSTM. The rest is
    ``Recurrent``'s.
    """

    cell = "gru"
    _DEFAULTS = {**Recurrent._DEFAULTS, "init": "pytorch"}
    _INITS = GATED_INITS

    def __init__(self, input_size, output_size, hidden_size=64, *, num_layers=1,
                 bidirectional=False, bias=True, dropout=0.0, batch_first=False,
                 init="pytorch", many_to_one="last_step", mask_value=None, dtype=np.float64,
                 seed=None):
        self._build(input_size, output_size, hidden_size, num_layers=num_layers,
                    bidirectional=bidirectional, bias=bias, dropout=dropout,
                    batch_first=batch_first, init=init, dtype=dtype, seed=seed,
                    many_to_one=many_to_one, mask_value=mask_value)


CELLS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}
