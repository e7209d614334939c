// A cluster of ryanodine receptors that open, close and adapt one at a time: sparks. The stochastic form of the
// ryr mechanism (src/mechanisms/ryr.cpp). Each of the N channels is closed (C), open (O) or adapted (A):
//   C -> O at k_close (c/K)^n      (Ca binds the activating sites: steep, threshold K)
//   O -> C at k_close              (the channel closes; its mean open time is 1/k_close)
//   O -> A at k_adapt              (an activated channel adapts: Keizer & Levine 1996, Gyorke & Fill 1993)
//   A -> C at k_recover            (recovery)
// and conducts while open, scaled by the luminal factor L(c_er). As k_close grows the open fraction of the
// channels not adapted tends to the ryr mechanism's instantaneous activation a = c^n/(K^n + c^n), the adapted
// fraction follows ryr's dh/dt = k_recover (1 - h) - k_adapt a h, and as N grows the cluster is ryr: the same
// parameters, the same capacity. With few channels release starts by chance (one opening raises the local Ca that
// opens the others) and ends as its channels close and adapt: a spark. Between transitions Ca follows its ODEs;
// the hybrid engine (docs/stochastic.md) times the transitions exactly along the changing Ca.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "mechanisms/kinetics.hpp"
#include "mechanisms/mechanisms.hpp"

namespace cadyn::mechanisms {
namespace {

// ryr's parameters first (ryr_parameters()), then these two.
enum param : std::size_t { p_perm, p_kd, p_hill, p_kd_lumen, p_hill_lumen, p_k_adapt, p_k_recover, p_k_close,
                           p_channels };
enum read : std::size_t { read_ca_er, read_ca_cyt };
enum state : std::size_t { s_closed, s_open, s_adapted, s_clock };

// (c/K)^n, the opening rate over k_close; a negative c counts as 0.
double activation_ratio(double c, double k, double n) {
    const double x = std::max(c, 0.0) / k;
    return n == 4.0 ? (x * x) * (x * x) : std::pow(x, n);
}

double luminal(double c_er, double k, double m) { return k > 0 ? hill(c_er, k, m) : 1.0; }

std::vector<field_info> cluster_parameters() {
    auto fields = ryr_parameters();
    fields.push_back({"k_close", &dims::rate, "1 ms^-1", 1e-12, std::numeric_limits<double>::infinity(),
                      "rate at which an open channel closes (mean open time 1/k_close); opening runs at "
                      "k_close (c/K)^n"});
    fields.push_back({"channels", &dims::dimensionless, "50", 1, 1e9,
                      "number of channels N in the cluster (a whole number)"});
    return fields;
}

class ryr_cluster_mechanism final: public mechanism {
public:
    const mechanism_info& info() const override {
        static const mechanism_info table{
            .name = "ryr_cluster",
            .kind = mechanism_kind::membrane,
            .summary = "Ryanodine receptor cluster of N stochastic channels: closed, open, adapted (sparks; hybrid "
                       "stochastic engine)",
            .equations =
                "n_C + n_O + n_A = N;  C -> O at k_close (c/K)^n,  O -> C at k_close,  O -> A at k_adapt,  "
                "A -> C at k_recover (per channel)\n"
                "L = c_er^m / (K_lum^m + c_er^m)    (luminal Ca sensor, as ryr)\n"
                "Po = L n_O / N;   J_in = P * area * Po * (c_out - c_in)    (Ca into the lumen; release is negative)\n"
                "c = cytosolic Ca. Starts with the channels at the stationary distribution of one channel at the "
                "initial Ca (expected counts, rounded so they add to N). Limit k_close -> infinity, N -> infinity: "
                "the ryr mechanism with the same parameters (open fraction of the channels not adapted a = c^n/(K^n "
                "+ c^n)). Transition times from the hybrid stochastic engine (docs/stochastic.md), seeded by "
                "run.seed.",
            .citation = "the ryr mechanism's form and parameters (Keizer & Levine 1996 Biophys J 71:3477-3487 "
                        "adaptation; Gyorke & Fill 1993 Science 260:807-809; Shannon et al. 2004 luminal sensor) as a "
                        "continuous-time Markov chain per channel, after the stochastic spark models reviewed by "
                        "Hinch (2004) Biophys J 86:1293-1307; k_close 1 ms^-1 (1 ms mean open time): cadyn default",
            .parameters = cluster_parameters(),
            .reads = {{"ca", side::inner}, {"ca", side::outer}},
            .outputs = {"ca"},
            .states =
                {
                    {"closed", &dims::dimensionless, "channels closed and ready to open", "", 0},
                    {"open", &dims::dimensionless, "channels open", "", 0},
                    {"adapted", &dims::dimensionless, "channels adapted (closed until they recover)", "", 0},
                    {"clock", &dims::dimensionless,
                     "integrated propensity since the last transition (the stochastic engine's clock)", "", 0},
                },
            .observables = {{"open_probability", "", "fraction of the cluster conducting, L n_O/N", false}},
            .transitions =
                {
                    {s_closed, s_open, "a closed channel opens (n_C k_close (c/K)^n)"},
                    {s_open, s_closed, "an open channel closes (n_O k_close)"},
                    {s_open, s_adapted, "an open channel adapts (n_O k_adapt)"},
                    {s_adapted, s_closed, "an adapted channel recovers (n_A k_recover)"},
                },
        };
        return table;
    }

    void rates(const mechanism_pack& p) const override {
        const auto& par = p.param;
        for (std::size_t i = 0; i < p.n; ++i) {
            for (std::size_t s = 0; s <= s_clock; ++s) {
                p.dstate[s][i] = 0;  // counts change only by transitions; the engine sets the clock's rate
            }
            const double c = p.conc[read_ca_cyt][i];
            const double c_er = p.conc[read_ca_er][i];
            const double po = luminal(c_er, par[p_kd_lumen][i], par[p_hill_lumen][i]) *
                              std::max(p.state[s_open][i], 0.0) / par[p_channels][i];
            p.out[0][i] = par[p_perm][i] * p.size[i] * po * (c - c_er);
        }
    }

    void propensities(const mechanism_pack& p, double* const* a) const override {
        const auto& par = p.param;
        for (std::size_t i = 0; i < p.n; ++i) {
            const double k_close = par[p_k_close][i];
            const double open = std::max(p.state[s_open][i], 0.0);
            a[0][i] = std::max(p.state[s_closed][i], 0.0) * k_close *
                      activation_ratio(p.conc[read_ca_cyt][i], par[p_kd][i], par[p_hill][i]);
            a[1][i] = open * k_close;
            a[2][i] = open * par[p_k_adapt][i];
            a[3][i] = std::max(p.state[s_adapted][i], 0.0) * par[p_k_recover][i];
        }
    }

    void init(const mechanism_pack& p, double* const* state) const override {
        const auto& par = p.param;
        for (std::size_t i = 0; i < p.n; ++i) {
            const double channels = whole_channels("ryr_cluster", par[p_channels][i]);
            // One channel's stationary distribution: pi_O = pi_C alpha / (k_close + k_adapt),
            // pi_A = pi_O k_adapt / k_recover (all adapted when nothing recovers).
            const double alpha =
                par[p_k_close][i] * activation_ratio(p.conc[read_ca_cyt][i], par[p_kd][i], par[p_hill][i]);
            const double open = alpha / (par[p_k_close][i] + par[p_k_adapt][i]);
            const double k_recover = par[p_k_recover][i];
            const double adapted = k_recover > 0 ? open * par[p_k_adapt][i] / k_recover : 0.0;
            const double total = 1 + open + adapted;
            const std::array<double, 3> expected = {channels / total, channels * open / total,
                                                    channels * adapted / total};
            place_channels(expected, channels, state, i);
            state[s_clock][i] = 0;
        }
    }

    void observe(const mechanism_pack& p, double* const* out) const override {
        const auto& par = p.param;
        for (std::size_t i = 0; i < p.n; ++i) {
            out[0][i] = luminal(p.conc[read_ca_er][i], par[p_kd_lumen][i], par[p_hill_lumen][i]) *
                        std::max(p.state[s_open][i], 0.0) / par[p_channels][i];
        }
    }
};

} // namespace

const mechanism& ryr_cluster() {
    static const ryr_cluster_mechanism m;
    return m;
}

} // namespace cadyn::mechanisms
