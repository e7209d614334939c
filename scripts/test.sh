#!/usr/bin/env bash
# The test command (README Quick start; CI runs it through .ci/run). Stops at the first failure with a non-zero
# exit status. Stages (docs/robustness.md):
#
#   1. scripts/setup.sh: install the Debian packages, build into build/;
#   2. every test: ctest in build/ (this includes the replay of the fuzz corpus, fuzz/);
#   3. sanitizers: the same suite built with gcc under AddressSanitizer + UndefinedBehaviorSanitizer in
#      build-asan/ (-O1, assertions on), where any report fails the test that caused it;
#   4. fuzzing: the libFuzzer targets built with clang in build-fuzz/, each run for a short fixed time and seed on
#      a temporary copy of the seed corpus (the corpus in the repository is never modified). An input that
#      crashes is kept in build-fuzz/findings/; add it to fuzz/corpus/<target>/ as regression-<name> (fuzz/README.md).
#
# Environment: CADYN_FUZZ_RUNS, inputs per fuzz target (default 50000, about 20 s each here; 0 skips stage 4). A fixed
# seed and a fixed number of inputs make the fuzz stage deterministic: what passes here passes in CI.
set -euo pipefail
cd "$(dirname "$0")/.."

fuzz_runs=${CADYN_FUZZ_RUNS:-50000}
jobs=$(nproc)
start_time=$SECONDS

stage() {
    printf '\n== %s (%d s)\n' "$1" "$((SECONDS - start_time))" >&2
}

stage "setup and build: build/"
scripts/setup.sh

stage "tests: build/"
ctest --test-dir build --output-on-failure

stage "sanitizers: build-asan/ (AddressSanitizer + UndefinedBehaviorSanitizer)"
# Configured every time (a no-op when nothing changed), so that a build-asan/ left with other options is corrected.
# -O1 keeps the instrumented suite fast enough; RelWithDebInfo's -DNDEBUG is dropped so assertions run too.
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
    -DCADYN_WERROR=ON -DCADYN_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$jobs"
# Leak checking is on by default with ASan on Linux; UBSan aborts on its first report (-fno-sanitize-recover), these
# options only make the report say where.
ASAN_OPTIONS=detect_leaks=1:check_initialization_order=1:strict_init_order=1 \
    LSAN_OPTIONS=suppressions=$PWD/fuzz/lsan.supp:print_suppressions=0 \
    UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure

if [ "$fuzz_runs" -le 0 ]; then
    stage "fuzzing skipped (CADYN_FUZZ_RUNS=$fuzz_runs)"
    exit 0
fi
if ! command -v clang++-14 >/dev/null; then
    echo "test: clang++-14 not found (scripts/setup.sh installs clang-14); cannot fuzz" >&2
    exit 1
fi

stage "fuzzing: build-fuzz/ (clang, libFuzzer + ASan + UBSan), ${fuzz_runs} inputs per target"
cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DCADYN_WERROR=ON -DCADYN_BUILD_FUZZERS=ON -DCADYN_BUILD_TESTS=OFF \
    >/dev/null
cmake --build build-fuzz -j "$jobs" --target fuzz_units fuzz_model_file

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/units" "$work/model_file" build-fuzz/findings
cp fuzz/corpus/units/* "$work/units/"
# The model reader starts from its own snippets and every shipped and broken model, read in place by the replay
# test; prefixed because names repeat across the directories.
for dir in fuzz/corpus/model_file models tests/data/broken tests/data/thermo tests/data/longrun; do
    for file in "$dir"/*; do
        [ -f "$file" ] || continue  # models/recordings/ holds data, not models
        cp "$file" "$work/model_file/${dir//\//_}-$(basename "$file")"
    done
done
if [ -x /usr/lib/llvm-14/bin/llvm-symbolizer ]; then
    export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
fi
export UBSAN_OPTIONS=print_stacktrace=1
# Genuine third-party leaks only (fuzz/lsan.supp says why each is there).
export LSAN_OPTIONS=suppressions=$PWD/fuzz/lsan.supp:print_suppressions=0

# run_fuzzer TARGET MAX_LEN [extra libFuzzer flags]: a fixed seed and a fixed number of inputs, so every run explores
# the same inputs (max_total_time only guards against a machine far slower than expected).
run_fuzzer() {
    local target=$1 max_len=$2
    shift 2
    local log="$work/$target.log"
    if ! build-fuzz/bin/fuzz_"$target" -seed=1 -runs="$fuzz_runs" -max_total_time=600 -max_len="$max_len" -timeout=25 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="build-fuzz/findings/$target-" "$@" \
        "$work/$target" >"$log" 2>&1; then
        tail -n 60 "$log" >&2
        echo "test: fuzz_$target found a failing input, saved in build-fuzz/findings/ (see fuzz/README.md)" >&2
        return 1
    fi
    echo "fuzz_$target: $(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}') inputs, no finding" >&2
}
run_fuzzer units 512 -dict=fuzz/units.dict
run_fuzzer model_file 8192 -dict=fuzz/model_file.dict

stage "all passed"
