// VGCC: a high-voltage-activated Ca channel with Hodgkin-Huxley gating (m^2 h) and a Goldman-Hodgkin-Katz flux.
//
// The open channels carry Ca by electrodiffusion through a constant field (Goldman 1943): the flux vanishes at the
// Nernst potential of Ca and stays finite as V -> 0. The gating follows Hodgkin & Huxley (1952): two independent
// activation gates m (the open probability goes as m^2) and one inactivation gate h. The activation rates are
// exponential in V, alpha = a0 exp(V / ka), beta = b0 exp(-V / kb) (Borst & Sakmann 1998 fitted this m^2 form to
// the presynaptic Ca current of the calyx of Held), written here through the quantities an experimenter reads off
// a recording: the half-activation voltage, the Boltzmann slope, the time constant at half activation and the
// share gamma of the voltage dependence carried by the opening rate (the "extended HH" form of Borg-Graham).
// Borst & Sakmann's rates are reproduced exactly by V_m = k ln(b0/a0), 1/k = 1/ka + 1/kb, gamma = k/ka,
// tau_m = 1 / (2 alpha(V_m)).
#include <algorithm>
#include <cmath>
#include <limits>

#include "mechanisms/kinetics.hpp"
#include "mechanisms/mechanisms.hpp"

namespace cadyn::mechanisms {
namespace {

constexpr double inf = std::numeric_limits<double>::infinity();
constexpr double ca_valence = 2;

// Parameter indices, in the order of the info table.
enum : std::size_t {
    p_permeability,
    p_m_vhalf,
    p_m_slope,
    p_m_tau,
    p_m_gamma,
    p_inactivation,
    p_h_vhalf,
    p_h_slope,
    p_h_tau,
};

// Reads: the outer side (where the Ca comes from), then the inner one. A permeability given per volume refers to
// the cytosol (mechanism_info::reference, inner).
enum : std::size_t { r_out, r_in };
enum : std::size_t { s_m, s_h };

// Reduced potential x = z F V / (R T) of a Ca ion; V in mV. The GHK flux is ghk_inward(c_out, c_in, x)
// (kinetics.hpp): c_out B(x) - c_in B(-x), zero at the Nernst potential.
double reduced_potential(double v_mv, double temperature) {
    return mechanisms::reduced_potential(ca_valence, v_mv, temperature);
}

// Steady-state activation m_inf = 1 / (1 + exp(-(V - V_half) / k)).
double m_infinity(double v, double vhalf, double slope) {
    return 1.0 / (1.0 + std::exp(-(v - vhalf) / slope));
}

// Steady-state availability h_inf = 1 - f / (1 + exp(-(V - V_half) / k)): a fraction f of the channels inactivates
// at depolarised potentials (f = 0: no inactivation, h stays 1).
double h_infinity(double v, double fraction, double vhalf, double slope) {
    return 1.0 - fraction / (1.0 + std::exp(-(v - vhalf) / slope));
}

class vgcc_mechanism final: public mechanism {
public:
    const mechanism_info& info() const override {
        static const mechanism_info table{
            .name = "vgcc",
            .kind = mechanism_kind::membrane,
            .summary = "High-voltage-activated Ca channel: Hodgkin-Huxley gating m^2 h and a GHK flux "
                       "(activation of Borst & Sakmann 1998)",
            .equations =
                "J_in = P * area * m^2 * h * (c_out * B(x) - c_in * B(-x)),  x = z F V / (R T),  z = 2,  "
                "B(x) = x / (exp(x) - 1), B(0) = 1\n"
                "  (Goldman-Hodgkin-Katz flux; zero at E_Ca = R T / (z F) ln(c_out / c_in); V = phi_in - phi_out)\n"
                "dm/dt = alpha (1 - m) - beta m,  alpha = exp(gamma u) / (2 tau_m),  "
                "beta = exp(-(1 - gamma) u) / (2 tau_m),  u = (V - V_m) / k_m\n"
                "  so m_inf = 1 / (1 + exp(-(V - V_m) / k_m)) and the activation time constant is "
                "1 / (alpha + beta) (= tau_m at V = V_m)\n"
                "dh/dt = (h_inf - h) / tau_h,  h_inf = 1 - f / (1 + exp(-(V - V_h) / k_h))    (f = 0: no "
                "inactivation)\n"
                "current = -z F J_in [pA] (electrophysiology sign: negative = Ca entering the inner compartment); "
                "open_probability = m^2 h\n"
                "Defaults: Borst & Sakmann's alpha = 1.78 exp(V / 23.3 mV) /ms, beta = 0.140 exp(-V / 15.0 mV) /ms "
                "(room temperature, ~24 degC) give V_m = -23.203 mV, k_m = 9.1253 mV, tau_m = 0.76040 ms, "
                "gamma = 0.39164. The gating rates are used as given (not scaled with temperature); the GHK term "
                "uses the model temperature",
            .citation = "GHK flux: Goldman (1943) J Gen Physiol 27:37-60; Hodgkin & Katz (1949) J Physiol 108:37-77. "
                        "Gating formalism: Hodgkin & Huxley (1952) J Physiol 117:500-544. Activation (m^2, no "
                        "inactivation): Borst & Sakmann (1998) J Physiol 506:143-157. Optional voltage-dependent "
                        "inactivation (off by default): steady state and slow time constant of the f gate of "
                        "Luo & Rudy (1994) Circ Res 74:1071-1096",
            .parameters =
                {
                    {"permeability", &dims::permeability, "5e-5 cm/s", 0, inf,
                     "maximal Ca permeability P per membrane area (all channels open); the default gives a peak "
                     "Ca current of about 18 pA/pF in 2 mM Ca"},
                    {"m_vhalf", &dims::potential, "-23.203 mV", -200, 200, "half-activation voltage V_m of m"},
                    {"m_slope", &dims::potential, "9.1253 mV", 1, 100, "Boltzmann slope k_m of m_inf (e-fold per k_m)"},
                    {"m_tau", &dims::time, "0.76040 ms", 1e-6, inf,
                     "activation time constant at V = V_m (1 / (alpha + beta) there)"},
                    {"m_gamma", &dims::dimensionless, "0.39164", 0, 1,
                     "share of the voltage dependence carried by the opening rate alpha (0.5: symmetric)"},
                    {"inactivation", &dims::dimensionless, "0", 0, 1,
                     "fraction f of the channels that inactivate at depolarised potentials (0: none)"},
                    {"h_vhalf", &dims::potential, "-32 mV", -200, 200, "half-inactivation voltage V_h"},
                    {"h_slope", &dims::potential, "8 mV", 1, 100, "Boltzmann slope k_h of the inactivation"},
                    {"h_tau", &dims::time, "50 ms", 1e-6, inf, "inactivation time constant (voltage independent)"},
                },
            .reads = {{"ca", side::outer}, {"ca", side::inner}},
            .outputs = {"ca"},
            .states =
                {
                    {"m", &dims::dimensionless, "activation gate (open probability m^2 h)", "", 0},
                    {"h", &dims::dimensionless, "inactivation gate (1: available)", "", 0},
                },
            .observables =
                {
                    {"current", "pA",
                     "Ca current through the channels, negative when Ca enters the inner "
                     "compartment (electrophysiology convention)"},
                    {"open_probability", "", "fraction of channels open, m^2 h"},
                },
        };
        return table;
    }

    void rates(const mechanism_pack& p) const override {
        const auto* const* par = p.param;
        const double* m = p.state[s_m];
        const double* h = p.state[s_h];
        for (std::size_t i = 0; i < p.n; ++i) {
            const double v = p.potential[i];
            // Activation: exponential rates about the half-activation voltage.
            const double u = (v - par[p_m_vhalf][i]) / par[p_m_slope][i];
            const double gamma = par[p_m_gamma][i];
            const double half_rate = 0.5 / par[p_m_tau][i];
            const double alpha = half_rate * std::exp(gamma * u);
            const double beta = half_rate * std::exp(-(1.0 - gamma) * u);
            p.dstate[s_m][i] = alpha * (1.0 - m[i]) - beta * m[i];
            // Inactivation: first-order relaxation to h_inf(V).
            const double h_inf = h_infinity(v, par[p_inactivation][i], par[p_h_vhalf][i], par[p_h_slope][i]);
            p.dstate[s_h][i] = (h_inf - h[i]) / par[p_h_tau][i];
            // Flux through the open channels.
            const double x = reduced_potential(v, p.temperature);
            p.out[0][i] =
                par[p_permeability][i] * p.size[i] * m[i] * m[i] * h[i] * ghk_inward(p.conc[r_out][i], p.conc[r_in][i], x);
        }
    }

    // Gates at their steady state at the membrane's potential at the start.
    void init(const mechanism_pack& p, double* const* state) const override {
        const auto* const* par = p.param;
        for (std::size_t i = 0; i < p.n; ++i) {
            const double v = p.potential[i];
            state[s_m][i] = m_infinity(v, par[p_m_vhalf][i], par[p_m_slope][i]);
            state[s_h][i] = h_infinity(v, par[p_inactivation][i], par[p_h_vhalf][i], par[p_h_slope][i]);
        }
    }

    void observe(const mechanism_pack& p, double* const* out) const override {
        const auto* const* par = p.param;
        const double* m = p.state[s_m];
        const double* h = p.state[s_h];
        for (std::size_t i = 0; i < p.n; ++i) {
            const double open = m[i] * m[i] * h[i];
            const double x = reduced_potential(p.potential[i], p.temperature);
            const double j_in = par[p_permeability][i] * p.size[i] * open * ghk_inward(p.conc[r_out][i], p.conc[r_in][i], x);
            // I = z F J; an inward (entering) Ca flux is a negative membrane current.
            out[0][i] = -ca_valence * j_in / constants::zmol_per_ms_per_pA;
            out[1][i] = open;
        }
    }
};

} // namespace

const mechanism& vgcc() {
    static const vgcc_mechanism m;
    return m;
}

} // namespace cadyn::mechanisms
