#!/usr/bin/python3
"""Plot a cadyn fit.csv (written by `cadyn fit`) as a PNG (matplotlib, Agg backend).

usage: plot_fit.py FIT.csv OUT.png [--title TITLE]

Top: the data, the model at the start values and the fitted model against time [s]; bottom: the residuals of the
fit. Written under a temporary name and renamed (save_atomically of plot_traces.py).
"""
import argparse
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from plot_traces import save_atomically, split  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fit")
    parser.add_argument("out")
    parser.add_argument("--title", default="cadyn fit")
    args = parser.parse_args()
    with open(args.fit, newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2:
        sys.exit(f"{args.fit}: no data rows")
    header = rows[0]
    columns = list(zip(*[[float(v) for v in r] for r in rows[1:] if r]))
    t = [v / 1000.0 for v in columns[0]]
    _, unit = split(header[1])
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.5, 5.5), sharex=True, height_ratios=[3, 1])
    top.plot(t, columns[1], ".", color="black", markersize=3, label="data")
    top.plot(t, columns[2], "--", color="tab:gray", label="model at the start values")
    top.plot(t, columns[3], "-", color="tab:red", label="fitted model")
    top.set_ylabel(f"{args.title} [{unit}]" if unit else args.title)
    top.legend(loc="best", fontsize=8)
    top.set_title(args.title)
    bottom.plot(t, columns[4], ".", color="tab:red", markersize=3)
    bottom.axhline(0, color="black", linewidth=0.5)
    bottom.set_ylabel("residual")
    bottom.set_xlabel("time [s]")
    fig.tight_layout()
    save_atomically(fig, args.out)


if __name__ == "__main__":
    main()
