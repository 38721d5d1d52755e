# What a model is, shared by all its workspaces. Included by _core.pyx.

cdef class Network:
    """What a model is, read-only while its workspaces run: its crnn_network
    (sizes, cell, where each parameter lies in the flat arrays), the flat
    parameter and gradient arrays themselves, and ``gradients``, the lock a
    backward holds while it writes the gradient array."""
    cdef crnn_network net
    cdef char *params
    cdef char *grads
    cdef readonly object dtype
    cdef readonly GradientLock gradients
    cdef Py_ssize_t item, n_params
    cdef bint lstm
    cdef Kind kind
    cdef object _keep  # the arrays params and grads point into, and the offsets

    def __init__(self, params, grads, layout, str nonlinearity):
        """params, grads: the model's flat arrays (float32 or float64, one
        size); layout: their crnn.layers.Layout, of any cell."""
        self.dtype, self.item, self.n_params = params.dtype, params.dtype.itemsize, params.size
        self.kind = FLOAT32 if self.dtype == np.float32 else FLOAT64
        _data(grads, self.kind, (self.n_params,))
        table = np.array([[layout.offsets[name] if name is not None else -1 for name in names]
                          for _, _, *names in layout.recurrent()], dtype=np.intp)
        self._keep = (params, grads, table)
        self.params, self.grads = _data(params, self.kind, (self.n_params,)), _address(grads)
        self.gradients, self.lstm = GradientLock(), layout.cell == "lstm"
        self.net.cell = {"rnn": CRNN_CELL_RNN, "lstm": CRNN_CELL_LSTM,
                         "gru": CRNN_CELL_GRU}[layout.cell]
        self.net.activation = CRNN_RELU if nonlinearity == "relu" else CRNN_TANH
        self.net.I, self.net.H = layout.input_size, layout.hidden_size
        self.net.O, self.net.G = layout.output_size or 0, layout.gates
        self.net.D, self.net.L = layout.directions, layout.num_layers
        self.net.offsets = <const ptrdiff_t *>_address(table)
        self.net.out_W = layout.offsets["Why"] if self.net.O else -1
        self.net.out_b = layout.offsets["by"] if self.net.O else -1
