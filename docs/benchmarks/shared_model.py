"""One model shared by threads: the throughput of a pool of 2 threads calling
predict on the same eval-mode model against a pool of one thread making all
the calls, each call on one C thread (crnn.set_num_threads(1)), with every
threaded result checked equal to the serial one. Medians of 9 interleaved turns of 48 calls on
64 sequences of 40 steps of 32 features, hidden size 128.

    python docs/benchmarks/shared_model.py
"""
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import crnn

CALLS, THREADS, TURNS = 48, 2, 9


def main():
    crnn.set_num_threads(1)
    rng = np.random.default_rng(0)
    batches = [rng.standard_normal((64, 40, 32)).astype(np.float32) for _ in range(CALLS)]
    print(f"crnn kernel path {crnn.get_kernel()}")
    for cls in (crnn.RNN, crnn.LSTM, crnn.GRU):
        model = cls(32, 10, 128, dtype=np.float32, batch_first=True, seed=0).eval()
        serial = [model.predict(X) for X in batches]
        with ThreadPoolExecutor(1) as single, ThreadPoolExecutor(THREADS) as pool:
            for executor in (single, pool):  # each thread's workspace made before timing
                list(executor.map(model.predict, batches[:THREADS * 2]))
            one, many, equal = [], [], True
            for _ in range(TURNS):
                start = time.perf_counter()
                list(single.map(model.predict, batches))
                one.append(time.perf_counter() - start)
                start = time.perf_counter()
                results = list(pool.map(model.predict, batches))
                many.append(time.perf_counter() - start)
                equal &= all(np.array_equal(r, s) for r, s in zip(results, serial))
        a, b = statistics.median(one), statistics.median(many)
        print(f"{cls.__name__}: 1 thread {CALLS / a:.0f} calls/s, {THREADS} threads "
              f"{CALLS / b:.0f} calls/s, {a / b:.2f}x; equal to serial: {equal}")


if __name__ == "__main__":
    main()
