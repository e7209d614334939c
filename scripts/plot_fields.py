#!/usr/bin/python3
"""Plot the spatial fields of a cadyn HDF5 file as PNGs (h5py, matplotlib with the Agg backend).

usage: plot_fields.py FIELDS.h5 --out DIR [--field NAME]... [--log]

For every field in /fields (or each one named with --field), into DIR:
  NAME_kymograph.png   1-D grids (cable, shells): position along axis 0 against time, colour = value;
  NAME_image.png       2-D grids (axisymmetric): the last record as a pseudo-colour image in (r, z), and beside it
                       the profile along r in the first z layer; 3-D grids (box): the last record in the first
                       layer along axis 2;
  NAME_profiles.png    every grid: value against axis-0 position at a few record times (the first layer of the
                       other axes).
--log puts the values on a logarithmic scale (values <= 0 are left out). Prints the path of every PNG written.
The file layout is described in docs/hdf5.md.
"""
import argparse
import os
import sys

import h5py
import numpy as np

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import LogNorm, Normalize  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plot_traces import save_atomically  # noqa: E402

MAX_KYMOGRAPH_ROWS = 2000  # records drawn in a kymograph (every n-th record beyond that)
PROFILES = 5  # record times in a profile plot
AXIS_NAMES = {
    "cable": ["x", "", ""],
    "shells": ["r", "", ""],
    "axisymmetric": ["r", "z", ""],
    "box": ["x", "y", "z"],
}


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def label(name, unit):
    return f"{name} [{unit}]" if unit else name


def file_name(name):
    """A field name as part of a file name ("cyt.ca" stays "cyt.ca")."""
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


class Grid:
    def __init__(self, f, path):
        if "grid" not in f:
            sys.exit(f"{path}: no /grid in the file (was it written with fields?)")
        g = f["grid"]
        self.geometry = text(g.attrs.get("geometry", ""))
        self.dimensions = int(g.attrs["dimensions"])
        self.shape = tuple(int(n) for n in g.attrs["shape"])
        self.edges = [g[f"edges_{k}"][:] for k in range(self.dimensions)]
        self.centres = [g[f"centres_{k}"][:] for k in range(self.dimensions)]
        names = AXIS_NAMES.get(self.geometry, ["axis 0", "axis 1", "axis 2"])
        self.axes = [n or f"axis {k}" for k, n in enumerate(names)]

    def record(self, row):
        """One record [voxels] as [axis 2, axis 1, axis 0] (voxel index fastest along axis 0)."""
        return np.asarray(row).reshape(self.shape[::-1])


def norm_for(values, log):
    values = np.asarray(values)
    finite = values[np.isfinite(values)]
    if log:
        positive = finite[finite > 0]
        if positive.size == 0:
            return None
        low, high = positive.min(), positive.max()
        return LogNorm(vmin=low, vmax=high if high > low else low * 10)
    if finite.size == 0:
        return Normalize()
    low, high = finite.min(), finite.max()
    return Normalize(vmin=low, vmax=high if high > low else low + 1)


def masked(values, log):
    values = np.ma.masked_invalid(np.asarray(values, dtype=float))
    return np.ma.masked_less_equal(values, 0) if log else values


def time_edges(t):
    """Cell edges around the record times, for pcolormesh."""
    if t.size == 1:
        return np.array([t[0] - 0.5, t[0] + 0.5])
    middle = 0.5 * (t[1:] + t[:-1])
    return np.concatenate([[2 * t[0] - middle[0]], middle, [2 * t[-1] - middle[-1]]])


def save(fig, path, written):
    fig.tight_layout()
    save_atomically(fig, path)
    plt.close(fig)
    written.append(path)
    print(path, flush=True)


def kymograph(grid, name, unit, dataset, t, t_unit, args, written):
    step = max(1, -(-t.size // MAX_KYMOGRAPH_ROWS))
    values = dataset[: t.size : step]  # read only the records drawn
    times = t[::step]
    norm = norm_for(values, args.log)
    if norm is None:
        print(f"plot_fields: {name}: no positive values for --log; no kymograph", file=sys.stderr)
        return
    fig, ax = plt.subplots(figsize=(8, 4.5))
    mesh = ax.pcolormesh(time_edges(times), grid.edges[0], masked(values, args.log).T, norm=norm,
                         cmap="viridis", shading="flat")
    bar = fig.colorbar(mesh, ax=ax)
    bar.set_label(label(name, unit))
    ax.set_xlabel(label("time", t_unit))
    ax.set_ylabel(label(grid.axes[0], "um"))
    ax.set_title(f"{name} ({grid.geometry})")
    save(fig, os.path.join(args.out, f"{file_name(name)}_kymograph.png"), written)


def image(grid, name, unit, last, t_last, t_unit, args, written):
    layer = grid.record(last)[0]  # [axis 1, axis 0], the first layer along axis 2
    norm = norm_for(layer, args.log)
    if norm is None:
        print(f"plot_fields: {name}: no positive values for --log; no image", file=sys.stderr)
        return
    two_d = grid.dimensions == 2
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), gridspec_kw={"width_ratios": [1.2, 1]})
    ax = axes[0]
    mesh = ax.pcolormesh(grid.edges[0], grid.edges[1], masked(layer, args.log), norm=norm, cmap="viridis",
                         shading="flat")
    bar = fig.colorbar(mesh, ax=ax)
    bar.set_label(label(name, unit))
    ax.set_xlabel(label(grid.axes[0], "um"))
    ax.set_ylabel(label(grid.axes[1], "um"))
    ax.set_aspect("equal", adjustable="box")
    where = "" if two_d else f", first layer along {grid.axes[2]}"
    ax.set_title(f"{name} at {t_last:g} {t_unit}{where}")

    ax = axes[1]
    ax.plot(grid.centres[0], masked(layer[0], args.log), marker=".", lw=1.2)
    if args.log:
        ax.set_yscale("log")
    ax.set_xlabel(label(grid.axes[0], "um"))
    ax.set_ylabel(label(name, unit))
    z0 = 0.5 * (grid.edges[1][0] + grid.edges[1][1])
    ax.set_title(f"along {grid.axes[0]} at {grid.axes[1]} = {z0:g} um (first layer)")
    ax.grid(alpha=0.3)
    save(fig, os.path.join(args.out, f"{file_name(name)}_image.png"), written)


def profiles(grid, name, unit, dataset, t, t_unit, args, written):
    rows = np.unique(np.linspace(0, t.size - 1, min(PROFILES, t.size)).round().astype(int))
    data = dataset[list(rows)] if rows.size > 1 else dataset[rows[0]:rows[0] + 1]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    colours = plt.cm.viridis(np.linspace(0, 0.9, rows.size))
    for row, values, colour in zip(rows, data, colours):
        line = grid.record(values)[0, 0]  # along axis 0 in the first layer of the other axes
        ax.plot(grid.centres[0], masked(line, args.log), marker=".", lw=1.2, color=colour,
                label=f"{t[row]:g} {t_unit}")
    if args.log:
        ax.set_yscale("log")
    ax.set_xlabel(label(grid.axes[0], "um"))
    ax.set_ylabel(label(name, unit))
    ax.legend(fontsize=8, title="time")
    ax.grid(alpha=0.3)
    other = "" if grid.dimensions == 1 else " (first layer of the other axes)"
    ax.set_title(f"{name} along {grid.axes[0]}{other}")
    save(fig, os.path.join(args.out, f"{file_name(name)}_profiles.png"), written)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", help="a cadyn HDF5 file (fields.h5)")
    parser.add_argument("--out", required=True, help="folder for the PNGs (created when missing)")
    parser.add_argument("--field", action="append", help="a field to plot (repeat for more; default: all)")
    parser.add_argument("--log", action="store_true", help="values on a logarithmic scale")
    args = parser.parse_args()

    try:
        f = h5py.File(args.file, "r")
    except OSError as e:
        sys.exit(f"plot_fields: cannot read '{args.file}': {e}")
    with f:
        if "fields" not in f:
            sys.exit(f"plot_fields: {args.file}: no /fields in the file")
        group = f["fields"]
        available = [n for n in group if n != "time"]
        names = args.field or available
        unknown = [n for n in names if n not in available]
        if unknown:
            sys.exit(f"plot_fields: {args.file}: no field {', '.join(repr(n) for n in unknown)} "
                     f"(fields: {', '.join(available) or 'none'})")
        grid = Grid(f, args.file)
        t = group["time"][:]
        t_unit = text(group["time"].attrs.get("unit", "ms"))
        if t.size == 0:
            sys.exit(f"plot_fields: {args.file}: no records in /fields")
        os.makedirs(args.out, exist_ok=True)
        written = []
        for name in names:
            dataset = group[name]
            unit = text(dataset.attrs.get("unit", ""))
            records = min(dataset.shape[0], t.size)
            if grid.dimensions == 1:
                kymograph(grid, name, unit, dataset, t[:records], t_unit, args, written)
            else:
                image(grid, name, unit, dataset[records - 1], t[records - 1], t_unit, args, written)
            profiles(grid, name, unit, dataset, t[:records], t_unit, args, written)
    if not written:
        sys.exit("plot_fields: nothing plotted")


if __name__ == "__main__":
    main()
