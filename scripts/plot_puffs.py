#!/usr/bin/env python3
"""Puffs and their statistics from models/ip3r_puffs.toml (docs/stochastic.md): a cluster of N stochastic IP3Rs in
the Li-Rinzel cell at IP3 = 0.3 uM, below the deterministic oscillation window.

For N = 20, 100, 1000 and 4000 channels and seeds 1-3, runs 300 s (cadyn's Python package, run(seed=...)) and
plots two traces and the standard deviation of cytosolic Ca after the first 50 s against N, with the 1/sqrt(N) line
of the linear-noise approximation through N = 4000. About 20 s.

    /usr/bin/python3 scripts/plot_puffs.py [--out docs/img/puffs.png]
"""
import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import cadyn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "img", "puffs.png"))
    args = parser.parse_args()

    model = cadyn.load(os.path.join(ROOT, "models", "ip3r_puffs.toml"))
    sizes = [20, 100, 1000, 4000]
    seeds = [1, 2, 3]
    spread = {}
    traces = {}
    for n in sizes:
        m = model.copy().set("cluster.channels", n)
        for seed in seeds:
            r = m.run(t_end="300 s", seed=seed, observables="cyt.ca")
            t = np.asarray(r.time) / 1000.0
            c = np.asarray(r["cyt.ca"])
            spread.setdefault(n, []).append(float(np.std(c[t >= 50])))
            if seed == 1:
                traces[n] = (t, c)
        print(f"N = {n:5d}: sd of cyt.ca after 50 s {np.mean(spread[n]):.4f} uM "
              f"(seeds: {', '.join(f'{v:.4f}' for v in spread[n])})")

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [1.6, 1]})
    for n, colour in ((20, "tab:red"), (1000, "tab:blue")):
        t, c = traces[n]
        left.plot(t, c, color=colour, lw=0.8, label=f"N = {n}")
    left.set_xlabel("time [s]")
    left.set_ylabel("cytosolic Ca [uM]")
    left.set_title("IP3 0.3 uM: deterministic channels rest at 0.123 uM")
    left.legend(loc="upper right")
    ns = np.array(sizes, dtype=float)
    means = np.array([np.mean(spread[n]) for n in sizes])
    for n in sizes:
        right.plot([n] * len(spread[n]), spread[n], "o", color="0.6", ms=3)
    right.plot(ns, means, "ko-", label="mean of 3 seeds")
    right.plot(ns, means[-1] * np.sqrt(ns[-1] / ns), "--", color="tab:blue", label="1/sqrt(N) through N = 4000")
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel("channels in the cluster N")
    right.set_ylabel("sd of cytosolic Ca [uM]")
    right.legend()
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
