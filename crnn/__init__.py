"""crnn: small, fast, compiled recurrent networks for the CPU. ::

    h_t = act(Wxh x_t + Whh h_(t-1) + bh)      act = tanh or ReLU   (RNN)
    y_t = Why h_t + by

and PyTorch's LSTM and GRU cells in place of the first line (:class:`crnn.LSTM`,
:class:`crnn.GRU`). Stacked layers, both directions, variable lengths and
dropout, as PyTorch's nn.RNN, nn.LSTM and nn.GRU. The forward pass and
backpropagation through time run in C (src_c/), wrapped by Cython
(crnn._core) and exposed by :class:`crnn.RNN`, :class:`crnn.LSTM` and
:class:`crnn.GRU`. The same math in plain NumPy, the specification, is
:mod:`crnn.reference`.

Kernel paths: the C core picks the widest SIMD path the CPU runs (avx512,
avx2, neon on 64-bit ARM, or the portable C loops). ``CRNN_KERNEL=portable``
(or ``avx2``, ``avx512``, ``neon``) in the environment forces one at import;
``crnn.set_kernel`` does so at run time.

Threads: large products split their rows between threads (OpenMP), with the
same results bit for bit whatever their number; ``crnn.set_num_threads(n)``
sets it, and by default it follows ``OMP_NUM_THREADS``, else every CPU.
"""
import os

from . import optim
from ._core import available_kernels, get_kernel, get_num_threads, set_kernel, set_num_threads
from .checkpoint import load as load_checkpoint
from .checkpoint import save as save_checkpoint
from .keras_import import from_keras
from .onnx_import import from_onnx
from .rnn import GRU, LSTM, RNN

__all__ = ["GRU", "LSTM", "RNN", "available_kernels", "from_keras", "from_onnx", "get_kernel", "get_num_threads",
           "load_checkpoint", "optim", "save_checkpoint", "set_kernel", "set_num_threads"]
__version__ = "0.1.0"

if os.environ.get("CRNN_KERNEL"):
    set_kernel(os.environ["CRNN_KERNEL"])
