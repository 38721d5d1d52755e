"""Checkpoints: a round trip, and files that are not whole checkpoints are
refused with a clear error, never loaded half-way or run as code."""
import numpy as np
import pytest

import crnn
from crnn import checkpoint, optim


def saved_arrays(tmp_path):
    rnn = crnn.RNN(4, 4, 6, dtype=np.float32, seed=1)
    opt = optim.Adam(rnn.parameters(), lr=0.01)
    rnn.train_step(np.array([0, 1, 2, 3]), np.array([1, 2, 3, 0]), optimizer=opt)
    path = tmp_path / "model.npz"
    checkpoint.save(path, rnn, vocabulary="abcd", optimizer=opt, step=7, losses=[3.0, 2.5])
    with np.load(path) as data:
        return rnn, opt, path, {k: data[k] for k in data.files}


def test_round_trip_continues_training_identically(tmp_path):
    rnn, opt, path, _ = saved_arrays(tmp_path)
    saved = checkpoint.load(path)
    assert saved.vocabulary == "abcd" and saved.step == 7
    np.testing.assert_array_equal(saved.losses, [3.0, 2.5])
    assert saved.rnn.dtype == np.float32 and repr(saved.rnn) == repr(rnn)
    opt2 = optim.Adam(saved.rnn.parameters(), lr=0.5)
    opt2.load_state_dict(saved.optimizer_state)
    assert opt2.lr == 0.01 and opt2.step_count == 1
    for model, o in ((rnn, opt), (saved.rnn, opt2)):
        model.train_step(np.array([3, 2, 1]), np.array([2, 1, 0]), optimizer=o)
    for name, p in rnn.parameters().items():
        np.testing.assert_array_equal(saved.rnn.parameters()[name], p)


def write(path, arrays):
    np.savez(path, **arrays)


@pytest.mark.parametrize("change,message", [
    (lambda a: a.pop("param/Whh"), "it has no 'param/Whh'"),
    (lambda a: a.pop("format"), "it has no 'format'"),
    (lambda a: a.update(format=np.array("something else")), "is not a crnn-checkpoint-3 file"),
    (lambda a: a.update({"param/Whh": np.zeros((6, 5), np.float32)}),
     r"param/Whh must be float32 of shape \(6, 6\), got float32 of shape \(6, 5\)"),
    (lambda a: a.update({"param/Why": np.zeros((4, 6), np.float64)}),
     r"param/Why must be float32 of shape \(4, 6\), got float64"),
    (lambda a: a.update(sizes=np.array([4, 2**40, 4])), r"sizes must be three integers in \[1, 2147483647\]"),
    (lambda a: a.update(sizes=np.array([4.0, 6.0, 4.0])), "sizes must be three integers"),
    (lambda a: a.update(dtype=np.array("float16")), "dtype must be float32 or float64, got 'float16'"),
    (lambda a: a.update(vocabulary=np.array("abc")), "a vocabulary of 3 characters for input_size 4"),
    (lambda a: a.update(surprise=np.zeros(3)), r"holds entries a crnn checkpoint does not: \['surprise'\]"),
    (lambda a: a.update({"param/Wzz": np.zeros(3)}), r"parameters this model does not have: \['param/Wzz'\]"),
])
def test_wrong_contents_are_refused(tmp_path, change, message):
    _, _, _, arrays = saved_arrays(tmp_path)
    change(arrays)
    bad = tmp_path / "bad.npz"
    write(bad, arrays)
    with pytest.raises(ValueError, match=message):
        checkpoint.load(bad)


def test_object_arrays_are_never_unpickled(tmp_path):
    _, _, _, arrays = saved_arrays(tmp_path)
    arrays["param/Wxh"] = np.array([{"evil": "pickle"}], dtype=object)
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)  # allow_pickle on saving: the file holds a pickle
    with pytest.raises(ValueError, match="entry 'param/Wxh' holds object, not numbers or text"):
        checkpoint.load(bad)


def test_truncated_and_foreign_files(tmp_path):
    _, _, path, _ = saved_arrays(tmp_path)
    data = path.read_bytes()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a crnn checkpoint|not a readable crnn checkpoint"):
        checkpoint.load(cut)
    text = tmp_path / "text.npz"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not an .npz archive"):
        checkpoint.load(text)
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        checkpoint.load(tmp_path / "missing.npz")
