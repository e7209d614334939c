// SERCA: sarco/endoplasmic-reticulum Ca2+-ATPase (Hill form), pumping Ca from the cytosol into a store.
#include <limits>

#include "mechanisms/kinetics.hpp"
#include "mechanisms/mechanisms.hpp"

namespace cadyn::mechanisms {
namespace {

constexpr double inf = std::numeric_limits<double>::infinity();

class serca_mechanism final: public mechanism {
public:
    const mechanism_info& info() const override {
        static const mechanism_info table{
            .name = "serca",
            .kind = mechanism_kind::membrane,
            .summary = "SERCA pump: Ca from the cytosol (outer side) into the store lumen (inner side), 2 Ca per ATP",
            .equations = "J_in = vmax * area * c_out^n / (K^n + c_out^n)    (place on the store membrane: "
                         "inner = lumen, outer = cytosol)",
            .citation = "Hill form with n = 2, K = 0.1-0.3 uM: De Young & Keizer (1992) PNAS 89:9895-9899; "
                        "Lytton et al. (1992) J Biol Chem 267:14483-14489",
            .parameters =
                {
                    {"vmax", &dims::flux_density, "10 pmol/cm^2/s", 0, inf,
                     "maximal pump flux per membrane area (may be given as uM/s of the cytosol)"},
                    {"kd", &dims::concentration, "0.2 uM", 1e-12, inf, "half-activation concentration"},
                    {"hill", &dims::dimensionless, "2", 0.1, 10, "Hill coefficient n"},
                },
            .reads = {{"ca", side::outer}},
            .outputs = {"ca"},
            .reference = side::outer,
            .states = {},
            .energy = energy_source::atp,
            .atp_per_flux = 0.5,
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
            j[i] = vmax[i] * p.size[i] * hill(c[i], kd[i], n[i]);
        }
    }
};

} // namespace

const mechanism& serca() {
    static const serca_mechanism m;
    return m;
}

} // namespace cadyn::mechanisms
