#!/usr/bin/python3
"""The unit check behind the dendrite-wave comparison: one voxel, no diffusion, cadyn against NEURON rxd.

The ER-membrane kinetics of models/dendrite_wave.toml (ip3r_neymotin, serca, leak with parameters converted from
rxd's molecules / (um^2 ms) and mM) in a point model of one 1 um voxel of the 1 um dendrite (cytosol 0.83 and ER
0.17 of pi/4 um^3, 1 um^2 of ER membrane, as rxd's ScalableBorder(1)), started at the resting state of 0.2 uM IP3
with IP3 at 2 uM from t = 0, and the same voxel in rxd (`wave_rxd.py --point`, a one-segment section). Both run
with rtol 1e-8. Cyt Ca, ER Ca and the gate h must agree at every record within --tolerance (relative to each
trace's largest value; default 1e-4). A wrong factor in the mapping (mM vs uM, molecules vs zmol, area vs volume)
shows up as an error of order 1.

Usage: wave_point_check.py CADYN_BINARY [--t-end MS] [--tolerance X]      exit 0 when they agree, 1 otherwise
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def mechanisms_of(model_text):
    """The [[membranes]] and [[mechanisms]] tables of models/dendrite_wave.toml, verbatim."""
    start = model_text.index("[[membranes]]")
    end = model_text.index("[[points]]")
    return model_text[start:end].replace('area = "1000 um^2"', 'area = "1 um^2"')


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cadyn")
    ap.add_argument("--t-end", type=float, default=20000.0, help="ms")
    ap.add_argument("--ip3", type=float, default=2.0, help="uM")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    a = ap.parse_args(argv)

    rest = json.loads(subprocess.run([sys.executable, os.path.join(HERE, "wave_rxd.py"), "--rest"], check=True,
                                     capture_output=True, text=True).stdout)
    volume = math.pi / 4  # one 1 um voxel of a 1 um dendrite [um^3]
    model_text = open(os.path.join(ROOT, "models", "dendrite_wave.toml")).read()
    point_model = f"""format_version = 1
name = "dendrite wave, one voxel"
temperature = "37 degC"

[[compartments]]
name = "cyt"
volume = "{0.83 * volume!r} um^3"
concentrations = {{ ca = "{rest['cyt_ca_uM']!r} uM", ip3 = "{a.ip3!r} uM" }}

[[compartments]]
name = "er"
volume = "{0.17 * volume!r} um^3"
concentrations = {{ ca = "{rest['er_ca_uM']!r} uM" }}

{mechanisms_of(model_text)}
[run]
t_end = "{a.t_end!r} ms"
rtol = 1e-8
atol = "1e-8 uM"

[record]
interval = "10 ms"
observables = ["cyt.ca", "er.ca", "ip3r.h"]
"""
    with tempfile.TemporaryDirectory(prefix="cadyn-wave-point.") as work:
        path = os.path.join(work, "point.toml")
        with open(path, "w") as f:
            f.write(point_model)
        subprocess.run([a.cadyn, "run", path, "--no-plot", "--out", os.path.join(work, "out")], check=True,
                       stdout=subprocess.DEVNULL)
        c = np.genfromtxt(os.path.join(work, "out", "traces.csv"), delimiter=",", skip_header=1)
        rxd_csv = os.path.join(work, "rxd.csv")
        subprocess.run([sys.executable, os.path.join(HERE, "wave_rxd.py"), "--point", "--ip3", repr(a.ip3),
                        "--t-end", repr(a.t_end), "--rtol", "1e-8", "--atol", "1e-8", "--csv", rxd_csv], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        r = np.genfromtxt(rxd_csv, delimiter=",", skip_header=1)
    n = min(len(c), len(r))
    if np.max(np.abs(c[:n, 0] - r[:n, 0])) > 1e-9:
        print("record times differ", file=sys.stderr)
        return 1
    ok = True
    print(f"one voxel, IP3 {a.ip3} uM from the resting state of 0.2 uM, {a.t_end / 1000:g} s, rtol 1e-8:")
    for k, name in enumerate(["cyt.ca", "er.ca", "ip3r.h"], start=1):
        scale = max(np.max(np.abs(r[:n, k])), 1e-300)
        dev = np.max(np.abs(c[:n, k] - r[:n, k])) / scale
        good = dev <= a.tolerance
        ok &= good
        print(f"  {name:8s} max |cadyn - rxd| / max|rxd| = {dev:.2e}  (rxd: {r[:n, k].min():.4g} .. "
              f"{r[:n, k].max():.4g})  {'ok' if good else 'DISAGREES'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
