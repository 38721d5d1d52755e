"""Reading an ONNX graph for crnn.from_onnx (onnx_import.py): one walk over
its nodes in order, keeping what each value is (the input sequence, a
layer's states in some order of axes, a layer's output, the sizes of T or B,
zeros, the lengths, a mask of the steps within them, or a constant, which
operators on constants compute with NumPy). Each recurrent node's weights
and attributes, and the output layer's, are gathered on the way; anything
else is refused with an error naming the node.
"""
import numpy as np

from .onnx import OPERATORS

CELL_OF = {"RNN": "rnn", "LSTM": "lstm", "GRU": "gru"}
ACTIVATIONS = {"lstm": ["Sigmoid", "Tanh", "Tanh"], "gru": ["Sigmoid", "Tanh"]}


class Refused(ValueError):
    """What crnn cannot reproduce exactly in the graph."""


# ---- what a value of the graph is ----------------------------------------

class Seq:
    """A tensor that depends on the input: ``source`` is "X", ("Y", l) (a
    recurrent node's Y, axes T D B H in layout 0), ("top", l) (layer l's
    output, T B D*H), "linear" (the output layer's product) or "output";
    ``axes`` names its axes in their current order; ``masked``: zero past
    each length; ``last``: the last step alone (its T axis gone)."""

    def __init__(self, source, axes, masked=False, last=False):
        self.source, self.axes, self.masked, self.last = source, tuple(axes), masked, last


class Dims:
    """A 1-D int64 vector of sizes, each an int or the name of an axis of X
    ("x0", "x1"), as Shape gives them."""

    def __init__(self, items):
        self.items = list(items)


class Zeros:
    """A tensor of zeros whose shape follows the input's (initial states)."""


class State:
    """Rows [start, stop) of the graph input ``name`` (rows, B, H): initial
    states given as an input, as forward_batch's h0 (or c0) is."""

    def __init__(self, name, start, stop):
        self.name, self.start, self.stop = name, start, stop


class Lengths:
    """The graph's sequence_lens, with size-1 axes (None) added."""

    def __init__(self, axes=("B",)):
        self.axes = tuple(axes)


class Steps:
    """Range(0, T): the step numbers, with size-1 axes (None) added."""

    def __init__(self, axes=("T",)):
        self.axes = tuple(axes)


class Mask:
    """Steps < Lengths: which steps lie within each sequence's length."""

    def __init__(self, axes):
        self.axes = tuple(axes)


def _attrs(onnx, node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _decoded(value):
    return value.decode() if isinstance(value, bytes) else value


class Reader:
    """Walks the graph once, in order, keeping what each value is."""

    def __init__(self, onnx, graph):
        from onnx import numpy_helper
        self.onnx, self.graph = onnx, graph
        self.values = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
        self.sizes = {}         # static sizes of X's axes, where the graph gives them
        self.x_axes = None      # what X's first two axes are: ("T", "B") or ("B", "T")
        self.layers = []        # per recurrent node: its cell, weights and attributes
        self.lengths = False
        self.output = None      # (W (D*H, O), b (O,)) of the output layer
        inputs = [i for i in graph.input if i.name not in self.values]
        data = [i for i in inputs if i.name != "sequence_lens"]
        if not data:
            raise Refused("the graph takes no input sequence")
        x = data[0]  # the sequence; any other input is read only as an initial state
        self.states = []  # per recurrent node: its initial (h, c), each a State or None (zeros)
        for other in data[1:]:
            dims = other.type.tensor_type.shape.dim
            rows = dims[0].dim_value if len(dims) == 3 and dims[0].HasField("dim_value") else 0
            self.values[other.name] = (State(other.name, 0, rows) if rows else
                                       Opaque(f"the graph input {other.name!r}"))
        dims = x.type.tensor_type.shape.dim
        if len(dims) != 3:
            raise Refused(f"the input {x.name!r} must have 3 axes, (T, B, F) or (B, T, F), "
                          f"got {len(dims)}")
        for name, dim in zip(("x0", "x1", "F"), dims):
            if dim.HasField("dim_value"):
                self.sizes[name] = dim.dim_value
        if "F" not in self.sizes:
            raise Refused(f"the input {x.name!r} must give its number of features")
        self.values[x.name] = Seq("X", ("x0", "x1", "F"))
        if any(i.name == "sequence_lens" for i in inputs):
            self.values["sequence_lens"] = Lengths()

    def value(self, name):
        if name == "":
            return None
        if name not in self.values:
            raise Refused(f"the value {name!r} is used before any node makes it")
        return self.values[name]

    def run(self):
        for node in self.graph.node:
            ins = [self.value(n) for n in node.input]
            attrs = _attrs(self.onnx, node)
            where = f"node {node.name or '(unnamed)'} ({node.op_type})"
            if node.op_type in CELL_OF:
                outs = self.recurrent(node, ins, attrs, where)
            elif node.op_type == "Constant":
                outs = [self.constant(attrs, where)]
            elif all(isinstance(v, np.ndarray) or v is None for v in ins) and \
                    node.op_type in NUMERIC:
                outs = NUMERIC[node.op_type](ins, attrs)
            elif node.op_type in SYMBOLIC:
                outs = SYMBOLIC[node.op_type](self, ins, attrs, where)
            else:
                raise Refused(f"{where}: crnn reads RNN, LSTM and GRU nodes, the layout "
                              f"operators around them and MatMul/Add; {node.op_type} "
                              "is not one of them")
            for name, out in zip(node.output, outs):
                if name:
                    self.values[name] = out
        return self

    def constant(self, attrs, where):
        from onnx import numpy_helper
        if "value" in attrs:
            return numpy_helper.to_array(attrs["value"])
        for key in ("value_int", "value_float"):
            if key in attrs:
                return np.array(attrs[key])
        for key in ("value_ints", "value_floats"):
            if key in attrs:
                return np.array(attrs[key])
        raise Refused(f"{where}: a Constant of another kind ({sorted(attrs)})")

    def recurrent(self, node, ins, attrs, where):
        cell = CELL_OF[node.op_type]
        ins = ins + [None] * (8 - len(ins))
        x, W, R, B, lengths, h0, c0 = ins[:7]
        layer = len(self.layers)
        layout = attrs.get("layout", 0)
        wanted = ("T", "B") if layout == 0 else ("B", "T")
        if not isinstance(x, Seq):
            raise Refused(f"{where}: its input must come from the graph's input")
        if layer == 0:
            if x.source != "X" or x.axes[2] != "F" or sorted(x.axes[:2]) != ["x0", "x1"]:
                raise Refused(f"{where}: its input must be the graph's input X, its axes "
                              "in some order of time and batch, then features")
            first = dict(zip(x.axes[:2], wanted))
            self.x_axes = (first["x0"], first["x1"])
        elif x.source != ("top", layer - 1) or self.axes(x)[:2] != wanted \
                or self.axes(x)[2] != "DH" or x.masked:
            raise Refused(f"{where}: its input must be the layer below's output, "
                          f"{'(T, B, features)' if layout == 0 else '(B, T, features)'}")
        for name, array in (("W", W), ("R", R), ("B", B)):
            if array is not None and not isinstance(array, np.ndarray):
                raise Refused(f"{where}: its {name} must be a constant")
        if W is None or R is None:
            raise Refused(f"{where}: W and R are required")
        for state, name in ((h0, "initial_h"), (c0, "initial_c")):
            if isinstance(state, State) and layout != 0:
                raise NotImplementedError(f"{where}: its {name} is a graph input in layout 1 "
                                          "(B, D, H); crnn reads initial states as inputs in "
                                          "layout 0, (D, B, H) rows of one (L*D, B, H) input")
            if state is not None and not isinstance(state, (Zeros, State)) and not (
                    isinstance(state, np.ndarray) and not state.any()):
                raise NotImplementedError(f"{where}: its {name} must be zeros (absent, or "
                                          "made by ConstantOfShape) or rows of a graph input: "
                                          "initial states given as nonzero constants are not "
                                          "read")
        self.states.append(tuple(v if isinstance(v, State) else None for v in (h0, c0)))
        if lengths is not None:
            if not isinstance(lengths, Lengths):
                raise Refused(f"{where}: its sequence_lens must be the graph input "
                              "sequence_lens")
            self.lengths = True
        direction = _decoded(attrs.get("direction", "forward"))
        H = attrs.get("hidden_size", R.shape[-1])
        G = len(OPERATORS[cell][1])
        D = 2 if direction == "bidirectional" else 1
        if W.shape[:2] != (D, G * H) or R.shape != (D, G * H, H) or (
                B is not None and B.shape != (D, 2 * G * H)):
            raise Refused(f"{where}: W {W.shape}, R {R.shape} and B "
                          f"{None if B is None else B.shape} do not fit {D} direction(s) of "
                          f"{G} gate(s) of {H} units")
        if attrs.get("clip") is not None:
            raise Refused(f"{where}: crnn does not clip the cell (clip={attrs['clip']})")
        if attrs.get("input_forget", 0):
            raise Refused(f"{where}: crnn's LSTM has no coupled input-forget gate")
        activations = [_decoded(a) for a in attrs.get("activations", [])]
        options = {}
        if cell == "rnn":
            kinds = set(activations) or {"Tanh"}
            if len(kinds) != 1 or not kinds <= {"Tanh", "Relu"}:
                raise Refused(f"{where}: crnn's Elman RNN runs Tanh or Relu in both "
                              f"directions, got {activations}")
            options["nonlinearity"] = kinds.pop().lower()
        elif activations and activations != ACTIVATIONS[cell] * D:
            raise Refused(f"{where}: crnn's {cell.upper()} runs {ACTIVATIONS[cell]}, got "
                          f"{activations}")
        if cell == "gru" and attrs.get("linear_before_reset", 0) != 1:
            raise NotImplementedError(f"{where}: linear_before_reset=0 (reset applied before "
                                      "the product) is another GRU than crnn's and "
                                      "PyTorch's; only linear_before_reset=1 is read")
        if layer and cell != self.layers[0]["cell"]:
            raise Refused(f"{where}: a {cell.upper()} over a {self.layers[0]['cell'].upper()}: "
                          "a crnn model has one cell")
        directions = {"forward": (0,), "reverse": (1,), "bidirectional": (0, 1)}.get(direction)
        if directions is None:
            raise Refused(f"{where}: direction={direction!r}")
        self.layers.append({"cell": cell, "W": W, "R": R, "B": B, "H": H, "D": D,
                            "directions": directions, "options": options})
        Y = Seq(("Y", layer), ("T", "D", "B", "H") if layout == 0 else ("B", "T", "D", "H"))
        return [Y, Opaque(where), Opaque(where)]  # Y_h, Y_c: refused wherever read

    def size(self, role):
        """The static size of T or B where the graph input gives it, else None."""
        name = self.x_name(role)
        return None if name is None else self.sizes.get(name)

    def x_name(self, role):
        """The name of X's axis holding T or B ("x0" or "x1"), once known."""
        if self.x_axes is None or role not in self.x_axes:
            return None
        return ("x0", "x1")[self.x_axes.index(role)]

    def feature_size(self, role):
        """The size of a features axis: F, H, D, D*H or O."""
        layer = self.layers[-1] if self.layers else None
        return {"F": self.sizes.get("F"), "H": layer and layer["H"], "D": layer and layer["D"],
                "DH": layer and layer["D"] * layer["H"],
                "O": self.output and self.output[0].shape[1]}[role]

    def axes(self, seq):
        """seq's axes with X's named by what they are."""
        if seq.source != "X" and self.x_axes is None:
            return seq.axes
        names = dict(zip(("x0", "x1"), self.x_axes or ("x0", "x1")))
        return tuple(names.get(a, a) for a in seq.axes)


# ---- operators on constants (every input known) ---------------------------

def _axes_input(ins, attrs):
    axes = ins[1] if len(ins) > 1 and ins[1] is not None else attrs.get("axes")
    return None if axes is None else [int(a) for a in np.atleast_1d(axes)]


def _unsqueeze(x, axes):
    for a in sorted(a % (x.ndim + len(axes)) for a in axes):
        x = np.expand_dims(x, a)
    return x


def _reshape(x, shape, attrs):
    shape = [int(s) for s in shape]
    if not attrs.get("allowzero", 0):
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return x.reshape(shape)


def _slice(ins):
    x, starts, ends = ins[:3]
    axes = ins[3] if len(ins) > 3 and ins[3] is not None else range(len(starts))
    steps = ins[4] if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
    index = [slice(None)] * x.ndim
    for a, s, e, k in zip(axes, starts, ends, steps):
        index[int(a)] = slice(int(s), int(max(min(e, 2**62), -2**62)), int(k))
    return x[tuple(index)]


NUMERIC = {
    "Identity": lambda ins, attrs: [ins[0]],
    "Transpose": lambda ins, attrs: [np.transpose(ins[0], attrs.get("perm"))],
    "Squeeze": lambda ins, attrs: [np.squeeze(ins[0], axis=tuple(_axes_input(ins, attrs))
                                              if _axes_input(ins, attrs) else None)],
    "Unsqueeze": lambda ins, attrs: [_unsqueeze(ins[0], _axes_input(ins, attrs))],
    "Reshape": lambda ins, attrs: [_reshape(ins[0], ins[1], attrs)],
    "Concat": lambda ins, attrs: [np.concatenate(ins, axis=attrs["axis"])],
    "Gather": lambda ins, attrs: [np.take(ins[0], ins[1], axis=attrs.get("axis", 0))],
    "Slice": lambda ins, attrs: [_slice(ins)],
    "Shape": lambda ins, attrs: [np.array(ins[0].shape, dtype=np.int64)],
    "Cast": lambda ins, attrs: [ins[0]],
    "ConstantOfShape": lambda ins, attrs: [np.zeros([int(s) for s in ins[0]])
                                           if "value" not in attrs or not
                                           np.any(_onnx_array(attrs["value"]))
                                           else np.full([int(s) for s in ins[0]],
                                                        _onnx_array(attrs["value"]).item())],
    "Expand": lambda ins, attrs: [ins[0] * np.ones([int(s) for s in ins[1]], ins[0].dtype)],
    "Range": lambda ins, attrs: [np.arange(ins[0], ins[1], ins[2])],
    "Add": lambda ins, attrs: [ins[0] + ins[1]],
    "Mul": lambda ins, attrs: [ins[0] * ins[1]],
    "Less": lambda ins, attrs: [ins[0] < ins[1]],
}


def _onnx_array(tensor):
    from onnx import numpy_helper
    return numpy_helper.to_array(tensor)


# ---- operators on values that depend on the input -------------------------

def _symbolic_transpose(reader, ins, attrs, where):
    x = ins[0]
    perm = attrs.get("perm")
    if isinstance(x, Zeros):
        return [x]
    if not isinstance(x, (Seq, Mask)):
        raise Refused(f"{where}: transposes {type(x).__name__}")
    axes = x.axes
    perm = list(reversed(range(len(axes)))) if perm is None else perm
    new = tuple(axes[p] for p in perm)
    return [Seq(x.source, new, x.masked, x.last) if isinstance(x, Seq) else Mask(new)]


def _symbolic_squeeze(reader, ins, attrs, where):
    x = ins[0]
    if isinstance(x, Zeros):
        return [x]
    axes = _axes_input([None] + ins[1:], attrs)
    if isinstance(x, Seq) and axes is not None and isinstance(x.source, tuple) \
            and x.source[0] == "Y":
        named = reader.axes(x)
        gone = {a % len(named) for a in axes}
        if all(named[a] == "D" for a in gone) and reader.layers[x.source[1]]["D"] == 1:
            kept = tuple(a for i, a in enumerate(x.axes) if i not in gone)
            return [Seq(("top", x.source[1]), tuple("DH" if a == "H" else a for a in kept))]
    if isinstance(x, Dims) and axes in (None, [0]) and len(x.items) == 1:
        return [x]  # a scalar size, kept as a vector of one
    raise Refused(f"{where}: squeezes an axis crnn does not drop")


def _symbolic_unsqueeze(reader, ins, attrs, where):
    x = ins[0]
    axes = _axes_input([None] + ins[1:], attrs)
    if isinstance(x, (Zeros, Dims)):
        return [x]
    if isinstance(x, (Lengths, Steps, Mask)):
        new = list(x.axes)
        for a in sorted(a % (len(new) + len(axes)) for a in axes):
            new.insert(a, None)
        return [type(x)(tuple(new))]
    raise Refused(f"{where}: adds an axis to the sequence")


def _symbolic_reshape(reader, ins, attrs, where):
    x, shape = ins[0], ins[1]
    if isinstance(x, Zeros):
        return [x]
    if not isinstance(x, Seq) or not isinstance(x.source, tuple) or x.source[0] != "Y":
        raise Refused(f"{where}: reshapes something other than a layer's states")
    named = reader.axes(x)
    layer = reader.layers[x.source[1]]
    items = shape.items if isinstance(shape, Dims) else [int(s) for s in shape]
    i = named.index("D") if "D" in named else -1
    if i < 0 or i + 1 >= len(named) or named[i + 1] != "H" or len(items) != len(named) - 1:
        raise Refused(f"{where}: only joins a layer's directions (D, H -> D*H)")
    for k, item in enumerate(items):
        role = named[k] if k < i else "DH" if k == i else named[k + 1]
        sizes = {"DH": layer["D"] * layer["H"], "T": reader.size("T"), "B": reader.size("B")}
        if item in (0, -1) and (item == -1 or k < i):
            continue
        if item == role or item == reader.x_name(role) or item == sizes.get(role):
            continue
        raise Refused(f"{where}: reshapes to {items}, not the directions joined")
    axes = named[:i] + ("DH",) + named[i + 2:]
    return [Seq(("top", x.source[1]), axes)]


def _symbolic_shape(reader, ins, attrs, where):
    x = ins[0]
    if not isinstance(x, Seq):
        raise Refused(f"{where}: the shape of {type(x).__name__}")
    named = reader.axes(x)
    items = []
    for a in named:
        if a in ("T", "B"):
            items.append(reader.size(a) or a)
        elif a in ("x0", "x1"):
            items.append(reader.sizes.get(a) or a)
        else:
            items.append(reader.feature_size(a))
    start, end = attrs.get("start", 0), attrs.get("end")
    return [Dims(items[start:end])]


def _symbolic_gather(reader, ins, attrs, where):
    x, index = ins
    if isinstance(x, Dims) and isinstance(index, np.ndarray):
        picked = [x.items[int(i)] for i in np.atleast_1d(index)]
        return [Dims(picked)]
    if isinstance(x, Seq) and x.source == ("top", len(reader.layers) - 1) and \
            isinstance(index, np.ndarray) and index.ndim == 0 and not x.last:
        named = reader.axes(x)
        axis = attrs.get("axis", 0) % len(named)
        T = reader.size("T")
        if named[axis] == "T" and (int(index) == -1 or T is not None and int(index) == T - 1):
            if reader.lengths:
                raise NotImplementedError(f"{where}: takes the last step of every sequence "
                                          "alike, where crnn takes each sequence's last step "
                                          "within its length")
            return [Seq(x.source, x.axes[:axis] + x.axes[axis + 1:], x.masked, True)]
    raise Refused(f"{where}: gathers other than a size from a shape or the top layer's "
                  "last step")


def _symbolic_concat(reader, ins, attrs, where):
    if all(isinstance(v, (Dims, np.ndarray)) for v in ins):
        items = []
        for v in ins:
            items += v.items if isinstance(v, Dims) else [int(s) for s in np.atleast_1d(v)]
        return [Dims(items)]
    if all(isinstance(v, Zeros) or isinstance(v, np.ndarray) and not v.any() for v in ins):
        return [Zeros()]
    return [Opaque(where)]  # h_n stacked from the layers: fine unless read


def _symbolic_slice(reader, ins, attrs, where):
    x = ins[0]
    if isinstance(x, Zeros):
        return [x]
    if isinstance(x, State) and all(isinstance(v, np.ndarray) for v in ins[1:4]) and (
            len(ins) < 5 or ins[4] is None or np.all(ins[4] == 1)):
        starts, ends, axes = (np.atleast_1d(v) for v in ins[1:4])
        if axes.tolist() == [0] and len(starts) == len(ends) == 1:
            rows = range(x.start, x.stop)[int(starts[0]):int(ends[0])]
            if len(rows):
                return [State(x.name, rows.start, rows.stop)]
    if isinstance(x, Dims) and all(isinstance(v, np.ndarray) or v is None for v in ins[1:]):
        picked = _slice([np.arange(len(x.items))] + list(ins[1:]))
        return [Dims([x.items[int(i)] for i in picked])]
    raise Refused(f"{where}: slices the sequence")


def _symbolic_zeros_from_shape(reader, ins, attrs, where):
    if "value" in attrs and np.any(_onnx_array(attrs["value"])):
        raise Refused(f"{where}: fills with {_onnx_array(attrs['value'])}, not zeros")
    return [Zeros()]


def _symbolic_expand(reader, ins, attrs, where):
    x = ins[0]
    if isinstance(x, Zeros) or isinstance(x, np.ndarray) and not x.any():
        return [Zeros()]
    raise Refused(f"{where}: expands something other than zeros")


def _symbolic_range(reader, ins, attrs, where):
    start, limit, delta = ins
    steps = isinstance(limit, Dims) and len(limit.items) == 1 and (
        limit.items[0] in ("T", reader.x_name("T"))
        or reader.size("T") is not None and limit.items[0] == reader.size("T"))
    if steps and isinstance(start, np.ndarray) and isinstance(delta, np.ndarray) \
            and np.all(start == 0) and np.all(delta == 1):
        return [Steps()]
    raise Refused(f"{where}: a range other than the steps 0..T-1")


def _symbolic_cast(reader, ins, attrs, where):
    return [ins[0]]


def _symbolic_less(reader, ins, attrs, where):
    a, b = ins
    if isinstance(a, Steps) and isinstance(b, Lengths):
        n = max(len(a.axes), len(b.axes))  # broadcast, axes aligned on the right
        pairs = zip((None,) * (n - len(a.axes)) + a.axes, (None,) * (n - len(b.axes)) + b.axes)
        pairs = list(pairs)
        if all(x is None or y is None for x, y in pairs):
            axes = tuple(x or y for x, y in pairs)
            if sorted(filter(None, axes)) == ["B", "T"]:
                return [Mask(axes)]
    raise Refused(f"{where}: compares other than the steps with the lengths")


def _symbolic_matmul(reader, ins, attrs, where):
    x, W = ins
    if isinstance(x, Seq) and x.source == "X":
        raise Refused(f"{where}: multiplies the input itself, before any recurrent node: a "
                      "recurrence written out step by step (as PyTorch's dynamo exporter "
                      "writes nn.RNN, and Keras's export every recurrent layer) has no RNN "
                      "node for crnn to read; export a PyTorch model with "
                      "torch.onnx.export(..., dynamo=False), read a Keras model's .keras "
                      "file with crnn.from_keras")
    top = ("top", len(reader.layers) - 1)
    if isinstance(x, Seq) and x.source == top and isinstance(W, np.ndarray) \
            and reader.axes(x)[-1] == "DH" and reader.output is None and W.ndim == 2:
        layer = reader.layers[-1]
        if W.shape[0] != layer["D"] * layer["H"]:
            raise Refused(f"{where}: its weights {W.shape} do not take the top layer's "
                          f"{layer['D'] * layer['H']} features")
        reader.output = [W, np.zeros(W.shape[1], W.dtype)]
        return [Seq("linear", x.axes[:-1] + ("O",), x.masked, x.last)]
    raise Refused(f"{where}: the one MatMul crnn reads is the output layer's, on the top "
                  "layer's output by a constant")


def _symbolic_add(reader, ins, attrs, where):
    x, b = ins if isinstance(ins[0], Seq) else ins[::-1]
    if isinstance(x, Seq) and x.source == "linear" and isinstance(b, np.ndarray) \
            and b.shape in ((reader.output[0].shape[1],), (1, reader.output[0].shape[1])):
        reader.output[1] = reader.output[1] + b.reshape(-1)
        return [Seq("output", x.axes, x.masked, x.last)]
    raise Refused(f"{where}: the one Add crnn reads is the output layer's bias")


def _symbolic_gemm(reader, ins, attrs, where):
    x, W, b = (ins + [None])[:3]
    if attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0 or \
            attrs.get("transA", 0) or not isinstance(W, np.ndarray) or \
            not (b is None or isinstance(b, np.ndarray)):
        raise Refused(f"{where}: a Gemm other than the output layer's (alpha = beta = 1, "
                      "constant weights and bias)")
    weights = W.T if attrs.get("transB", 0) else W
    (out,) = _symbolic_matmul(reader, [x, weights], {}, where)
    return _symbolic_add(reader, [out, np.zeros(weights.shape[1], weights.dtype)
                                  if b is None else b], {}, where)


def _symbolic_mul(reader, ins, attrs, where):
    x, m = ins if isinstance(ins[0], Seq) else ins[::-1]
    if isinstance(x, Seq) and isinstance(m, Mask):
        named = reader.axes(x)
        mask = m.axes + (None,) * (len(named) - len(m.axes))
        if len(mask) == len(named) and all(a is None or a == n for a, n in zip(mask, named)):
            return [Seq(x.source, x.axes, True)]  # crnn zeroes the steps past each length
    raise Refused(f"{where}: multiplies other than by the mask of each sequence's steps")


class Opaque:
    """A value crnn does not need (a stack of final states): refused if read."""

    def __init__(self, where):
        self.where = where


SYMBOLIC = {
    "Identity": lambda reader, ins, attrs, where: [ins[0]],
    "Transpose": _symbolic_transpose, "Squeeze": _symbolic_squeeze,
    "Unsqueeze": _symbolic_unsqueeze, "Reshape": _symbolic_reshape,
    "Shape": _symbolic_shape, "Gather": _symbolic_gather, "Concat": _symbolic_concat,
    "Slice": _symbolic_slice, "ConstantOfShape": _symbolic_zeros_from_shape,
    "Expand": _symbolic_expand, "Range": _symbolic_range, "Cast": _symbolic_cast,
    "Less": _symbolic_less, "MatMul": _symbolic_matmul, "Add": _symbolic_add,
    "Gemm": _symbolic_gemm,
    "Mul": _symbolic_mul,
}
