#!/usr/bin/python3
"""Read the HDF5 files that tests/unit/test_hdf5.cpp writes with h5py and check them; then plot them with
scripts/plot_fields.py and check that the PNGs appear. Run by that test (hdf5.h5py_reads_the_files_and_plot_fields_plots_them).

usage: read_hdf5.py CABLE.h5 AXISYM.h5 PLOT_DIR VERSION

The numbers and formulas here are the test's: keep them in step with test_hdf5.cpp.
"""
import os
import subprocess
import sys

import h5py
import numpy as np

TRACE_RECORDS = 10000
CABLE_FIELD_RECORDS = 40
AXISYM_FIELD_RECORDS = 30
OBSERVABLES = [("cyt.ca", "uM"), ("pmca.ca_flux", "amol/s"), ("fluo4.F_F0", "")]
MODEL_TEXT = "format_version = 1\nname = \"soma\"\n# 1 \u00b5m\n"

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "plot_fields.py")


def field_values(records, field, voxels):
    """field_value(record, field, voxel, voxels) of test_hdf5.cpp, for every record and voxel."""
    numerator = np.arange(records * voxels, dtype=np.float64).reshape(records, voxels) + 1.0
    return numerator / (field + 7.0)


def check_root(f, version):
    attrs = f.attrs
    expected = {
        "format": "cadyn-hdf5 1",
        "cadyn_version": version,
        "model_name": "soma",
        "model_source": "models/soma.toml",
        "seed": "42",
        "start": "rest",
        "solver": "CVODE BDF",
        "note": "r = 5 \u00b5m",
    }
    for name, value in expected.items():
        assert isinstance(attrs[name], str), (name, type(attrs[name]))
        assert attrs[name] == value, (name, attrs[name], value)
    assert f["model"].asstr()[()] == MODEL_TEXT, f["model"].asstr()[()]


def check_unit(dataset, unit):
    assert isinstance(dataset.attrs["unit"], str), dataset.name
    assert dataset.attrs["unit"] == unit, (dataset.name, dataset.attrs["unit"], unit)


def check_growing(dataset, shape):
    assert dataset.dtype == np.float64, (dataset.name, dataset.dtype)
    assert dataset.shape == shape, (dataset.name, dataset.shape, shape)
    assert dataset.chunks is not None, dataset.name
    assert dataset.maxshape[0] is None, (dataset.name, dataset.maxshape)


def check_cable(path, version):
    with h5py.File(path, "r") as f:
        check_root(f, version)

        traces = f["traces"]
        assert list(traces) == ["time"] + [n for n, _ in OBSERVABLES], list(traces)  # in the model's order
        check_growing(traces["time"], (TRACE_RECORDS,))
        check_unit(traces["time"], "ms")
        assert np.array_equal(traces["time"][:], 0.5 * np.arange(TRACE_RECORDS))
        for j, (name, unit) in enumerate(OBSERVABLES):
            d = traces[name]
            check_growing(d, (TRACE_RECORDS,))
            check_unit(d, unit)
            assert np.array_equal(d[:], (np.arange(TRACE_RECORDS) + 1.0) / (j + 3.0)), name

        grid = f["grid"]
        assert grid.attrs["geometry"] == "cable"
        assert int(grid.attrs["dimensions"]) == 1
        assert list(grid.attrs["shape"]) == [5, 1, 1]
        edges = np.array([0, 1, 2.5, 4.5, 7, 10])
        assert np.array_equal(grid["edges_0"][:], edges)
        assert np.array_equal(grid["centres_0"][:], 0.5 * (edges[:-1] + edges[1:]))
        assert np.array_equal(grid["volume"][:], 0.25 * np.diff(edges))
        check_unit(grid["volume"], "um^3")
        check_unit(grid["edges_0"], "um")
        assert "centres_1" not in grid

        fields = f["fields"]
        assert list(fields) == ["time", "cyt.ca", "cyt.calbindin"], list(fields)
        check_growing(fields["time"], (CABLE_FIELD_RECORDS,))
        assert np.array_equal(fields["time"][:], 2.5 * np.arange(CABLE_FIELD_RECORDS))
        for k, name in enumerate(["cyt.ca", "cyt.calbindin"]):
            d = fields[name]
            check_growing(d, (CABLE_FIELD_RECORDS, 5))
            check_unit(d, "uM")
            assert np.array_equal(d[:], field_values(CABLE_FIELD_RECORDS, k, 5)), name


def check_axisymmetric(path, version):
    with h5py.File(path, "r") as f:
        check_root(f, version)
        grid = f["grid"]
        assert grid.attrs["geometry"] == "axisymmetric"
        assert int(grid.attrs["dimensions"]) == 2
        shape = tuple(int(n) for n in grid.attrs["shape"])
        assert shape == (4, 3, 1), shape
        assert np.array_equal(grid["edges_0"][:], [0, 0.5, 1, 1.5, 2])
        assert np.array_equal(grid["edges_1"][:], [0, 1, 2, 3])
        r = grid["edges_0"][:]
        z = grid["edges_1"][:]
        ring = np.pi * (r[1:] ** 2 - r[:-1] ** 2)
        assert np.allclose(grid["volume"][:].reshape(shape[::-1])[0], np.outer(np.diff(z), ring), rtol=1e-15)

        d = f["fields/cyt.ca"]
        check_growing(d, (AXISYM_FIELD_RECORDS, 12))
        values = d[:]
        assert np.array_equal(values, field_values(AXISYM_FIELD_RECORDS, 0, 12))
        # The documented reshape: a record as [axis 2, axis 1, axis 0] = [1, z, r]; voxel = i_r + 4 * i_z.
        last = values[-1].reshape(shape[::-1])
        for iz in range(3):
            for ir in range(4):
                assert last[0, iz, ir] == values[-1, ir + 4 * iz]

        assert np.array_equal(f["traces/time"][:], [0.0, 1.0, 2.0])
        assert list(f["traces"]) == ["time"]


def check_plots(files, plot_dir):
    """plot_fields.py writes non-empty PNGs and prints their paths."""
    runs = [
        (files[0], os.path.join(plot_dir, "cable"), []),
        (files[0], os.path.join(plot_dir, "cable-log"), ["--field", "cyt.calbindin", "--log"]),
        (files[1], os.path.join(plot_dir, "axisym"), []),
    ]
    for path, out, extra in runs:
        result = subprocess.run([sys.executable, SCRIPT, path, "--out", out] + extra, capture_output=True,
                                text=True, check=False)
        assert result.returncode == 0, (path, extra, result.stdout, result.stderr)
        printed = [line for line in result.stdout.splitlines() if line.strip()]
        assert printed, ("nothing printed", path, extra)
        for png in printed:
            assert png.endswith(".png"), png
            assert os.path.isfile(png) and os.path.getsize(png) > 1000, png
            with open(png, "rb") as f:
                assert f.read(8) == b"\x89PNG\r\n\x1a\n", png
        written = sorted(os.listdir(out))
        assert sorted(os.path.basename(p) for p in printed) == written, (printed, written)
        if "--field" in extra:
            assert all("cyt.calbindin" in p for p in printed), printed
        else:
            assert any("cyt.ca" in p for p in printed), printed
        print(f"read_hdf5: {len(printed)} plots from {os.path.basename(path)} {' '.join(extra)}")

    # An unknown field is an error with a message, not a traceback.
    bad = subprocess.run([sys.executable, SCRIPT, files[0], "--out", os.path.join(plot_dir, "bad"), "--field",
                          "nope"], capture_output=True, text=True, check=False)
    assert bad.returncode != 0 and "nope" in bad.stderr and "Traceback" not in bad.stderr, bad.stderr


def main():
    cable, axisym, plot_dir, version = sys.argv[1:5]
    check_cable(cable, version)
    check_axisymmetric(axisym, version)
    check_plots([cable, axisym], plot_dir)
    print("read_hdf5: ok")


if __name__ == "__main__":
    main()
