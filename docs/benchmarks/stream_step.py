"""What one step costs: a stream's step (model.stream, one C call, its output
written into the same array) against a step inside a 25-step forward_batch of
the same model, and against stepping with forward_batch(x, h0=state,
return_state=True), the way before streams. A char-RNN-sized model (65 ids
in, 65 outputs, 100 units, B = 1, float32), each cell; medians of 9
interleaved turns, one C thread.

    python docs/benchmarks/stream_step.py
"""
import statistics
import time

import numpy as np

import crnn

T, TURNS = 25, 9


def per_step(run, steps, repeat):
    start = time.perf_counter()
    for _ in range(repeat):
        run()
    return (time.perf_counter() - start) / (repeat * steps) * 1e6


def main():
    crnn.set_num_threads(1)
    ids = np.random.default_rng(0).integers(0, 65, (T, 1))
    print(f"crnn kernel path {crnn.get_kernel()}")
    for cls in (crnn.GRU, crnn.LSTM, crnn.RNN):
        model = cls(65, 65, 100, dtype=np.float32, seed=0).eval()
        stream, out = model.stream(1), np.empty((1, 65), dtype=np.float32)

        def streamed():
            for t in range(T):
                stream.step(ids[t], out)

        def batched():
            model.forward_batch(ids)

        def stepped():
            state = None
            for t in range(T):
                _, _, state = model.forward_batch(ids[t:t + 1], state, return_state=True)

        times = {"stream": [], "batch": [], "forward_batch steps": []}
        for _ in range(TURNS):
            times["stream"].append(per_step(streamed, T, 40))
            times["batch"].append(per_step(batched, T, 40))
            times["forward_batch steps"].append(per_step(stepped, T, 10))
        s, b, f = (statistics.median(times[k]) for k in times)
        print(f"{cls.__name__} (65 -> 100 -> 65, B=1): stream step {s:.2f} us, a step of a "
              f"{T}-step forward_batch {b:.2f} us ({s / b:.2f}x), forward_batch per step "
              f"{f:.2f} us ({f / b:.1f}x)")


if __name__ == "__main__":
    main()
