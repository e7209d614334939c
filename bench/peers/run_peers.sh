#!/usr/bin/env bash
# Issue 8, point model: Li & Rinzel (1994) at IP3 = 0.4 uM over 1000 s, rtol 1e-6, by cadyn and its peers in one
# session. Checks that every tool's oscillation period agrees with cadyn's within 1 % (exit 1 otherwise) and
# prints each time and its ratio to cadyn's (in process to in process, whole process to whole process).
#
#   bench/peers/run_peers.sh [BUILD_DIR]     (default build-bench: a Release build with -DCADYN_BUILD_BENCH=ON)
#
# Needs /usr/bin/python3 with scipy (python3-scipy), xppaut, and hyperfine (else a plain timing loop); NEURON
# (python3-neuron, li_rinzel_neuron.py: rxd + CVode) is one more peer when /usr/bin/python3 can import it.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build-bench}" && pwd)
cadyn=$build/bin/cadyn
bench=$build/bench/bench_li_rinzel
peers=$root/bench/peers
py=/usr/bin/python3
runs=${RUNS:-10}
work=$(mktemp -d /tmp/cadyn-peers.XXXXXX)
trap 'rm -rf "$work"' EXIT

for f in "$cadyn" "$bench"; do
    [[ -x $f ]] || { echo "missing $f: build with -DCADYN_BUILD_BENCH=ON" >&2; exit 2; }
done

# The model at IP3 = 0.4 uM, 1000 s, rtol 1e-6, records every 100 ms (as the peers' t_eval / DT).
sed -e 's/ip3 = "0.5 uM"/ip3 = "0.4 uM"/' -e 's/^t_end = .*/t_end = "1000 s"/' -e 's/^rtol = .*/rtol = 1e-6/' \
    -e 's/^interval = .*/interval = "100 ms"/' "$root/models/li_rinzel.toml" > "$work/li_rinzel_0p4.toml"
grep -q 'ip3 = "0.4 uM"' "$work/li_rinzel_0p4.toml" || { echo "sed did not set ip3" >&2; exit 2; }
# The same run recording only what XPPAUT's output.dat holds (t, cyt Ca, h): the whole-process comparison on equal
# outputs (cadyn still writes results.h5, budget.csv and summary.txt, and syncs them).
"$py" - "$work/li_rinzel_0p4.toml" "$work/li_rinzel_0p4_xpp.toml" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
new, n = re.subn(r"^observables = \[[^\]]*\]", 'observables = ["cyt.ca", "ip3r.h"]', text, flags=re.M)
if n != 1:
    sys.exit("could not set the observables")
open(sys.argv[2], "w").write(new)
PY
cp "$peers/li_rinzel.ode" "$work/"
cmd_cadyn="cd $work && $cadyn run li_rinzel_0p4.toml --no-plot --out cadyn-out > /dev/null"
cmd_cadyn_xpp="cd $work && $cadyn run li_rinzel_0p4_xpp.toml --no-plot --out cadyn-xpp-out > /dev/null"
cmd_lsoda="$py $peers/li_rinzel_scipy.py LSODA --repeats 1 > /dev/null"
cmd_bdf="$py $peers/li_rinzel_scipy.py BDF --repeats 1 > /dev/null"
have_xpp=0
command -v xppaut > /dev/null && have_xpp=1
cmd_xpp="cd $work && xppaut li_rinzel.ode -silent > /dev/null 2>&1"
have_nrn=0
"$py" -c "import neuron" > /dev/null 2>&1 && have_nrn=1
cmd_nrn="cd $work && $py $peers/li_rinzel_neuron.py --repeats 1 > /dev/null"

echo "== in process"
"$bench" --benchmark_repetitions=5 --benchmark_display_aggregates_only=true \
    --benchmark_out="$work/bench.json" --benchmark_out_format=json | tee "$work/bench.txt"
"$py" "$peers/li_rinzel_scipy.py" LSODA BDF --repeats 5 | tee "$work/scipy.txt"
if ((have_nrn)); then
    # stderr (NEURON's "no DISPLAY" notice) is shown only when the run or its scipy cross-check fails
    if ! "$py" "$peers/li_rinzel_neuron.py" --repeats 5 --check 2> "$work/neuron.err" | tee "$work/neuron.txt"; then
        cat "$work/neuron.err" >&2; echo "NEURON run or its cross-check with scipy failed" >&2; exit 1
    fi
else
    echo "NEURON not importable by $py (python3-neuron): skipped"
fi

echo "== whole process ($runs runs each)"
names=(cadyn cadyn_xpp_outputs scipy_LSODA scipy_BDF)
cmds=("$cmd_cadyn" "$cmd_cadyn_xpp" "$cmd_lsoda" "$cmd_bdf")
if ((have_xpp)); then names+=(xppaut); cmds+=("$cmd_xpp"); else echo "xppaut not installed: skipped"; fi
if ((have_nrn)); then names+=(neuron_rxd); cmds+=("$cmd_nrn"); fi
if command -v hyperfine > /dev/null; then
    args=()
    for i in "${!names[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
    hyperfine --warmup 2 --runs "$runs" --export-json "$work/whole.json" "${args[@]}"
else
    "$py" - "$work/whole.json" "$runs" "${names[@]}" -- "${cmds[@]}" <<'PY'
import json, subprocess, sys, time
out, runs = sys.argv[1], int(sys.argv[2]); rest = sys.argv[3:]; k = rest.index("--")
names, cmds = rest[:k], rest[k + 1:]
res = []
for n, c in zip(names, cmds):
    subprocess.run(c, shell=True, check=True)
    ts = []
    for _ in range(runs):
        s = time.perf_counter(); subprocess.run(c, shell=True, check=True); ts.append(time.perf_counter() - s)
    res.append({"command": n, "mean": sum(ts) / len(ts), "min": min(ts)})
    print(f"{n}: mean {res[-1]['mean']*1e3:.1f} ms, min {res[-1]['min']*1e3:.1f} ms")
json.dump({"results": res}, open(out, "w"))
PY
fi

"$py" - "$work" "$have_xpp" "$have_nrn" <<'PY'
import json, re, sys
import numpy as np
work, have_xpp, have_nrn = sys.argv[1], sys.argv[2] == "1", sys.argv[3] == "1"

def period(t, c):
    late = t >= t[-1] - 500.0
    mean = c[late].mean()
    up = [t[i - 1] + (mean - c[i - 1]) / (c[i] - c[i - 1]) * (t[i] - t[i - 1])
          for i in range(1, len(t)) if late[i - 1] and c[i - 1] < mean <= c[i]]
    return (up[-1] - up[0]) / (len(up) - 1) if len(up) >= 2 else 0.0

periods = {}
periods["cadyn (in process)"] = float(re.search(r"period_s=([0-9.]+)", open(f"{work}/bench.txt").read()).group(1))
d = np.loadtxt(f"{work}/cadyn-out/traces.csv", delimiter=",", skiprows=1, usecols=(0, 1))
periods["cadyn (whole process)"] = period(d[:, 0] / 1000.0, d[:, 1])
d = np.loadtxt(f"{work}/cadyn-xpp-out/traces.csv", delimiter=",", skiprows=1, usecols=(0, 1))
periods["cadyn (XPPAUT's outputs)"] = period(d[:, 0] / 1000.0, d[:, 1])
scipy_in = {}
for line in open(f"{work}/scipy.txt"):
    m = re.match(r"scipy (\w+): best_of_\d+_s=([0-9.]+) period_s=([0-9.]+)", line)
    if m:
        scipy_in[m.group(1)] = float(m.group(2))
        periods[f"scipy {m.group(1)}"] = float(m.group(3))
if have_xpp:
    x = np.loadtxt(f"{work}/output.dat")
    periods["XPPAUT"] = period(x[:, 0], x[:, 1])
nrn_in = None
if have_nrn:
    m = re.search(r"neuron rxd: setup_s=[0-9.]+ best_of_\d+_s=([0-9.]+) period_s=([0-9.]+)",
                  open(f"{work}/neuron.txt").read())
    nrn_in = float(m.group(1))
    periods["NEURON rxd"] = float(m.group(2))

ref = periods["cadyn (in process)"]
ok = True
print("\n== oscillation period (mean interval between upward crossings of the mean, last 500 s)")
for k, v in periods.items():
    dev = (v - ref) / ref
    good = abs(dev) <= 0.01
    ok &= good
    print(f"{k:24s} {v:10.4f} s  {dev:+.2e}  {'ok' if good else 'DISAGREES (> 1 %)'}")

b = json.load(open(f"{work}/bench.json"))
# The best of the 5 repetitions, as for scipy and NEURON (each repetition is itself a mean over its iterations).
cadyn_in = min(r["real_time"] for r in b["benchmarks"] if r.get("run_type") == "iteration") / 1e3  # ms -> s
whole = {r["command"]: r for r in json.load(open(f"{work}/whole.json"))["results"]}
print("\n== times (ratio: the tool's time / cadyn's, > 1 = cadyn faster)")
print("| tool | in process | ratio | whole process (mean) | ratio |")
print("|---|---|---|---|---|")
wc = whole["cadyn"]["mean"]
rows = [("cadyn", cadyn_in, "cadyn"), ("cadyn, XPPAUT's outputs", None, "cadyn_xpp_outputs"),
        ("scipy LSODA", scipy_in.get("LSODA"), "scipy_LSODA"),
        ("scipy BDF", scipy_in.get("BDF"), "scipy_BDF")]
if have_xpp:
    rows.append(("XPPAUT", None, "xppaut"))
if have_nrn:
    rows.append(("NEURON rxd", nrn_in, "neuron_rxd"))
for name, tin, key in rows:
    a = f"{tin*1e3:.1f} ms | {tin/cadyn_in:.1f}" if tin else "- | -"
    w = whole[key]["mean"]
    print(f"| {name} | {a} | {w*1e3:.1f} ms | {w/wc:.2f} |")
if have_xpp:
    wx = whole["cadyn_xpp_outputs"]["mean"]
    print(f"\nXPPAUT's whole process / cadyn's recording the same variables: {whole['xppaut']['mean'] / wx:.2f}")
print("\nin process: cadyn = best of 5 Google Benchmark repetitions (each the mean of its iterations); scipy = best of 5 solve_ivp calls"
      + ("; NEURON = best of 5 cvode.solve calls, each after finitialize" if have_nrn else ""))
print("whole process: mean over the runs above, process start to exit, output files written; \"cadyn, XPPAUT's outputs\""
      " records only cyt.ca and ip3r.h, as XPPAUT's output.dat holds t, c and h")
sys.exit(0 if ok else 1)
PY
