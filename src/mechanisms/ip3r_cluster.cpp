// A cluster of IP3 receptors that open and close one at a time: the stochastic form of the Li & Rinzel (1994)
// channel, as in Shuai & Jung (2002). Each of a cluster's N channels has three independent subunits with one slow
// inactivation gate h each; IP3 binding (m) and Ca activation (n) are at equilibrium. A channel conducts when its
// three h gates are open, with probability m_inf^3 n_inf^3 then (the deterministic factor of the Li-Rinzel open
// probability). The states count the channels with 0, 1, 2 and 3 open h gates; a gate opens at rate
// alpha = a2 Q2 and closes (Ca binds the inactivating site) at rate beta = a2 c, so a channel with k open gates
// gains one at (3 - k) alpha and loses one at k beta. Between transitions cytosolic and ER Ca follow their ODEs;
// the hybrid engine (docs/stochastic.md) picks the transition times exactly along the changing Ca.
//
// As N grows the fraction of open gates follows the deterministic dh/dt = alpha (1 - h) - beta h, and n3/N tends
// to h^3 (the three gates of a channel are independent): ip3r_li_rinzel is this cluster's mean-field limit, with
// the same parameters and the same capacity P (per ER membrane area, all channels open).
#include <algorithm>
#include <array>
#include <cmath>

#include "mechanisms/kinetics.hpp"
#include "mechanisms/mechanisms.hpp"

namespace cadyn::mechanisms {
namespace {

enum param : std::size_t { p_perm, p_d1, p_d2, p_d3, p_d5, p_a2, p_channels };
enum read : std::size_t { read_ca_er, read_ca_cyt, read_ip3 };
// States: n_k = channels with k open h gates (k = 0..3), then the engine's clock.
constexpr std::size_t clock_state = 4;

// alpha (gate opening) and beta (gate closing) [1/ms] at IP3 p and cytosolic Ca c (both >= 0).
struct gate_rates {
    double alpha;
    double beta;
};

gate_rates gate_rates_at(const double* const* par, std::size_t i, double p, double c) {
    const double q2 = par[p_d2][i] * (p + par[p_d1][i]) / (p + par[p_d3][i]);
    return {par[p_a2][i] * q2, par[p_a2][i] * c};
}

// m_inf^3 n_inf^3: the probability that a channel whose three h gates are open conducts.
double activation(const double* const* par, std::size_t i, double p, double c) {
    const double g = p / (p + par[p_d1][i]) * c / (c + par[p_d5][i]);
    return g * g * g;
}

// ip3r_li_rinzel's parameters (same names, defaults, sources) and the number of channels.
std::vector<field_info> cluster_parameters() {
    auto fields = li_rinzel_parameters("permeability P per ER membrane area when every channel of the cluster is open "
                                       "(a rate, 1/s, is taken per ER volume, as for ip3r_li_rinzel)",
                                       "Ca binding rate at the inactivating site (sets the time scale of the h gates)");
    fields.push_back({"channels", &dims::dimensionless, "20", 1, 1e9,
                      "number of channels N in the cluster (a whole number)"});
    return fields;
}

class ip3r_cluster_mechanism final: public mechanism {
public:
    const mechanism_info& info() const override {
        static const mechanism_info table{
            .name = "ip3r_cluster",
            .kind = mechanism_kind::membrane,
            .summary = "IP3 receptor cluster of N stochastic Li-Rinzel channels (puffs; hybrid stochastic engine)",
            .equations =
                "n_k = channels with k of their 3 h gates open (k = 0..3), n_0 + n_1 + n_2 + n_3 = N\n"
                "transitions: n_k -> n_(k+1) at (3 - k) n_k alpha,  n_k -> n_(k-1) at k n_k beta\n"
                "alpha = a2 Q2, Q2 = d2 (p + d1)/(p + d3);  beta = a2 c\n"
                "Po = m_inf^3 n_inf^3 n_3 / N,  m_inf = p/(p + d1),  n_inf = c/(c + d5)\n"
                "J_in = P * area * Po * (c_out - c_in)    (Ca into the lumen; release is negative)\n"
                "c = cytosolic Ca, p = cytosolic IP3. Starts with the N channels spread over k by the binomial "
                "distribution of 3 gates open with probability h_inf = Q2/(Q2 + c) (expected counts, rounded so "
                "they add to N). Mean-field limit (N -> infinity): ip3r_li_rinzel with the same parameters. The "
                "transition times come from the hybrid stochastic engine (docs/stochastic.md), seeded by run.seed.",
            .citation = "Shuai & Jung (2002) Biophys J 83:87-97 (stochastic Li-Rinzel channels in a cluster); Li & "
                        "Rinzel (1994) J Theor Biol 166:461-473 (gates and parameters)",
            .parameters = cluster_parameters(),
            .reads = {{"ca", side::inner}, {"ca", side::outer}, {"ip3", side::outer}},
            .outputs = {"ca"},
            .states =
                {
                    {"n0", &dims::dimensionless, "channels with no h gate open", "", 0},
                    {"n1", &dims::dimensionless, "channels with one h gate open", "", 0},
                    {"n2", &dims::dimensionless, "channels with two h gates open", "", 0},
                    {"n3", &dims::dimensionless, "channels with all three h gates open (they can conduct)", "", 0},
                    {"clock", &dims::dimensionless,
                     "integrated propensity since the last transition (the stochastic engine's clock)", "", 0},
                },
            .observables =
                {
                    {"open_probability", "", "fraction of the cluster conducting, m_inf^3 n_inf^3 n3/N", false},
                    {"h", "", "fraction of h gates open, (n1 + 2 n2 + 3 n3)/(3 N)", false},
                },
            .transitions =
                {
                    {0, 1, "a channel with no open h gate opens one (3 n0 alpha)"},
                    {1, 2, "a channel with one open h gate opens a second (2 n1 alpha)"},
                    {2, 3, "a channel with two open h gates opens the third (n2 alpha)"},
                    {1, 0, "a channel's only open h gate closes (n1 beta)"},
                    {2, 1, "one of a channel's two open h gates closes (2 n2 beta)"},
                    {3, 2, "one of a channel's three open h gates closes (3 n3 beta)"},
                },
        };
        return table;
    }

    void rates(const mechanism_pack& p) const override {
        const auto& par = p.param;
        for (std::size_t i = 0; i < p.n; ++i) {
            const double c = std::max(p.conc[read_ca_cyt][i], 0.0);
            const double ip3 = std::max(p.conc[read_ip3][i], 0.0);
            for (std::size_t s = 0; s <= clock_state; ++s) {
                p.dstate[s][i] = 0;  // counts change only by transitions; the engine sets the clock's rate
            }
            const double po = activation(par, i, ip3, c) * std::max(p.state[3][i], 0.0) / par[p_channels][i];
            p.out[0][i] = par[p_perm][i] * p.size[i] * po * (p.conc[read_ca_cyt][i] - p.conc[read_ca_er][i]);
        }
    }

    void propensities(const mechanism_pack& p, double* const* a) const override {
        const auto& par = p.param;
        for (std::size_t i = 0; i < p.n; ++i) {
            const double c = std::max(p.conc[read_ca_cyt][i], 0.0);
            const double ip3 = std::max(p.conc[read_ip3][i], 0.0);
            const auto [alpha, beta] = gate_rates_at(par, i, ip3, c);
            const double n0 = std::max(p.state[0][i], 0.0);
            const double n1 = std::max(p.state[1][i], 0.0);
            const double n2 = std::max(p.state[2][i], 0.0);
            const double n3 = std::max(p.state[3][i], 0.0);
            a[0][i] = 3 * n0 * alpha;
            a[1][i] = 2 * n1 * alpha;
            a[2][i] = n2 * alpha;
            a[3][i] = n1 * beta;
            a[4][i] = 2 * n2 * beta;
            a[5][i] = 3 * n3 * beta;
        }
    }

    void init(const mechanism_pack& p, double* const* state) const override {
        const auto& par = p.param;
        for (std::size_t i = 0; i < p.n; ++i) {
            const double channels = whole_channels("ip3r_cluster", par[p_channels][i]);
            const double c = std::max(p.conc[read_ca_cyt][i], 0.0);
            const double ip3 = std::max(p.conc[read_ip3][i], 0.0);
            const auto [alpha, beta] = gate_rates_at(par, i, ip3, c);
            const double h = alpha + beta > 0 ? alpha / (alpha + beta) : 1.0;
            // Expected counts N C(3,k) h^k (1-h)^(3-k), rounded down, then the channels left over go to the
            // largest remainders.
            const std::array<double, 4> expected = {channels * (1 - h) * (1 - h) * (1 - h),
                                                    channels * 3 * h * (1 - h) * (1 - h), channels * 3 * h * h * (1 - h),
                                                    channels * h * h * h};
            place_channels(expected, channels, state, i);
            state[clock_state][i] = 0;
        }
    }

    void observe(const mechanism_pack& p, double* const* out) const override {
        const auto& par = p.param;
        for (std::size_t i = 0; i < p.n; ++i) {
            const double c = std::max(p.conc[read_ca_cyt][i], 0.0);
            const double ip3 = std::max(p.conc[read_ip3][i], 0.0);
            const double channels = par[p_channels][i];
            out[0][i] = activation(par, i, ip3, c) * std::max(p.state[3][i], 0.0) / channels;
            out[1][i] = (p.state[1][i] + 2 * p.state[2][i] + 3 * p.state[3][i]) / (3 * channels);
        }
    }
};

} // namespace

const mechanism& ip3r_cluster() {
    static const ip3r_cluster_mechanism m;
    return m;
}

} // namespace cadyn::mechanisms
