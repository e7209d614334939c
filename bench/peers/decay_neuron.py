#!/usr/bin/python3
"""The buffered cell (models/buffered_cell.toml) over 3 s in NEURON 8.2.2 rxd on one segment, integrated by NEURON's
CVode (variable step), rtol 1e-6, atol 1e-9 uM: the NEURON peer of the decay time constant in issue 8. Same
equations, parameters and resting state as decay_common.py (there in uM and ms).

The model in rxd (concentrations mM, time ms, lengths um):
  cell      one section, nseg = 1 (one voxel): diam 14 um, L = 4/3 * 7 um, the volume of the 7 um sphere
            (pi r^2 * 4/3 r = 4/3 pi r^3 = 1436.755 um^3; checked against rxd's node volume). Its area does not enter:
            the membrane mechanisms are rates per cytosolic volume, as the model file gives them.
  region    cyt = rxd.Region([sec]) (pure rxd, not coupled to NEURON's cai / ica)
  species   ca, buf (free buffer) and cab (bound) in cyt: three states where the other tools have two (c, CaB),
            buf + cab stays B by the reaction's stoichiometry
  buffer    rxd.Reaction(ca + buf <> cab, kon, koff), mass action: kon = 0.1 /(uM ms) = 100 /(mM ms), koff = 0.2 /ms
  pump/leak rxd.Rate(ca, P (c_o - ca) - vmax ca / (K + ca)): P = 3e-6 /ms, c_o = 2 mM, vmax = 0.03 uM/ms
            = 3e-5 mM/ms, K = 0.2 uM = 2e-4 mM
  influx    rxd.Rate(ca, jin), jin an rxd.Parameter: 0, then I / (z F V) = 0.7213665 uM/ms = 7.213665e-4 mM/ms from
            100 to 110 ms. Two CVode events (cvode.event, set up at every finitialize by an FInitializeHandler)
            switch it and call cvode.re_init(), so the integration stops and restarts at both edges as cadyn's
            does at its stimulus breakpoints.
Unit conversions: a concentration x uM is x * 1e-3 mM; a rate in uM/ms is x * 1e-3 mM/ms; first-order rates (1/ms)
are unchanged; a second-order constant in 1/(uM ms) is x * 1e3 1/(mM ms).

Tolerances: CVode rtol 1e-6; cvode.atol(1e-12) in mM, i.e. 1e-9 uM for every species (ca, buf, cab), as cadyn's
atol for its states.

Resting state: decay_common.rest_state() (the pump-leak balance's root, the buffer at equilibrium) as the species'
initial values: c = 0.0499984375586 uM, cab = 4.87790006495 uM, buf = 200 uM - cab.

Records cyt Ca every 2 ms (0..3000 ms, 1501 points, by Vector.record with a time vector); prints the decay time
constant of decay_common.decay_tau(). setup_s: building the model and the first finitialize (rxd compiles its
reactions with gcc there); best_of_N_s: the fastest of N integrations 0 -> 3000 ms, each after a fresh finitialize,
by cvode.solve(3000); steps, nfev: CVode's counts in the last one.

Usage: decay_neuron.py [--repeats N] [--traces FILE]   (FILE: t [ms], c [uM], CaB [uM])
Runs in a temporary folder: rxd writes C files into the cwd. Needs Debian's python3-neuron (8.2.2 looks for
librxdmath in the wrong folder; neuron_rxd.import_neuron fixes that at run time).
"""
import os
import sys
import time

import numpy as np

here = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, here)
import decay_common as m  # noqa: E402  the model, the resting state and decay_tau()
from neuron_rxd import cvode_stats, import_neuron, in_scratch_folder  # noqa: E402


def run(repeats, traces):
    t0 = time.perf_counter()
    h, rxd = import_neuron()  # with Debian 12's librxdmath fix (neuron_rxd.py)
    t_import = time.perf_counter() - t0

    # --- setup: the model, then finitialize
    t0 = time.perf_counter()
    c0, b0 = m.rest_state()  # uM
    cv = h.CVode()
    cv.active(1)
    cv.rtol(m.RTOL)
    cv.atol(m.ATOL * 1e-3)  # mM
    sec = h.Section(name="cell")
    sec.nseg = 1
    sec.diam = 2.0 * m.RADIUS
    sec.L = 4.0 / 3.0 * m.RADIUS
    cyt = rxd.Region([sec], name="cyt")
    ca = rxd.Species(cyt, name="ca", charge=2, initial=c0 * 1e-3)
    buf = rxd.Species(cyt, name="buf", initial=(m.B_TOT - b0) * 1e-3)
    cab = rxd.Species(cyt, name="cab", initial=b0 * 1e-3)
    jin = rxd.Parameter(cyt, name="jin", value=0.0)
    vol = ca.nodes[0].volume
    if abs(vol / m.V - 1) > 1e-12:
        raise RuntimeError(f"rxd volume {vol} um^3, want {m.V}")
    kon, koff = m.KON * 1e3, m.KOFF  # 1/(mM ms), 1/ms
    c_out, vmax, kd = m.C_OUT * 1e-3, m.VMAX * 1e-3, m.K_PMCA * 1e-3  # mM, mM/ms, mM
    keep = [sec, cyt, ca, buf, cab, jin,
            rxd.Reaction(ca + buf != cab, kon, koff),
            rxd.Rate(ca, m.P_LEAK * (c_out - ca) - vmax * ca / (kd + ca)),
            rxd.Rate(ca, jin)]

    def switch(value):
        def f():
            jin.nodes.value = value
            cv.re_init()
        return f

    def events():
        cv.event(m.T_ON, switch(m.J_STIM * 1e-3))
        cv.event(m.T_OFF, switch(0.0))

    fih = h.FInitializeHandler(events)
    node = ca.nodes[0]
    tvec = h.Vector(m.T_REC)
    rec_c, rec_b = h.Vector(), h.Vector()
    rec_c.record(node._ref_concentration, tvec)
    rec_b.record(cab.nodes[0]._ref_concentration, tvec)
    h.finitialize(-65)
    t_setup = time.perf_counter() - t0

    # --- solve: each repeat from a fresh finitialize
    best = float("inf")
    for i in range(repeats):
        if i:
            h.finitialize(-65)
        t0 = time.perf_counter()
        cv.solve(m.T_END)
        best = min(best, time.perf_counter() - t0)
    stats = cvode_stats(cv)

    # The record at t_end itself is not delivered when the integration stops there: read it directly.
    if len(rec_c) == len(tvec) - 1 and abs(h.t - m.T_END) < 1e-9:
        rec_c.append(node.concentration)
        rec_b.append(cab.nodes[0].concentration)
    t = np.array(tvec)[:len(rec_c)]
    c, b = np.array(rec_c) * 1e3, np.array(rec_b) * 1e3  # uM
    if len(c) != len(m.T_REC) or abs(h.t - m.T_END) > 1e-6:
        print(f"neuron rxd: {len(c)} records, t = {h.t} ms", file=sys.stderr)
        return 1
    if traces:
        np.savetxt(traces, np.column_stack((t, c, b)), fmt="%.17g")
    print(f"neuron rxd: setup_s={t_setup:.6f} best_of_{repeats}_s={best:.6f} {m.tau_line('neuron', t, c)} "
          f"steps={stats['steps']} nfev={stats['nfev']} import_s={t_import:.6f}")
    del keep, fih
    return 0


def main(argv):
    repeats, traces = 5, None
    i = 0
    while i < len(argv):
        if argv[i] == "--repeats":
            repeats = int(argv[i + 1])
            i += 2
        elif argv[i] == "--traces":
            traces = os.path.abspath(argv[i + 1])
            i += 2
        else:
            print(__doc__, file=sys.stderr)
            return 2
    return in_scratch_folder(run, repeats, traces)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
