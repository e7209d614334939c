// PMCA with calmodulin activation: a plasma-membrane Ca2+-ATPase whose activity is raised slowly by Ca-CaM.
//
// The PMCA's C-terminal autoinhibitory domain keeps the pump at a basal activity until Ca-calmodulin binds and
// releases it. For the PMCA4b isoform that activation (and the matching deactivation when Ca falls) takes tens
// of seconds, so after a Ca load the pump stays activated for a while: at the same cytosolic Ca it extrudes
// faster on the way down than it did on the way up ("PMCA memory"). A single activation variable a in [0, 1]
// relaxes to its Ca-dependent steady state a_inf(c) with one time constant tau_a.
#include <limits>

#include "mechanisms/kinetics.hpp"
#include "mechanisms/mechanisms.hpp"

namespace cadyn::mechanisms {
namespace {

constexpr double inf = std::numeric_limits<double>::infinity();

class pmca_cam_mechanism final: public mechanism {
public:
    const mechanism_info& info() const override {
        static const mechanism_info table{
            .name = "pmca_cam",
            .kind = mechanism_kind::membrane,
            .summary = "PMCA activated slowly by Ca-calmodulin (PMCA4b 'memory'): high affinity, low capacity",
            .equations = "J_out = vmax * area * (f_basal + (1 - f_basal) a) * c^n / (K^n + c^n)    (Ca leaving "
                         "the inner compartment)\n"
                         "da/dt = (a_inf(c) - a) / tau_a,   a_inf(c) = c^m / (K_cam^m + c^m),   a(0) = a_inf(c(0))",
            .citation = "Slow CaM activation of PMCA4b (tens of seconds): Caride et al. (2007) J Biol Chem "
                        "282:25640-25648; pump K0.5 ~0.2 uM and autoinhibition by the C-terminus: Brini & Carafoli "
                        "(2009) Physiol Rev 89:1341-1378",
            .parameters =
                {
                    {"vmax", &dims::flux_density, "20 pmol/cm^2/s", 0, inf,
                     "maximal flux of the fully CaM-activated pump per membrane area (may be given as uM/s of the "
                     "inner compartment)"},
                    {"kd", &dims::concentration, "0.2 uM", 1e-12, inf,
                     "half-activation concentration K0.5 of the transport site"},
                    {"hill", &dims::dimensionless, "1", 0.1, 10, "Hill coefficient n of the transport site"},
                    {"f_basal", &dims::dimensionless, "0.1", 0, 1,
                     "activity of the autoinhibited (CaM-free) pump relative to the activated one"},
                    {"kd_cam", &dims::concentration, "0.5 uM", 1e-12, inf,
                     "Ca concentration of half-maximal steady-state activation by Ca-CaM"},
                    {"hill_cam", &dims::dimensionless, "2", 0.1, 10,
                     "Hill coefficient m of the activation (Ca-CaM formation is cooperative)"},
                    {"tau_a", &dims::time, "30 s", 1e-9, inf,
                     "time constant of activation and deactivation (PMCA4b: tens of seconds)"},
                },
            .reads = {{"ca", side::inner}},
            .outputs = {"ca"},
            .states = {{"a", &dims::dimensionless, "fraction of pumps activated by Ca-calmodulin", "", 0}},
            .energy = energy_source::atp,
            .atp_per_flux = -1.0,
        };
        return table;
    }

    void rates(const mechanism_pack& p) const override {
        const double* vmax = p.param[0];
        const double* kd = p.param[1];
        const double* n = p.param[2];
        const double* f_basal = p.param[3];
        const double* kd_cam = p.param[4];
        const double* m = p.param[5];
        const double* tau = p.param[6];
        const double* c = p.conc[0];
        const double* a = p.state[0];
        double* da = p.dstate[0];
        double* j = p.out[0];
        for (std::size_t i = 0; i < p.n; ++i) {
            const double activity = f_basal[i] + (1.0 - f_basal[i]) * a[i];
            j[i] = -vmax[i] * p.size[i] * activity * hill(c[i], kd[i], n[i]);
            da[i] = (hill(c[i], kd_cam[i], m[i]) - a[i]) / tau[i];
        }
    }

    // Start with the activation in steady state with the initial Ca.
    void init(const mechanism_pack& p, double* const* state) const override {
        for (std::size_t i = 0; i < p.n; ++i) {
            state[0][i] = hill(p.conc[0][i], p.param[4][i], p.param[5][i]);
        }
    }
};

} // namespace

const mechanism& pmca_cam() {
    static const pmca_cam_mechanism m;
    return m;
}

} // namespace cadyn::mechanisms
