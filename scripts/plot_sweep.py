#!/usr/bin/python3
"""Plot a cadyn sweep.csv (written by `cadyn sweep`) as a PNG (matplotlib, Agg backend).

usage: plot_sweep.py SWEEP.csv OUT.png

The first summarised observable (the reported Ca): with one varied key, its start, peak and end against the key
and, where it oscillates, its period on a second axis (a logarithmic axis when the values are positive and span more
than a factor of 50); with two varied keys, maps of its peak and of its period (or its end value when no point
oscillates) over the grid. Failed points are left out (blank in the maps). Written under a temporary name and
renamed (save_atomically of plot_traces.py).
"""
import csv
import math
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from plot_traces import save_atomically  # noqa: E402


def value(text):
    return float(text) if text != "" else math.nan


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    path, out = sys.argv[1], sys.argv[2]
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2:
        sys.exit(f"{path}: no points")
    header, data = rows[0], rows[1:]
    status = header.index("status")
    keys = header[1:status]
    if len(keys) not in (1, 2):
        sys.exit(f"{path}: plots one or two varied keys, this sweep has {len(keys)}")
    ok = [r for r in data if r[status] == "ok"]
    if not ok:
        sys.exit(f"{path}: every point failed")
    start = header.index("steps") + 2  # after steps and wall: the first observable's six columns
    name = header[start].rsplit(" start", 1)[0]
    unit = header[start].split("[", 1)[1].rstrip("]") if "[" in header[start] else ""
    col = {k: start + i for i, k in enumerate(["start", "peak", "peak_time", "end", "period", "cycles"])}

    def column(rs, k):
        return [value(r[col[k]]) for r in rs]

    if len(keys) == 1:
        x = [value(r[1]) for r in ok]
        order = sorted(range(len(x)), key=lambda i: x[i])
        x = [x[i] for i in order]
        fig, ax = plt.subplots(figsize=(7.5, 4.5))
        for k, style in (("peak", "o-"), ("start", "s--"), ("end", "^:")):
            y = column(ok, k)
            ax.plot(x, [y[i] for i in order], style, label=f"{name} {k}")
        ax.set_xlabel(keys[0])
        ax.set_ylabel(f"{name} [{unit}]" if unit else name)
        positive = all(v > 0 for v in x)
        if positive and max(x) / min(x) > 50:
            ax.set_xscale("log")
        period = column(ok, "period")
        lines, labels = ax.get_legend_handles_labels()
        if any(not math.isnan(p) for p in period):
            twin = ax.twinx()
            twin.plot(x, [period[i] / 1000.0 for i in order], "d-", color="tab:red", label="period")
            twin.set_ylabel("period [s]", color="tab:red")
            more, more_labels = twin.get_legend_handles_labels()
            lines, labels = lines + more, labels + more_labels
        ax.legend(lines, labels, loc="best", fontsize=8)
        ax.set_title(f"{len(ok)} of {len(data)} points")
    else:
        xs = sorted({value(r[1]) for r in data})
        ys = sorted({value(r[2]) for r in data})
        period = column(ok, "period")
        second = "period" if any(not math.isnan(p) for p in period) else "end"
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
        for ax, k in zip(axes, ("peak", second)):
            grid = [[math.nan for _ in xs] for _ in ys]
            for r, v in zip(ok, column(ok, k)):
                grid[ys.index(value(r[2]))][xs.index(value(r[1]))] = v / 1000.0 if k == "period" else v
            image = ax.imshow(grid, origin="lower", aspect="auto", interpolation="nearest")
            ax.set_xticks(range(len(xs)), [f"{v:.3g}" for v in xs], rotation=45, fontsize=7)
            ax.set_yticks(range(len(ys)), [f"{v:.3g}" for v in ys], fontsize=7)
            ax.set_xlabel(keys[0])
            ax.set_ylabel(keys[1])
            label = "period [s]" if k == "period" else (f"{name} {k} [{unit}]" if unit else f"{name} {k}")
            ax.set_title(label)
            fig.colorbar(image, ax=ax)
    fig.tight_layout()
    save_atomically(fig, out)


if __name__ == "__main__":
    main()
