#!/usr/bin/python3
"""How a parameter sweep's cost grows with the number of sweep points (issue 8).

Question: a user sweeps IP3 over N points of the Li & Rinzel model (models/li_rinzel.toml, t_end 200 s, rtol 1e-6)
from Python, or as N separate `cadyn run` processes (a cluster job array). How does the wall time grow with N,
what does one point cost, and how much of it is fixed per-run or per-process overhead?

Method
  - Points: N = 1, 4, 16, 64, 256 values of IP3 at the centres of N equal bins of 0.2 .. 1.0 uM
    (N = 1: 0.6 uM; N = 256: 0.2016 .. 0.9984 uM).
  - In process (Python API, as the README's Python section shows): `cadyn.load()` once, `model.set("rtol", 1e-6)`,
    `model.set("t_end", "200 s")`, then per point `model.set("cyt.ip3", "<p> uM")`, `model.run()` and the
    oscillation test below on `result["cyt.ca"]`. Timed with time.perf_counter: load, set, run, analysis; the
    total is the whole loop including the load. `run()` compiles the model every call; the fixed part of a run
    (compile, solver set-up, copying the records out) is estimated by `model.run(t_end="1 ms")`.
    Also the same sweep on 2 threads (`run()` releases the GIL; one `model.copy()` per thread), and both again
    with `model.set("record.interval", "1 s")` (201 records instead of the file's 10001 every 20 ms), which
    separates the cost of recording from that of integrating.
  - As separate processes (N <= 64): one copy of the model file per point with IP3, t_end and rtol edited in
    the text, then `cadyn run FILE --no-plot --out DIR` one after the other (each writes traces.csv with 7
    observables x 10001 records, budget.csv, results.h5, summary.txt). Per-process start-up is split by timing
    `cadyn --version` (exec and dynamic loading of the ~60 shared libraries) and `cadyn run FILE --t-end "1 ms"`
    (start-up + reading and compiling the model + opening the outputs).
  - Every timing is the minimum over --repeats sweeps (default 3; the machine is shared).
  - Exponents: least-squares slope of log(total time) against log(N) over the N measured.

Science check (exit status 1 if it fails): the sweep must not be an empty loop.
  - A point oscillates when the late peak-to-peak of cyt Ca is large and not dying away: over t in [150, 200] s
    the peak-to-peak is > 0.01 uM and at least 0.95 x the peak-to-peak over [100, 150) s. (At rest it is ~1e-7 uM;
    damped oscillations just outside the window shrink from one 50 s window to the next.)
  - Expected: oscillation exactly inside the window bounded by the two Hopf points, 0.3545 .. 0.6369 uM. The
    script recomputes them from the reduced 2-variable equations (models/li_rinzel.toml's header: c, h with
    c_er = (c0 - c)/c1): the steady state's Jacobian trace changes sign (scipy brentq); they must agree with
    0.3545 and 0.6369 to 1e-3 uM.
  - Every point farther than --edge (default 0.02 uM) from a Hopf point must be classified as the window says;
    points nearer the edges are listed (both Hopf bifurcations here are subcritical-looking: near them a large
    cycle coexists with, or dies slowly into, the steady state, so 200 s need not decide).
  - In-process and per-process runs of the same point must agree on the classification.
  - The period (mean interval between upward crossings of the late mean) must fall as IP3 rises in the window.

Run (about 25 s on a 2-core machine; --quick: N up to 64 in process, 16 as processes, 1 repeat, ~5 s):

    /usr/bin/python3 bench/scaling/sweep_scaling.py [--quick] [--repeats 3] [--cadyn build-bench/bin/cadyn]

The table goes to stdout, the plot to docs/img/scaling_sweep.png. The Python package is the one `import cadyn`
finds (else build/python, then build-py/python); the command line is build-bench/bin/cadyn.
"""

import argparse
import concurrent.futures
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np
from scipy.optimize import brentq

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "li_rinzel.toml"
HOPF_DOCS = (0.3545, 0.6369)  # uM, the Li-Rinzel Hopf points as quoted for this model
T_END_S = 200.0
RTOL = 1e-6
SPARSE = "1 s"  # record interval of the variant that separates recording from integrating (the file's: 20 ms)


def import_cadyn(tries=20, wait_s=15):
    """`import cadyn`; else build/python or build-py/python. Retries while someone's rebuild replaces it."""
    for attempt in range(tries):
        try:
            import cadyn  # noqa: F401

            return sys.modules["cadyn"]
        except ImportError as e:
            for d in (ROOT / "build" / "python", ROOT / "build-py" / "python"):
                if (d / "cadyn" / "__init__.py").exists() and str(d) not in sys.path:
                    sys.path.insert(0, str(d))
                    break
            else:
                if attempt + 1 == tries:
                    raise
                print(f"import cadyn failed ({e}); retrying in {wait_s} s", file=sys.stderr)
                time.sleep(wait_s)
            sys.modules.pop("cadyn", None)
    raise ImportError("cadyn")


# ----------------------------------------------------------------------------- the science


def li_rinzel_hopf_points():
    """Hopf points of the reduced Li-Rinzel cell (the equations in models/li_rinzel.toml's header)."""
    c0, c1, v1, v2, v3, k3 = 2.0, 0.185, 6.0, 0.11, 0.9, 0.1  # uM, -, 1/s, 1/s, uM/s, uM
    d1, d2, d3, d5, a2 = 0.13, 1.049, 0.9434, 0.08234, 0.2

    def rhs(c, h, p):
        cer = (c0 - c) / c1
        m, n = p / (p + d1), c / (c + d5)
        q2 = d2 * (p + d1) / (p + d3)
        dc = c1 * v1 * m**3 * n**3 * h**3 * (cer - c) + c1 * v2 * (cer - c) - v3 * c * c / (k3 * k3 + c * c)
        return dc, a2 * (q2 * (1 - h) - c * h)

    def h_inf(c, p):
        q2 = d2 * (p + d1) / (p + d3)
        return q2 / (q2 + c)

    def trace(p):
        c = brentq(lambda c: rhs(c, h_inf(c, p), p)[0], 1e-9, c0 - 1e-9, xtol=1e-15)
        h = h_inf(c, p)
        ec, eh = 1e-7 * c, 1e-7
        j11 = (rhs(c + ec, h, p)[0] - rhs(c - ec, h, p)[0]) / (2 * ec)
        j22 = (rhs(c, h + eh, p)[1] - rhs(c, h - eh, p)[1]) / (2 * eh)
        return j11 + j22

    grid = np.arange(0.2, 1.0001, 0.01)
    tr = [trace(p) for p in grid]
    return [brentq(trace, grid[i], grid[i + 1], xtol=1e-10) for i in range(len(grid) - 1) if (tr[i] > 0) != (tr[i + 1] > 0)]


def classify(t_ms, ca):
    """(oscillates, late peak-to-peak, period [s] or nan) from the cyt Ca trace."""
    late = ca[t_ms >= 150e3]
    mid = ca[(t_ms >= 100e3) & (t_ms < 150e3)]
    ptp_late, ptp_mid = float(np.ptp(late)), float(np.ptp(mid))
    osc = ptp_late > 0.01 and ptp_late >= 0.95 * ptp_mid
    period = float("nan")
    if osc:
        tl = t_ms[t_ms >= 100e3]
        x = ca[t_ms >= 100e3] - ca[t_ms >= 100e3].mean()
        up = np.nonzero((x[:-1] < 0) & (x[1:] >= 0))[0]
        if len(up) >= 2:
            # linear interpolation of each crossing
            tc = tl[up] - x[up] * (tl[up + 1] - tl[up]) / (x[up + 1] - x[up])
            period = float(np.mean(np.diff(tc))) / 1e3
    return osc, ptp_late, period


def ip3_points(n):
    return 0.2 + (np.arange(n) + 0.5) * 0.8 / n


# ----------------------------------------------------------------------------- in process


def load_model(cadyn, interval=None):
    model = cadyn.load(str(MODEL))
    model.set("rtol", RTOL)
    model.set("t_end", f"{T_END_S:g} s")
    if interval:
        model.set("record.interval", interval)
    return model


def sweep_in_process(cadyn, points, interval=None):
    """One sweep as a user writes it. Returns (times dict, per-point results)."""
    t0 = time.perf_counter()
    model = load_model(cadyn, interval)
    t_load = time.perf_counter() - t0
    t_set = t_run = t_ana = 0.0
    out = []
    for p in points:
        a = time.perf_counter()
        model.set("cyt.ip3", f"{p!r} uM")
        b = time.perf_counter()
        r = model.run()
        c = time.perf_counter()
        res = classify(r.time, r["cyt.ca"]) + (r.stats["steps"],)
        d = time.perf_counter()
        t_set += b - a
        t_run += c - b
        t_ana += d - c
        out.append(res)
    total = time.perf_counter() - t0
    return {"total": total, "load": t_load, "set": t_set, "run": t_run, "analysis": t_ana}, out


def sweep_threads(cadyn, points, workers=2, interval=None):
    """The same sweep on `workers` threads (run() releases the GIL), one model copy per thread."""
    t0 = time.perf_counter()
    base = load_model(cadyn, interval)
    chunks = [points[i::workers] for i in range(workers)]

    def work(chunk):
        m = base.copy()
        res = []
        for p in chunk:
            m.set("cyt.ip3", f"{p!r} uM")
            r = m.run()
            res.append(classify(r.time, r["cyt.ca"])[0])
        return res

    with concurrent.futures.ThreadPoolExecutor(workers) as ex:
        results = list(ex.map(work, chunks))
    return time.perf_counter() - t0, sum(sum(r) for r in results)


def fixed_run_cost(cadyn, repeats=50):
    """Per-run fixed cost in process: model.run(t_end="1 ms") (compile, solver set-up, records out), min of repeats."""
    model = load_model(cadyn)
    best = float("inf")
    for _ in range(repeats):
        a = time.perf_counter()
        model.run(t_end="1 ms")
        best = min(best, time.perf_counter() - a)
    return best


# ----------------------------------------------------------------------------- separate processes


def model_text(p):
    text = MODEL.read_text()
    edits = [('ip3 = "0.5 uM"', f'ip3 = "{p!r} uM"'), ('t_end = "100 s"', f't_end = "{T_END_S:g} s"'),
             ("rtol = 1e-8", f"rtol = {RTOL:g}")]
    for old, new in edits:
        if text.count(old) != 1:
            sys.exit(f"cannot edit {MODEL}: '{old}' found {text.count(old)} times (the file changed?)")
        text = text.replace(old, new)
    return text


def read_cyt_ca(path):
    data = np.loadtxt(path, delimiter=",", skiprows=1, usecols=(0, 1))
    return data[:, 0], data[:, 1]


def sweep_processes(cadyn_bin, points, workdir):
    """Write one model file per point, then run them one after the other. Returns (total s, classifications)."""
    files = []
    for i, p in enumerate(points):
        f = workdir / f"li_rinzel_{i:03d}.toml"
        f.write_text(model_text(p))
        files.append(f)
    t0 = time.perf_counter()
    for i, f in enumerate(files):
        subprocess.run([cadyn_bin, "run", str(f), "--no-plot", "--out", str(workdir / f"out_{i:03d}")],
                       check=True, stdout=subprocess.DEVNULL)
    total = time.perf_counter() - t0
    results = []
    for i in range(len(files)):
        t, ca = read_cyt_ca(workdir / f"out_{i:03d}" / "traces.csv")
        if abs(t[-1] - T_END_S * 1e3) > 1e-6:
            sys.exit(f"process run {i} ended at {t[-1]} ms, not {T_END_S} s")
        results.append(classify(t, ca))
    return total, results


def process_startup(cadyn_bin, workdir, repeats=10):
    """min over repeats of: `cadyn --version`, `cadyn run FILE --t-end '1 ms' --no-plot`."""
    f = workdir / "startup.toml"
    f.write_text(model_text(0.5))
    out = {}
    for name, cmd in (("exec", [cadyn_bin, "--version"]),
                      ("1 ms run", [cadyn_bin, "run", str(f), "--t-end", "1 ms", "--no-plot", "--out",
                                    str(workdir / "startup_out")])):
        best = float("inf")
        for _ in range(repeats):
            a = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            best = min(best, time.perf_counter() - a)
        out[name] = best
    return out


# ----------------------------------------------------------------------------- main


def slope(ns, ts):
    return float(np.polyfit(np.log(ns), np.log(ts), 1)[0])


def fmt_t(s):
    return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="N up to 64 in process and 16 as processes, 1 repeat")
    ap.add_argument("--repeats", type=int, default=3, help="sweeps per N; the minimum is reported")
    ap.add_argument("--cadyn", default=str(ROOT / "build-bench" / "bin" / "cadyn"), help="the command line")
    ap.add_argument("--edge", type=float, default=0.02, help="uM: points this near a Hopf point are not checked")
    ap.add_argument("--plot", default=str(ROOT / "docs" / "img" / "scaling_sweep.png"))
    args = ap.parse_args()

    ns_proc_max = 64
    ns = [1, 4, 16, 64, 256]
    if args.quick:
        ns, ns_proc_max, args.repeats = [1, 4, 16, 64], 16, 1
    ns_proc = [n for n in ns if n <= ns_proc_max]

    cadyn = import_cadyn()
    version = subprocess.run([args.cadyn, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    print(f"cadyn Python package {cadyn.__version__} from {cadyn.__file__}; command line {args.cadyn} ({version})")
    print(f"{platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
          f"model {MODEL.relative_to(ROOT)}, t_end {T_END_S:g} s, rtol {RTOL:g}; min of {args.repeats} sweep(s)\n")

    failures = []

    # --- the window
    hopf = li_rinzel_hopf_points()
    print("Hopf points recomputed from the reduced equations: " + ", ".join(f"{h:.4f}" for h in hopf) +
          f" uM (quoted: {HOPF_DOCS[0]} .. {HOPF_DOCS[1]})")
    if len(hopf) != 2 or any(abs(a - b) > 1e-3 for a, b in zip(hopf, HOPF_DOCS)):
        failures.append(f"Hopf points {hopf} differ from {HOPF_DOCS}")
    lo, hi = HOPF_DOCS

    # --- in process
    rows = {}
    for n in ns:
        pts = ip3_points(n)
        best, res = None, None
        for _ in range(args.repeats):
            t, r = sweep_in_process(cadyn, pts)
            if best is None or t["total"] < best["total"]:
                best, res = t, r
        thr = min(sweep_threads(cadyn, pts)[0] for _ in range(args.repeats))
        sparse = min((sweep_in_process(cadyn, pts, SPARSE)[0] for _ in range(args.repeats)), key=lambda t: t["total"])
        thr_sparse = min(sweep_threads(cadyn, pts, interval=SPARSE)[0] for _ in range(args.repeats))
        rows[n] = {"inproc": best, "res": res, "threads": thr, "pts": pts, "sparse": sparse, "thr_sparse": thr_sparse}
    fixed = fixed_run_cost(cadyn)

    # --- processes
    with tempfile.TemporaryDirectory(prefix="cadyn_sweep_") as tmp:
        tmp = pathlib.Path(tmp)
        startup = process_startup(args.cadyn, tmp)
        for n in ns_proc:
            best, res = float("inf"), None
            for rep in range(args.repeats):
                d = tmp / f"n{n}_r{rep}"
                d.mkdir()
                t, r = sweep_processes(args.cadyn, rows[n]["pts"], d)
                if t < best:
                    best, res = t, r
            rows[n]["proc"], rows[n]["proc_res"] = best, res

    # --- science per N
    all_pts, all_osc, all_period = [], [], []
    for n in ns:
        pts, res = rows[n]["pts"], rows[n]["res"]
        osc = [r[0] for r in res]
        expect = [lo < p < hi for p in pts]
        rows[n]["osc"] = sum(osc)
        rows[n]["expect"] = sum(expect)
        rows[n]["steps"] = sum(r[3] for r in res)
        near = []
        for p, o, e in zip(pts, osc, expect):
            if o != e:
                if min(abs(p - lo), abs(p - hi)) > args.edge:
                    failures.append(f"N={n}: IP3 {p:.4f} uM {'oscillates' if o else 'rests'}, the window says otherwise")
                else:
                    near.append(f"{p:.4f}")
        rows[n]["near"] = near
        if "proc_res" in rows[n]:
            diff = [p for p, a, b in zip(pts, res, rows[n]["proc_res"]) if a[0] != b[0]]
            if diff:
                failures.append(f"N={n}: in process and as processes disagree at IP3 {diff}")
        all_pts += list(pts)
        all_osc += osc
        all_period += [r[2] for r in res]

    # --- tables
    print("\nIn process (Python API), min over sweeps; 'run' includes compiling the model, once per point:\n")
    print("| N | oscillating (window says) | solver steps | total | per point | load (once) | set | run | analysis "
          f"| 2 threads (speed-up) | run, {SPARSE} records | total, {SPARSE} records | 2 threads, {SPARSE} records "
          "(speed-up) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n in ns:
        t, sp = rows[n]["inproc"], rows[n]["sparse"]
        print(f"| {n} | {rows[n]['osc']} ({rows[n]['expect']}) | {rows[n]['steps']} | {fmt_t(t['total'])} | "
              f"{t['total'] / n * 1e3:.2f} ms | {t['load'] * 1e3:.2f} ms | {t['set'] / n * 1e6:.0f} us | "
              f"{t['run'] / n * 1e3:.2f} ms | {t['analysis'] / n * 1e3:.2f} ms | {fmt_t(rows[n]['threads'])} "
              f"({t['total'] / rows[n]['threads']:.2f}) | {sp['run'] / n * 1e3:.2f} ms | {fmt_t(sp['total'])} | "
              f"{fmt_t(rows[n]['thr_sparse'])} ({sp['total'] / rows[n]['thr_sparse']:.2f}) |")
    print(f"\nThe model records 7 observables every 20 ms (10001 records per point); '{SPARSE} records' is the same "
          "sweep with record.interval = '1 s' (201 records), i.e. mostly integration.")
    print(f"\nFixed part of one in-process run (model.run(t_end='1 ms'): compile, set-up, records out): "
          f"{fixed * 1e3:.3f} ms")

    print("\nSeparate processes (`cadyn run FILE --no-plot`, one after the other), min over sweeps:\n")
    print("| N | total | per point | per point in process | ratio |")
    print("|---|---|---|---|---|")
    for n in ns_proc:
        pp, ip = rows[n]["proc"] / n, rows[n]["inproc"]["total"] / n
        print(f"| {n} | {fmt_t(rows[n]['proc'])} | {pp * 1e3:.1f} ms | {ip * 1e3:.2f} ms | {pp / ip:.1f} |")
    print(f"\nPer-process start-up (min of 10): `cadyn --version` {startup['exec'] * 1e3:.1f} ms; "
          f"`cadyn run FILE --t-end '1 ms'` {startup['1 ms run'] * 1e3:.1f} ms")

    big = [n for n in ns if n >= 4]
    s_in = slope(big, [rows[n]["inproc"]["total"] for n in big])
    s_thr = slope(big, [rows[n]["threads"] for n in big])
    s_sp = slope(big, [rows[n]["sparse"]["total"] for n in big])
    bigp = [n for n in ns_proc if n >= 4]
    s_pr = slope(bigp, [rows[n]["proc"] for n in bigp]) if len(bigp) >= 2 else float("nan")
    print(f"\nFitted exponents (total time ~ N^a, N >= 4): in process a = {s_in:.3f}, 2 threads a = {s_thr:.3f}, "
          f"in process with {SPARSE} records a = {s_sp:.3f}, processes a = {s_pr:.3f}")

    # --- science summary
    n_max = ns[-1]
    print(f"\nScience (N = {n_max}): {rows[n_max]['osc']} of {n_max} points oscillate, the window "
          f"{lo} .. {hi} uM holds {rows[n_max]['expect']}; mismatches within {args.edge} uM of a Hopf point: "
          f"{', '.join(rows[n_max]['near']) or 'none'}")
    per = [(p, T) for p, o, T in zip(ip3_points(n_max), [r[0] for r in rows[n_max]["res"]],
                                     [r[2] for r in rows[n_max]["res"]]) if o and np.isfinite(T)]
    if per:
        ps, Ts = zip(*per)
        inside = [(p, T) for p, T in per if lo + args.edge < p < hi - args.edge]
        mono = all(b[1] < a[1] for a, b in zip(inside, inside[1:]))
        print(f"Period: {Ts[0]:.2f} s at {ps[0]:.3f} uM .. {Ts[-1]:.2f} s at {ps[-1]:.3f} uM; "
              f"falls monotonically with IP3 inside the window: {mono}")
        if not mono:
            failures.append("the period does not fall with IP3 inside the window")
    if rows[n_max]["osc"] == 0:
        failures.append("no point oscillates")

    # --- plot
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.6))
    ax = axes[0]
    ax.plot(ns, [rows[n]["inproc"]["total"] for n in ns], "o-", label="in process (Python API), 1 thread")
    ax.plot(ns, [rows[n]["threads"] for n in ns], "s-", label="in process, 2 threads")
    ax.plot(ns, [rows[n]["sparse"]["total"] for n in ns], "o--", color="C4",
            label=f"in process, 1 thread, records every {SPARSE}")
    ax.plot(ns, [rows[n]["thr_sparse"] for n in ns], "s--", color="C5",
            label=f"in process, 2 threads, records every {SPARSE}")
    ax.plot(ns_proc, [rows[n]["proc"] for n in ns_proc], "^-", label="separate `cadyn run` processes")
    ref = rows[ns[1]]["inproc"]["total"] / ns[1]
    ax.plot(ns, [ref * n for n in ns], "--", color="grey", label="linear (N x in-process time per point)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("sweep points N")
    ax.set_ylabel("wall time of the whole sweep [s]")
    ax.set_title(f"Li-Rinzel IP3 sweep, {T_END_S:g} s each, rtol {RTOL:g}")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)

    ax = axes[1]
    ax.plot(ns, [rows[n]["inproc"]["total"] / n * 1e3 for n in ns], "o-", label="in process: total per point")
    ax.plot(ns, [rows[n]["inproc"]["run"] / n * 1e3 for n in ns], "o:", color="C0", label="in process: run() per point")
    ax.plot(ns, [rows[n]["sparse"]["run"] / n * 1e3 for n in ns], "o--", color="C4",
            label=f"in process: run() per point, records every {SPARSE}")
    ax.plot(ns_proc, [rows[n]["proc"] / n * 1e3 for n in ns_proc], "^-", color="C2", label="process per point")
    ax.axhline(startup["1 ms run"] * 1e3, ls="--", color="C2", lw=1, label="process start-up (1 ms run)")
    ax.axhline(startup["exec"] * 1e3, ls=":", color="C2", lw=1, label="process exec (cadyn --version)")
    ax.axhline(fixed * 1e3, ls="--", color="C0", lw=1, label="in-process fixed cost (1 ms run)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("sweep points N")
    ax.set_ylabel("ms per point")
    ax.set_title("cost per sweep point")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    plot = pathlib.Path(args.plot)
    plot.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(plot, dpi=110)
    print(f"\nplot: {plot}", file=sys.stderr)

    if failures:
        print("\nSCIENCE CHECK FAILED:\n  " + "\n  ".join(failures))
        return 1
    print("\nScience check passed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
