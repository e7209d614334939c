#!/usr/bin/python3
"""How the cost of a spatial run grows with the number of point channels (issue 8).

Question: one 3-D box of fixed size holds k = 1, 2, 4, ..., 64 single Ca channels (the `channel` mechanism placed
`at` distinct points of the membrane), each opening briefly. How does the wall time of `cadyn run` grow with k,
and why (more solver steps, or more cost per step)?

Method
  - Geometry: a box 8 x 8 x 2 um of 16 x 16 x 4 voxels (0.5 um; 1024 voxels), membrane on the z0 face against a
    clamped bath (2 mM Ca), every other face no-flux. Cytosol: free Ca (220 um^2/s) and a mobile buffer
    (calbindin-like: 40 uM, Kd 0.4 uM, kon 20 /uM/s, 27 um^2/s): 2 states per voxel, 2048 states. No pumps or
    leaks: the only Ca entering is the channels'.
  - Channels: k `[[mechanisms]]` of type `channel` (one budget channel each), 0.5 pA each, at the centres of
    distinct membrane voxels on a 1-um lattice (8 x 8 sites: x, y = 0.25, 1.25, ..., 7.25 um, z = 0), the
    first k of them in an order that spreads them over the membrane. Each is open for 1 ms.
  - Three series, 20 ms simulated, records every 1 ms (traces: cyt.ca; fields: cyt.ca and calbindin.bound):
      staggered:   channel j opens at 1 + 10 j / k ms (openings spread over 1-11 ms, overlapping for k > 10):
                   2k breakpoints at which the solver stops and restarts; linear solver as `automatic` picks
                   it (KLU, a sparse direct LU: 3-D and under 5000 states);
      gmres:       the same with run.linear_solver = "gmres" (matrix-free, voxel-block preconditioner);
      synchronous: every channel open from 1 to 2 ms (2 breakpoints whatever k), automatic solver: the cost of
                   k channels themselves (k mechanisms, k budget channels) without the restarts.
  - Timing: wall time of the whole process, `cadyn run MODEL --no-plot --out DIR` (time.perf_counter around
    subprocess.run), minimum of --repeats (default 3). Solver statistics (states, steps, rhs evaluations, the
    solver's own wall time) from summary.txt. Exponents: least-squares slope of log(time) on log(k) (k >= 2).

Correctness (exit status 1 if it fails), per run:
  - budget.csv: each channel's amount must be I dt / (z F) = 0.5 pA x 1 ms / (2 x 96485.33212 C/mol)
    = 2.591067e-3 amol, and their sum k times that, within 1e-6 relative;
  - the fields (results.h5, independently of the budget): the change of total Ca in the box,
    sum over voxels of V (ca + calbindin.bound) at 20 ms minus at 0, must equal the same expected sum within 1e-6
    relative. GMRES solves each Newton system only to its tolerance, so total Ca is kept to ~1e-8 of the box's
    whole content (docs/spatial.md), which is ~400x what one channel brings in: the gmres series is held instead to
    1e-7 of the content (reported as a fraction of what entered, as the others);
  - summary.txt's budget closure must be below 1e-6.
Jacobian evaluations are not in summary.txt: where the Python package imports, each model is also run once with
`cadyn.load(...).run()` (not timed) for `result.stats["jacobian_evaluations"]` (not for GMRES, which forms none).

Run (about 1.5 minutes on a 2-core machine; --quick: k up to 16, 1 repeat, ~15 s):

    /usr/bin/python3 bench/scaling/channel_scaling.py [--quick] [--repeats 3] [--cadyn build-bench/bin/cadyn]

The table goes to stdout, the plot to docs/img/scaling_channels.png; the models are written to a temporary
directory (--keep DIR keeps them and the outputs there).
"""

import argparse
import csv
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
FARADAY = 96485.33212  # C/mol
CURRENT_PA = 0.5
OPEN_MS = 1.0
T_END_MS = 20.0
TOL = 1e-6

HEADER = """format_version = 1
name = "box with {k} channels ({series})"
description = "1024-voxel box, Ca and a mobile buffer, {k} point channels ({series} openings)"
temperature = "22 degC"

[geometry]
type = "box"
size = ["8 um", "8 um", "2 um"]
voxels = [16, 16, 4]                  # 0.5 um; membrane on z0

[[compartments]]
name = "ext"
clamped = true
concentrations = {{ ca = "2 mM" }}

[[compartments]]
name = "cyt"
diffusion = {{ ca = "220 um^2/s" }}
concentrations = {{ ca = "100 nM" }}

[[membranes]]
name = "pm"
inner = "cyt"
outer = "ext"
potential = "-70 mV"

[[buffers]]
name = "calbindin"
compartment = "cyt"
total = "40 uM"
kd = "0.4 uM"
kon = "20 uM^-1 s^-1"
diffusion = "27 um^2/s"

[run]
t_end = "{t_end!r} ms"
start = "initial"
{solver}
[record]
interval = "1 ms"
observables = ["cyt.ca"]
fields = ["cyt.ca", "calbindin.bound"]
"""

CHANNEL = """
[[mechanisms]]
name = "ch{j}"
type = "channel"
membrane = "pm"
current = "{current!r} pA"
open_at = "{open_at!r} ms"
close_at = "{close_at!r} ms"
at = ["{x!r} um", "{y!r} um", "0 um"]
"""


def sites():
    """The 64 lattice sites (voxel centres 1 um apart), ordered so that any first k are spread out:
    bit-reversed index along each axis."""
    rev = [int(f"{i:03b}"[::-1], 2) for i in range(8)]  # 0 4 2 6 1 5 3 7
    order = []
    for a in range(8):
        for b in range(8):
            order.append((rev[b], rev[(a + b) % 8]))  # Latin-square interleave: row then column
    # stable de-duplication (the interleave visits every (i, j) once)
    assert len(set(order)) == 64
    return [(0.25 + 1.0 * i, 0.25 + 1.0 * j) for i, j in order]


def model_text(k, series):
    solver = 'linear_solver = "gmres"\n' if series == "gmres" else ""
    text = HEADER.format(k=k, series=series, t_end=T_END_MS, solver=solver)
    openings = []
    for j, (x, y) in enumerate(sites()[:k]):
        o = 1.0 if series == "synchronous" else 1.0 + 10.0 * j / k
        openings.append((o, o + OPEN_MS))
        text += CHANNEL.format(j=j, current=CURRENT_PA, open_at=o, close_at=o + OPEN_MS, x=x, y=y)
    return text, openings


def expected_amol(openings):
    """Faraday: I dt / (z F) per channel [amol]."""
    return [CURRENT_PA * 1e-12 * (c - o) * 1e-3 / (2 * FARADAY) * 1e18 for o, c in openings]


def parse_summary(path):
    text = path.read_text()
    m = re.search(r"simulated:\s+\S+ ms in ([0-9.]+) s wall \((\d+) states, (\d+) steps, (\d+) rhs evaluations\)", text)
    if not m:
        sys.exit(f"cannot read the solver statistics from {path}:\n{text}")
    b = re.search(r"budget:.* to ([0-9.eE+-]+) of the amounts", text)
    return {"solver_s": float(m.group(1)), "states": int(m.group(2)), "steps": int(m.group(3)),
            "rhs": int(m.group(4)), "closure": float(b.group(1)) if b else float("nan")}


def check_run(out, openings):
    """Relative errors: (sum of the channels' budget, worst single channel, total Ca change from the fields)."""
    expect = expected_amol(openings)
    with open(out / "budget.csv") as f:
        rows = {r["mechanism"]: float(r["amount [amol]"]) for r in csv.DictReader(f) if r["type"] == "channel"}
    if len(rows) != len(openings):
        return float("inf"), float("inf"), float("inf"), 1.0
    got = [rows[f"ch{j}"] for j in range(len(openings))]
    total = sum(expect)
    err_sum = abs(sum(got) / total - 1)
    err_one = max(abs(g / e - 1) for g, e in zip(got, expect))
    with h5py.File(out / "results.h5", "r") as h:
        vol = h["grid/volume"][:]  # um^3
        ca, bound = h["fields/cyt.ca"], h["fields/calbindin.bound"]  # uM, [records, voxels]
        amount = [float(np.sum(vol * (ca[i, :] + bound[i, :]))) for i in (0, -1)]  # uM um^3 = zmol
        t = h["fields/time"][:]
    if abs(t[-1] - T_END_MS) > 1e-9:
        return err_sum, err_one, float("inf"), 1.0
    err_fields = abs((amount[1] - amount[0]) * 1e-3 / total - 1)
    return err_sum, err_one, err_fields, amount[0] * 1e-3 / total


def import_cadyn():
    """The Python package (for Jacobian counts only): `import cadyn`, else build/python, build-py/python; None
    if it does not import (e.g. during someone's rebuild: retried a few times)."""
    for attempt in range(4):
        try:
            import cadyn

            return cadyn
        except ImportError:
            sys.modules.pop("cadyn", None)
            for d in (ROOT / "build" / "python", ROOT / "build-py" / "python"):
                if (d / "cadyn" / "__init__.py").exists() and str(d) not in sys.path:
                    sys.path.insert(0, str(d))
                    break
            else:
                time.sleep(10)
    return None


def jacobian_evaluations(cadyn, model):
    if cadyn is None:
        return None
    try:
        return int(cadyn.load(str(model)).run(fields=[]).stats["jacobian_evaluations"])
    except Exception as e:  # the package may be mid-rebuild or from another revision: the count is optional
        print(f"(no Jacobian count for {model.name}: {e})", file=sys.stderr)
        return None


def slope(ks, ts):
    ks, ts = np.asarray(ks, float), np.asarray(ts, float)
    sel = ks >= 2
    return float(np.polyfit(np.log(ks[sel]), np.log(ts[sel]), 1)[0])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="k up to 16, 1 repeat")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cadyn", default=str(ROOT / "build-bench" / "bin" / "cadyn"))
    ap.add_argument("--keep", help="write the models and outputs here instead of a temporary directory")
    ap.add_argument("--plot", default=str(ROOT / "docs" / "img" / "scaling_channels.png"))
    args = ap.parse_args()
    ks = [1, 2, 4, 8, 16, 32, 64]
    if args.quick:
        ks, args.repeats = [1, 2, 4, 8, 16], 1
    series = ["staggered", "gmres", "synchronous"]

    version = subprocess.run([args.cadyn, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    print(f"{args.cadyn} ({version}); {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
          f"box 16 x 16 x 4 voxels, Ca + mobile buffer; {T_END_MS:g} ms; wall time of the whole process, "
          f"min of {args.repeats}\n")

    cadyn = import_cadyn()
    if cadyn is None:
        print("(the Python package does not import: no Jacobian counts)\n")
    failures = []
    results = {s: [] for s in series}
    with tempfile.TemporaryDirectory(prefix="cadyn_channels_") as tmp:
        work = pathlib.Path(args.keep) if args.keep else pathlib.Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for s in series:
            for k in ks:
                text, openings = model_text(k, s)
                model = work / f"{s}_k{k:02d}.toml"
                model.write_text(text)
                best, stats = float("inf"), None
                for rep in range(args.repeats):
                    out = work / f"{s}_k{k:02d}_out{rep}"
                    a = time.perf_counter()
                    p = subprocess.run([args.cadyn, "run", str(model), "--no-plot", "--out", str(out)],
                                       capture_output=True, text=True)
                    wall = time.perf_counter() - a
                    if p.returncode != 0:
                        sys.exit(f"cadyn run {model} failed ({p.returncode}):\n{p.stderr}")
                    st = parse_summary(out / "summary.txt")
                    errs = check_run(out, openings)
                    content = errs[3]  # the box's Ca at t = 0 over what enters
                    tols = (TOL, TOL, 1e-7 * content if s == "gmres" else TOL)
                    for name, e, tol in zip(("channels' budget sum", "one channel's budget", "fields' total Ca"),
                                            errs, tols):
                        if not e <= tol:
                            failures.append(f"{s}, k = {k}: {name} off by {e:.3g} (> {tol:.3g})")
                    if not st["closure"] <= TOL:
                        failures.append(f"{s}, k = {k}: summary's budget closure {st['closure']:.3g}")
                    if wall < best:
                        best, stats = wall, dict(st, errs=errs)
                breakpoints = len({t for o in openings for t in o})
                jac = jacobian_evaluations(cadyn, model)
                results[s].append(dict(stats, k=k, wall=best, breakpoints=breakpoints, jac=jac,
                                       expected=sum(expected_amol(openings))))

    print("| series | k | breakpoints | states | steps | rhs evals | Jacobians | wall (process) | solver wall | per step "
          "| expected Ca in [amol] | budget sum err | worst channel err | fields total err | closure |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for s in series:
        for r in results[s]:
            e = r["errs"]
            jac = "-" if r["jac"] is None or s == "gmres" else str(r["jac"])  # GMRES: matrix-free, not counted
            print(f"| {s} | {r['k']} | {r['breakpoints']} | {r['states']} | {r['steps']} | {r['rhs']} | {jac} | "
                  f"{r['wall'] * 1e3:.0f} ms | {r['solver_s'] * 1e3:.0f} ms | "
                  f"{r['solver_s'] / r['steps'] * 1e3:.3f} ms | {r['expected']:.6g} | {e[0]:.1e} | {e[1]:.1e} | "
                  f"{e[2]:.1e} | {r['closure']:.1e} |")
    print()
    for s in series:
        rs = results[s]
        k = [r["k"] for r in rs]
        print(f"{s}: wall ~ k^{slope(k, [r['wall'] for r in rs]):.2f}, solver wall ~ "
              f"k^{slope(k, [r['solver_s'] for r in rs]):.2f}, steps ~ k^{slope(k, [r['steps'] for r in rs]):.2f}, "
              f"steps per breakpoint at k = {k[-1]}: {rs[-1]['steps'] / rs[-1]['breakpoints']:.1f}; "
              f"k = {k[0]} -> {k[-1]}: wall x{rs[-1]['wall'] / rs[0]['wall']:.1f}, steps x"
              f"{rs[-1]['steps'] / rs[0]['steps']:.1f}")
    st, gm = results["staggered"][-1], results["gmres"][-1]
    print(f"At k = {st['k']}, staggered: automatic (KLU) {st['wall']:.2f} s against GMRES {gm['wall']:.2f} s "
          f"(x{st['wall'] / gm['wall']:.0f}) for {st['steps']} and {gm['steps']} steps")

    # Plot.
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    labels = {"staggered": "staggered openings, automatic solver (KLU)",
              "gmres": "staggered openings, GMRES",
              "synchronous": "all open 1-2 ms, automatic solver (KLU)"}
    marks = {"staggered": "o-", "gmres": "s-", "synchronous": "^-"}
    ax = axes[0]
    for s in series:
        rs = results[s]
        ax.plot([r["k"] for r in rs], [r["wall"] for r in rs], marks[s], label=labels[s])
    r0 = results["staggered"][0]
    ax.plot(ks, [r0["wall"] * k for k in ks], "--", color="grey", label="linear in k")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("point channels k")
    ax.set_ylabel("wall time of `cadyn run` [s]")
    ax.set_title("box 16x16x4 voxels, Ca + mobile buffer, 20 ms")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    ax = axes[1]
    for s in series:
        rs = results[s]
        ax.plot([r["k"] for r in rs], [r["steps"] for r in rs], marks[s], label=f"steps, {labels[s]}")
    ax.plot(ks, [2 * k for k in ks], ":", color="k", label="breakpoints (staggered): 2k")
    jac = [(r["k"], r["jac"]) for r in results["staggered"] if r["jac"] is not None]
    if jac:
        ax.plot(*zip(*jac), "o--", color="C0", mfc="none", label="Jacobian evaluations, staggered (KLU)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("point channels k")
    ax.set_ylabel("count per run")
    ax.set_title("solver steps (and Jacobians) against k")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    plot = pathlib.Path(args.plot)
    plot.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(plot, dpi=110)
    print(f"\nplot: {plot}", file=sys.stderr)

    if failures:
        print("\nCORRECTNESS CHECK FAILED:\n  " + "\n  ".join(failures))
        return 1
    print(f"\nCorrectness check passed: every run's Ca entering equals sum I dt / (zF) within {TOL:g} (budget and "
          "fields).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
