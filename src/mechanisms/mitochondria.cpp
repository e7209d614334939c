// Mitochondrial Ca transport across the inner membrane: the uniporter (MCU, uptake) and the Na/Ca exchanger
// (NCLX, release).
//
// Sign conventions of the membrane: inner = matrix, outer = cytosol, V = phi_matrix - phi_cytosol, about -150 to
// -180 mV in an energised mitochondrion. Both kernels write the Ca flux INTO the matrix [zmol/ms].
#include <algorithm>
#include <cmath>
#include <limits>

#include "mechanisms/kinetics.hpp"
#include "mechanisms/mechanisms.hpp"

namespace cadyn::mechanisms {
namespace {

constexpr double inf = std::numeric_limits<double>::infinity();
constexpr double ca_valence = 2;

// F / (R T) in 1/mV at temperature T [K].
double f_over_rt_per_mv(double temperature) {
    return constants::faraday / (constants::gas * temperature) * 1e-3;
}

// Goldman-Hodgkin-Katz electrodiffusion: ghk_inward() in kinetics.hpp.

// ----------------------------------------------------------------------------------------------------------
// MCU: a Ca-selective channel (Kirichok et al. 2004) whose flux is electrodiffusive (GHK), driven by the large
// negative matrix potential, and gated by cytosolic Ca with low affinity and cooperativity (the sigmoidal uptake
// kinetics of isolated mitochondria, K0.5 ~10 uM, Hill ~2). At a resting 0.1 uM the gate is open a fraction
// (0.1/10)^2 = 1e-4, so the uniporter is nearly silent; at 10 uM and above it outruns the plasma-membrane pumps.
class mcu_mechanism final: public mechanism {
public:
    const mechanism_info& info() const override {
        static const mechanism_info table{
            .name = "mcu",
            .kind = mechanism_kind::membrane,
            .summary = "Mitochondrial Ca uniporter: electrophoretic Ca uptake into the matrix (GHK), gated by "
                       "cytosolic Ca with low affinity (K ~10 uM) and cooperativity",
            .equations =
                "J_in = P * area * c_cyt^n / (K_act^n + c_cyt^n) * u (c_cyt - c_mito e^u) / (e^u - 1),  "
                "u = 2 F V / (R T)\n"
                "inner = matrix, outer = cytosol, V = phi_matrix - phi_cytosol; J_in > 0 is uptake into the matrix; "
                "the flux reverses only when V exceeds E_Ca = (R T / 2 F) ln(c_cyt / c_mito)",
            .citation = "GHK electrodiffusion (Goldman (1943) J Gen Physiol 27:37-60; Hodgkin & Katz (1949) J Physiol "
                        "108:37-77) through the highly Ca-selective uniporter channel (Kirichok, Krapivinsky & "
                        "Clapham (2004) Nature 427:360-364); sigmoidal activation by cytosolic Ca, K0.5 ~10 uM and "
                        "Hill ~2, as reviewed by Gunter & Pfeiffer (1990) Am J Physiol 258:C755-C786. The default "
                        "permeability is an order-of-magnitude estimate (see the parameter), not a fitted value",
            .parameters =
                {
                    {"permeability", &dims::permeability, "0.01 um/ms", 0, inf,
                     "permeability P of the inner membrane when fully activated (order of magnitude: with an inner "
                     "membrane area twice the plasma membrane's and V = -150..-180 mV, uptake outruns the default "
                     "PMCA above ~5 uM)"},
                    {"k_act", &dims::concentration, "10 uM", 1e-12, inf,
                     "cytosolic Ca of half-activation K_act (low affinity)"},
                    {"hill", &dims::dimensionless, "2", 0.1, 10, "Hill coefficient n of the activation"},
                },
            // The substrate comes from the cytosol: read it first, so that a permeability given per volume ("1/s")
            // refers to the cytosol.
            .reads = {{"ca", side::outer}, {"ca", side::inner}},
            .outputs = {"ca"},
            .reference = side::outer,
            .states = {},
        };
        return table;
    }

    void rates(const mechanism_pack& p) const override {
        const double* perm = p.param[0];
        const double* k_act = p.param[1];
        const double* n = p.param[2];
        const double* c_cyt = p.conc[0];
        const double* c_mito = p.conc[1];
        double* j = p.out[0];
        const double zf_rt = ca_valence * f_over_rt_per_mv(p.temperature);
        for (std::size_t i = 0; i < p.n; ++i) {
            const double c_out = std::max(c_cyt[i], 0.0);
            const double c_in = std::max(c_mito[i], 0.0);
            const double gate = hill(c_out, k_act[i], n[i]);
            j[i] = perm[i] * p.size[i] * gate * ghk_inward(c_out, c_in, zf_rt * p.potential[i]);
        }
    }
};

// ----------------------------------------------------------------------------------------------------------
// NCLX: the mitochondrial Na/Ca exchanger, 3 Na in for 1 Ca out (one net charge into the matrix per cycle, so a
// more negative matrix speeds efflux). The Cortassa et al. (2003) form (after Magnus & Keizer 1997):
// Michaelis-Menten in matrix Ca, cubic in cytosolic Na, exponential in the potential; unidirectional (no reverse
// mode, no dependence on cytosolic Ca or matrix Na). The Na it moves is not tracked: in vivo the matrix Na is
// cleared by the Na/H exchanger, and the cytosolic Na change is negligible next to ~10 mM.
class nclx_mechanism final: public mechanism {
public:
    const mechanism_info& info() const override {
        static const mechanism_info table{
            .name = "nclx",
            .kind = mechanism_kind::membrane,
            .summary = "Mitochondrial Na/Ca exchanger (3 Na : 1 Ca, electrogenic): Ca efflux from the matrix, "
                       "Michaelis-Menten in matrix Ca, cubic in cytosolic Na",
            .equations =
                "J_in = -vmax * area * exp(-b F (V - V0) / (R T)) * (na_cyt / (K_Na + na_cyt))^n "
                "* ca_mito / (K_Ca + ca_mito)\n"
                "inner = matrix, outer = cytosol, V = phi_matrix - phi_cytosol (Cortassa's dPsi = -V, dPsi0 = -V0). "
                "Simplified as in the source: unidirectional (no reverse mode), independent of cytosolic Ca and "
                "matrix Na; only Ca is moved (3 Na enter the matrix per Ca, not tracked)",
            .citation = "Cortassa, Aon, Marban, Winslow & O'Rourke (2003) Biophys J 84:2734-2755 (form and K_Na, K_Ca, "
                        "n, b, dPsi0), after Magnus & Keizer (1997) Am J Physiol 273:C717-C733. The default vmax "
                        "is an order-of-magnitude estimate (see the parameter)",
            .parameters =
                {
                    {"vmax", &dims::flux_density, "1 pmol/cm^2/s", 0, inf,
                     "maximal efflux per inner-membrane area at V = V0 (order of magnitude: empties a matrix loaded "
                     "with mM total Ca over tens of seconds to minutes; may be given as uM/s of the matrix)"},
                    {"k_ca", &dims::concentration, "0.375 uM", 1e-12, inf,
                     "matrix Ca of half-maximal efflux K_Ca"},
                    {"k_na", &dims::concentration, "9.4 mM", 1e-12, inf, "cytosolic Na constant K_Na"},
                    {"hill_na", &dims::dimensionless, "3", 0.1, 10, "Na cooperativity n (3 Na per Ca)"},
                    {"b", &dims::dimensionless, "0.5", 0, 1, "fraction of the potential felt by the exchanger"},
                    {"v0", &dims::potential, "-91 mV", -1000, 1000,
                     "reference potential V0 (matrix minus cytosol) at which the voltage factor is 1"},
                },
            // The substrate is matrix Ca; a vmax given per volume ("uM/s") refers to the matrix (reference: inner).
            .reads = {{"ca", side::inner}, {"na", side::outer}},
            .outputs = {"ca"},
            .states = {},
            .energy = energy_source::external,
        };
        return table;
    }

    void rates(const mechanism_pack& p) const override {
        const double* vmax = p.param[0];
        const double* k_ca = p.param[1];
        const double* k_na = p.param[2];
        const double* n_na = p.param[3];
        const double* b = p.param[4];
        const double* v0 = p.param[5];
        const double* ca_mito = p.conc[0];
        const double* na_cyt = p.conc[1];
        double* j = p.out[0];
        const double f_rt = f_over_rt_per_mv(p.temperature);
        for (std::size_t i = 0; i < p.n; ++i) {
            const double ca = std::max(ca_mito[i], 0.0);
            const double na = std::max(na_cyt[i], 0.0);
            const double voltage = std::exp(-b[i] * f_rt * (p.potential[i] - v0[i]));
            const double na_term = std::pow(na / (k_na[i] + na), n_na[i]);
            j[i] = -vmax[i] * p.size[i] * voltage * na_term * ca / (k_ca[i] + ca);
        }
    }
};

} // namespace

const mechanism& mcu() {
    static const mcu_mechanism m;
    return m;
}

const mechanism& nclx() {
    static const nclx_mechanism m;
    return m;
}

} // namespace cadyn::mechanisms
