#!/usr/bin/python3
"""Plot a cadyn traces.csv as a PNG (matplotlib, Agg backend).

usage: plot_traces.py TRACES.csv OUT.png [--title TITLE]

One panel per concentration column ([uM]; free Ca of the first compartment on top), then one panel with every
flux column ([amol/s]). Time is shown in seconds.
"""
import argparse
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2:
        sys.exit(f"{path}: no data rows")
    header = rows[0]
    columns = list(zip(*[[float(v) for v in r] for r in rows[1:] if r]))
    return header, columns


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("traces")
    parser.add_argument("png")
    parser.add_argument("--title", default="cadyn")
    args = parser.parse_args()

    header, columns = read(args.traces)
    t = [v / 1000.0 for v in columns[0]]
    conc = [i for i, h in enumerate(header) if h.endswith("[uM]")]
    # Free Ca first (by convention the cytosol), then other concentrations, then mechanism states.
    conc.sort(key=lambda i: (not header[i].endswith(".ca [uM]"), "." in header[i].split(" ")[0][:-3], i))
    conc = conc[:5]
    flux = [i for i, h in enumerate(header) if h.endswith("[amol/s]")]
    panels = len(conc) + (1 if flux else 0)

    fig, axes = plt.subplots(panels, 1, sharex=True, figsize=(8, 1.9 * panels + 0.8), squeeze=False)
    axes = axes[:, 0]
    for ax, i in zip(axes, conc):
        ax.plot(t, columns[i], lw=1.2)
        ax.set_ylabel(header[i].replace(" [uM]", "\n[uM]"), fontsize=8)
        ax.grid(alpha=0.3)
    if flux:
        ax = axes[-1]
        for i in flux:
            ax.plot(t, columns[i], lw=1.0, label=header[i].replace(" [amol/s]", ""))
        ax.set_ylabel("flux into inner\n[amol/s]", fontsize=8)
        ax.legend(fontsize=7, ncol=3, loc="best")
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("time [s]")
    axes[0].set_title(args.title)
    fig.tight_layout()
    fig.savefig(args.png, dpi=110)


if __name__ == "__main__":
    main()
