#!/usr/bin/env bash
# Set up and build cadyn on Debian 12: install the Debian packages it needs (only those missing; apt-get as
# root, or through sudo), then configure and build with CMake + Ninja into build/.
# Idempotent, and fast when everything is already installed and built.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
    cmake ninja-build g++ pkg-config
    # SUNDIALS (CVODE, KINSOL) with its KLU sparse solver (SuiteSparse headers)
    libsundials-dev libsuitesparse-dev
    libtomlplusplus-dev libcli11-dev libfmt-dev libudunits2-dev libmuparser-dev
    libgtest-dev libgmock-dev
    python3 python3-matplotlib python3-numpy
    # HDF5 output (serial libhdf5; src/io/hdf5.cpp) and reading it back in Python (tests, scripts/plot_fields.py)
    libhdf5-dev python3-h5py
    # clang with libFuzzer and the sanitizer runtimes, llvm-symbolizer for readable reports: the fuzz targets
    # (fuzz/, scripts/test.sh)
    clang-14 libclang-rt-14-dev llvm-14
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    sudo_cmd=()
    if [ "$(id -u)" -ne 0 ]; then
        sudo_cmd=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo_cmd[@]}" apt-get update -qq
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

build_type=${CADYN_BUILD_TYPE:-RelWithDebInfo}
if [ ! -f build/build.ninja ]; then
    cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="$build_type" -DCADYN_WERROR=ON >/dev/null
fi
cmake --build build -j "$(nproc)"
