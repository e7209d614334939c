#!/usr/bin/python3
"""NEURON rxd: an IP3-triggered Ca wave along a 1000 um dendrite (the model of NEURON's rxd calcium-wave tutorial
with the parameters of Neymotin et al. 2015), the peer of models/dendrite_wave.toml (issues 5 and 8).

The model, in rxd's own units (concentrations mM, time ms, lengths um, membrane rates molecules / um^2 / ms):
  dendrite  one section, L = 1000 um, diam = 1 um, nseg = --voxels (1 um voxels by default)
  regions   cyt = FractionalVolume(0.83, surface_fraction=1), er = FractionalVolume(0.17),
            cyt_er_membrane = ScalableBorder(1): 1 um^2 of ER membrane per um of dendrite (diam * L)
  species   ca in cyt and er (d = 0.08 um^2/ms), ip3 in cyt (d = 1.415 um^2/ms), the IP3R gate h on the membrane
  SERCA     ca[cyt] > ca[er], custom rate gserca / ((kserca / (1000 ca_cyt))^2 + 1)
  leak      ca[er] <> ca[cyt], mass action gleak, gleak:       rate gleak (ca_er - ca_cyt)
  IP3R      ca[er] <> ca[cyt], mass action k, k:               rate k (ca_er - ca_cyt),  k = gip3r (minf h)^3,
            minf = ip3 * 1000 ca / ((ip3 + kip3) (1000 ca + kact))
  gate      rxd.Rate(h, (1 / (1 + 1000 ca / kinh) - h) / ip3rtau)
These are the equations of NEURON's rxd tutorial "Calcium waves" (the older tut_cawave page; the current notebook
stops before the reactions) and of ModelDB 168874 (Neymotin, McDougal, Sherif, Fall, Hines & Lytton 2015, Neural
Comput 27:898-924), whose cawave.cfg gives the parameters used here: gip3r = 96320 (its ip3_notorigin),
gserca = 1.9565, gleak = 18.06, kserca = 0.1 uM, kip3 = 0.13 uM, kact = 0.4 uM, kinh = 0.4 uM, ip3rtau = 400 ms,
total Ca 0.0017 mM per voxel volume, fc = 0.83, fe = 0.17. With the tutorial's own values (gip3r 12040, gserca
0.3913, gleak 6.02, ip3rtau 2000, d_ca 0.016) the front crawls at 10-30 um/s and does not cross a 1000 um
dendrite in 5 s.

The problem (the same in models/dendrite_wave.toml): every voxel starts at the resting state of the background
IP3 (--ip3-background, 0.2 uM: the lowest steady state of the equations above with the total Ca fixed; h at
h_inf), and at t = 0 IP3 is 2 uM in the voxels whose centre lies below 200 um (as the tutorial's `node.x < 0.2`).
That end ignites; the front travels along the dendrite at a constant speed.

A MultiCompartmentReaction's rate is per membrane area (molecules / um^2 / ms); rxd multiplies it by the voxel's
membrane area and divides by the region's volume times N_A / 1e18 (molecules per mM um^3). bench/README.md works
out how that maps onto cadyn's mechanisms.

Tolerances: NEURON's CVODE (variable step) with --rtol and --atol [uM], applied per state as cadyn applies its
`atol`: ca is held in mM here, so its absolute tolerance is atol * 1e-3; ip3 (its numbers are uM) and h
(dimensionless) carry atolscale 1000.

Wave speed: cyt Ca at x is interpolated linearly between the two voxels whose centres straddle x; the time at which
it first rises through --threshold is interpolated linearly between records (every --interval); the speed is
(x2 - x1) / (t2 - t1).

Usage:
  wave_rxd.py [--voxels N] [--t-end MS] [--rtol R] [--atol UM] [--csv FILE]   the wave; prints one JSON line
  wave_rxd.py --point [--ip3 UM] [--t-end MS] [--csv FILE]                    one voxel, no diffusion: the unit check
                                                                                 against a cadyn point model
  wave_rxd.py --rest                                                          print the initial (resting) state
Runs in a temporary folder: rxd compiles its reactions with gcc and writes the C files into the current folder.
Needs Debian's python3-neuron (8.2.2 looks for librxdmath in the wrong folder; fixed at run time below).
"""
import argparse
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from neuron_rxd import import_neuron, in_scratch_folder  # noqa: E402

# Neymotin et al. 2015 (ModelDB 168874, cawave.cfg and cawave.py), in rxd's units.
CA_DIFF = 0.08      # um^2/ms
IP3_DIFF = 1.415    # um^2/ms
GIP3R = 96320.0     # molecules / (um^2 ms mM)
GSERCA = 1.9565     # molecules / (um^2 ms)
GLEAK = 18.06       # molecules / (um^2 ms mM)
KSERCA = 0.1        # uM (compared with 1000 ca)
KIP3 = 0.13         # uM (ip3's numbers are uM: ip3 only appears in ip3 / (ip3 + kip3))
KACT = 0.4          # uM
KINH = 0.4          # uM
IP3RTAU = 400.0     # ms
FC, FE = 0.83, 0.17
CA_TOTAL = 0.0017   # mM per voxel volume: fc ca_cyt + fe ca_er
BORDER = 1.0        # ScalableBorder(1): um^2 of ER membrane per um of length per um of diameter
IP3_PATCH = 2.0     # uM
PATCH_END = 200.0   # um
MOLECULES_PER_MM_UM3 = 6.02214076e23 / 1e18  # rxd's constants.molecules_per_mM_um3() (checked at run time)


def membrane_flux_into_er(c, ce, h, ip3):
    """rxd's net membrane rate into the ER [molecules / um^2 / ms] for ca_cyt c and ca_er ce [mM]."""
    cu = 1000.0 * c
    minf = ip3 * cu / (ip3 + KIP3) / (cu + KACT)
    serca = GSERCA / ((KSERCA / cu) ** 2 + 1) if cu > 0 else 0.0
    return serca - (GLEAK + GIP3R * (minf * h) ** 3) * (ce - c)


def h_inf(c):
    return 1.0 / (1.0 + 1000.0 * c / KINH)


def rest_state(ip3):
    """The lowest steady state at this IP3 with the total Ca fixed: (ca_cyt, ca_er) [mM] and h."""
    def net(c):
        return membrane_flux_into_er(c, (CA_TOTAL - FC * c) / FE, h_inf(c), ip3)

    lo, hi = 1e-12, CA_TOTAL / FC * (1 - 1e-12)
    # net > 0 near c = 0 would mean uptake with no Ca: impossible; scan upwards for the first sign change.
    n = 20000
    prev_c, prev = lo, net(lo)
    for i in range(1, n + 1):
        c = lo + (hi - lo) * i / n
        v = net(c)
        if (prev < 0) != (v < 0):
            a, b, fa = prev_c, c, prev
            for _ in range(200):  # bisection to machine precision
                m = 0.5 * (a + b)
                fm = net(m)
                if (fa < 0) == (fm < 0):
                    a, fa = m, fm
                else:
                    b = m
            c0 = 0.5 * (a + b)
            return c0, (CA_TOTAL - FC * c0) / FE, h_inf(c0)
        prev_c, prev = c, v
    raise RuntimeError("no steady state")


def parse(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--voxels", type=int, default=1000)
    ap.add_argument("--length", type=float, default=1000.0, help="um")
    ap.add_argument("--diam", type=float, default=1.0, help="um")
    ap.add_argument("--ip3-background", type=float, default=0.2, help="uM")
    ap.add_argument("--t-end", type=float, default=5000.0, help="ms")
    ap.add_argument("--rtol", type=float, default=1e-6)
    ap.add_argument("--atol", type=float, default=1e-6, help="uM (applied as atol * 1e-3 mM to ca)")
    ap.add_argument("--interval", type=float, default=10.0, help="ms between records")
    ap.add_argument("--positions", type=float, nargs=2, default=[300.0, 700.0], help="um")
    ap.add_argument("--threshold", type=float, default=0.5, help="cyt Ca [uM] that marks the front")
    ap.add_argument("--point", action="store_true", help="one voxel (L = 1 um), no diffusion")
    ap.add_argument("--ip3", type=float, default=IP3_PATCH, help="--point: IP3 [uM] from t = 0")
    ap.add_argument("--rest", action="store_true", help="print the initial state and exit")
    ap.add_argument("--csv", help="write the recorded traces here (uM, ms)")
    return ap.parse_args(argv)


def cpu_seconds():
    """CPU time of this process and its finished children (rxd runs gcc), user + system."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def crossing_time(t, c, threshold):
    for i in range(1, len(t)):
        if c[i - 1] < threshold <= c[i]:
            return t[i - 1] + (threshold - c[i - 1]) / (c[i] - c[i - 1]) * (t[i] - t[i - 1])
    return None


def main(argv):
    a = parse(argv)
    c0, ce0, h0 = rest_state(a.ip3_background)
    if a.rest:
        print(json.dumps({"ip3_uM": a.ip3_background, "cyt_ca_uM": c0 * 1e3, "er_ca_uM": ce0 * 1e3, "h": h0}))
        return 0
    here = os.getcwd()
    csv_path = os.path.join(here, a.csv) if a.csv else None
    return in_scratch_folder(run, a, csv_path, (c0, ce0, h0))


def run(a, csv_path, rest):
    t0 = time.perf_counter()
    h, rxd = import_neuron()  # with Debian 12's librxdmath fix
    from neuron.rxd import constants
    import numpy as np

    t_import = time.perf_counter() - t0
    if abs(constants.molecules_per_mM_um3() / MOLECULES_PER_MM_UM3 - 1) > 1e-12:
        print(f"note: this NEURON's molecules per mM um^3 is {constants.molecules_per_mM_um3()!r}", file=sys.stderr)
    c0, ce0, h0 = rest

    # --- setup: the model, then finitialize (rxd builds its matrices and compiles the reactions there)
    t0, c0_cpu = time.perf_counter(), cpu_seconds()
    sec = h.Section(name="dend")
    if a.point:
        sec.L, sec.diam, sec.nseg = 1.0, a.diam, 1
    else:
        sec.L, sec.diam, sec.nseg = a.length, a.diam, a.voxels
    cv = h.CVode()
    cv.active(True)
    cv.rtol(a.rtol)
    cv.atol(a.atol * 1e-3)  # ca in mM

    cyt = rxd.Region([sec], nrn_region="i", geometry=rxd.FractionalVolume(FC, surface_fraction=1), name="cyt")
    er = rxd.Region([sec], geometry=rxd.FractionalVolume(FE), name="er")
    membrane = rxd.Region([sec], geometry=rxd.ScalableBorder(BORDER, on_cell_surface=False), name="cyt_er_membrane")

    patch_x = PATCH_END / a.length  # node.x: the voxel centre, normalised

    def ca_initial(node):
        return ce0 if node.region == er else c0

    def ip3_initial(node):
        if a.point:
            return a.ip3
        return IP3_PATCH if node.x < patch_x else a.ip3_background

    ca = rxd.Species([cyt, er], d=CA_DIFF, name="ca", charge=2, initial=ca_initial)
    ip3 = rxd.Species(cyt, d=IP3_DIFF, name="ip3", initial=ip3_initial, atolscale=1000)
    gate = rxd.State(membrane, name="ip3r_h", initial=h0, atolscale=1000)
    hg = gate[membrane]

    reactions = [
        rxd.MultiCompartmentReaction(ca[cyt] > ca[er], GSERCA / ((KSERCA / (1000.0 * ca[cyt])) ** 2 + 1),
                                     membrane=membrane, custom_dynamics=True),
        rxd.MultiCompartmentReaction(ca[er] != ca[cyt], GLEAK, GLEAK, membrane=membrane),
    ]
    minf = ip3[cyt] * 1000.0 * ca[cyt] / (ip3[cyt] + KIP3) / (1000.0 * ca[cyt] + KACT)
    k = GIP3R * (minf * hg) ** 3
    reactions.append(rxd.MultiCompartmentReaction(ca[er] != ca[cyt], k, k, membrane=membrane))
    reactions.append(rxd.Rate(hg, (1.0 / (1 + 1000.0 * ca[cyt] / KINH) - hg) / IP3RTAU))

    # Records: cyt Ca in the voxels straddling each position (the point model: its voxel's ca, er ca and h).
    n_rec = int(round(a.t_end / a.interval)) + 1
    tvec = h.Vector(np.linspace(0.0, a.t_end, n_rec))
    if a.point:
        probes = {"cyt.ca": ca[cyt].nodes[0], "er.ca": ca[er].nodes[0], "ip3r.h": gate.nodes[0]}
    else:
        cyt_nodes = sorted(ca[cyt].nodes, key=lambda nd: nd.x)
        dx = a.length / a.voxels
        probes, weights = {}, {}
        for x in a.positions:
            i = max(0, min(a.voxels - 2, int(math.floor(x / dx - 0.5))))
            weights[x] = (x - (i + 0.5) * dx) / dx  # weight of the right-hand voxel
            probes[f"L{x:g}"] = cyt_nodes[i]
            probes[f"R{x:g}"] = cyt_nodes[i + 1]
    recs = {}
    for name, node in probes.items():
        v = h.Vector()
        v.record(node._ref_concentration, tvec)
        recs[name] = v
    h.finitialize(-65)
    t_setup, cpu_setup = time.perf_counter() - t0, cpu_seconds() - c0_cpu

    # --- solve
    t0, c0_cpu = time.perf_counter(), cpu_seconds()
    # cvode.solve rather than stdrun's continuerun, which runs hoc step() and Plot() after every CVode step (for
    # the Li-Rinzel point model about 50 % more time; here under 1 %: 4.19 against 4.22 s at 1000 voxels).
    cv.solve(a.t_end)
    t_solve, cpu_solve = time.perf_counter() - t0, cpu_seconds() - c0_cpu

    n_done = min(len(v) for v in recs.values())  # the record at t_end itself may be missing
    t = np.array(tvec)[:n_done]
    recs = {k: np.array(v)[:n_done] for k, v in recs.items()}
    out = {
        "tool": "NEURON rxd",
        "neuron": h.nrnversion(1),
        "voxels": 1 if a.point else a.voxels,
        "t_end_ms": a.t_end,
        "rtol": a.rtol,
        "atol_uM": a.atol,
        "import_s": t_import,
        "setup_s": t_setup,
        "solve_s": t_solve,
        "setup_cpu_s": cpu_setup,
        "solve_cpu_s": cpu_solve,
    }
    if a.point:
        columns = {"cyt.ca": recs["cyt.ca"] * 1e3, "er.ca": recs["er.ca"] * 1e3, "ip3r.h": recs["ip3r.h"]}
        c = columns["cyt.ca"]
        out["ip3_uM"] = a.ip3
        out["ca_peak_uM"] = float(c.max())
        out["ca_peak_time_ms"] = float(t[int(c.argmax())])
    else:
        columns, times = {}, {}
        for x in a.positions:
            w = weights[x]
            c = ((1 - w) * recs[f"L{x:g}"] + w * recs[f"R{x:g}"]) * 1e3  # uM
            columns[f"cyt.ca@{x:g}um"] = c
            times[x] = crossing_time(t, c, a.threshold)
            out[f"t_cross_{x:g}um_ms"] = times[x]
        x1, x2 = a.positions
        ok = times[x1] is not None and times[x2] is not None and times[x2] > times[x1]
        out["speed_um_per_s"] = (x2 - x1) / (times[x2] - times[x1]) * 1e3 if ok else None
    if csv_path:
        with open(csv_path, "w") as f:
            f.write(",".join(["t_ms"] + list(columns)) + "\n")
            for i in range(len(t)):
                f.write(",".join(repr(float(v)) for v in [t[i]] + [columns[k][i] for k in columns]) + "\n")
    print(json.dumps(out))
    del reactions
    return 0 if a.point or out["speed_um_per_s"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
