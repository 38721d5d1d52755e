"""Random malformed calls on crnn's API, for tests/test_reliability.py, which
runs this file in a subprocess so that a crash is reported as a failure and
does not take the test run with it. Every call must either work or raise
ValueError, TypeError or MemoryError (or FloatingPointError from training).
Exits 0 when all examples behaved."""
import sys

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

import crnn

ALLOWED = (ValueError, TypeError, MemoryError, FloatingPointError)

sizes = st.one_of(st.integers(-3, 6), st.sampled_from([0, 2**31, 2**62, -2**40]))
dtypes = st.sampled_from([np.float64, np.float32, np.int64, np.int32, np.uint8, np.bool_,
                          np.complex128, object, "U3", np.float16])


@st.composite
def arrays(draw):
    """An array of a random small shape (some axes 0), random dtype and layout,
    or something that is not an array at all."""
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.sampled_from([None, 3, 2.5, "text", [], [[1, 2], [3]], {"a": 1}]))
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=0, max_size=4)))
    dtype = draw(dtypes)
    try:
        a = (np.random.default_rng(draw(st.integers(0, 9))).integers(-3, 8, size=shape)
             .astype(dtype))
    except (TypeError, ValueError):
        a = np.zeros(shape, dtype=dtype)
    if draw(st.booleans()) and a.ndim >= 2:
        a = np.asfortranarray(a)
    if draw(st.booleans()) and a.ndim >= 1 and a.shape[0] > 1:
        a = a[::2]
    if draw(st.booleans()) and a.dtype.kind == "f" and a.size:
        a.flat[0] = draw(st.sampled_from([np.nan, np.inf, -np.inf, 1e308]))
    return a


def call(f, *args, **kwargs):
    try:
        f(*args, **kwargs)
    except ALLOWED:
        pass


options = st.fixed_dictionaries({}, optional={
    "num_layers": st.one_of(st.integers(-1, 3), st.just(2.5)),
    "bidirectional": st.sampled_from([True, False, 1, None]),
    "nonlinearity": st.sampled_from(["tanh", "relu", "sigmoid", 3]),
    "bias": st.booleans(),
    "dropout": st.sampled_from([0.0, 0.5, 1.0, -0.1, np.nan, "x"]),
    "batch_first": st.booleans(),
    "init": st.sampled_from(["normal", "pytorch", "orthogonal", "identity", "zeros"]),
    "output_size": st.sampled_from([None, 2, 0]),
    "forget_bias": st.sampled_from([0.0, 1.0, np.inf, "1"]),
})
# a state: an array or not, or a pair (an LSTM's) or a tuple of another length
states = st.one_of(arrays(), st.tuples(arrays(), arrays()), st.tuples(arrays()),
                   st.tuples(arrays(), arrays(), arrays()))


@settings(max_examples=int(sys.argv[1]) if len(sys.argv) > 1 else 400, deadline=None,
          derandomize=True, suppress_health_check=list(HealthCheck))
@given(cell=st.sampled_from(["rnn", "lstm", "gru"]), I=sizes, O=sizes, H=sizes, X=arrays(),
       h0=states, dY=arrays(), d_y=arrays(), extra=states, lengths=arrays(), options=options,
       order=st.permutations(range(5)), input_grad=st.booleans(), return_state=st.booleans())
def fuzz(cell, I, O, H, X, h0, dY, d_y, extra, lengths, options, order, input_grad,
         return_state):
    options = dict(options)
    O = options.pop("output_size", O)
    model = crnn.rnn.CELLS[cell]
    try:
        rnn = model(I, O, H, seed=0, **options)
    except ALLOWED:
        try:
            rnn = model(3, 2, 4, seed=0, **options)
        except ALLOWED:
            rnn = model(3, 2, 4, seed=0)
    opt = crnn.optim.SGD(rnn.parameters(), lr=0.1)
    steps = [
        lambda: call(rnn.forward_batch, X, h0, lengths=lengths, return_state=return_state),
        lambda: call(rnn.backward_batch, dY, extra, input_grad=input_grad),
        lambda: call(rnn.forward, X),
        lambda: call(rnn.backward, d_y),
        lambda: call(rnn.train_step, X, extra, h0, optimizer=opt, lengths=lengths),
    ]
    for i in order:
        steps[i]()
    call(setattr, rnn, "Whh", extra)
    call(rnn.load_state_dict, {"rnn.weight_ih_l0": X})
    call(crnn.losses.softmax_cross_entropy, X, extra)
    call(crnn.losses.mean_squared_error, X, dY)


if __name__ == "__main__":
    np.seterr(all="ignore")  # overflow in the harness's own casts is expected
    fuzz()
    print("fuzzing: every malformed call raised a clean error")
