// Ryanodine receptor: calcium-induced calcium release (CICR) from the ER.
//
// A Ca-gated Ca channel of the ER membrane (inner = lumen, outer = cytosol). Cytosolic Ca opens it steeply and
// instantly (Hill form, threshold ~2 uM), so once a trigger pushes the cytosol past the point where release
// outruns reuptake, the released Ca opens more channels: a regenerative, all-or-none release. Three things end
// it or prevent it:
//  - adaptation: an activated channel passes, Ca-independently, into an adapted (closed) state from which it
//    recovers slowly (the O1 -> C2 step of Keizer & Levine 1996, after Gyorke & Fill 1993); here one gate h, the
//    fraction not adapted;
//  - the luminal Ca sensor: release needs a loaded store (a cadyn extension, a Hill factor in the ER Ca with the
//    EC50 and slope of the SR-Ca dependence in Shannon et al. 2004), so a depleted ER neither ignites nor
//    sustains release;
//  - the store running down, which shrinks the driving force c_er - c.
// The flux is written into the lumen, so release is negative.
#include <algorithm>
#include <limits>

#include "mechanisms/kinetics.hpp"
#include "mechanisms/mechanisms.hpp"

namespace cadyn::mechanisms {
namespace {

constexpr double inf = std::numeric_limits<double>::infinity();

enum ryr_param : std::size_t { p_perm, p_kd, p_hill, p_kd_lumen, p_hill_lumen, p_k_adapt, p_k_recover };

constexpr std::size_t read_ca_er = 0;  // inner: lumen (the substrate; reference compartment for rates)
constexpr std::size_t read_ca_cyt = 1; // outer: cytosol

// Steady state of the adaptation gate at activation a: k_recover (1 - h) = k_adapt a h.
double h_inf(double activation, double k_adapt, double k_recover) {
    const double denominator = k_recover + k_adapt * activation;
    return denominator > 0 ? k_recover / denominator : 1.0;
}

class ryr_mechanism final: public mechanism {
public:
    const mechanism_info& info() const override {
        static const mechanism_info table{
            .name = "ryr",
            .kind = mechanism_kind::membrane,
            .summary = "Ryanodine receptor: Ca-induced Ca release from the ER (threshold ~2 uM, needs a loaded store, "
                       "adapts)",
            .equations =
                "a = c^n / (K^n + c^n)    (fast Ca activation, c = cytosolic Ca; n = 4 as in the c^4 opening step of "
                "Keizer-Levine)\n"
                "L = c_er^m / (K_lum^m + c_er^m)    (luminal Ca sensor; cadyn extension)\n"
                "dh/dt = k_recover (1 - h) - k_adapt a h    (adaptation; h starts at k_recover/(k_recover + "
                "k_adapt a))\n"
                "Po = a h L;   J_in = P * area * Po * (c_out - c_in)    (Ca into the lumen; release is negative)\n"
                "Capacity: P * area / V_er is the release rate constant per ER volume; a rate written for "
                "permeability is converted with the ER's V/A. At rest (c = 0.1 uM) a = 6e-6: no sustained release.\n"
                "Defaults: with SERCA 50 uM/s (K 0.2 uM) and an ER of 5 % of the cytosol loaded to 0.5 mM, a trigger "
                "peaking above ~1.3 uM ignites release that empties ~40 % of the ER; with the ER at 0.05 mM nothing "
                "ignites.",
            .citation = "Hill-type CICR with adaptation after Keizer & Levine (1996) Biophys J 71:3477-3487 "
                        "(adaptation rates kc+ = 1.75 s^-1, kc- = 0.1 s^-1) and Gyorke & Fill (1993) Science "
                        "260:807-809; threshold ~2 uM: cadyn default; luminal sensor EC50 0.45 mM, slope 2.5 from "
                        "the SR-Ca dependence of Shannon, Wang, Puglisi, Weber & Bers (2004) Biophys J 87:3351-3371",
            .parameters = ryr_parameters(),
            .reads = {{"ca", side::inner}, {"ca", side::outer}},
            .outputs = {"ca"},
            .states = {{"h", &dims::dimensionless, "fraction of channels not adapted", "", 0}},
            .observables = {{"open_probability", "", "channel open probability a h L", false}},
        };
        return table;
    }

    void rates(const mechanism_pack& p) const override {
        const auto& par = p.param;
        for (std::size_t i = 0; i < p.n; ++i) {
            const double c = p.conc[read_ca_cyt][i];
            const double c_er = p.conc[read_ca_er][i];
            const double a = hill(c, par[p_kd][i], par[p_hill][i]);
            const double lumen = luminal(c_er, par[p_kd_lumen][i], par[p_hill_lumen][i]);
            const double h = p.state[0][i];
            p.dstate[0][i] = par[p_k_recover][i] * (1 - h) - par[p_k_adapt][i] * a * h;
            p.out[0][i] = par[p_perm][i] * p.size[i] * a * h * lumen * (c - c_er);
        }
    }

    void init(const mechanism_pack& p, double* const* state) const override {
        const auto& par = p.param;
        for (std::size_t i = 0; i < p.n; ++i) {
            const double a = hill(p.conc[read_ca_cyt][i], par[p_kd][i], par[p_hill][i]);
            state[0][i] = h_inf(a, par[p_k_adapt][i], par[p_k_recover][i]);
        }
    }

    void observe(const mechanism_pack& p, double* const* out) const override {
        const auto& par = p.param;
        for (std::size_t i = 0; i < p.n; ++i) {
            const double a = hill(p.conc[read_ca_cyt][i], par[p_kd][i], par[p_hill][i]);
            const double lumen = luminal(p.conc[read_ca_er][i], par[p_kd_lumen][i], par[p_hill_lumen][i]);
            out[0][i] = a * p.state[0][i] * lumen;
        }
    }

private:
    // The luminal factor; K_lum = 0 switches it off (factor 1 for any load).
    static double luminal(double c_er, double k, double m) { return k > 0 ? hill(c_er, k, m) : 1.0; }
};

} // namespace

// The parameter table of the ryr mechanism (ryr_cluster shares it and adds its own).
std::vector<field_info> ryr_parameters() {
    return {
        {"permeability", &dims::permeability, "1.6e-3 um/ms", 0, inf,
         "permeability P per ER membrane area with every channel open (default: 16 s^-1 of an ER with "
         "V/A = 0.1 um; a rate, 1/s, is taken per ER volume)"},
        {"kd", &dims::concentration, "2 uM", 1e-12, inf, "cytosolic Ca for half activation K (threshold)"},
        {"hill", &dims::dimensionless, "4", 1, 10, "Hill coefficient n of Ca activation"},
        {"kd_lumen", &dims::concentration, "450 uM", 0, inf,
         "ER Ca for half the luminal factor K_lum (0: no luminal dependence)"},
        {"hill_lumen", &dims::dimensionless, "2.5", 0.1, 10, "Hill coefficient m of the luminal factor"},
        {"k_adapt", &dims::rate, "1.75 s^-1", 0, inf, "rate at which activated channels adapt (close)"},
        {"k_recover", &dims::rate, "0.1 s^-1", 0, inf, "rate of recovery from adaptation"},
    };
}

const mechanism& ryr() {
    static const ryr_mechanism m;
    return m;
}

} // namespace cadyn::mechanisms
