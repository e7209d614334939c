// Reversible SERCA: a store pump (2 Ca per ATP) that stops, and then runs backwards, where ATP runs out of
// free energy to push Ca further up the store's gradient.
//
// Moving 2 Ca from the cytosol (outer side, c) into the lumen (inner side, c_er) costs
//     dG_transport = 2 R T ln(c_er / c) + 2 F V,     V = phi_lumen - phi_cytosol,
// and hydrolysing one ATP releases |dG_ATP|. The cycle runs forward while dG_transport < |dG_ATP|, that is while
// c_er / c < rho = exp((|dG_ATP| - 2 F V) / (2 R T)), the largest lumen/cytosol ratio ATP can sustain. The
// bidirectional Hill form with exponent 2 (the stoichiometry) and reverse constant K rho vanishes exactly there
// (second law), pumps forward below and leaks Ca back out (making ATP) above. With |dG_ATP| = 50 kJ/mol,
// 37 degC and V = 0, rho ~1.6e4: at 0.1 uM cytosolic Ca the store cannot exceed ~1.6 mM.
#include <algorithm>
#include <cmath>
#include <limits>

#include "mechanisms/mechanisms.hpp"

namespace cadyn::mechanisms {
namespace {

constexpr double inf = std::numeric_limits<double>::infinity();

class serca_reversible_mechanism final: public mechanism {
public:
    const mechanism_info& info() const override {
        static const mechanism_info table{
            .name = "serca_reversible",
            .kind = mechanism_kind::membrane,
            .summary = "Thermodynamically consistent SERCA (2 Ca per ATP): stops at the lumen/cytosol ratio "
                       "that ATP can sustain and reverses above it (store membrane: inner = lumen, outer = cytosol)",
            .equations = "J_in = vmax * area * ((c/K)^2 - (c_er/(K rho))^2) / (1 + (c/K)^2 + (c_er/(K rho))^2)\n"
                         "rho = exp((|dG_ATP| - 2 F V) / (2 R T)),  c = cytosolic (outer) Ca, c_er = lumenal "
                         "(inner) Ca, V = phi_lumen - phi_cytosol\n"
                         "J_in = 0 exactly at c_er/c = rho, where 2 R T ln(c_er/c) + 2 F V = |dG_ATP|",
            .citation = "Bidirectional SERCA form (Hill 2, forward and reverse constants): Shannon et al. (2004) "
                        "Biophys J 87:3351-3371, with the reverse constant set by the free energy of ATP hydrolysis "
                        "(|dG_ATP| ~50 kJ/mol); K ~0.2 uM: Lytton et al. (1992) J Biol Chem 267:14483-14489",
            .parameters =
                {
                    {"vmax", &dims::flux_density, "10 pmol/cm^2/s", 0, inf,
                     "maximal pump flux per membrane area (may be given as uM/s of the cytosol)"},
                    {"kd", &dims::concentration, "0.2 uM", 1e-12, inf, "cytosolic half-activation concentration K"},
                    {"delta_g_atp", &dims::molar_energy, "50 kJ/mol", 0, 100,
                     "magnitude of the free energy of ATP hydrolysis |dG_ATP| under cellular conditions"},
                },
            .reads = {{"ca", side::outer}, {"ca", side::inner}},
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
        const double* dg_atp = p.param[2];
        const double* c_cyt = p.conc[0];
        const double* c_er = p.conc[1];
        double* j = p.out[0];
        const double two_rt = 2.0 * constants::gas * p.temperature;  // [J/mol]
        for (std::size_t i = 0; i < p.n; ++i) {
            // Free energy available for the concentration gradient: ATP's, less the electrical work of moving
            // 2 charges into a lumen at V [mV -> V]; kJ/mol -> J/mol.
            const double available = dg_atp[i] * 1e3 - 2.0 * constants::faraday * p.potential[i] * 1e-3;
            const double inv_rho = std::exp(-available / two_rt);
            const double x = std::max(c_cyt[i], 0.0) / kd[i];
            const double y = std::max(c_er[i], 0.0) * inv_rho / kd[i];
            j[i] = vmax[i] * p.size[i] * (x * x - y * y) / (1.0 + x * x + y * y);
        }
    }
};

} // namespace

const mechanism& serca_reversible() {
    static const serca_reversible_mechanism m;
    return m;
}

} // namespace cadyn::mechanisms
