#!/usr/bin/python3
"""Li & Rinzel (1994) at IP3 = 0.4 uM over 1000 s in NEURON 8.2.2 rxd, integrated by NEURON's CVode (variable step),
rtol 1e-6, atol 1e-10 uM: the NEURON point-model peer of bench/li_rinzel_bench.cpp (issue 8). Same equations,
parameters and initial state as li_rinzel_scipy.py and li_rinzel.ode (there in uM and s).

The model in rxd (concentrations mM, time ms, lengths um, membrane rates molecules / um^2 / ms):
  cell      one section, nseg = 1 (one voxel), diam 1 um, L = 4 * 1185 / pi um: 1185 um^3 in all
  regions   cyt = FractionalVolume(1000/1185): 1000 um^3;  er = FractionalVolume(185/1185): 185 um^3 (c1 = 0.185);
            membrane = ScalableBorder(1850 / L): 1850 um^2 of ER membrane -- the volumes of models/li_rinzel.toml
  species   ca in cyt and er (no diffusion), IP3 an rxd.Parameter in cyt (0.4e-3 mM), the IP3R gate h an rxd.State
            on the membrane
  IP3R      MultiCompartmentReaction(ca[er] <> ca[cyt], k, k), mass action, k = K c1 v1 (m n h)^3,
            m = ip3 / (ip3 + d1), n = ca_cyt / (ca_cyt + d5)   (d1, d5 in mM)
  leak      MultiCompartmentReaction(ca[er] <> ca[cyt], K c1 v2, K c1 v2), mass action
  SERCA     MultiCompartmentReaction(ca[cyt] > ca[er], K v3 ca^2 / (k3^2 + ca^2)), custom dynamics (k3 in mM)
  gate      rxd.Rate(h, a2 (Q2 (1 - h) - ca_cyt h)),  Q2 = d2 (ip3 + d1) / (ip3 + d3)
Unit conversions. A flux J that changes c by J uM/s changes it by J * 1e-3 (uM -> mM) * 1e-3 (per s -> per ms) mM/ms:
  first-order rates (v1, v2 in 1/s) become v / 1000 per ms (the (c_er - c) factor is already in mM),
  v3 [uM/s] becomes v3 * 1e-6 mM/ms, the constants d1, d3, d5, k3 [uM] become d * 1e-3 mM,
  a2 [1/(uM s)] becomes a2 [1/(mM ms)] (1e-3 ms/s * 1e3 uM/mM), d2 [uM] becomes d2 * 1e-3 mM.
rxd scales a MultiCompartmentReaction's rate (molecules / um^2 / ms) by the membrane area A and divides it by each
side's volume times N_A / 1e18 (molecules per mM um^3), so a rate r gives d(ca_cyt)/dt = -r A / (V_cyt N) for a flux
out of the cytosol: every rate is the cytosolic flux in mM/ms times K = V_cyt N / A (= 1000 / 1850 * 602.2...). The
ER side then changes by r A / (V_er N) = flux / c1, which conserves c0 = c + c1 c_er as the scipy equations do.

Tolerances: CVode rtol 1e-6; cvode.atol(1e-13) in mM, i.e. 1e-10 uM for ca in the cytosol and the ER; h is
dimensionless and carries atolscale 1000, so its absolute tolerance is 1e-10 as scipy's atol for h.

Records cyt Ca every 100 ms (0..1000 s, 10001 points); the period is li_rinzel_scipy.py's period() (mean interval
between upward crossings of the mean over the last 500 s). setup_s: building the model and the first finitialize
(rxd compiles its reactions with gcc there); best_of_N_s: the fastest of N integrations 0 -> 1000 s, each after a
fresh finitialize, by cvode.solve(1e6 ms); steps, nfev, inits: CVode's counts in the last one (cvode.statistics();
the records every 100 ms are taken by interpolation, each costing a function evaluation: about half of nfev).
--check: also compare NEURON's c over the first 50 s with scipy's solve_ivp (LSODA, rtol 1e-10, atol 1e-14) of
li_rinzel_scipy.py's equations; prints the max |difference| / range of the trace, exit 1 if it is >= 1e-3.

Usage: li_rinzel_neuron.py [--repeats N] [--check]     (runs in a temporary folder: rxd writes C files into the cwd)
Needs Debian's python3-neuron (8.2.2 looks for librxdmath in the wrong folder; fixed at run time below).
"""
import math
import os
import sys
import time

import numpy as np

here = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, here)
import li_rinzel_scipy as ref  # noqa: E402  the equations, parameters, initial state and period()
from neuron_rxd import cvode_stats, import_neuron, in_scratch_folder  # noqa: E402

T_END_MS = 1000e3
RTOL, ATOL_UM = 1e-6, 1e-10
V_CYT, V_ER, AREA = 1000.0, 185.0, 1850.0  # um^3, um^3, um^2 (models/li_rinzel.toml; V_ER / V_CYT = c1)


def build(h, rxd):
    """The model; returns (the ca[cyt] node, the K factor, the rxd objects to keep alive)."""
    c0, c1 = ref.c0, ref.c1
    v1, v2, v3, k3 = ref.v1, ref.v2, ref.v3, ref.k3
    d1, d2, d3, d5, a2 = ref.d1, ref.d2, ref.d3, ref.d5, ref.a2
    sec = h.Section(name="cell")
    sec.nseg = 1
    sec.diam = 1.0
    sec.L = 4.0 * (V_CYT + V_ER) / math.pi  # pi d^2 / 4 * L = 1185 um^3
    cyt = rxd.Region([sec], geometry=rxd.FractionalVolume(V_CYT / (V_CYT + V_ER)), name="cyt")
    er = rxd.Region([sec], geometry=rxd.FractionalVolume(V_ER / (V_CYT + V_ER)), name="er")
    mem = rxd.Region([sec], geometry=rxd.ScalableBorder(AREA / (sec.diam * sec.L)), name="er_membrane")

    c_init = ref.c_init  # uM
    ca = rxd.Species([cyt, er], name="ca", charge=2,
                     initial=lambda nd: (c0 - c_init) / c1 * 1e-3 if nd.region == er else c_init * 1e-3)
    ip3 = rxd.Parameter(cyt, name="ip3", value=ref.p * 1e-3)
    gate = rxd.State(mem, name="ip3r_h", initial=ref.y0[1], atolscale=1000)
    c, ce, hg, p = ca[cyt], ca[er], gate[mem], ip3[cyt]

    # K: molecules / um^2 / ms per mM/ms of cytosolic flux, from the volumes and area rxd actually built.
    vc, ve = ca[cyt].nodes[0].volume, ca[er].nodes[0].volume
    am = gate.nodes[0].volume  # a membrane node's "volume" is its area
    for got, want in ((vc, V_CYT), (ve, V_ER), (am, AREA)):
        if abs(got / want - 1) > 1e-9:
            raise RuntimeError(f"rxd geometry: {got} vs {want}")
    K = vc * rxd.constants.molecules_per_mM_um3() / am

    m = p / (p + d1 * 1e-3)
    n = c / (c + d5 * 1e-3)
    k_ip3r = K * c1 * (v1 * 1e-3) * (m * n * hg) ** 3
    k_leak = K * c1 * (v2 * 1e-3)
    kk = k3 * 1e-3
    q2 = d2 * 1e-3 * (p + d1 * 1e-3) / (p + d3 * 1e-3)  # mM
    keep = [sec, cyt, er, mem, ca, ip3, gate,
            rxd.MultiCompartmentReaction(ce != c, k_ip3r, k_ip3r, membrane=mem),
            rxd.MultiCompartmentReaction(ce != c, k_leak, k_leak, membrane=mem),
            rxd.MultiCompartmentReaction(c > ce, K * (v3 * 1e-6) * c ** 2 / (kk ** 2 + c ** 2), membrane=mem,
                                         custom_dynamics=True),
            rxd.Rate(hg, a2 * (q2 * (1 - hg) - c * hg))]
    return ca[cyt].nodes[0], keep


def check(t, c):
    """max |NEURON - scipy LSODA (rtol 1e-10)| / range over the first 50 s (t in s, c in uM)."""
    from scipy.integrate import solve_ivp
    first = t <= 50.0 + 1e-9
    tt, cn = t[first], c[first]
    sol = solve_ivp(ref.rhs, (0.0, tt[-1]), ref.y0, method="LSODA", t_eval=tt, rtol=1e-10, atol=1e-14)
    if not sol.success:
        raise RuntimeError(sol.message)
    return float(np.max(np.abs(cn - sol.y[0])) / (cn.max() - cn.min()))


def run(repeats, do_check):
    t0 = time.perf_counter()
    h, rxd = import_neuron()  # with Debian 12's librxdmath fix (neuron_rxd.py)
    t_import = time.perf_counter() - t0

    # --- setup: the model, then finitialize (rxd builds its matrices and compiles the reactions there)
    t0 = time.perf_counter()
    cv = h.CVode()
    cv.active(1)
    cv.rtol(RTOL)
    cv.atol(ATOL_UM * 1e-3)  # mM
    node, keep = build(h, rxd)
    tvec = h.Vector(np.linspace(0.0, T_END_MS, 10001))
    rec = h.Vector()
    rec.record(node._ref_concentration, tvec)
    h.finitialize(-65)
    t_setup = time.perf_counter() - t0

    # --- solve: each repeat from a fresh finitialize
    best = float("inf")
    for i in range(repeats):
        if i:
            h.finitialize(-65)
        t0 = time.perf_counter()
        cv.solve(T_END_MS)  # no stdrun continuerun(): its hoc step()/Plot() per CVode step costs ~50 % more
        best = min(best, time.perf_counter() - t0)
    stats = cvode_stats(cv)

    # Vector.record delivers its records as events; the one at t_end itself is not delivered when the integration
    # stops there, so it is read directly (h.t == t_end).
    if len(rec) == len(tvec) - 1 and abs(h.t - T_END_MS) < 1e-9:
        rec.append(node.concentration)
    t = np.array(tvec)[:len(rec)] * 1e-3  # s
    c = np.array(rec) * 1e3  # uM
    if len(c) != 10001 or abs(h.t - T_END_MS) > 1e-6:
        print(f"neuron rxd: {len(c)} records, t = {h.t} ms", file=sys.stderr)
        return 1
    period = ref.period(t, c)
    print(f"neuron rxd: setup_s={t_setup:.6f} best_of_{repeats}_s={best:.6f} period_s={period:.6f} "
          f"steps={stats['steps']} nfev={stats['nfev']} inits={stats['inits']} import_s={t_import:.6f}")
    status = 0
    if do_check:
        dev = check(t, c)
        good = dev < 1e-3
        print(f"neuron rxd check: max_abs_diff_over_range_0_50s={dev:.3e} vs scipy LSODA rtol 1e-10 "
              f"({'ok' if good else 'TOO LARGE (>= 1e-3)'})")
        status = 0 if good else 1
    del keep
    return status


def main(argv):
    repeats, do_check = 5, False
    i = 0
    while i < len(argv):
        if argv[i] == "--repeats":
            repeats = int(argv[i + 1])
            i += 2
        elif argv[i] == "--check":
            do_check = True
            i += 1
        else:
            print(__doc__, file=sys.stderr)
            return 2
    return in_scratch_folder(run, repeats, do_check)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
