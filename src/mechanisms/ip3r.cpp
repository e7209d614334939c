// IP3 receptor: the IP3- and Ca-gated Ca release channel of the ER, in two forms.
//
//  - ip3r_dyk: the De Young & Keizer (1992) subunit model. Each of the three identical, independent subunits of
//    a channel has an IP3 site (i), an activating Ca site (j) and an inactivating Ca site (k); x_ijk is the
//    fraction of subunits in state ijk and the channel conducts when all three subunits are in x_110.
//  - ip3r_li_rinzel: the Li & Rinzel (1994) reduction of it: IP3 binding and Ca activation at equilibrium
//    (m_inf, n_inf), the slow Ca inactivation as one gate h.
//
// Both sit on the ER membrane (inner = lumen, outer = cytosol) and write the Ca flux into the lumen, so release
// is negative. The channel is an AND gate: no IP3, no opening; no Ca, no opening; too much Ca inactivates it.
//
// Capacity. In both papers the release flux per cytosolic volume is c1 v1 Po (c_er - c), with c1 = V_er / V_cyt:
// v1 = 6 s^-1 is a rate per ER volume. Here the capacity is a permeability per membrane area, P [um/ms], so that
// J = P A Po (c_er - c) [zmol/ms] and P A / V_er = v1. The reference compartment (mechanism_info::reference,
// inner = the ER) makes a rate written in a model file ("6 s^-1") convert with the ER's V/A: exactly v1.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "mechanisms/mechanisms.hpp"

namespace cadyn::mechanisms {
namespace {

constexpr double inf = std::numeric_limits<double>::infinity();

// Reads shared by both forms (indices into p.conc).
constexpr std::size_t read_ca_er = 0;  // inner: lumen
constexpr std::size_t read_ca_cyt = 1; // outer: cytosol
constexpr std::size_t read_ip3 = 2;    // outer: cytosol

// ---------------------------------------------------------------------------------------------------------------
// De Young & Keizer (1992)
// ---------------------------------------------------------------------------------------------------------------

// Subunit state index 4 i + 2 j + k (i: IP3 bound, j: activating Ca bound, k: inactivating Ca bound).
constexpr std::size_t state_index(std::size_t i, std::size_t j, std::size_t k) {
    return 4 * i + 2 * j + k;
}
constexpr std::size_t open_state = state_index(1, 1, 0);

// Parameter order in the table below.
enum dyk_param : std::size_t { p_perm, p_a1, p_a2, p_a3, p_a4, p_a5, p_d1, p_d2, p_d3, p_d4, p_d5, dyk_param_count };

struct dyk_rates {
    double a1, a2, a3, a4, a5, d1, d2, d3, d4, d5;
};

dyk_rates rates_of(const double* const* par, std::size_t i) {
    return {par[p_a1][i], par[p_a2][i], par[p_a3][i], par[p_a4][i], par[p_a5][i],
            par[p_d1][i], par[p_d2][i], par[p_d3][i], par[p_d4][i], par[p_d5][i]};
}

// The IP3 site and the inactivating site form a four-state cycle that does not depend on the activating site
// (and the activating site's rates do not depend on i or k), so the steady state factorises:
// x_ijk = pi(i, k) rho(j), with rho(1) = c / (c + d5). pi follows from the Markov-chain tree theorem (the weight of
// a node is the sum over spanning trees directed to it of the product of their rates), which holds with or without
// detailed balance. Cycle nodes: 0 = (i0,k0), 1 = (i1,k0), 2 = (i1,k1), 3 = (i0,k1).
std::array<double, 8> dyk_steady_state(const dyk_rates& r, double c, double p) {
    // forward[m]: m -> m+1; backward[m]: m+1 -> m.
    const std::array<double, 4> forward = {r.a1 * p, r.a2 * c, r.a3 * r.d3, r.a4 * r.d4};
    const std::array<double, 4> backward = {r.a1 * r.d1, r.a2 * r.d2, r.a3 * p, r.a4 * c};
    std::array<double, 4> weight{};
    double total = 0;
    for (std::size_t node = 0; node < 4; ++node) {
        double w = 0;
        for (std::size_t cut = 0; cut < 4; ++cut) {
            // Removing edge (cut, cut+1) leaves the line cut+1, cut+2, cut+3, cut. Nodes before `node` on that line
            // step forward towards it, nodes after it step backward.
            const std::size_t position = (node + 3 - cut) % 4;
            double product = 1;
            for (std::size_t s = 0; s < 4; ++s) {
                const std::size_t m = (cut + 1 + s) % 4;
                if (s < position) {
                    product *= forward[m];
                }
                else if (s > position) {
                    product *= backward[(m + 3) % 4];
                }
            }
            w += product;
        }
        weight[node] = w;
        total += w;
    }
    const double rho1 = c / (c + r.d5);
    const std::array<double, 4> pi = {weight[0] / total, weight[1] / total, weight[2] / total, weight[3] / total};
    // Map cycle nodes back to (i, k).
    const double pi_ik[2][2] = {{pi[0], pi[3]}, {pi[1], pi[2]}};
    std::array<double, 8> x{};
    for (std::size_t i = 0; i < 2; ++i) {
        for (std::size_t j = 0; j < 2; ++j) {
            for (std::size_t k = 0; k < 2; ++k) {
                x[state_index(i, j, k)] = pi_ik[i][k] * (j == 1 ? rho1 : 1 - rho1);
            }
        }
    }
    return x;
}

class ip3r_dyk_mechanism final: public mechanism {
public:
    const mechanism_info& info() const override {
        static const mechanism_info table{
            .name = "ip3r_dyk",
            .kind = mechanism_kind::membrane,
            .summary = "IP3 receptor, De Young-Keizer 8-state subunit model (IP3 AND Ca open it, Ca inactivates)",
            .equations =
                "Subunit states x_ijk (i: IP3, j: activating Ca, k: inactivating Ca bound); x_000 = 1 - sum of the "
                "other seven.\n"
                "IP3 site:        x_0jk <-> x_1jk  on a1 p, off a1 d1 (k = 0);  on a3 p, off a3 d3 (k = 1)\n"
                "activating site: x_i0k <-> x_i1k  on a5 c, off a5 d5\n"
                "inactivating:    x_ij0 <-> x_ij1  on a4 c, off a4 d4 (i = 0);  on a2 c, off a2 d2 (i = 1)\n"
                "Po = x_110^3 (three independent subunits);  J_in = P * area * Po * (c_out - c_in)  "
                "(Ca into the lumen; release is negative)\n"
                "c = cytosolic Ca, p = cytosolic IP3. Capacity: the paper's release per cytosolic volume is "
                "c1 v1 Po (c_er - c) with v1 = 6 s^-1 per ER volume and c1 = V_er/V_cyt, so P * area / V_er = v1; "
                "a rate written for permeability is converted with the ER's V/A and is v1 itself.\n"
                "States start at the steady state for the initial c and p (exact: the (i,k) cycle by the "
                "Markov-chain tree theorem times c/(c+d5) for j).",
            .citation = "De Young & Keizer (1992) PNAS 89:9895-9899 (model and rate constants a1..a5, d1..d5, "
                        "v1 = 6 s^-1)",
            .parameters =
                {
                    {"permeability", &dims::permeability, "6e-4 um/ms", 0, inf,
                     "channel permeability P per ER membrane area when all channels are open (default: v1 = "
                     "6 s^-1 for an ER with V/A = 0.1 um; a rate, 1/s, is taken per ER volume)"},
                    {"a1", &dims::second_order_rate, "400 uM^-1 s^-1", 0, inf,
                     "IP3 binding rate, inactivating site free"},
                    {"a2", &dims::second_order_rate, "0.2 uM^-1 s^-1", 0, inf,
                     "Ca binding rate at the inactivating site, IP3 bound"},
                    {"a3", &dims::second_order_rate, "400 uM^-1 s^-1", 0, inf,
                     "IP3 binding rate, inactivating site occupied"},
                    {"a4", &dims::second_order_rate, "0.2 uM^-1 s^-1", 0, inf,
                     "Ca binding rate at the inactivating site, IP3 free"},
                    {"a5", &dims::second_order_rate, "20 uM^-1 s^-1", 0, inf, "Ca binding rate at the activating site"},
                    {"d1", &dims::concentration, "0.13 uM", 0, inf,
                     "IP3 dissociation constant, inactivating site free"},
                    {"d2", &dims::concentration, "1.049 uM", 0, inf,
                     "inactivating-site Ca dissociation constant, IP3 bound"},
                    {"d3", &dims::concentration, "0.9434 uM", 0, inf,
                     "IP3 dissociation constant, inactivating site occupied"},
                    {"d4", &dims::concentration, "0.1445 uM", 0, inf,
                     "inactivating-site Ca dissociation constant, IP3 free (d1 d2 = d3 d4 within 0.04 %)"},
                    {"d5", &dims::concentration, "0.08234 uM", 1e-12, inf, "activating-site Ca dissociation constant"},
                },
            .reads = {{"ca", side::inner}, {"ca", side::outer}, {"ip3", side::outer}},
            .outputs = {"ca"},
            .states =
                {
                    {"x001", &dims::dimensionless, "fraction of subunits with only the inactivating Ca site bound", "",
                     0},
                    {"x010", &dims::dimensionless, "fraction with only the activating Ca site bound", "", 0},
                    {"x011", &dims::dimensionless, "fraction with both Ca sites bound, IP3 free", "", 0},
                    {"x100", &dims::dimensionless, "fraction with only IP3 bound", "", 0},
                    {"x101", &dims::dimensionless, "fraction with IP3 and the inactivating Ca bound", "", 0},
                    {"x110", &dims::dimensionless, "fraction with IP3 and the activating Ca bound (the open subunit)",
                     "", 0},
                    {"x111", &dims::dimensionless, "fraction with all three sites bound", "", 0},
                },
            .observables = {{"open_probability", "", "channel open probability x_110^3", false}},
        };
        return table;
    }

    void rates(const mechanism_pack& p) const override {
        for (std::size_t n = 0; n < p.n; ++n) {
            const dyk_rates r = rates_of(p.param, n);
            const double c = std::max(p.conc[read_ca_cyt][n], 0.0);
            const double ip3 = std::max(p.conc[read_ip3][n], 0.0);
            std::array<double, 8> x{};
            double others = 0;
            for (std::size_t s = 1; s < 8; ++s) {
                x[s] = p.state[s - 1][n];
                others += x[s];
            }
            x[0] = 1 - others; // conservation by construction

            std::array<double, 8> dx{};
            auto transition = [&](std::size_t from, std::size_t to, double on, double off) {
                const double net = on * x[from] - off * x[to];
                dx[from] -= net;
                dx[to] += net;
            };
            for (std::size_t a = 0; a < 2; ++a) {
                for (std::size_t b = 0; b < 2; ++b) {
                    // IP3 site: i = 0 -> 1 at (j, k) = (a, b); its affinity depends on the inactivating site.
                    const double ip3_on = b == 0 ? r.a1 : r.a3;
                    const double ip3_kd = b == 0 ? r.d1 : r.d3;
                    transition(state_index(0, a, b), state_index(1, a, b), ip3_on * ip3, ip3_on * ip3_kd);
                    // Activating site: j = 0 -> 1 at (i, k) = (a, b); independent of the others.
                    transition(state_index(a, 0, b), state_index(a, 1, b), r.a5 * c, r.a5 * r.d5);
                    // Inactivating site: k = 0 -> 1 at (i, j) = (a, b); IP3 binding lowers its Ca affinity.
                    const double inact_on = a == 0 ? r.a4 : r.a2;
                    const double inact_kd = a == 0 ? r.d4 : r.d2;
                    transition(state_index(a, b, 0), state_index(a, b, 1), inact_on * c, inact_on * inact_kd);
                }
            }
            for (std::size_t s = 1; s < 8; ++s) {
                p.dstate[s - 1][n] = dx[s];
            }
            const double open = std::max(x[open_state], 0.0);
            const double po = open * open * open;
            p.out[0][n] = p.param[p_perm][n] * p.size[n] * po * (p.conc[read_ca_cyt][n] - p.conc[read_ca_er][n]);
        }
    }

    void init(const mechanism_pack& p, double* const* state) const override {
        for (std::size_t n = 0; n < p.n; ++n) {
            const double c = std::max(p.conc[read_ca_cyt][n], 0.0);
            const double ip3 = std::max(p.conc[read_ip3][n], 0.0);
            const std::array<double, 8> x = dyk_steady_state(rates_of(p.param, n), c, ip3);
            for (std::size_t s = 1; s < 8; ++s) {
                state[s - 1][n] = x[s];
            }
        }
    }

    void observe(const mechanism_pack& p, double* const* out) const override {
        for (std::size_t n = 0; n < p.n; ++n) {
            const double open = std::max(p.state[open_state - 1][n], 0.0);
            out[0][n] = open * open * open;
        }
    }
};

// ---------------------------------------------------------------------------------------------------------------
// Li & Rinzel (1994)
// ---------------------------------------------------------------------------------------------------------------

enum lr_param : std::size_t { lr_perm, lr_d1, lr_d2, lr_d3, lr_d5, lr_a2 };

// Open probability m_inf^3 n_inf^3 h^3 for IP3 p, cytosolic Ca c (both >= 0) and gate h.
double li_rinzel_po(double p, double c, double h, double d1, double d5) {
    const double m = p / (p + d1);
    const double nn = c / (c + d5);
    const double g = m * nn * h;
    return g * g * g;
}

// Q2 = d2 (p + d1) / (p + d3): the effective inactivation dissociation constant; h_inf = Q2 / (Q2 + c).
double li_rinzel_q2(double p, double d1, double d2, double d3) {
    return d2 * (p + d1) / (p + d3);
}

class ip3r_li_rinzel_mechanism final: public mechanism {
public:
    const mechanism_info& info() const override {
        static const mechanism_info table{
            .name = "ip3r_li_rinzel",
            .kind = mechanism_kind::membrane,
            .summary = "IP3 receptor, Li-Rinzel two-variable reduction of De Young-Keizer (one slow inactivation "
                       "gate h)",
            .equations =
                "Po = m_inf^3 n_inf^3 h^3,  m_inf = p/(p + d1),  n_inf = c/(c + d5)\n"
                "dh/dt = a2 Q2 (1 - h) - a2 c h,  Q2 = d2 (p + d1)/(p + d3);  h starts at h_inf = Q2/(Q2 + c)\n"
                "J_in = P * area * Po * (c_out - c_in)    (Ca into the lumen; release is negative)\n"
                "c = cytosolic Ca, p = cytosolic IP3. Capacity: Li-Rinzel's release per cytosolic volume is "
                "c1 v1 Po (c_er - c) with v1 = 6 s^-1 per ER volume and c1 = V_er/V_cyt = 0.185, so "
                "P * area / V_er = v1 (equivalently P * area / V_cyt = c1 v1 = 1.11 s^-1); a rate written for "
                "permeability is converted with the ER's V/A and is v1 itself.",
            .citation = "Li & Rinzel (1994) J Theor Biol 166:461-473 (reduction and parameters v1, d1, d2, d3, d5, "
                        "a2); De Young & Keizer (1992) PNAS 89:9895-9899",
            .parameters = li_rinzel_parameters(
                "channel permeability P per ER membrane area when all channels are open (default: v1 = 6 s^-1 for "
                "an ER with V/A = 0.1 um; a rate, 1/s, is taken per ER volume)",
                "Ca binding rate at the inactivating site (sets the time scale of h)"),
            .reads = {{"ca", side::inner}, {"ca", side::outer}, {"ip3", side::outer}},
            .outputs = {"ca"},
            .states = {{"h", &dims::dimensionless, "fraction of subunits not inactivated by Ca", "", 0}},
            .observables = {{"open_probability", "", "channel open probability m_inf^3 n_inf^3 h^3", false}},
        };
        return table;
    }

    void rates(const mechanism_pack& p) const override {
        const auto& par = p.param;
        for (std::size_t n = 0; n < p.n; ++n) {
            const double c = std::max(p.conc[read_ca_cyt][n], 0.0);
            const double ip3 = std::max(p.conc[read_ip3][n], 0.0);
            const double h = p.state[0][n];
            const double q2 = li_rinzel_q2(ip3, par[lr_d1][n], par[lr_d2][n], par[lr_d3][n]);
            p.dstate[0][n] = par[lr_a2][n] * (q2 * (1 - h) - c * h);
            const double po = li_rinzel_po(ip3, c, h, par[lr_d1][n], par[lr_d5][n]);
            p.out[0][n] = par[lr_perm][n] * p.size[n] * po * (p.conc[read_ca_cyt][n] - p.conc[read_ca_er][n]);
        }
    }

    void init(const mechanism_pack& p, double* const* state) const override {
        const auto& par = p.param;
        for (std::size_t n = 0; n < p.n; ++n) {
            const double c = std::max(p.conc[read_ca_cyt][n], 0.0);
            const double ip3 = std::max(p.conc[read_ip3][n], 0.0);
            const double q2 = li_rinzel_q2(ip3, par[lr_d1][n], par[lr_d2][n], par[lr_d3][n]);
            // q2 + c > 0 whenever d2 > 0 or c > 0; with both zero nothing inactivates: h = 1.
            state[0][n] = q2 + c > 0 ? q2 / (q2 + c) : 1.0;
        }
    }

    void observe(const mechanism_pack& p, double* const* out) const override {
        const auto& par = p.param;
        for (std::size_t n = 0; n < p.n; ++n) {
            const double c = std::max(p.conc[read_ca_cyt][n], 0.0);
            const double ip3 = std::max(p.conc[read_ip3][n], 0.0);
            out[0][n] = li_rinzel_po(ip3, c, p.state[0][n], par[lr_d1][n], par[lr_d5][n]);
        }
    }
};

} // namespace

std::vector<field_info> li_rinzel_parameters(std::string_view permeability_meaning, std::string_view a2_meaning) {
    return {
        {"permeability", &dims::permeability, "6e-4 um/ms", 0, inf, permeability_meaning},
        {"d1", &dims::concentration, "0.13 uM", 1e-12, inf, "IP3 dissociation constant"},
        {"d2", &dims::concentration, "1.049 uM", 0, inf, "inactivating-site Ca dissociation constant"},
        {"d3", &dims::concentration, "0.9434 uM", 1e-12, inf,
         "IP3 dissociation constant with the inactivating site occupied"},
        {"d5", &dims::concentration, "0.08234 uM", 1e-12, inf, "activating-site Ca dissociation constant"},
        {"a2", &dims::second_order_rate, "0.2 uM^-1 s^-1", 0, inf, a2_meaning},
    };
}

const mechanism& ip3r_dyk() {
    static const ip3r_dyk_mechanism m;
    return m;
}

const mechanism& ip3r_li_rinzel() {
    static const ip3r_li_rinzel_mechanism m;
    return m;
}

} // namespace cadyn::mechanisms
