"""The benchmark page's figure: the times of docs/benchmarks/float32-1-thread.json
(the default path, AVX-512 on the project's machine) above those of
float32-1-thread-avx2.json (every system held to AVX2 on the same machine),
each written by the command it records, one panel per cell, drawn by
crnn.bench.draw when the site is built. Sphinx runs it in its own directory,
where the JSON is."""
import json

import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter, NullFormatter

from crnn.bench import draw

records = []
for name in ("float32-1-thread.json", "float32-1-thread-avx2.json"):
    with open(name) as f:
        records.append(json.load(f))
cells = list(dict.fromkeys(r["cell"] for r in records[0]["results"]))
fig, grid = plt.subplots(len(records), len(cells), figsize=(4.2 * len(cells), 4.0 * len(records)),
                         sharey=True, squeeze=False)
for axes, record in zip(grid, records):
    for ax, cell in zip(axes, cells):
        # the seed's 3-unit model is too small to compare on this scale
        draw([r for r in record["results"] if r["cell"] == cell and r["sizes"][3] > 3], ax)
        ax.set_title(f"{cell.upper() if cell != 'rnn' else 'Elman RNN'}, "
                     f"{record['kernel']} path")
        ax.set_xticks(ax.get_xticks(), [t.get_text().split()[0] for t in ax.get_xticklabels()])
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}x"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        if ax is not axes[0]:
            ax.set_ylabel("")
grid[0][0].legend(fontsize="small", loc="upper right")
machine = records[0]["machine"]
fig.suptitle(f"{records[0]['dtype']}, {records[0]['threads']} thread, {machine['cpu']}; "
             f"PyTorch {machine.get('torch', '-')}, ONNX Runtime "
             f"{machine.get('onnxruntime', '-')} ({records[0]['date']})", fontsize="medium")
fig.tight_layout()
