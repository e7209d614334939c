#!/usr/bin/env bash
# Issue 8: every peer benchmark in one command. Runs, in sequence and with the same build folder,
#   run_peers.sh BUILD_DIR            Li & Rinzel oscillation period: scipy LSODA/BDF, XPPAUT, NEURON rxd
#   run_wave.sh  BUILD_DIR VOXELS...  the dendrite Ca wave's speed: NEURON rxd
#   run_decay.sh BUILD_DIR            the buffered cell's decay time constant: scipy LSODA/BDF, XPPAUT, NEURON rxd
# each of which checks that its tools agree with cadyn within 1 % (period, wave speed, decay tau) and prints its
# times and ratios, in process and whole process. Every script runs even when an earlier one fails; at the end
# the agreement and time tables of all three are printed again together, with each script's status.
#
#   bench/peers/run_all.sh [BUILD_DIR [VOXELS...]]   (default build-bench and 1000 voxels; takes a minute or two)
#
# BUILD_DIR: a Release build with -DCADYN_BUILD_BENCH=ON (run_peers.sh and run_wave.sh need bench/bench_li_rinzel
# and bench/bench_wave in it; run_decay.sh times cadyn in process through BUILD_DIR/python when it is there).
# RUNS=N, when set, goes to all three (each script's own default otherwise: 10, 1 and 10).
# Exit status: 0 if every script passed, 1 if any found a disagreement (exit 1), else 2 (a script could not run).
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build-bench}" && pwd) || { echo "no build folder ${1:-$root/build-bench}" >&2; exit 2; }
shift || true
if (($#)); then voxels=("$@"); else voxels=(1000); fi
peers=$root/bench/peers
logs=$(mktemp -d /tmp/cadyn-all.XXXXXX)
trap 'rm -rf "$logs"' EXIT

names=(period wave decay)
cmds=("$peers/run_peers.sh $build" "$peers/run_wave.sh $build ${voxels[*]}" "$peers/run_decay.sh $build")
declare -A status
for i in "${!names[@]}"; do
    n=${names[$i]}
    echo
    echo "######## $n: ${cmds[$i]}"
    # word splitting of the command is intended (paths without spaces, as the scripts themselves assume)
    # shellcheck disable=SC2086
    ${cmds[$i]} 2>&1 | tee "$logs/$n.txt"
    status[$n]=${PIPESTATUS[0]}
done

echo
echo "######## summary (build: $build; voxels: ${voxels[*]})"
# The tables: run_peers.sh from its period check on, run_wave.sh its speed checks and its table, run_decay.sh from
# its tau check on.
echo; echo "#### oscillation period (run_peers.sh, exit ${status[period]})"
sed -n '/^== oscillation period/,$p' "$logs/period.txt"
echo; echo "#### wave speed (run_wave.sh, exit ${status[wave]})"
grep -E '^(== [0-9]+ voxels|wave speed)' "$logs/wave.txt"
sed -n '/^== times/,$p' "$logs/wave.txt"
echo; echo "#### decay time constant (run_decay.sh, exit ${status[decay]})"
sed -n '/^== decay time constant/,$p' "$logs/decay.txt" | grep -v 'hyperfine can not calibrate\|^ *Warning: Command took'

rc=0
for n in "${names[@]}"; do
    s=${status[$n]}
    if ((s == 1)); then
        echo "$n: DISAGREEMENT (exit 1)"
        rc=1
    elif ((s != 0)); then
        echo "$n: did not run to the end (exit $s)"
        ((rc == 1)) || rc=2
    else
        echo "$n: agrees"
    fi
done
exit $rc
