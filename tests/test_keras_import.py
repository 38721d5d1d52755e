"""crnn.from_keras: real Keras 3 models (on the PyTorch backend) of every
kind crnn reads, with random weights and biases, give Keras's own predict
to 1e-4, from the model object and from its saved .keras file, which reads
without Keras too; what crnn cannot reproduce, and files that are not whole
.keras files, are refused by name (run where Keras is installed, with torch
as its backend; the file tests need h5py)."""
import io
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import crnn

os.environ.setdefault("KERAS_BACKEND", "torch")
try:
    import keras
except Exception as error:  # absent, or its backend is
    pytest.skip(f"Keras is not usable here: {error}", allow_module_level=True)
h5py = pytest.importorskip("h5py")
L = keras.layers
# Keras's own variables convert with NumPy 2's copy= deprecation warning
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

# name -> the layers after the input (an Embedding first takes token ids)
MODELS = {
    "SimpleRNN many-to-one": lambda: [L.SimpleRNN(4), L.Dense(3)],
    "SimpleRNN relu, 2 layers, Dropout": lambda: [
        L.SimpleRNN(4, activation="relu", return_sequences=True), L.Dropout(0.3),
        L.SimpleRNN(4, activation="relu", return_sequences=True), L.Dense(2)],
    "LSTM many-to-one": lambda: [L.LSTM(5), L.Dense(3)],
    "LSTM per step, no bias": lambda: [L.LSTM(5, use_bias=False, return_sequences=True),
                                       L.Dense(2, use_bias=False)],
    "GRU per step": lambda: [L.GRU(4, return_sequences=True), L.Dense(3)],
    "GRU 2 layers many-to-one": lambda: [L.GRU(4, return_sequences=True), L.GRU(4),
                                         L.Dense(2)],
    "Bidirectional LSTM many-to-one": lambda: [L.Bidirectional(L.LSTM(4)), L.Dense(2)],
    "Bidirectional GRU 2 layers many-to-one": lambda: [
        L.Bidirectional(L.GRU(3, return_sequences=True)), L.Bidirectional(L.GRU(3)),
        L.Dense(2)],
    "Bidirectional SimpleRNN per step, TimeDistributed": lambda: [
        L.Bidirectional(L.SimpleRNN(4, return_sequences=True)),
        L.TimeDistributed(L.Dense(3))],
    "Masking, Bidirectional LSTM per step": lambda: [
        L.Masking(), L.Bidirectional(L.LSTM(4, return_sequences=True)), L.Dense(2)],
    "Masking -1, GRU 2 layers many-to-one": lambda: [
        L.Masking(mask_value=-1.0), L.GRU(4, return_sequences=True), L.GRU(4), L.Dense(2)],
    "Masking, Bidirectional GRU many-to-one": lambda: [
        L.Masking(), L.Bidirectional(L.GRU(4)), L.Dense(2)],
    "Embedding, LSTM many-to-one": lambda: [L.Embedding(11, 5), L.LSTM(4), L.Dense(3)],
    "Embedding mask_zero, Bidirectional GRU many-to-one": lambda: [
        L.Embedding(11, 5, mask_zero=True), L.Bidirectional(L.GRU(4)), L.Dense(2)],
    "Embedding mask_zero, SimpleRNN per step": lambda: [
        L.Embedding(11, 5, mask_zero=True), L.SimpleRNN(4, return_sequences=True),
        L.Dense(2)],
    "no Dense, LSTM per step": lambda: [L.LSTM(4, return_sequences=True)],
    # layers of different sizes and directions: padded with zeros in crnn
    "LSTM 6 under LSTM 3 many-to-one": lambda: [L.LSTM(6, return_sequences=True), L.LSTM(3),
                                                L.Dense(2)],
    "Bidirectional GRU under GRU many-to-one": lambda: [
        L.Bidirectional(L.GRU(4, return_sequences=True)), L.GRU(5), L.Dense(2)],
    "Masking, SimpleRNN under Bidirectional SimpleRNN per step": lambda: [
        L.Masking(), L.SimpleRNN(5, return_sequences=True),
        L.Bidirectional(L.SimpleRNN(3, return_sequences=True)), L.Dense(2)],
    "Embedding, Bidirectional LSTM 4 under LSTM 6 under Bidirectional LSTM 2": lambda: [
        L.Embedding(11, 5), L.Bidirectional(L.LSTM(4, return_sequences=True)),
        L.LSTM(6, return_sequences=True), L.Bidirectional(L.LSTM(2)), L.Dense(3)],
}
N, T, F, V = 6, 7, 5, 11


def randomize(model, rng):
    """Every weight and bias random, so that no zero bias hides an order."""
    for layer in model.layers:
        layer.set_weights([(rng.standard_normal(w.shape) * 0.5).astype(w.dtype)
                           for w in layer.get_weights()])


def keras_model(layers, tokens, functional=False):
    inputs = keras.Input((T,), dtype="int32") if tokens else keras.Input((T, F))
    if not functional:
        return keras.Sequential([inputs] + layers)
    x = inputs
    for layer in layers:
        x = layer(x)
    return keras.Model(inputs, x)


def data(name, rng):
    """Inputs (N, T, F) floats or (N, T) ids, and the lengths a mask gives
    (None without one): trailing padding at the mask value."""
    tokens = name.startswith("Embedding")
    X = rng.integers(1, V, (N, T)) if tokens else rng.standard_normal((N, T, F)).astype(
        np.float32)
    if "Masking" not in name and "mask_zero" not in name:
        return X, None
    lengths = np.array([T, 1, 3, T - 1, 2, 5])
    for i, n in enumerate(lengths):
        X[i, n:] = -1 if "Masking -1" in name else 0
    return X, lengths


def crnn_outputs(model, X, per_step):
    if model.output_size is None:
        return model.forward_batch(X)[0]
    return model.predict(X, per_step=per_step)


def assert_matches(model, keras_m, X, lengths):
    expected = np.asarray(keras_m.predict(X, verbose=0))
    got = crnn_outputs(model, X, per_step=expected.ndim == 3)
    assert got.shape == expected.shape
    if expected.ndim == 3 and lengths is not None:  # past each end: crnn's zeros
        valid = np.arange(T)[None, :] < lengths[:, None]
        got, expected = got[valid], expected[valid]
    scale = float(np.abs(expected).max())
    assert np.abs(got - expected).max() <= 1e-4 * scale, np.abs(got - expected).max() / scale


@pytest.mark.parametrize("functional", [False, True], ids=["Sequential", "functional"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_keras_models_give_kerass_predictions(name, functional, tmp_path):
    rng = np.random.default_rng(sorted(MODELS).index(name))
    keras_m = keras_model(MODELS[name](), name.startswith("Embedding"), functional)
    randomize(keras_m, rng)
    X, lengths = data(name, rng)
    from_object = crnn.from_keras(keras_m)
    assert_matches(from_object, keras_m, X, lengths)
    path = tmp_path / "model.keras"
    keras_m.save(path)
    from_file = crnn.from_keras(path)
    for key, value in from_object.parameters().items():
        np.testing.assert_array_equal(from_file.parameters()[key], value, err_msg=key)
    assert repr(from_file) == repr(from_object)
    assert_matches(from_file, keras_m, X, lengths)


def saved(layers, tmp_path, tokens=False, seed=0, name="model.keras"):
    """A Keras model of random weights and its .keras file."""
    keras_m = keras_model(layers, tokens)
    randomize(keras_m, np.random.default_rng(seed))
    path = tmp_path / name
    keras_m.save(path)
    return keras_m, path


def test_a_keras_file_reads_without_keras_installed(tmp_path):
    """The path form needs h5py alone: in a process where Keras (and torch,
    its backend here) cannot be imported, it gives the same outputs."""
    keras_m, path = saved([L.Masking(), L.Bidirectional(L.LSTM(4)), L.Dense(3)], tmp_path)
    X, _ = data("Masking", np.random.default_rng(1))
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "expected.npy", np.asarray(keras_m.predict(X, verbose=0)))
    code = (
        "import sys; sys.modules['keras'] = sys.modules['torch'] = None\n"
        "import numpy as np, crnn\n"
        f"d = {str(tmp_path)!r}\n"
        "model = crnn.from_keras(d + '/model.keras')\n"
        "got = model.predict(np.load(d + '/X.npy'))\n"
        "expected = np.load(d + '/expected.npy')\n"
        "assert np.abs(got - expected).max() <= 1e-4 * np.abs(expected).max()\n"
        "assert sys.modules['keras'] is None and sys.modules['torch'] is None\n"
        "print('read without keras:', type(model).__name__)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "read without keras: LSTM" in done.stdout


def test_a_converted_model_trains_on_with_fit(tmp_path):
    keras_m, path = saved([L.Bidirectional(L.GRU(4)), L.Dense(2)], tmp_path)
    model = crnn.from_keras(path)
    rng = np.random.default_rng(2)
    X = rng.standard_normal((40, T, F)).astype(np.float32)
    y = (X[:, :, 0].sum(axis=1) > 0).astype(np.int64)
    history = model.fit(X, y, epochs=20, lr=0.02, progress=False, seed=0)
    assert history["loss"][-1] < 0.7 * history["loss"][0]
    assert model.many_to_one == "final_states" and not model.training


def test_logits_drops_a_final_softmax_and_is_needed_for_it(tmp_path):
    keras_m, path = saved([L.LSTM(4), L.Dense(3, activation="softmax")], tmp_path)
    with pytest.raises(NotImplementedError, match=r"'dense.*' \(Dense\): activation="
                                                  r"'softmax'.*logits=True"):
        crnn.from_keras(path)
    X = np.random.default_rng(3).standard_normal((N, T, F)).astype(np.float32)
    logits = crnn.from_keras(path, logits=True).predict(X)
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(probabilities, keras_m.predict(X, verbose=0), atol=1e-5)


def test_keras_masks_inside_a_sequence_are_refused_at_predict(tmp_path):
    keras_m, path = saved([L.Masking(), L.GRU(4), L.Dense(2)], tmp_path)
    X = np.ones((2, T, F), dtype=np.float32)
    X[1, 2] = 0.0  # Keras skips this step and goes on; crnn reads lengths only
    with pytest.raises(ValueError, match=r"X\[1\] step 2 equals the model's mask_value=0.0"):
        crnn.from_keras(path).predict(X)


@pytest.mark.parametrize("layers,match", [
    (lambda: [L.Conv1D(4, 3), L.LSTM(4), L.Dense(2)], r"'conv1d.*' \(Conv1D\): it has no crnn "
                                                         "equivalent"),
    (lambda: [L.LSTM(4, go_backwards=True), L.Dense(2)], r"go_backwards=True outside "
                                                           "Bidirectional"),
    (lambda: [L.Bidirectional(L.GRU(4), merge_mode="sum"), L.Dense(2)],
     r"merge_mode='sum'"),
    (lambda: [L.GRU(4, reset_after=False), L.Dense(2)], r"reset_after=False"),
    (lambda: [L.LSTM(4, activation="relu"), L.Dense(2)], r"activation='relu', "
                                                           "recurrent_activation='sigmoid'"),
    (lambda: [L.SimpleRNN(4, activation="sigmoid"), L.Dense(2)], r"activation='sigmoid'"),
    (lambda: [L.LSTM(4, return_sequences=True), L.GRU(4), L.Dense(2)],
     r"mix cells \(\['gru', 'lstm'\]\)"),
    (lambda: [L.SimpleRNN(4, return_sequences=True), L.SimpleRNN(4, activation="relu"),
              L.Dense(2)], r"mix activations"),
    (lambda: [L.LSTM(6, return_sequences=True), L.LSTM(3, return_sequences=True)],
     r"no output layer to read its own"),
    (lambda: [L.LSTM(4), L.Dense(3), L.Dense(2)], r"a layer after the output Dense"),
    (lambda: [L.LSTM(4, return_sequences=True), L.LayerNormalization(), L.Dense(2)],
     r"LayerNormalization"),
    (lambda: [L.Dense(4), L.LSTM(4)], r"a Dense before the recurrent layers"),
    (lambda: [L.Flatten(), L.Dense(2)], r"Flatten"),
], ids=["Conv1D", "go_backwards", "merge sum", "reset_after=False", "LSTM relu",
        "SimpleRNN sigmoid", "mixed cells", "mixed activations", "smaller top, no Dense",
        "two Dense", "LayerNormalization",
        "Dense first", "no recurrent layer"])
def test_what_crnn_cannot_reproduce_is_refused_by_name(layers, match, tmp_path):
    keras_m, path = saved(layers(), tmp_path)
    for source in (keras_m, path):
        with pytest.raises(NotImplementedError, match=match):
            crnn.from_keras(source)


def test_stateful_and_several_inputs_or_outputs_are_refused(tmp_path):
    stateful = keras.Sequential([keras.Input(batch_shape=(2, T, F)), L.LSTM(4, stateful=True),
                                 L.Dense(2)])
    with pytest.raises(NotImplementedError, match=r"stateful=True"):
        crnn.from_keras(stateful)
    a, b = keras.Input((T, F)), keras.Input((T, F))
    two_inputs = keras.Model([a, b], L.Dense(2)(L.LSTM(4)(L.Add()([a, b]))))
    with pytest.raises(NotImplementedError, match=r"2 inputs"):
        crnn.from_keras(two_inputs)
    x = keras.Input((T, F))
    outputs, h, c = L.LSTM(4, return_state=True)(x)
    with pytest.raises(NotImplementedError, match=r"3 outputs"):
        crnn.from_keras(keras.Model(x, [outputs, h, c]))
    two_branches = L.Concatenate()([L.LSTM(4)(x), L.GRU(4)(x)])
    with pytest.raises(NotImplementedError, match=r"'concatenate.*' \(Concatenate\) takes 2 "
                                                  "tensors"):
        crnn.from_keras(keras.Model(x, L.Dense(2)(two_branches)))
    # a mask of the model's own making, not Masking's: crnn cannot know what it masks
    own_mask = keras.ops.greater(x[:, :, 0], 0.5)
    with pytest.raises(NotImplementedError, match=r"off the path from the input"):
        crnn.from_keras(keras.Model(x, L.Dense(2)(L.LSTM(4)(x, mask=own_mask))))
    with pytest.raises(TypeError, match=r"a Keras model or the path of a .keras file, got "
                                        r"dict"):
        crnn.from_keras({"layers": []})


def rewrite(path, target, replace):
    """A copy of the .keras zip at ``path`` with ``replace(name, bytes)``
    deciding each member's bytes (None drops it)."""
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(target, "w") as out:
        for name in source.namelist():
            data = replace(name, source.read(name))
            if data is not None:
                out.writestr(name, data)
    return target


def test_malformed_keras_files_raise_clear_errors(tmp_path):
    _, path = saved([L.GRU(4), L.Dense(2)], tmp_path)
    whole = path.read_bytes()
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(whole[:len(whole) // 2])
    with pytest.raises(ValueError, match=r"truncated.keras is not a readable .keras file"):
        crnn.from_keras(truncated)
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"not a zip at all" * 10)
    with pytest.raises(ValueError, match=r"junk.keras is not a readable .keras file"):
        crnn.from_keras(junk)
    no_weights = rewrite(path, tmp_path / "no_weights.keras",
                         lambda name, data: None if name == "model.weights.h5" else data)
    with pytest.raises(ValueError, match=r"holds no model.weights.h5"):
        crnn.from_keras(no_weights)
    bad_json = rewrite(path, tmp_path / "bad_json.keras",
                       lambda name, data: b"{not json" if name == "config.json" else data)
    with pytest.raises(ValueError, match=r"config.json is not JSON"):
        crnn.from_keras(bad_json)
    bad_h5 = rewrite(path, tmp_path / "bad_h5.keras",
                     lambda name, data: data[:100] if name == "model.weights.h5" else data)
    with pytest.raises(ValueError, match=r"model.weights.h5 is not a readable HDF5 file"):
        crnn.from_keras(bad_h5)

    def h5_with(edit):
        def replace(name, data):
            if name != "model.weights.h5":
                return data
            buffer = io.BytesIO(data)
            with h5py.File(buffer, "r+") as h5:
                edit(h5)
            return buffer.getvalue()
        return replace

    def wrong_shape(h5):
        del h5["layers/gru/cell/vars/1"]
        h5["layers/gru/cell/vars/1"] = np.zeros((4, 9), dtype=np.float32)
    with pytest.raises(ValueError, match=r"'gru.*': recurrent kernel must be \(4, 12\), got "
                                         r"\(4, 9\)"):
        crnn.from_keras(rewrite(path, tmp_path / "shape.keras", h5_with(wrong_shape)))

    def missing(h5):
        del h5["layers/dense"]
    with pytest.raises(ValueError, match=r"holds no weights for layer 'dense.*' \(looked "
                                         r"under layers/dense\)"):
        crnn.from_keras(rewrite(path, tmp_path / "missing.keras", h5_with(missing)))
    with pytest.raises(FileNotFoundError):
        crnn.from_keras(tmp_path / "absent.keras")


def test_kerass_own_onnx_export_is_refused_with_the_way_out(tmp_path):
    """Keras 3 on the PyTorch backend exports a recurrent layer step by step,
    with no ONNX LSTM node: from_onnx says so, and points to from_keras."""
    pytest.importorskip("onnx")
    keras_m, _ = saved([L.LSTM(4, return_sequences=True), L.Dense(2)], tmp_path)
    keras_m.predict(np.zeros((1, T, F), np.float32), verbose=0)
    path = tmp_path / "keras.onnx"
    try:
        keras_m.export(str(path), format="onnx", verbose=False)
    except Exception as error:  # the exporter's own peers are missing here
        pytest.skip(f"Keras's ONNX export does not run here: {error}")
    with pytest.raises(ValueError, match=r"step by step.*crnn.from_keras"):
        crnn.from_onnx(path)


def test_crnn_convert_keras_to_a_checkpoint_and_onnx(tmp_path, capsys):
    """The command line: a .keras file into a crnn checkpoint, that into
    ONNX; ONNX Runtime's Y_final is Keras's prediction (lengths from the mask
    go in as sequence_lens)."""
    from crnn import cli
    onnxruntime = pytest.importorskip("onnxruntime")
    keras_m, path = saved([L.Masking(), L.Bidirectional(L.LSTM(4)), L.Dense(3)], tmp_path)
    assert cli.main(["convert", str(path), str(tmp_path / "m.npz")]) == 0
    assert "many_to_one='final_states', mask_value=0.0" in capsys.readouterr().out
    assert cli.main(["convert", str(tmp_path / "m.npz"), str(tmp_path / "m.onnx")]) == 0
    X, lengths = data("Masking", np.random.default_rng(4))
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"),
                                           providers=["CPUExecutionProvider"])
    y_final = session.run(["Y_final"], {"X": X, "sequence_lens": lengths.astype(np.int32)})[0]
    expected = np.asarray(keras_m.predict(X, verbose=0))
    assert np.abs(y_final - expected).max() <= 1e-4 * np.abs(expected).max()
    _, softmax = saved([L.GRU(4), L.Dense(2, activation="softmax")], tmp_path, name="s.keras")
    assert cli.main(["convert", str(softmax), str(tmp_path / "s.npz")]) == 2
    assert "activation='softmax'" in capsys.readouterr().err
    assert cli.main(["convert", str(softmax), str(tmp_path / "s.npz"), "--logits"]) == 0


@pytest.mark.parametrize("edit,match", [
    (lambda c: c["config"].__setitem__("layers", "none"), r"lists no layers"),
    (lambda c: c["config"]["layers"][1]["config"].pop("layer"), r"malformed.*KeyError: 'layer'"),
    (lambda c: c["config"]["layers"][1]["config"]["layer"]["config"].__setitem__("units", "4"),
     r"units must be a positive integer, got '4'"),
    (lambda c: c.__setitem__("class_name", "MyModel"), r"a Keras MyModel model"),
], ids=["layers not a list", "Bidirectional without its layer", "units a string",
        "subclassed model"])
def test_a_malformed_config_raises_a_clear_error(edit, match, tmp_path):
    import json
    _, path = saved([L.Bidirectional(L.LSTM(4)), L.Dense(2)], tmp_path)

    def replace(name, data):
        if name != "config.json":
            return data
        config = json.loads(data)
        edit(config)
        return json.dumps(config).encode()
    with pytest.raises((ValueError, NotImplementedError), match=match):
        crnn.from_keras(rewrite(path, tmp_path / "edited.keras", replace))
