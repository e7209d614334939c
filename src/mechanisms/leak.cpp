// Passive leak: flux down the concentration difference, proportional to a permeability.
#include <limits>

#include "mechanisms/mechanisms.hpp"

namespace cadyn::mechanisms {
namespace {

constexpr double inf = std::numeric_limits<double>::infinity();

class leak_mechanism final: public mechanism {
public:
    const mechanism_info& info() const override {
        static const mechanism_info table{
            .name = "leak",
            .kind = mechanism_kind::membrane,
            .summary = "Passive Ca leak down the concentration difference (plasma membrane or store membrane)",
            .equations = "J_in = P * area * (c_out - c_in)    (Fick's first law across the membrane)",
            .citation = "Linear leak as in Li & Rinzel (1994) J Theor Biol 166:461-473 (v2 term) and "
                        "De Young & Keizer (1992) PNAS 89:9895-9899",
            .parameters =
                {
                    {"permeability", &dims::permeability, "1e-5 um/ms", 0, inf,
                     "membrane permeability P (may be given as a rate, 1/s, of the inner compartment)"},
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
        for (std::size_t i = 0; i < p.n; ++i) {
            j[i] = perm[i] * p.size[i] * (c_out[i] - c_in[i]);
        }
    }
};

} // namespace

const mechanism& leak() {
    static const leak_mechanism m;
    return m;
}

} // namespace cadyn::mechanisms
