// SOCE: store-operated Ca entry through Orai channels in the plasma membrane, gated by STIM, the ER Ca sensor.
//
// When the ER empties, Ca dissociates from STIM1's luminal EF-hand; STIM1 oligomerises, moves to ER-plasma
// membrane junctions, is trapped there and opens Orai. The sensing is steep (Luik et al. 2008: half-maximal near
// 0.2 mM ER Ca, Hill ~4) and the translocation takes tens of seconds (Wu et al. 2006). Here: a steady-state
// activation s_inf(c_er), a first-order delay tau towards it, and an Orai flux by GHK electrodiffusion.
#include <algorithm>
#include <cmath>
#include <limits>

#include "mechanisms/kinetics.hpp"
#include "mechanisms/mechanisms.hpp"

namespace cadyn::mechanisms {
namespace {

constexpr double inf = std::numeric_limits<double>::infinity();
constexpr double ca_valence = 2;

// Steady-state STIM activation, high when the store is empty: K^n / (K^n + c^n); a negative c counts as 0.
// Written without 1 - hill(...) so that it keeps full relative precision when the store is full.
double stim_steady_state(double c_er, double k, double n) {
    const double kn = std::pow(k, n);
    return kn / (kn + std::pow(std::max(c_er, 0.0), n));
}

class soce_mechanism final: public mechanism {
public:
    const mechanism_info& info() const override {
        static const mechanism_info table{
            .name = "soce",
            .kind = mechanism_kind::membrane,
            .summary = "Store-operated Ca entry (STIM/Orai): plasma-membrane Ca influx activated, with a delay, "
                       "when the store (store = \"er\") empties",
            .equations =
                "s_inf = K_stim^n / (K_stim^n + c_er^n);  ds/dt = (s_inf - s) / tau\n"
                "J_in = P * area * s * u (c_out - c_in e^u) / (e^u - 1),  u = 2 F V / (R T)\n"
                "inner = cytosol, outer = extracellular, V = phi_in - phi_out; c_er is read from the store "
                "compartment. No Ca-dependent inactivation. init: s = s_inf(c_er)",
            .citation = "STIM1 ER-Ca sensitivity (K ~0.2 mM, Hill ~4): Luik, Wang, Prakriya, Wu & Lewis (2008) Nature "
                        "454:538-542; STIM1 accumulation at ER-PM junctions over tens of seconds: Wu, Buchanan, "
                        "Luik & Lewis (2006) J Cell Biol 174:803-813; GHK flux: Hodgkin & Katz (1949) J Physiol "
                        "108:37-77. The default permeability is an order-of-magnitude estimate (see the parameter)",
            .parameters =
                {
                    {"permeability", &dims::permeability, "1e-6 um/ms", 0, inf,
                     "Orai permeability P per membrane area when fully activated (order of magnitude: -1.4 pA/pF "
                     "at -100 mV with 10 mM external Ca, 1 uF/cm^2)"},
                    {"k_stim", &dims::concentration, "0.2 mM", 1e-12, inf,
                     "store Ca at which STIM activation is half-maximal"},
                    {"hill", &dims::dimensionless, "4", 0.1, 10, "Hill coefficient n of the STIM activation"},
                    {"tau", &dims::time, "20 s", 1e-6, inf,
                     "time constant of STIM translocation and trapping at ER-PM junctions"},
                },
            // The Ca source first (a permeability given per volume refers to it), then the cytosol, then the store.
            .reads = {{"ca", side::outer}, {"ca", side::inner}, {"ca", side::store}},
            .outputs = {"ca"},
            .states = {{"s", &dims::dimensionless, "fraction of Orai channels activated by STIM", "", 0}},
            .observables = {{"stim_activation", "", "STIM activation s (fraction of Orai gated open)"}},
        };
        return table;
    }

    void rates(const mechanism_pack& p) const override {
        const double* perm = p.param[0];
        const double* k_stim = p.param[1];
        const double* n = p.param[2];
        const double* tau = p.param[3];
        const double* c_out = p.conc[0];
        const double* c_in = p.conc[1];
        const double* c_er = p.conc[2];
        const double* s = p.state[0];
        double* ds = p.dstate[0];
        double* j = p.out[0];
        const double zf_rt = ca_valence * constants::faraday / (constants::gas * p.temperature) * 1e-3;  // 1/mV
        for (std::size_t i = 0; i < p.n; ++i) {
            ds[i] = (stim_steady_state(c_er[i], k_stim[i], n[i]) - s[i]) / tau[i];
            const double drive = ghk_inward(std::max(c_out[i], 0.0), std::max(c_in[i], 0.0), zf_rt * p.potential[i]);
            j[i] = perm[i] * p.size[i] * s[i] * drive;
        }
    }

    // Start with STIM in equilibrium with the store.
    void init(const mechanism_pack& p, double* const* state) const override {
        for (std::size_t i = 0; i < p.n; ++i) {
            state[0][i] = stim_steady_state(p.conc[2][i], p.param[1][i], p.param[2][i]);
        }
    }

    void observe(const mechanism_pack& p, double* const* out) const override {
        for (std::size_t i = 0; i < p.n; ++i) {
            out[0][i] = p.state[0][i];
        }
    }
};

} // namespace

const mechanism& soce() {
    static const soce_mechanism m;
    return m;
}

} // namespace cadyn::mechanisms
