"""crnn: a small, fast, compiled Elman RNN for the CPU.

    h_t = tanh(Wxh x_t + Whh h_(t-1) + bh)
    y_t = Why h_t + by

The forward pass and backpropagation through time run in C (src_c/), wrapped
by Cython (crnn._core) and exposed by :class:`crnn.RNN`. The same math in
plain NumPy, the specification, is :mod:`crnn.reference`.
"""
from .rnn import RNN

__all__ = ["RNN"]
__version__ = "0.1.0"
