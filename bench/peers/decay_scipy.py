#!/usr/bin/python3
"""The buffered cell (models/buffered_cell.toml) over 3 s with scipy's solve_ivp (LSODA and BDF), rtol 1e-6,
atol 1e-9 uM (cadyn's defaults; the model file sets none), t_eval every 2 ms: the scipy peer of the decay time
constant in issue 8. Units uM and ms; the equations, parameters and unit conversions are in decay_common.py.

Resting state: as cadyn's run.start = "steady_state", solved here (the root of the pump-leak balance, then the
buffer's equilibrium; decay_common.rest_state()): c = 0.0499984375586 uM, CaB = 4.87790006495 uM.
The influx pulse switches on at 100 ms and off at 110 ms; the integration stops and restarts at both edges
(three solve_ivp calls: 0-100, 100-110, 110-3000 ms), as cadyn's solver stops at its stimulus breakpoints (left
alone, a variable-step solver at rest takes steps long enough to skip a 10 ms pulse).

Usage: decay_scipy.py [LSODA|BDF ...] [--repeats N] [--traces DIR]
Prints, per method, the best of N in-process times (time.perf_counter around the resting-state solve and the
three solve_ivp calls) and the decay time constant of decay_common.decay_tau(); --traces DIR also writes
DIR/scipy_METHOD.dat (t [ms], c [uM], CaB [uM]).
"""
import os
import sys
import time

import numpy as np
from scipy.integrate import solve_ivp

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import decay_common as m  # noqa: E402


def rhs(t, y, j_in):
    c, b = y
    bind = m.KON * c * (m.B_TOT - b) - m.KOFF * b
    return [m.P_LEAK * (m.C_OUT - c) - m.VMAX * c / (m.K_PMCA + c) - bind + j_in, bind]


def solve(method):
    """(t [ms], y [uM] rows c and CaB, nfev) from rest, with the pulse's edges as integration boundaries."""
    y = list(m.rest_state())
    ts, ys, nfev = [m.T_REC[:1]], [np.array(y)[:, None]], 0
    for a, b, j in ((0.0, m.T_ON, 0.0), (m.T_ON, m.T_OFF, m.J_STIM), (m.T_OFF, m.T_END, 0.0)):
        t_eval = m.T_REC[(m.T_REC > a) & (m.T_REC <= b)]
        sol = solve_ivp(rhs, (a, b), y, method=method, t_eval=t_eval, args=(j,), rtol=m.RTOL, atol=m.ATOL)
        if not sol.success:
            raise RuntimeError(f"{method}: {sol.message}")
        ts.append(sol.t)
        ys.append(sol.y)
        nfev += sol.nfev
        y = sol.y[:, -1]
    return np.concatenate(ts), np.concatenate(ys, axis=1), nfev


def main(argv):
    repeats, traces, methods = 5, None, []
    i = 0
    while i < len(argv):
        if argv[i] == "--repeats":
            repeats = int(argv[i + 1])
            i += 2
        elif argv[i] == "--traces":
            traces = argv[i + 1]
            i += 2
        else:
            methods.append(argv[i])
            i += 1
    for method in methods or ["LSODA", "BDF"]:
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            t, y, nfev = solve(method)
            best = min(best, time.perf_counter() - start)
        if len(t) != len(m.T_REC) or np.max(np.abs(t - m.T_REC)) > 1e-9:
            print(f"scipy {method}: {len(t)} records, not the model's", file=sys.stderr)
            return 1
        if traces:
            np.savetxt(os.path.join(traces, f"scipy_{method}.dat"), np.column_stack((t, y.T)), fmt="%.17g")
        print(f"scipy {method}: best_of_{repeats}_s={best:.6f} {m.tau_line(method, t, y[0])} nfev={nfev}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
