#!/usr/bin/python3
"""Plot the profile.csv of `cadyn nanodomain` as a PNG (matplotlib, Agg backend).

usage: plot_nanodomain.py PROFILE.csv OUT.png [--title TITLE] [--mark R1,R2,...]

c(r) - c_inf would vanish far away; the plot shows c(r) itself, log-log: the numeric steady state (where
computed) as dots, free diffusion, the linearized, excess (EBA) and rapid (RBA) buffer approximations as lines.
--mark draws dotted vertical lines at distances [nm] (the ones the table printed).
"""
import argparse
import csv
import math
import os
import sys
import tempfile

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STYLES = [
    ("free [uM]", "free diffusion", dict(color="0.4", linestyle="--")),
    ("linearized [uM]", "linearized", dict(color="tab:blue")),
    ("eba [uM]", "excess buffer (EBA)", dict(color="tab:orange")),
    ("rba [uM]", "rapid buffer (RBA)", dict(color="tab:green")),
]


def read(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2:
        sys.exit(f"{path}: no data rows")
    header = rows[0]
    columns = {h: [] for h in header}
    for row in rows[1:]:
        if not row:
            continue
        for h, v in zip(header, row):
            columns[h].append(float(v) if v != "" else math.nan)
    return columns


def positive(xs, ys):
    pairs = [(x, y) for x, y in zip(xs, ys) if x > 0 and y > 0 and math.isfinite(y)]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile")
    parser.add_argument("out")
    parser.add_argument("--title", default="cadyn nanodomain")
    parser.add_argument("--mark", default="")
    args = parser.parse_args()

    c = read(args.profile)
    r = c["r [nm]"]
    fig, ax = plt.subplots(figsize=(7, 5))
    for key, label, style in STYLES:
        if key in c:
            x, y = positive(r, c[key])
            ax.plot(x, y, label=label, linewidth=1.5, **style)
    if "numeric [uM]" in c and any(math.isfinite(v) for v in c["numeric [uM]"]):
        x, y = positive(r, c["numeric [uM]"])
        ax.plot(x, y, "k.", markersize=3, label="numeric (steady state)")
    for m in [v for v in args.mark.split(",") if v.strip()]:
        ax.axvline(float(m), color="0.7", linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("distance from the channel r [nm]")
    ax.set_ylabel("free Ca [uM]")
    ax.set_title(args.title)
    ax.grid(True, which="both", alpha=0.2)
    ax.legend()
    fig.tight_layout()

    # Written next to the target and renamed, so a reader never sees half a PNG.
    folder = os.path.dirname(os.path.abspath(args.out))
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=folder)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=120)
        os.replace(tmp, args.out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


if __name__ == "__main__":
    main()
