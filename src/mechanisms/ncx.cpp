// NCX: the plasma-membrane Na+/Ca2+ exchanger, 3 Na+ : 1 Ca2+, electrogenic (Luo & Rudy 1994 rate law).
//
// One cycle moves 3 Na+ one way and 1 Ca2+ the other, so one net charge crosses per Ca. In the forward mode
// (Ca export) 3 Na+ enter down their gradient and pay for pushing one Ca2+ out against its own. The free
// energy of one forward cycle (Ca out, 3 Na in) is
//     dG = 3 (RT ln(Na_i/Na_o) + F V) - (2 RT ln(Ca_i/Ca_o) + 2 F V) = F (V - E_NCX),
// so the exchanger exports Ca while V < E_NCX = 3 E_Na - 2 E_Ca and imports it above (reverse mode). The Luo &
// Rudy numerator vanishes exactly there, whatever the partition eta of the voltage dependence.
//
// The Luo-Rudy law has no saturation by cytosolic Ca: c_in appears only in the numerator, so over the whole
// cytosolic range (0.05-10 uM) the forward flux rises linearly with c_in. That is the exchanger's "low
// affinity". The seed's "half-activation ~2 uM" has no parameter of its own here (K_mCa = 1.38 mM is an
// outside-facing constant, K_mNa = 87.5 mM likewise); what it stands for is reproduced by the capacity: with the
// default vmax (Luo & Rudy's k_NaCa) and the default pmca on the same membrane (-70 mV, Na 10/145 mM, Ca_o
// 1.5 mM), NCX removes 0.2x PMCA's flux at the resting 0.1 uM, as much as PMCA at ~0.8 uM, 2.3x at 2 uM and 3.3x
// at 3 uM, where PMCA (K0.5 0.2 uM) is saturated. In a 10 um soma (V/A = 3.3 um) that is ~120 uM/s of Ca
// removal at 2 uM against PMCA's maximum of 60 uM/s: a high-capacity, low-affinity extruder.
#include <algorithm>
#include <cmath>
#include <limits>

#include "mechanisms/mechanisms.hpp"

namespace cadyn::mechanisms {
namespace {

constexpr double inf = std::numeric_limits<double>::infinity();

// Ca flux into the inner compartment [zmol/ms] of instance i (negative in the forward, Ca-exporting mode).
// exp(eta v) and exp((eta - 1) v) at site i, v = V F / (R T) the reduced potential (V in volts). A site with the
// same potential and eta as the last one reuses its values: over the faces of a membrane held at one potential
// the two exp() are computed once per call, not per site (16 -> ~3 ns per site; the values are the same).
struct ncx_exponentials {
    double potential = std::numeric_limits<double>::quiet_NaN();
    double eta = std::numeric_limits<double>::quiet_NaN();
    double fwd = 0;  // weights the Na_i^3 Ca_o (Ca-importing) term
    double rev = 0;  // weights the Na_o^3 Ca_i (Ca-exporting) term

    void at(const mechanism_pack& p, std::size_t i) {
        if (p.potential[i] == potential && p.param[4][i] == eta) {
            return;
        }
        potential = p.potential[i];
        eta = p.param[4][i];
        const double v = potential * 1e-3 * constants::faraday / (constants::gas * p.temperature);
        fwd = std::exp(eta * v);
        rev = std::exp((eta - 1.0) * v);
    }
};

// Parameters in the order of the info table; reads: ca inner, ca outer, na inner, na outer; e at site i.
double ca_flux_in(const mechanism_pack& p, std::size_t i, const ncx_exponentials& e) {
    const double vmax = p.param[0][i];
    const double km_na = p.param[1][i];
    const double km_ca = p.param[2][i];
    const double k_sat = p.param[3][i];
    const double ca_i = std::max(p.conc[0][i], 0.0);
    const double ca_o = std::max(p.conc[1][i], 0.0);
    const double na_i = std::max(p.conc[2][i], 0.0);
    const double na_o = std::max(p.conc[3][i], 0.0);
    const double e_fwd = e.fwd;
    const double e_rev = e.rev;
    // Luo & Rudy's I_NaCa (outward positive) is k_NaCa times this dimensionless factor; outward current means Ca
    // in (3 Na out, 1 Ca in: one net positive charge leaves), so the factor is also the Ca flux into the cell.
    const double drive = e_fwd * na_i * na_i * na_i * ca_o - e_rev * na_o * na_o * na_o * ca_i;
    const double saturation =
        (km_na * km_na * km_na + na_o * na_o * na_o) * (km_ca + ca_o) * (1.0 + k_sat * e_rev);
    return vmax * p.size[i] * drive / saturation;
}

class ncx_mechanism final: public mechanism {
public:
    const mechanism_info& info() const override {
        static const mechanism_info table{
            .name = "ncx",
            .kind = mechanism_kind::membrane,
            .summary = "Na+/Ca2+ exchanger (3 Na : 1 Ca, electrogenic): low affinity, high capacity; reverses "
                       "above E_NCX = 3 E_Na - 2 E_Ca (place on the plasma membrane, inner = cytosol)",
            .equations =
                "J_Ca,in = vmax * area * D / S,   v = V F/(R T)\n"
                "D = exp(eta v) Na_i^3 Ca_o - exp((eta-1) v) Na_o^3 Ca_i\n"
                "S = (K_mNa^3 + Na_o^3) (K_mCa + Ca_o) (1 + k_sat exp((eta-1) v))\n"
                "J_Na,in = -3 J_Ca,in;  current (inward positive) I = F (J_Na,in + 2 J_Ca,in) = -F J_Ca,in\n"
                "Flux is zero at V = E_NCX = 3 E_Na - 2 E_Ca, E_X = RT/(z F) ln(X_o/X_i); Ca export below, "
                "import above. No saturation by cytosolic Ca: linear in Ca_i (low affinity)",
            .citation = "Luo & Rudy (1994) Circ Res 74:1071-1096 (I_NaCa: k_NaCa = 2000 uA/uF, K_mNa = 87.5 mM, "
                        "K_mCa = 1.38 mM, k_sat = 0.1, eta = 0.35); vmax = k_NaCa C_m / F with C_m = 1 uF/cm^2",
            .parameters =
                {
                    {"vmax", &dims::flux_density, "20.73 nmol/cm^2/s", 0, inf,
                     "scale of the exchange flux per membrane area, k_NaCa C_m / F (may be given as uM/s of the "
                     "cytosol)"},
                    {"km_na", &dims::concentration, "87.5 mM", 1e-12, inf, "Na saturation constant K_mNa"},
                    {"km_ca", &dims::concentration, "1.38 mM", 1e-12, inf,
                     "Ca saturation constant K_mCa (outside-facing)"},
                    {"k_sat", &dims::dimensionless, "0.1", 0, inf,
                     "saturation factor at very negative potentials"},
                    {"eta", &dims::dimensionless, "0.35", 0, 1,
                     "position of the energy barrier: fraction of the potential driving the Ca-import step"},
                },
            .reads = {{"ca", side::inner}, {"ca", side::outer}, {"na", side::inner}, {"na", side::outer}},
            .outputs = {"ca", "na"},
            .states = {},
            .energy = energy_source::coupled,
            .atp_per_flux = 1.0 / 3.0,
            .atp_output = 1,
            .observables = {{"current", "pA",
                             "net exchanger current into the inner side (positive: inward, forward mode)"}},
        };
        return table;
    }

    void rates(const mechanism_pack& p) const override {
        double* j_ca = p.out[0];
        double* j_na = p.out[1];
        ncx_exponentials e;
        for (std::size_t i = 0; i < p.n; ++i) {
            e.at(p, i);
            const double j = ca_flux_in(p, i, e);
            j_ca[i] = j;
            j_na[i] = -3.0 * j;
        }
    }

    // Net charge entering the inner side per time, (J_Na,in + 2 J_Ca,in) [zmol/ms of elementary charge], is a
    // current of that many pA divided by zmol_per_ms_per_pA (= 1 pA / F).
    void observe(const mechanism_pack& p, double* const* out) const override {
        ncx_exponentials e;
        for (std::size_t i = 0; i < p.n; ++i) {
            e.at(p, i);
            const double j = ca_flux_in(p, i, e);
            out[0][i] = (-3.0 * j + 2.0 * j) / constants::zmol_per_ms_per_pA;
        }
    }
};

} // namespace

const mechanism& ncx() {
    static const ncx_mechanism m;
    return m;
}

} // namespace cadyn::mechanisms
