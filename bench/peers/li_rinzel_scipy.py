#!/usr/bin/python3
"""Li & Rinzel (1994) at IP3 = 0.4 uM over 1000 s with scipy's solve_ivp (LSODA and BDF), rtol 1e-6, atol 1e-10,
t_eval every 0.1 s: the peer of bench/li_rinzel_bench.cpp (issue 8). Units uM and s.

Same initial state as models/li_rinzel.toml: c = 0.1 uM, c_er = (c0 - c)/c1 = 10.27027027 uM (total Ca
c0 = 2 uM), h = h_inf = Q2/(Q2 + c) (cadyn's ip3r_li_rinzel starts h there).

Usage: li_rinzel_scipy.py [LSODA|BDF ...] [--repeats N]
Prints, per method, the best of N in-process solve times (time.perf_counter) and the oscillation period (mean
interval between upward crossings of the mean over the last 500 s).
"""
import sys
import time

import numpy as np
from scipy.integrate import solve_ivp

c0, c1 = 2.0, 0.185
v1, v2, v3, k3 = 6.0, 0.11, 0.9, 0.1
d1, d2, d3, d5, a2 = 0.13, 1.049, 0.9434, 0.08234, 0.2
p = 0.4  # IP3 [uM]

m = p / (p + d1)
q2 = d2 * (p + d1) / (p + d3)


def rhs(t, y):
    c, h = y
    c_er = (c0 - c) / c1
    n = c / (c + d5)
    j = c1 * (v1 * (m * n * h) ** 3 + v2) * (c_er - c) - v3 * c * c / (k3 * k3 + c * c)
    return [j, a2 * (q2 * (1 - h) - c * h)]


c_init = 0.1
y0 = [c_init, q2 / (q2 + c_init)]
t_end = 1000.0
t_eval = np.linspace(0.0, t_end, 10001)


def period(t, c):
    late = t >= t[-1] - 500.0
    mean = c[late].mean()
    up = []
    for i in range(1, len(t)):
        if late[i - 1] and c[i - 1] < mean <= c[i]:
            up.append(t[i - 1] + (mean - c[i - 1]) / (c[i] - c[i - 1]) * (t[i] - t[i - 1]))
    return (up[-1] - up[0]) / (len(up) - 1) if len(up) >= 2 else 0.0


def solve(method):
    return solve_ivp(rhs, (0.0, t_end), y0, method=method, t_eval=t_eval, rtol=1e-6, atol=1e-10)


def main(argv):
    repeats = 5
    methods = []
    i = 0
    while i < len(argv):
        if argv[i] == "--repeats":
            repeats = int(argv[i + 1])
            i += 2
        else:
            methods.append(argv[i])
            i += 1
    for method in methods or ["LSODA", "BDF"]:
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            sol = solve(method)
            best = min(best, time.perf_counter() - start)
        if not sol.success:
            print(f"scipy {method}: failed: {sol.message}", file=sys.stderr)
            return 1
        print(f"scipy {method}: best_of_{repeats}_s={best:.6f} period_s={period(sol.t, sol.y[0]):.6f} "
              f"nfev={sol.nfev}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
