// IP3 receptor of the NEURON rxd calcium-wave models (Neymotin et al. 2015; NEURON's rxd tutorial "Calcium
// waves"): Li-Rinzel-type activation at equilibrium, m_inf = p c / ((p + K_IP3)(c + K_act)), and one slow
// inactivation gate h relaxing to h_inf = 1 / (1 + c / K_inh) with a fixed time constant.
//
// On the ER membrane (inner = lumen, outer = cytosol); writes the Ca flux into the lumen (release is negative):
//
//   J_in = P * area * (m_inf h)^3 * (c_cyt - c_er)          [zmol/ms]
//   dh/dt = (h_inf(c) - h) / tau
//
// From rxd's units. rxd writes this channel as MultiCompartmentReaction(ca[er] <> ca[cyt], k, k, membrane=...)
// with k = gip3r (minf h)^3, a rate per membrane area in molecules / (um^2 ms) for concentrations in mM; rxd
// multiplies it by the voxel's membrane area and divides by the region's volume times N_A / 1e18 molecules per
// mM um^3. A flux of r molecules / (um^2 ms) is r / 602.214076 zmol / (um^2 ms) (1 zmol = 602.214076 molecules)
// and 1 mM is 1000 uM, so with cadyn's concentrations in uM
//     P [um/ms] = gip3r [molecules / (um^2 ms mM)] / 602214.076,
// e.g. gip3r = 96320 (Neymotin et al. 2015) -> P = 0.159943 um/ms; 12040 (the rxd tutorial) -> 0.0199929 um/ms.
// rxd's `1000 * ca` is cadyn's c in uM, so K_act, K_inh (and SERCA's K) are the same numbers in uM; IP3 enters only
// as p / (p + K_IP3), so rxd's ip3 numbers are read as uM. ip3rtau [ms] is tau.
#include <algorithm>
#include <limits>

#include "mechanisms/mechanisms.hpp"

namespace cadyn::mechanisms {
namespace {

constexpr double inf = std::numeric_limits<double>::infinity();

constexpr std::size_t read_ca_er = 0;  // inner: lumen
constexpr std::size_t read_ca_cyt = 1; // outer: cytosol
constexpr std::size_t read_ip3 = 2;    // outer: cytosol

enum param : std::size_t { p_perm, p_kip3, p_kact, p_kinh, p_tau };

// (m_inf h)^3 for IP3 p and cytosolic Ca c (both >= 0).
double open_probability(double p, double c, double h, double kip3, double kact) {
    const double g = p / (p + kip3) * c / (c + kact) * h;
    return g * g * g;
}

double h_inf(double c, double kinh) {
    return kinh / (kinh + c);  // = 1 / (1 + c / K_inh); K_inh > 0
}

class ip3r_neymotin_mechanism final: public mechanism {
public:
    const mechanism_info& info() const override {
        static const mechanism_info table{
            .name = "ip3r_neymotin",
            .kind = mechanism_kind::membrane,
            .summary = "IP3 receptor of NEURON rxd's calcium-wave model (Neymotin et al. 2015): Li-Rinzel-type "
                       "activation, one inactivation gate with a fixed time constant",
            .equations =
                "Po = (m_inf h)^3,  m_inf = p/(p + K_IP3) * c/(c + K_act)\n"
                "dh/dt = (h_inf - h)/tau,  h_inf = 1/(1 + c/K_inh);  h starts at h_inf of the initial c\n"
                "J_in = P * area * Po * (c_out - c_in)    (Ca into the lumen; release is negative)\n"
                "c = cytosolic Ca, p = cytosolic IP3. From NEURON rxd: MultiCompartmentReaction(ca[er] <> ca[cyt], "
                "k, k, membrane=...) with k = gip3r (minf h)^3 in molecules/(um^2 ms) per mM is "
                "P = gip3r / 602214.076 um/ms (rxd divides by N_A/1e18 molecules per mM um^3; cadyn's uM are "
                "rxd's 1000 ca); gip3r = 96320 gives the default.",
            .citation = "Neymotin, McDougal, Sherif, Fall, Hines & Lytton (2015) Neural Comput 27:898-924, ModelDB "
                        "168874 (form; gip3r = 96320, K_IP3 = 0.13 uM, K_act = 0.4 uM, K_inh = 0.4 uM, tau = "
                        "400 ms); NEURON rxd tutorial \"Calcium waves\" (same form; gip3r = 12040, K_IP3 = 0.15, "
                        "K_inh = 0.3 uM, tau = 2 s); McDougal et al. (2013) Front Neuroinform 7:28",
            .parameters =
                {
                    {"permeability", &dims::permeability, "0.15994312295018492 um/ms", 0, inf,
                     "channel permeability P per ER membrane area when all channels are open (rxd's gip3r / "
                     "602214.076; a rate, 1/s, is taken per ER volume)"},
                    {"kip3", &dims::concentration, "0.13 uM", 1e-12, inf, "IP3 activation constant K_IP3"},
                    {"kact", &dims::concentration, "0.4 uM", 1e-12, inf, "Ca activation constant K_act"},
                    {"kinh", &dims::concentration, "0.4 uM", 1e-12, inf,
                     "Ca inactivation constant K_inh (h_inf = 1/2 at c = K_inh)"},
                    {"tau", &dims::time, "400 ms", 1e-9, inf, "time constant of the inactivation gate h"},
                },
            .reads = {{"ca", side::inner}, {"ca", side::outer}, {"ip3", side::outer}},
            .outputs = {"ca"},
            .states = {{"h", &dims::dimensionless, "fraction of channels not inactivated by Ca", "", 0}},
            .observables = {{"open_probability", "", "channel open probability (m_inf h)^3", false}},
        };
        return table;
    }

    void rates(const mechanism_pack& p) const override {
        const auto& par = p.param;
        for (std::size_t n = 0; n < p.n; ++n) {
            const double c = std::max(p.conc[read_ca_cyt][n], 0.0);
            const double ip3 = std::max(p.conc[read_ip3][n], 0.0);
            const double h = p.state[0][n];
            p.dstate[0][n] = (h_inf(c, par[p_kinh][n]) - h) / par[p_tau][n];
            const double po = open_probability(ip3, c, h, par[p_kip3][n], par[p_kact][n]);
            p.out[0][n] = par[p_perm][n] * p.size[n] * po * (p.conc[read_ca_cyt][n] - p.conc[read_ca_er][n]);
        }
    }

    void init(const mechanism_pack& p, double* const* state) const override {
        for (std::size_t n = 0; n < p.n; ++n) {
            state[0][n] = h_inf(std::max(p.conc[read_ca_cyt][n], 0.0), p.param[p_kinh][n]);
        }
    }

    void observe(const mechanism_pack& p, double* const* out) const override {
        const auto& par = p.param;
        for (std::size_t n = 0; n < p.n; ++n) {
            const double c = std::max(p.conc[read_ca_cyt][n], 0.0);
            const double ip3 = std::max(p.conc[read_ip3][n], 0.0);
            out[0][n] = open_probability(ip3, c, p.state[0][n], par[p_kip3][n], par[p_kact][n]);
        }
    }
};

} // namespace

const mechanism& ip3r_neymotin() {
    static const ip3r_neymotin_mechanism m;
    return m;
}

} // namespace cadyn::mechanisms
