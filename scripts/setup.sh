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
    # Random123: reproducible counter-based random numbers for the stochastic channels (src/solvers/random_stream.hpp)
    librandom123-dev
    python3 python3-matplotlib python3-numpy
    # the Python package (python/): pybind11 and the headers of Debian's /usr/bin/python3
    pybind11-dev python3-dev
    # HDF5 output (serial libhdf5; src/io/hdf5.cpp) and reading it back in Python (tests, scripts/plot_fields.py)
    libhdf5-dev python3-h5py
    # libSBML: SBML import and export (src/io/sbml.cpp), cadyn run/check on .xml/.sbml models
    libsbml5-dev
    # Ceres Solver: least squares for `cadyn fit` (apps/cadyn/fit.cpp, linked only into bin/cadyn-fit)
    libceres-dev
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

# The Python package (python/, README "Python"): make build/python importable by /usr/bin/python3 without
# PYTHONPATH, with a .pth file naming it: in the system-wide site folder as root, else in the user's own site folder.
# Written only when the build made the package, and rewritten when it points elsewhere (another checkout).
if [ -f build/python/cadyn/__init__.py ]; then
    py=/usr/bin/python3
    if [ "$(id -u)" -eq 0 ]; then
        site_dir=$("$py" -c 'import site; print(site.getsitepackages()[0])')
    else
        site_dir=$("$py" -m site --user-site)
    fi
    pth="$site_dir/cadyn.pth"
    want="$PWD/build/python"
    if [ "$(cat "$pth" 2>/dev/null)" != "$want" ]; then
        if mkdir -p "$site_dir" 2>/dev/null && printf '%s\n' "$want" >"$pth" 2>/dev/null; then
            echo "setup: $py imports cadyn from $want ($pth)" >&2
        else
            echo "setup: could not write $pth; use the Python package with PYTHONPATH=$want $py" >&2
        fi
    fi
    if ! (cd / && "$py" -c 'import cadyn' 2>/dev/null); then
        echo "setup: '$py -c \"import cadyn\"' fails; use PYTHONPATH=$want $py" >&2
    fi
fi
