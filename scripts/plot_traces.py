#!/usr/bin/python3
"""Plot a cadyn traces.csv as a PNG (matplotlib, Agg backend).

usage: plot_traces.py TRACES.csv OUT.png [--title TITLE]

Panels, top to bottom: free Ca of each compartment ("X.ca [uM]", one panel each), other concentrations, the
dimensionless observables together (a dye's F/F0, open probabilities), membrane potentials [mV], and the fluxes
[amol/s]. At most eight panels; time in seconds.
"""
import argparse
import csv
import os
import sys
import tempfile

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

MAX_PANELS = 8


def read(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2:
        sys.exit(f"{path}: no data rows")
    header = rows[0]
    columns = list(zip(*[[float(v) for v in r] for r in rows[1:] if r]))
    return header, columns


def split(h):
    """'cyt.ca [uM]' -> ('cyt.ca', 'uM'); 'fluo4.F_F0' -> ('fluo4.F_F0', '')."""
    if h.endswith("]") and " [" in h:
        name, unit = h[:-1].split(" [", 1)
        return name, unit
    return h, ""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("traces")
    parser.add_argument("png")
    parser.add_argument("--title", default="cadyn")
    args = parser.parse_args()

    header, columns = read(args.traces)
    t = [v / 1000.0 for v in columns[0]]
    names = [split(h) for h in header]
    free_ca = [i for i, (n, u) in enumerate(names) if u == "uM" and n.endswith(".ca") and n.count(".") == 1]
    other = [i for i, (n, u) in enumerate(names) if u == "uM" and i not in free_ca]
    plain = [i for i, (n, u) in enumerate(names[1:], start=1) if u in ("", "1")]
    volts = [i for i, (n, u) in enumerate(names) if u == "mV"]
    flux = [i for i, (n, u) in enumerate(names) if u == "amol/s"]

    panels = [([i], names[i][0], "uM") for i in free_ca]
    if plain:
        panels.append((plain, "", ""))
    if volts:
        panels.append((volts, "V", "mV"))
    if flux:
        panels.append((flux, "flux into inner", "amol/s"))
    # Other concentrations (Na, IP3, bound buffer) fill what room is left, above the group panels.
    room = MAX_PANELS - len(panels)
    for i in other[: max(room, 0)]:
        panels.insert(len(free_ca), ([i], names[i][0], "uM"))
    panels = panels[:MAX_PANELS]

    fig, axes = plt.subplots(len(panels), 1, sharex=True, figsize=(8, 1.8 * len(panels) + 0.8), squeeze=False)
    axes = axes[:, 0]
    for ax, (cols, label, unit) in zip(axes, panels):
        for i in cols:
            ax.plot(t, columns[i], lw=1.1, label=names[i][0])
        if len(cols) > 1 or not label:
            ax.legend(fontsize=7, ncol=3, loc="best")
        ax.set_ylabel(f"{label}\n[{unit}]" if unit else (label or "relative"), fontsize=8)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("time [s]")
    axes[0].set_title(args.title)
    fig.tight_layout()
    save_atomically(fig, args.png)


def save_atomically(fig, path):
    """Write the PNG under a temporary name in the same folder, then rename it over PATH: PATH is either the old
    plot or the complete new one, never half a file (docs/robustness.md, "Outputs")."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".partial", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            fig.savefig(f, format="png", dpi=110)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)  # mkstemp makes the file private; give it the mode a plain open() would
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise


if __name__ == "__main__":
    main()
