#!/usr/bin/python3
"""How the kernels' cost grows with size (issue 8): run bench_kernels, print a markdown table, write a plot.

    cmake -S . -B build-kbench -G Ninja -DCMAKE_BUILD_TYPE=Release -DCADYN_BUILD_BENCH=ON
    cmake --build build-kbench --target bench_kernels
    /usr/bin/python3 bench/kernel_scaling.py [--binary build-kbench/bench/bench_kernels] [--repetitions 3]

Every benchmark runs --repetitions times; the table gives the median, and the spread (min-max over the
repetitions) where it matters. Times are CPU times (Google Benchmark's default for rates), so a run on a shared
machine is not charged for the time other processes hold the cores; memory bandwidth, though, is shared.
The plot goes to docs/img/kernel_scaling.png.
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def run(binary, repetitions, min_time):
    cmd = [str(binary), "--benchmark_format=json", f"--benchmark_repetitions={repetitions}",
           f"--benchmark_min_time={min_time}"]
    print("$", " ".join(cmd), file=sys.stderr)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def collect(report):
    """run_name -> list of iteration entries (one per repetition)."""
    runs = {}
    for b in report["benchmarks"]:
        if b.get("run_type", "iteration") != "iteration":
            continue
        runs.setdefault(b.get("run_name", b["name"]), []).append(b)
    return runs


def stat(entries, key):
    values = [e[key] for e in entries]
    return statistics.median(values), min(values), max(values)


def cpu_ns(entry):
    return entry["cpu_time"] * UNIT_NS[entry["time_unit"]]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", help="bench_kernels (default: build-kbench/ or build-bench/bench/bench_kernels)")
    ap.add_argument("--repetitions", type=int, default=3)
    ap.add_argument("--min-time", type=float, default=0.3)
    ap.add_argument("--json", help="read this JSON report instead of running the binary")
    ap.add_argument("--save-json", help="also write the raw JSON report here")
    ap.add_argument("--plot", default=ROOT / "docs" / "img" / "kernel_scaling.png")
    args = ap.parse_args()

    if args.binary is None:
        candidates = [ROOT / d / "bench" / "bench_kernels" for d in ("build-kbench", "build-bench")]
        args.binary = next((c for c in candidates if c.exists()), candidates[0])
    if args.json:
        report = json.loads(pathlib.Path(args.json).read_text())
    else:
        report = run(args.binary, args.repetitions, args.min_time)
        if args.save_json:
            pathlib.Path(args.save_json).write_text(json.dumps(report, indent=1))
    runs = collect(report)

    ctx = report["context"]
    print(f"Host: {ctx.get('host_name', '?')}, {ctx.get('num_cpus', '?')} CPUs at {ctx.get('mhz_per_cpu', '?')} MHz, "
          f"caches: " + ", ".join(f"L{c['level']} {c['type'][0]} {c['size'] // 1024} KiB" for c in ctx.get("caches", [])))
    reps = max(len(v) for v in runs.values())
    print(f"{reps} repetition(s) per benchmark; median (min-max), CPU time.\n")

    # Memory-bandwidth reference.
    triad = [v for k, v in runs.items() if k.startswith("bm_triad")][0]
    bw, bw_lo, bw_hi = stat(triad, "bytes_per_second")
    print(f"STREAM-like triad (3 x {triad[0]['array_MiB']:.0f} MiB, one thread): "
          f"{bw / 1e9:.1f} GB/s ({bw_lo / 1e9:.1f}-{bw_hi / 1e9:.1f})\n")

    # Mechanism kernels.
    mech = {}
    for name, entries in runs.items():
        if name.startswith("bm_mechanism/"):
            _, mtype, n = name.split("/")
            ns = statistics.median([cpu_ns(e) / e["sites"] for e in entries])
            lo = min(cpu_ns(e) / e["sites"] for e in entries)
            hi = max(cpu_ns(e) / e["sites"] for e in entries)
            gbs = statistics.median([e["bytes_per_second"] for e in entries]) / 1e9
            mech.setdefault(mtype, []).append((int(n), ns, lo, hi, gbs, entries[0]["bytes_per_site"]))
    sizes = sorted({n for rows in mech.values() for n, *_ in rows})
    print("| mechanism | bytes/site | " + " | ".join(f"n = {n:.0e}".replace("+0", "") for n in sizes) +
          " | GB/s at 1e6 | of triad |")
    print("|---|---|" + "---|" * len(sizes) + "---|---|")
    for mtype, rows in mech.items():
        rows.sort()
        cells = [f"{ns:.2f} ns" for _, ns, *_ in rows]
        last = rows[-1]
        print(f"| {mtype} | {last[5]:.0f} | " + " | ".join(cells) + f" | {last[4]:.1f} | {last[4] * 1e9 / bw:.2f} |")
    print()

    # Diffusion-reaction right-hand side.
    rhs = {}
    for name, entries in runs.items():
        if name.startswith("bm_rhs_"):
            kind = name.split("/")[0].removeprefix("bm_rhs_")
            e0 = entries[0]
            per_voxel = [cpu_ns(e) / e["voxels"] for e in entries]
            rhs.setdefault(kind, []).append({
                "voxels": int(e0["voxels"]),
                "call_us": statistics.median(cpu_ns(e) for e in entries) / 1e3,
                "ns": statistics.median(per_voxel), "lo": min(per_voxel), "hi": max(per_voxel),
                "bytes": e0["bytes_per_voxel"], "min_bytes": e0["min_bytes_per_voxel"],
                "faces": e0["faces_per_voxel"],
            })
    print("| geometry | voxels | one rhs | per voxel-step | spread | bytes/voxel (engine) | effective GB/s "
          "| of triad | bound (min bytes / triad) | time / bound |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for kind, rows in rhs.items():
        rows.sort(key=lambda r: r["voxels"])
        for r in rows:
            gbs = r["bytes"] / r["ns"]  # bytes per ns = GB/s
            bound = r["min_bytes"] / bw * 1e9  # ns per voxel-step
            r["gbs"], r["bound"] = gbs, bound
            call = f"{r['call_us']:.1f} us" if r["call_us"] < 1e3 else f"{r['call_us'] / 1e3:.2f} ms"
            side = round(r["voxels"] ** (1 / 3))
            count = f"{side}^3" if kind == "box" and side ** 3 == r["voxels"] else f"{r['voxels']:.0e}".replace("+0", "")
            print(f"| {kind} | {count} | {call} | {r['ns']:.2f} ns | {r['lo']:.2f}-{r['hi']:.2f} | "
                  f"{r['bytes']:.0f} | {gbs:.1f} | {gbs * 1e9 / bw:.2f} | {bound:.2f} ns | {r['ns'] / bound:.1f} |")
    print()

    # Plot.
    fig, axes = plt.subplots(1, 3, figsize=(15, 5.6))
    ax = axes[0]
    for kind, rows in rhs.items():
        v = [r["voxels"] for r in rows]
        ax.errorbar(v, [r["ns"] for r in rows], yerr=[[r["ns"] - r["lo"] for r in rows], [r["hi"] - r["ns"] for r in rows]],
                    marker="o", capsize=3, label=f"rhs, {kind} (Ca + mobile buffer)")
    allv = sorted({r["voxels"] for rows in rhs.values() for r in rows})
    for i, (kind, rows) in enumerate(rhs.items()):
        ax.plot(allv, [rows[-1]["bytes"] / bw * 1e9] * len(allv), ls=":", color=f"C{i}",
                label=f"engine's bytes / triad bandwidth ({kind})")
    bound = list(rhs.values())[0][0]["min_bytes"] / bw * 1e9
    ax.plot(allv, [3 * bound] * len(allv), ls="-.", color="k", label="target: 3x the bound")
    ax.plot(allv, [bound] * len(allv), ls="--", color="k", label="bandwidth bound (read y, write ydot)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("voxels")
    ax.set_ylabel("ns per voxel-step")
    ax.set_title("diffusion-reaction rhs: cost per voxel-step")
    ax.set_ylim(bound / 2, None)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    ax.grid(True, which="both", alpha=0.3)

    ax = axes[1]
    for kind, rows in rhs.items():
        ax.plot([r["voxels"] for r in rows], [r["call_us"] * 1e-3 for r in rows], marker="o", label=f"rhs, {kind}")
    ref = list(rhs.values())[0][0]
    ax.plot(allv, [ref["call_us"] * 1e-3 * v / ref["voxels"] for v in allv], ls="--", color="grey", label="linear")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("voxels")
    ax.set_ylabel("ms per rhs call")
    ax.set_title("diffusion-reaction rhs: total time")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)

    ax = axes[2]
    for mtype, rows in mech.items():
        ax.errorbar([r[0] for r in rows], [r[1] for r in rows], yerr=[[r[1] - r[2] for r in rows], [r[3] - r[1] for r in rows]],
                    marker="o", capsize=3, label=mtype)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("sites n")
    ax.set_ylabel("ns per site")
    ax.set_title("mechanism rates() over n sites")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)

    fig.tight_layout()
    plot = pathlib.Path(args.plot)
    os.makedirs(plot.parent, exist_ok=True)
    fig.savefig(plot, dpi=110)
    print(f"plot: {plot}", file=sys.stderr)


if __name__ == "__main__":
    main()
