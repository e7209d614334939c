#!/usr/bin/env bash
# Issue 8, decay time constant: the buffered cell (models/buffered_cell.toml: a 7 um sphere, PMCA against a leak, a
# fixed buffer, a 200 pA 10 ms Ca influx at 100 ms, 3 s from the resting state, rtol 1e-6, atol 1e-9 uM, records
# every 2 ms) by cadyn and its peers in one session: scipy solve_ivp LSODA and BDF (decay_scipy.py), XPPAUT
# (decay.ode), NEURON rxd (decay_neuron.py). Every tool's cyt Ca trace goes through the same function,
# decay_common.decay_tau() (c - c_rest = A exp(-(t - t0)/tau) fitted from 50 % to 5 % of the peak excess). Checks
# that every tau agrees with cadyn's (its traces.csv) within 1 % (exit 1 otherwise) and prints each time and its
# ratio to cadyn's (in process to in process, whole process to whole process).
#
#   bench/peers/run_decay.sh [BUILD_DIR]     (default build-bench: a Release build)
#
# cadyn in process: no bench/ benchmark covers this model, so it is timed through cadyn's Python module
# (BUILD_DIR/python, built with CADYN_BUILD_PYTHON=ON): the best of 5 calls of cadyn.load(MODEL).run(), each
# compile + resting state (KINSOL) + simulate() with the records kept in memory, timed by time.perf_counter as the
# peers are. Without the module, the `simulated: ... in X s wall` line of `cadyn run`'s summary.txt (simulate()
# alone, 1 ms resolution) stands in. cadyn run's own summary reports a decay fit too (free baseline, from the peak):
# it is printed for comparison and not checked, being a different definition.
# RUNS=N whole-process runs per tool (hyperfine, default 10; else a plain timing loop).
# Needs /usr/bin/python3 with numpy and scipy; xppaut and NEURON (python3-neuron) are skipped when absent.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build-bench}" && pwd)
cadyn=$build/bin/cadyn
peers=$root/bench/peers
model=$root/models/buffered_cell.toml
py=/usr/bin/python3
runs=${RUNS:-10}
work=$(mktemp -d /tmp/cadyn-decay.XXXXXX)
trap 'rm -rf "$work"' EXIT

[[ -x $cadyn ]] || { echo "missing $cadyn: build cadyn first" >&2; exit 2; }
cp "$peers/decay.ode" "$work/"
# Whole-process commands, run in $work without a shell (hyperfine -N; its output discarded): a shell's start-up,
# which hyperfine would otherwise subtract as an estimate, is as long as XPPAUT's whole run here.
cmd_cadyn="$cadyn run $model --no-plot --out $work/cadyn-out"
cmd_lsoda="$py $peers/decay_scipy.py LSODA --repeats 1"
cmd_bdf="$py $peers/decay_scipy.py BDF --repeats 1"
have_xpp=0
command -v xppaut > /dev/null && have_xpp=1
cmd_xpp="xppaut decay.ode -silent"
have_nrn=0
"$py" -c "import neuron" > /dev/null 2>&1 && have_nrn=1
cmd_nrn="$py $peers/decay_neuron.py --repeats 1"

echo "== in process"
"$cadyn" run "$model" --no-plot --out "$work/cadyn-out" > /dev/null
PYTHONPATH=$build/python "$py" - "$model" "$work" <<'PY' | tee "$work/cadyn_in.txt"
import sys, time
model, work = sys.argv[1:3]
try:
    import cadyn
except ImportError as e:
    print(f"cadyn python module: not importable ({e}): in-process time from summary.txt instead")
    sys.exit(0)
import numpy as np
m = cadyn.load(model)
best = float("inf")
for _ in range(5):
    s = time.perf_counter()
    r = m.run()
    best = min(best, time.perf_counter() - s)
np.savetxt(f"{work}/cadyn_in.dat", np.column_stack((r.time, r["cyt.ca"])), fmt="%.17g")
print(f"cadyn (python module): best_of_5_s={best:.6f} steps={r.stats['steps']} rhs={r.stats['rhs_evaluations']}")
PY
"$py" "$peers/decay_scipy.py" LSODA BDF --repeats 5 --traces "$work" | tee "$work/scipy.txt"
if ((have_nrn)); then
    # stderr (NEURON's "no DISPLAY" notice) is shown only when the run fails
    if ! "$py" "$peers/decay_neuron.py" --repeats 5 --traces "$work/neuron.dat" 2> "$work/neuron.err" \
            | tee "$work/neuron.txt"; then
        cat "$work/neuron.err" >&2; echo "NEURON run failed" >&2; exit 1
    fi
else
    echo "NEURON not importable by $py (python3-neuron): skipped"
fi
if ((have_xpp)); then
    (cd "$work" && xppaut decay.ode -silent > /dev/null 2>&1)
    [[ -s $work/output.dat ]] || { echo "xppaut wrote no output.dat" >&2; exit 1; }
else
    echo "xppaut not installed: skipped"
fi

echo "== whole process ($runs runs each)"
names=(cadyn scipy_LSODA scipy_BDF)
cmds=("$cmd_cadyn" "$cmd_lsoda" "$cmd_bdf")
if ((have_xpp)); then names+=(xppaut); cmds+=("$cmd_xpp"); fi
if ((have_nrn)); then names+=(neuron_rxd); cmds+=("$cmd_nrn"); fi
if command -v hyperfine > /dev/null; then
    args=()
    for i in "${!names[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
    (cd "$work" && hyperfine -N --warmup 2 --runs "$runs" --export-json "$work/whole.json" "${args[@]}")
else
    "$py" - "$work/whole.json" "$runs" "${names[@]}" -- "${cmds[@]}" <<'PY'
import json, os, subprocess, sys, time
out, runs = sys.argv[1], int(sys.argv[2]); rest = sys.argv[3:]; k = rest.index("--")
names, cmds = rest[:k], rest[k + 1:]
res = []
for n, c in zip(names, cmds):
    run = lambda: subprocess.run(c.split(), check=True, cwd=os.path.dirname(out), stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
    run()
    ts = []
    for _ in range(runs):
        s = time.perf_counter(); run(); ts.append(time.perf_counter() - s)
    res.append({"command": n, "mean": sum(ts) / len(ts), "min": min(ts)})
    print(f"{n}: mean {res[-1]['mean']*1e3:.1f} ms, min {res[-1]['min']*1e3:.1f} ms")
json.dump({"results": res}, open(out, "w"))
PY
fi

"$py" - "$work" "$peers" "$have_xpp" "$have_nrn" <<'PY'
import json, os, re, sys
import numpy as np
work, peers, have_xpp, have_nrn = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4] == "1"
sys.path.insert(0, peers)
import decay_common as dc

# Every tool's trace: t [ms], cyt Ca [uM], at the model's record times.
traces = {"cadyn (whole process)": dc.read_cadyn_traces(f"{work}/cadyn-out/traces.csv")}
if os.path.exists(f"{work}/cadyn_in.dat"):
    x = np.loadtxt(f"{work}/cadyn_in.dat")
    traces["cadyn (in process)"] = (x[:, 0], x[:, 1])
for method in ("LSODA", "BDF"):
    x = np.loadtxt(f"{work}/scipy_{method}.dat")
    traces[f"scipy {method}"] = (x[:, 0], x[:, 1])
if have_xpp:
    x = np.loadtxt(f"{work}/output.dat")
    traces["XPPAUT"] = (x[:, 0], x[:, 1])
if have_nrn:
    x = np.loadtxt(f"{work}/neuron.dat")
    traces["NEURON rxd"] = (x[:, 0], x[:, 1])

ok = True
ref_t, ref_c = traces["cadyn (whole process)"]
ref_tau, _ = dc.decay_tau(ref_t, ref_c)
excess = ref_c.max() - ref_c[0]
print("\n== decay time constant (decay_common.decay_tau: c - c_rest = A exp(-(t - t0)/tau), log-linear least squares"
      "\n   from 50 % to 5 % of the peak excess; c_rest = the trace at t = 0)")
print(f"{'tool':24s} {'tau':>13s}  {'vs cadyn':>9s}  {'c_rest [uM]':>15s}  {'window [ms]':>17s}  "
      f"{'max|c - cadyn|/peak excess':>26s}")
for name, (t, c) in traces.items():
    if len(t) != len(dc.T_REC) or np.max(np.abs(t - dc.T_REC)) > 1e-6:
        print(f"{name}: {len(t)} records, not every 2 ms over 0..3000 ms: DISAGREES")
        ok = False
        continue
    tau, d = dc.decay_tau(t, c)
    dev = (tau - ref_tau) / ref_tau
    rest_ok = abs(d["c_rest"] / ref_c[0] - 1) <= 1e-6
    good = abs(dev) <= 0.01 and rest_ok
    ok &= good
    print(f"{name:24s} {tau:10.4f} ms  {dev:+.2e}  {d['c_rest']:.13f}  {d['t_hi']:7.2f}..{d['t_lo']:7.2f}  "
          f"{np.max(np.abs(c - ref_c)) / excess:26.1e}  "
          + ("ok" if good else "DISAGREES (" + ", ".join(w for w, bad in (("tau > 1 %", abs(dev) > 0.01),
                                                                         ("resting state", not rest_ok)) if bad) + ")"))
summary = open(f"{work}/cadyn-out/summary.txt").read()
fit = re.search(r"decay tau:\s+(.*)", summary)
print(f"cadyn's own summary fit (another definition, not checked): {fit.group(1) if fit else 'none'}")

# times
wall = re.search(r"simulated:.* in ([0-9.]+) s wall", summary)
scipy_in = {}
for line in open(f"{work}/scipy.txt"):
    mm = re.match(r"scipy (\w+): best_of_\d+_s=([0-9.]+)", line)
    if mm:
        scipy_in[mm.group(1)] = float(mm.group(2))
cin_text = open(f"{work}/cadyn_in.txt").read()
mm = re.search(r"best_of_\d+_s=([0-9.]+)", cin_text)
if mm:
    cadyn_in = float(mm.group(1))
    cadyn_in_how = ("best of 5 cadyn.load(MODEL).run() calls through the Python module (compile + KINSOL resting "
                    "state + simulate)")
else:
    cadyn_in = float(wall.group(1))
    cadyn_in_how = "no Python module: the simulate() wall time in cadyn run's summary.txt (1 ms resolution)"
nrn_in = nrn_setup = None
if have_nrn:
    mm = re.search(r"setup_s=([0-9.]+) best_of_\d+_s=([0-9.]+)", open(f"{work}/neuron.txt").read())
    nrn_setup, nrn_in = float(mm.group(1)), float(mm.group(2))
whole = {r["command"]: r for r in json.load(open(f"{work}/whole.json"))["results"]}
print("\n== times (ratio: the tool's time / cadyn's, > 1 = cadyn faster)")
print("| tool | in process | ratio | whole process (mean) | ratio |")
print("|---|---|---|---|---|")
wc = whole["cadyn"]["mean"]
rows = [("cadyn", cadyn_in, "cadyn"), ("scipy LSODA", scipy_in.get("LSODA"), "scipy_LSODA"),
        ("scipy BDF", scipy_in.get("BDF"), "scipy_BDF")]
if have_xpp:
    rows.append(("XPPAUT", None, "xppaut"))
if have_nrn:
    rows.append(("NEURON rxd", nrn_in, "neuron_rxd"))
for name, tin, key in rows:
    a = f"{tin*1e3:.2f} ms | {tin/cadyn_in:.1f}" if tin else "- | -"
    w = whole[key]["mean"]
    print(f"| {name} | {a} | {w*1e3:.1f} ms | {w/wc:.2f} |")
print(f"\nin process: cadyn = {cadyn_in_how}; cadyn run's summary.txt: simulate() took "
      f"{wall.group(1) if wall else '?'} s there, streaming its records to traces.csv and results.h5; scipy = best "
      "of 5 (resting state + three solve_ivp calls split at the pulse edges)"
      + (f"; NEURON = best of 5 cvode.solve(3000) calls, each after finitialize (model build + first finitialize: "
         f"{nrn_setup*1e3:.0f} ms, not counted)" if have_nrn else ""))
print("whole process: mean over the runs above (hyperfine -N, no shell), process start to exit, output files "
      "written (cadyn: traces.csv, budget.csv, results.h5, summary.txt; XPPAUT: output.dat)")
sys.exit(0 if ok else 1)
PY
