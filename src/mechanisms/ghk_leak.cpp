// GHK leak: passive Ca flux through a permeable membrane driven by both the concentration difference and the
// membrane potential (Goldman-Hodgkin-Katz constant-field flux equation).
//
// With u = z F V / (R T) (V = phi_inner - phi_outer), the flux into the inner compartment is
//     J_in = P A u (c_out - c_in e^u) / (e^u - 1).
// It vanishes exactly at the Nernst potential (c_in e^u = c_out), reduces to Fick's law P A (c_out - c_in) at
// V = 0, and at the resting -70 mV the inside-negative potential multiplies the Ca influx about five-fold over
// Fick's law (u ~ -5.2 at 37 degC). ghk_inward() (kinetics.hpp) evaluates it without overflow or 0/0.
#include <cmath>
#include <limits>

#include "mechanisms/kinetics.hpp"
#include "mechanisms/mechanisms.hpp"

namespace cadyn::mechanisms {
namespace {

constexpr double inf = std::numeric_limits<double>::infinity();
constexpr double ca_valence = 2;

class ghk_leak_mechanism final: public mechanism {
public:
    const mechanism_info& info() const override {
        static const mechanism_info table{
            .name = "ghk_leak",
            .kind = mechanism_kind::membrane,
            .summary = "Passive Ca leak following the Goldman-Hodgkin-Katz flux equation (potential-dependent; "
                       "zero at the Ca Nernst potential)",
            .equations = "J_in = P * area * u (c_out - c_in exp(u)) / (exp(u) - 1),   u = z F V / (R T), z = 2\n"
                         "= P * area * (c_out - c_in) at V = 0;  J_in = 0 at V = E_Ca = RT/(2F) ln(c_out/c_in)",
            .citation = "Goldman (1943) J Gen Physiol 27:37-60; Hodgkin & Katz (1949) J Physiol 108:37-77; "
                        "Hille (2001) Ion Channels of Excitable Membranes, 3rd ed., Sinauer",
            .parameters =
                {
                    {"permeability", &dims::permeability, "8.4e-6 um/ms", 0, inf,
                     "Ca permeability P (may be given as a rate, 1/s, of the inner compartment); the default "
                     "balances the default pmca at 0.1 uM with 1.5 mM outside at -70 mV"},
                },
            .reads = {{"ca", side::inner}, {"ca", side::outer}},
            .outputs = {"ca"},
            .states = {},
        };
        return table;
    }

    void rates(const mechanism_pack& p) const override {
        const double* perm = p.param[0];
        const double* c_in = p.conc[0];
        const double* c_out = p.conc[1];
        double* j = p.out[0];
        const double f_rt = constants::faraday / (constants::gas * p.temperature);  // [1/V]
        for (std::size_t i = 0; i < p.n; ++i) {
            j[i] = perm[i] * p.size[i] * ghk_inward(c_out[i], c_in[i], ca_valence * p.potential[i] * 1e-3 * f_rt);
        }
    }
};

} // namespace

const mechanism& ghk_leak() {
    static const ghk_leak_mechanism m;
    return m;
}

} // namespace cadyn::mechanisms
