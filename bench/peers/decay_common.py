"""The buffered-cell model (models/buffered_cell.toml) and its decay time constant, shared by every peer of the
issue 8 decay benchmark (decay_scipy.py, decay_neuron.py, run_decay.sh; decay.ode repeats the numbers by hand).

Units: uM and ms (cadyn's canonical units, docs/units.md); rates per ms. The model, as cadyn maps it
(`cadyn mechanisms`, docs/model-format.md "per volume" forms, checked against `cadyn run`'s traces.csv):
  cytosol   a sphere of radius 7 um: V = 4/3 pi 7^3 = 1436.755 um^3 (the membrane area 4 pi 7^2 cancels: every
            membrane rate below was given per cytosolic volume, which cadyn converts to per area with x V / A
            and back with x A / V)
  bath      clamped, c_o = 2 mM = 2000 uM
  pmca      J_out = vmax c / (K + c),  vmax = 30 uM/s = 0.03 uM/ms,  K = 0.2 uM  (Hill 1, the default)
  leak      J_in = P (c_o - c),  P = 0.003 /s = 3e-6 /ms  (a rate of the cytosol)
  buffer    d[CaB]/dt = kon c (B - CaB) - koff CaB,  B = 200 uM,  kon = 100 /(uM s) = 0.1 /(uM ms),
            koff = kon Kd = 0.1 * 2 = 0.2 /ms  (Kd = 2 uM)
  influx    J_in = I / (z F V) during [100, 110) ms, 0 otherwise: I = 200 pA, z = 2, F = 96485.33212 C/mol;
            200e-12 C/s / (2 F) = 1.03643e-15 mol/s = 1036.427 zmol/ms (cadyn's influx.ca_flux, amol/s),
            / V = 0.721367 uM/ms (1 zmol / um^3 = 1 uM)
  dc/dt     = P (c_o - c) - vmax c / (K + c) - (kon c (B - CaB) - koff CaB) + J_in(t)
  dCaB/dt   = kon c (B - CaB) - koff CaB
The potential (-60 mV) and the temperature (22 degC) enter none of these mechanisms.
Tolerances: the model file sets none, so cadyn's defaults: rtol 1e-6, atol 1e-9 uM (every state).
Resting state (run.start = "steady_state", stimulus off): the root of the pump-leak balance
P (c_o - c) = vmax c / (K + c) (rest_state(); c_rest = 0.0499984375586 uM, not 0.05: the leak's
0.003 /s * (2000 - c) is not exactly 6 uM/s) and the buffer at equilibrium CaB = B c / (Kd + c) = 4.8779000650 uM.
cadyn's KINSOL finds c = 0.04999843755859129 uM, CaB = 4.877900064951857 uM (traces.csv at t = 0): the same to
1e-15.

The decay time constant, defined once here (decay_tau) and applied to every tool's record of cyt Ca every 2 ms.
"""
import math

import numpy as np

# --- the model (uM, ms)
F = 96485.33212  # C/mol, as cadyn's constants::faraday
RADIUS = 7.0  # um
V = 4.0 / 3.0 * math.pi * RADIUS ** 3  # um^3
C_OUT = 2000.0  # uM
VMAX, K_PMCA = 30.0e-3, 0.2  # uM/ms, uM
P_LEAK = 0.003e-3  # 1/ms
B_TOT, KD_B, KON = 200.0, 2.0, 100.0e-3  # uM, uM, 1/(uM ms)
KOFF = KON * KD_B  # 1/ms
I_PA, Z = 200.0, 2
J_STIM = I_PA * 1e-12 / (Z * F) * 1e21 * 1e-3 / V  # pA -> mol/s -> zmol/ms, / um^3 -> uM/ms
T_ON, T_OFF, T_END, DT_REC = 100.0, 110.0, 3000.0, 2.0  # ms
RTOL, ATOL = 1e-6, 1e-9  # atol in uM
T_REC = np.linspace(0.0, T_END, int(round(T_END / DT_REC)) + 1)  # the 1501 record times, ms


def rest_state():
    """(c, CaB) at rest, uM, with the stimulus off: the root of the pump-leak balance P (c_o - c) = vmax c / (K + c),
    i.e. of P c^2 + b c - P c_o K = 0 with b = vmax + P K - P c_o, in the cancellation-free form
    c = 2 P c_o K / (b + sqrt(b^2 + 4 P^2 c_o K)); then the buffer's equilibrium CaB = B c / (Kd + c).
    (brentq on the balance agrees to 1 ulp; the closed form keeps scipy out of the NEURON peer's process.)"""
    b = VMAX + P_LEAK * K_PMCA - P_LEAK * C_OUT
    c = 2.0 * P_LEAK * C_OUT * K_PMCA / (b + math.sqrt(b * b + 4.0 * P_LEAK ** 2 * C_OUT * K_PMCA))
    return c, B_TOT * c / (KD_B + c)


# --- the decay time constant
def decay_tau(t, c, hi=0.5, lo=0.05):
    """Decay time constant [ms] of a trace c [uM] recorded at times t [ms] (every 2 ms, from rest at t = 0).

    Excess e(t) = c(t) - c_rest with c_rest = c[0], the resting state the run started from (known, so not fitted:
    a free offset would only absorb the departure of this nonlinear decay from one exponential -- cadyn's own
    free-offset fit lands 3 % below rest -- and trade itself off against tau). Peak: the largest e (the record at
    the end of the pulse). Window: from t_hi, where e has fallen to hi = 50 % of the peak (past the fast buffer
    re-equilibration right after the pulse, ~70 % of the peak), to t_lo, where it has fallen to lo = 5 %; both
    found by linear interpolation between records. Fit: e = A exp(-(t - t_hi) / tau) by linear least squares on
    log e over the records with t_hi <= t <= t_lo plus the two interpolated end points (so the result moves
    continuously with the trace, not by whole records). Returns (tau, details dict)."""
    t = np.asarray(t, dtype=float)
    c = np.asarray(c, dtype=float)
    e = c - c[0]
    ip = int(np.argmax(e))
    peak = e[ip]
    if not peak > 0:
        raise ValueError("no transient: the trace never rises above its first value")

    def fall_to(level):
        for i in range(ip + 1, len(t)):
            if e[i] <= level < e[i - 1]:
                return t[i - 1] + (e[i - 1] - level) / (e[i - 1] - e[i]) * (t[i] - t[i - 1])
        raise ValueError(f"the excess never falls to {level / peak:.0%} of its peak within the trace")

    t_hi, t_lo = fall_to(hi * peak), fall_to(lo * peak)
    inside = (t > t_hi) & (t < t_lo)
    tt = np.concatenate(([t_hi], t[inside], [t_lo]))
    ll = np.concatenate(([math.log(hi * peak)], np.log(e[inside]), [math.log(lo * peak)]))
    slope, _ = np.polyfit(tt - t_hi, ll, 1)
    tau = -1.0 / slope
    return tau, {"c_rest": c[0], "peak": c[ip], "t_peak": t[ip], "t_hi": t_hi, "t_lo": t_lo, "n": len(tt)}


def tau_line(label, t, c):
    """One line that run_decay.sh parses: tau_ms=... plus the window."""
    tau, d = decay_tau(t, c)
    return (f"tau_ms={tau:.6f} c_rest_uM={d['c_rest']:.12g} peak_uM={d['peak']:.8g} t_peak_ms={d['t_peak']:g} "
            f"window_ms={d['t_hi']:.3f}..{d['t_lo']:.3f} points={d['n']}")


def read_cadyn_traces(path):
    """t [ms], cyt.ca [uM] from cadyn's traces.csv."""
    d = np.loadtxt(path, delimiter=",", skiprows=1, usecols=(0, 1))
    return d[:, 0], d[:, 1]


if __name__ == "__main__":
    # decay_common.py TRACES.csv|output.dat: tau of a cadyn traces.csv (t ms, cyt.ca uM) or an XPPAUT output.dat
    # (t ms, c uM, CaB uM)
    import sys
    path = sys.argv[1]
    if path.endswith(".csv"):
        t, c = read_cadyn_traces(path)
    else:
        x = np.loadtxt(path)
        t, c = x[:, 0], x[:, 1]
    if len(t) != len(T_REC) or np.max(np.abs(t - T_REC)) > 1e-6:
        print(f"{path}: {len(t)} records, not every {DT_REC:g} ms from 0 to {T_END:g} ms", file=sys.stderr)
        sys.exit(1)
    print(tau_line(path, t, c))
