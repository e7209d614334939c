#!/usr/bin/env bash
# Issues 5 and 8, spatial: the Ca wave of models/dendrite_wave.toml (NEURON rxd's calcium-wave model on a 1000 um
# dendrite, 5 s, rtol 1e-6, atol 1e-6 uM) by cadyn and by NEURON rxd (bench/peers/wave_rxd.py) in one session.
# Builds nothing. For each voxel count it
#   - runs rxd once (setup = model construction + finitialize, solve = cvode.solve, both timed inside the process,
#     and the whole process),
#   - runs cadyn in process (bench_wave: setup = read + compile + simulate() to 1 ns, i.e. the solver's set-up and
#     one step; solve = simulate() to 5 s) and as a whole process
#     (`cadyn run MODEL --no-plot --out DIR`, which also writes traces.csv, budget.csv, results.h5 with the cyt.ca
#     field, summary.txt),
#   - checks that every wave speed (the front's cyt Ca passing 0.5 uM at 300 and at 700 um) agrees with rxd's
#     within 1 % (exit 1 otherwise), and prints the times and ratios (rxd's time / cadyn's: above 1, cadyn is
#     faster).
# First it runs bench/peers/wave_point_check.py (one voxel, no diffusion: cadyn and rxd agree to 1e-4, else exit 1).
#
#   bench/peers/run_wave.sh [BUILD_DIR [VOXELS...]]    (default build-bench and 1000; e.g. `build-bench 1000 4000`)
#
# BUILD_DIR: a Release build with -DCADYN_BUILD_BENCH=ON. RUNS=N repeats each whole-process and in-process timing
# N times (default 1; the mean is printed), and each rxd run is paired with a cadyn solve run right after it: the
# median of those pair ratios is printed last (the machine's speed drifts; pairs drift least). Needs
# /usr/bin/python3 with neuron (python3-neuron), numpy, and gcc.
# 4000 voxels take rxd about a minute (half a minute of it setting up).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build-bench}" && pwd)
shift || true
if (($#)); then voxels=("$@"); else voxels=(1000); fi
cadyn=$build/bin/cadyn
bench=$build/bench/bench_wave
peers=$root/bench/peers
py=/usr/bin/python3
runs=${RUNS:-1}
work=$(mktemp -d /tmp/cadyn-wave.XXXXXX)
trap 'rm -rf "$work"' EXIT

for f in "$cadyn" "$bench"; do
    [[ -x $f ]] || { echo "missing $f: build with -DCADYN_BUILD_BENCH=ON" >&2; exit 2; }
done

echo "== one voxel, no diffusion (the unit mapping)"
"$py" "$peers/wave_point_check.py" "$cadyn" || { echo "the point models disagree: not timing" >&2; exit 1; }

echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$py" - "$root" "$work" "$cadyn" "$bench" "$peers" "$runs" "${voxels[@]}" <<'PY'
import json, os, re, resource, subprocess, sys, time
import numpy as np

root, work, cadyn, bench, peers, runs = sys.argv[1:7]
runs = int(runs)
voxel_counts = [int(v) for v in sys.argv[7:]]
model = open(os.path.join(root, "models", "dendrite_wave.toml")).read()


def model_for(n):
    """models/dendrite_wave.toml with n voxels and its points at the voxel centres either side of 300 and 700 um."""
    dx = 1000.0 / n
    text = re.sub(r"(?m)^voxels = \d+$", f"voxels = {n}", model)
    for name, at in (("x300a", 300 - dx / 2), ("x300b", 300 + dx / 2), ("x700a", 700 - dx / 2),
                     ("x700b", 700 + dx / 2)):
        text, k = re.subn(rf'(name = "{name}"\nat = )"[^"]*"', rf'\1"{at!r} um"', text)
        assert k == 1, name
    path = os.path.join(work, f"dendrite_wave_{n}.toml")
    open(path, "w").write(text)
    return path


def crossing(t, c, threshold=0.5):
    for i in range(1, len(t)):
        if c[i - 1] < threshold <= c[i]:
            return t[i - 1] + (threshold - c[i - 1]) / (c[i] - c[i - 1]) * (t[i] - t[i - 1])
    return None


def speed_from_traces(path):
    d = np.genfromtxt(path, delimiter=",", names=True)
    names = d.dtype.names
    col = {re.sub(r"_uM$", "", n): n for n in names}
    t = d[names[0]]
    c300 = 0.5 * (d[col["cytcax300a"]] + d[col["cytcax300b"]])
    c700 = 0.5 * (d[col["cytcax700a"]] + d[col["cytcax700b"]])
    t1, t2 = crossing(t, c300), crossing(t, c700)
    return (400.0 / (t2 - t1) * 1e3 if t1 is not None and t2 is not None else None), t1, t2


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(cmd, env=None):
    """Wall-clock and CPU seconds (user + system, the process and its children) of one command, and its stdout."""
    s, c = time.perf_counter(), children_cpu()
    p = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return time.perf_counter() - s, children_cpu() - c, p.stdout


rows, ok, pair_ratios = [], True, {}
for n in voxel_counts:
    path = model_for(n)
    print(f"\n== {n} voxels")
    # rxd: each run is one whole process; setup and solve are timed inside it.
    # Each rxd run is followed at once by one in-process cadyn solve (bm_wave_solve alone): the machine's speed
    # drifts by up to a third within minutes here, and a ratio of two runs made side by side drifts far less than
    # a ratio of means taken minutes apart. The median of these pair ratios is the headline number.
    env = dict(os.environ, CADYN_WAVE_MODEL=path)
    rxd, pairs = [], []
    for _ in range(runs):
        wall, cpu, out = timed([sys.executable, os.path.join(peers, "wave_rxd.py"), "--voxels", str(n)])
        r = json.loads(out.strip().splitlines()[-1])
        r["whole_s"], r["whole_cpu_s"] = wall, cpu
        rxd.append(r)
        pjson = os.path.join(work, f"pair_{n}.json")
        timed([bench, "--benchmark_filter=^bm_wave_solve", "--benchmark_repetitions=1", "--benchmark_out=" + pjson,
               "--benchmark_out_format=json"], env=env)
        solve = [b["real_time"] / 1e3 for b in json.load(open(pjson))["benchmarks"]
                 if b["name"].startswith("bm_wave_solve") and b.get("run_type") == "iteration"][0]
        pairs.append(r["solve_s"] / solve)
        print(f"rxd:   setup {r['setup_s']:.3f} s (cpu {r['setup_cpu_s']:.3f}), solve {r['solve_s']:.3f} s "
              f"(cpu {r['solve_cpu_s']:.3f}), whole process {wall:.3f} s (cpu {cpu:.3f}), "
              f"speed {r['speed_um_per_s']} um/s; cadyn's solve right after: {solve:.3f} s, "
              f"ratio {pairs[-1]:.2f}")
    pair_ratios[n] = pairs
    # cadyn in process
    bjson = os.path.join(work, f"bench_{n}.json")
    _, _, out = timed([bench, f"--benchmark_repetitions={runs}", "--benchmark_out=" + bjson,
                       "--benchmark_out_format=json"], env=env)
    m = re.search(r"speed_um_per_s=([0-9.]+)", out)
    speed_in = float(m.group(1)) if m else None
    reps = json.load(open(bjson))["benchmarks"]
    def mean_of(name, key="real_time"):
        v = [b[key] for b in reps if b["name"].startswith(name) and b.get("run_type") == "iteration"]
        return sum(v) / len(v) / 1e3  # ms -> s
    # cadyn's setup: read + compile + simulate() to 1 ns (solver, Jacobian colouring, KLU analysis, one step), the
    # counterpart of rxd's model construction + finitialize; read + compile alone is printed too.
    compile_in = mean_of("bm_wave_setup")
    setup_in, solve_in = mean_of("bm_wave_start"), mean_of("bm_wave_solve")
    setup_cpu, solve_cpu = mean_of("bm_wave_start", "cpu_time"), mean_of("bm_wave_solve", "cpu_time")
    print(f"cadyn: setup {setup_in:.4f} s (cpu {setup_cpu:.4f}; read + compile alone {compile_in:.4f} s), "
          f"solve {solve_in:.3f} s (cpu {solve_cpu:.3f}) in process, speed {speed_in} um/s")
    # cadyn whole process
    whole, whole_cpu = [], []
    for k in range(runs):
        out_dir = os.path.join(work, f"cadyn_{n}_{k}")
        wall, cpu, out = timed([cadyn, "run", path, "--no-plot", "--out", out_dir])
        whole.append(wall)
        whole_cpu.append(cpu)
        m = re.search(r"(\d+) steps, (\d+) rhs", out)
        speed_whole, t1, t2 = speed_from_traces(os.path.join(out_dir, "traces.csv"))
    print(f"cadyn: whole process {sum(whole) / runs:.3f} s (cpu {sum(whole_cpu) / runs:.3f}), speed {speed_whole} um/s"
          + (f" ({m.group(1)} steps, {m.group(2)} rhs evaluations)" if m else ""))
    ref = sum(r["speed_um_per_s"] for r in rxd) / len(rxd)
    for label, v in (("cadyn in process", speed_in), ("cadyn whole process", speed_whole)):
        dev = (v - ref) / ref if v else float("inf")
        good = abs(dev) <= 0.01
        ok &= good
        print(f"wave speed {label}: {v} um/s vs rxd {ref:.4f} um/s: {dev:+.2e} {'ok' if good else 'DISAGREES (> 1 %)'}")
    mean = lambda key: sum(r[key] for r in rxd) / len(rxd)
    rows.append(("wall", n, mean("setup_s"), mean("solve_s"), mean("whole_s"), setup_in, solve_in,
                 sum(whole) / runs, ref, speed_in))
    rows.append(("cpu", n, mean("setup_cpu_s"), mean("solve_cpu_s"), mean("whole_cpu_s"), setup_cpu, solve_cpu,
                 sum(whole_cpu) / runs, ref, speed_in))

print("\n== times (ratio: rxd's time / cadyn's, > 1 = cadyn faster)")
print("| voxels | time | rxd setup | cadyn setup | ratio | rxd solve | cadyn solve | ratio | rxd whole | cadyn whole "
      "| ratio | speed rxd | speed cadyn |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for kind, n, rs, rv, rw, cs, cv, cw, sr, sc in rows:
    print(f"| {n} | {kind} | {rs:.3f} s | {cs * 1e3:.1f} ms | {rs / cs:.0f} | {rv:.3f} s | {cv:.3f} s | "
          f"{rv / cv:.2f} | {rw:.3f} s | {cw:.3f} s | {rw / cw:.2f} | {sr:.4f} um/s | {sc:.4f} um/s |")
print("\n== solve ratio of each rxd run to the cadyn solve run right after it (wall)")
for n, pairs in pair_ratios.items():
    print(f"{n} voxels: median {float(np.median(pairs)):.2f} (min {min(pairs):.2f}, max {max(pairs):.2f}; "
          + ", ".join(f"{p:.2f}" for p in pairs) + ")")
print(f"\nwall: elapsed; cpu: user + system seconds of the process (and, for rxd, of the gcc it runs). "
      f"Mean of {runs} run(s) each; setup and solve timed inside each process (rxd: time.perf_counter around "
      "model construction + finitialize and cvode.solve; cadyn: Google Benchmark around read + compile + "
      "simulate() to 1 ns, and simulate() to 5 s); whole process: start to exit, outputs written")
sys.exit(0 if ok else 1)
PY
