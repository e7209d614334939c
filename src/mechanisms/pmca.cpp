// PMCA: plasma-membrane Ca2+-ATPase, a high-affinity, low-capacity pump (Hill form).
#include <limits>

#include "mechanisms/kinetics.hpp"
#include "mechanisms/mechanisms.hpp"

namespace cadyn::mechanisms {
namespace {

constexpr double inf = std::numeric_limits<double>::infinity();

class pmca_mechanism final: public mechanism {
public:
    const mechanism_info& info() const override {
        static const mechanism_info table{
            .name = "pmca",
            .kind = mechanism_kind::membrane,
            .summary = "Plasma-membrane Ca2+-ATPase: high affinity (K0.5 ~0.2 uM), low capacity, 1 Ca per ATP",
            .equations = "J_out = vmax * area * c_in^n / (K^n + c_in^n)    (Ca leaving the inner compartment)",
            .citation = "Hill form with K0.5 ~0.2 uM: Brini & Carafoli (2009) Physiol Rev 89:1341-1378; "
                        "Carafoli (1991) Physiol Rev 71:129-153",
            .parameters =
                {
                    {"vmax", &dims::flux_density, "20 pmol/cm^2/s", 0, inf,
                     "maximal pump flux per membrane area (may be given as uM/s of the inner compartment)"},
                    {"kd", &dims::concentration, "0.2 uM", 1e-12, inf, "half-activation concentration K0.5"},
                    {"hill", &dims::dimensionless, "1", 0.1, 10, "Hill coefficient n"},
                },
            .reads = {{"ca", side::inner}},
            .outputs = {"ca"},
            .states = {},
            .energy = energy_source::atp,
            .atp_per_flux = -1.0,
        };
        return table;
    }

    void rates(const mechanism_pack& p) const override {
        const double* vmax = p.param[0];
        const double* kd = p.param[1];
        const double* n = p.param[2];
        const double* c = p.conc[0];
        double* j = p.out[0];
        for (std::size_t i = 0; i < p.n; ++i) {
            j[i] = -vmax[i] * p.size[i] * hill(c[i], kd[i], n[i]);
        }
    }
};

} // namespace

const mechanism& pmca() {
    static const pmca_mechanism m;
    return m;
}

} // namespace cadyn::mechanisms
