"""A model from crnn.from_keras against Keras 3 (PyTorch backend) predicting
the same inputs: the relative error and the medians of 7 interleaved turns,
one thread each (256 sequences of 50 steps of 16 features).

    OMP_NUM_THREADS=1 python docs/benchmarks/keras_predict.py
"""
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import crnn  # noqa: E402

L = keras.layers
CASES = {
    "LSTM 64 many-to-one": lambda: [L.LSTM(64), L.Dense(5)],
    "Bidirectional LSTM 64 -> LSTM 32 (padded) many-to-one": lambda: [
        L.Bidirectional(L.LSTM(64, return_sequences=True)), L.LSTM(32), L.Dense(5)],
    "Masking, Bidirectional GRU 64 many-to-one": lambda: [
        L.Masking(), L.Bidirectional(L.GRU(64)), L.Dense(5)],
}


def main():
    torch.set_num_threads(1)
    crnn.set_num_threads(1)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((256, 50, 16)).astype(np.float32)
    print(f"crnn kernel path {crnn.get_kernel()}")
    for name, layers in CASES.items():
        keras_model = keras.Sequential([keras.Input((50, 16))] + layers())
        for layer in keras_model.layers:
            layer.set_weights([rng.normal(0, 0.3, w.shape).astype("float32")
                               for w in layer.get_weights()])
        model = crnn.from_keras(keras_model)
        expected = keras_model.predict(X, verbose=0, batch_size=256)
        error = np.abs(model.predict(X) - expected).max() / np.abs(expected).max()
        keras_times, crnn_times = [], []
        for _ in range(7):
            start = time.perf_counter()
            keras_model.predict(X, verbose=0, batch_size=256)
            keras_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            model.predict(X)
            crnn_times.append(time.perf_counter() - start)
        k, c = statistics.median(keras_times), statistics.median(crnn_times)
        print(f"{name}: relative error {error:.1e}; Keras {k * 1e3:.1f} ms, crnn "
              f"{c * 1e3:.1f} ms, {k / c:.2f}x  ({model!r})")


if __name__ == "__main__":
    main()
