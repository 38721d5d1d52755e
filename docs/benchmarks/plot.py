"""The benchmark page's figure: the times of docs/benchmarks/float32-1-thread.json
(written by the command it records), one panel per cell, drawn by
crnn.bench.draw when the site is built. Sphinx runs it in its own directory,
where the JSON is."""
import json

import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter, NullFormatter

from crnn.bench import draw

with open("float32-1-thread.json") as f:
    record = json.load(f)
cells = list(dict.fromkeys(r["cell"] for r in record["results"]))
fig, axes = plt.subplots(1, len(cells), figsize=(4.2 * len(cells), 4.2), sharey=True)
for ax, cell in zip(axes, cells):
    # the seed's 3-unit model is too small to compare on this scale
    draw([r for r in record["results"] if r["cell"] == cell and r["sizes"][3] > 3], ax)
    ax.set_title(f"{cell.upper() if cell != 'rnn' else 'Elman RNN'}")
    ax.set_xticks(ax.get_xticks(), [t.get_text().split()[0] for t in ax.get_xticklabels()])
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}x"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    if ax is not axes[0]:
        ax.set_ylabel("")
axes[0].legend(fontsize="small", loc="upper right")
machine = record["machine"]
fig.suptitle(f"{record['dtype']}, {record['threads']} thread, {machine['cpu']}, "
             f"{record['kernel']} path; PyTorch {machine.get('torch', '-')}, "
             f"ONNX Runtime {machine.get('onnxruntime', '-')} ({record['date']})", fontsize="medium")
fig.tight_layout()
