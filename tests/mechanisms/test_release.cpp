// ER release channels: the IP3 receptor (De Young & Keizer 1992 and the Li & Rinzel 1994 reduction) and the
// ryanodine receptor (CICR). All three sit on the ER membrane (inner = lumen, outer = cytosol) and write the Ca
// flux into the lumen, so release is negative:
//
//   J_in = P * A * Po * (c_cyt - c_er)                                   [zmol/ms]
//   Li-Rinzel: Po = m^3 n^3 h^3, m = p/(p + d1), n = c/(c + d5), dh/dt = a2 (Q2 (1 - h) - c h), Q2 = d2 (p+d1)/(p+d3)
//   De Young-Keizer: Po = x110^3 over the 8-state subunit scheme
//   RyR: Po = c^n/(K^n + c^n) * h * c_er^m/(K_lum^m + c_er^m), dh/dt = k_rec (1 - h) - k_adapt a h
//
// Validations: the Li-Rinzel cell (c0 = 2 uM, c1 = 0.185, SERCA 0.9 uM/s, leak 0.11 s^-1) oscillates inside an
// IP3 window bounded by Hopf points (lower one quoted at 0.355 uM) and rests outside it; the DYK steady state is
// the closed form and is bell-shaped in Ca (Bezprozvanny, Watras & Ehrlich 1991 Nature 351:751-754; DYK 1992);
// the RyR ignites regenerative release above a trigger of ~2 uM only when the ER is loaded (the seed's CICR
// claims).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cadyn/catalogue.hpp>
#include <cadyn/simulate.hpp>
#include <cadyn/units.hpp>

#include "mechanism_harness.hpp"
#include "run_helpers.hpp"

namespace cadyn {
namespace {

using testing_support::all_near;
using testing_support::mechanism_harness;
using testing_support::metadata_is_consistent;

double default_of(const mechanism_info& info, std::string_view name) {
    const int j = info.parameter_index(name);
    if (j < 0) {
        ADD_FAILURE() << info.name << " has no parameter " << name;
        return std::numeric_limits<double>::quiet_NaN();
    }
    return default_value(info.parameters[static_cast<std::size_t>(j)]);
}

// Reads of every release channel: ER Ca first (the substrate, so a per-volume rate refers to the ER), then
// cytosolic Ca.
void expect_release_reads(const mechanism_info& info, bool reads_ip3) {
    ASSERT_EQ(info.reads.size(), reads_ip3 ? 3u : 2u);
    EXPECT_EQ(info.reads[0].species, "ca");
    EXPECT_EQ(info.reads[0].where, side::inner);
    EXPECT_EQ(info.reads[1].species, "ca");
    EXPECT_EQ(info.reads[1].where, side::outer);
    if (reads_ip3) {
        EXPECT_EQ(info.reads[2].species, "ip3");
        EXPECT_EQ(info.reads[2].where, side::outer);
    }
    ASSERT_EQ(info.outputs.size(), 1u);
    EXPECT_EQ(info.outputs[0], "ca");
    EXPECT_EQ(info.kind, mechanism_kind::membrane);
    EXPECT_FALSE(info.is_stimulus);
    ASSERT_EQ(info.observables.size(), 1u);
    EXPECT_EQ(info.observables[0].name, "open_probability");
    EXPECT_EQ(info.observables[0].unit, "");
    EXPECT_GE(info.parameter_index("permeability"), 0);
    for (const state_info& s: info.states) {
        EXPECT_EQ(s.dim, &dims::dimensionless) << s.name;
        EXPECT_TRUE(s.carries.empty()) << s.name; // gates and subunit fractions hold no Ca
    }
}

// ------------------------------------------------------------------------------------------------------------
// Li-Rinzel closed forms
// ------------------------------------------------------------------------------------------------------------

struct li_rinzel_params {
    double d1 = 0.13, d2 = 1.049, d3 = 0.9434, d5 = 0.08234, a2 = 0.2e-3; // uM, 1/(uM ms)
};

double lr_q2(double p, const li_rinzel_params& k) {
    return k.d2 * (p + k.d1) / (p + k.d3);
}
double lr_h_inf(double c, double p, const li_rinzel_params& k) {
    return lr_q2(p, k) / (lr_q2(p, k) + c);
}
double lr_po(double c, double p, double h, const li_rinzel_params& k) {
    return std::pow(p / (p + k.d1) * c / (c + k.d5) * h, 3);
}

TEST(ip3r_li_rinzel, metadata) {
    const mechanism* m = find_mechanism("ip3r_li_rinzel");
    ASSERT_NE(m, nullptr);
    EXPECT_TRUE(metadata_is_consistent(*m));
    const mechanism_info& info = m->info();
    expect_release_reads(info, true);
    ASSERT_EQ(info.states.size(), 1u);
    EXPECT_EQ(info.states[0].name, "h");
    // Li & Rinzel (1994) Table: d1 = 0.13, d2 = 1.049, d3 = 0.9434, d5 = 0.08234 uM, a2 = 0.2 uM^-1 s^-1.
    EXPECT_DOUBLE_EQ(default_of(info, "d1"), 0.13);
    EXPECT_DOUBLE_EQ(default_of(info, "d2"), 1.049);
    EXPECT_DOUBLE_EQ(default_of(info, "d3"), 0.9434);
    EXPECT_DOUBLE_EQ(default_of(info, "d5"), 0.08234);
    EXPECT_NEAR(default_of(info, "a2"), 0.2e-3, 1e-18);
    // v1 = 6 s^-1 per ER volume for the documented reference V/A = 0.1 um.
    EXPECT_NEAR(default_of(info, "permeability"), 6e-3 * 0.1, 1e-18);
}

TEST(ip3r_li_rinzel, kernel_matches_closed_form_over_five_instances) {
    mechanism_harness h("ip3r_li_rinzel", 5);
    h.param("permeability") = {6e-4, 1e-3, 2e-5, 0.3, 0.0};
    h.param("d1") = {0.13, 0.5, 0.05, 1.0, 0.13};
    h.param("d2") = {1.049, 0.3, 2.0, 1.0, 1.049};
    h.param("d3") = {0.9434, 0.2, 3.0, 0.5, 0.9434};
    h.param("d5") = {0.08234, 0.2, 0.01, 0.5, 0.08234};
    h.param("a2") = {0.2e-3, 1e-3, 5e-5, 0.01, 0.2e-3};
    h.size = {1850.0, 10.0, 3e4, 1.0, 50.0};
    h.conc("ca", side::inner) = {400.0, 10.0, 2000.0, 0.05, 300.0};
    h.conc("ca", side::outer) = {0.1, 0.5, 3.0, 0.2, 0.1};
    h.conc("ip3", side::outer) = {0.4, 0.0, 10.0, 0.3, 1.0};
    h.state(0) = {0.7, 0.2, 1.0, 0.6, 0.5};
    h.rates();

    std::vector<double> flux(5);
    std::vector<double> dh(5);
    for (std::size_t i = 0; i < 5; ++i) {
        const li_rinzel_params k{h.param("d1")[i], h.param("d2")[i], h.param("d3")[i], h.param("d5")[i],
                                 h.param("a2")[i]};
        const double c = h.conc(1)[i];
        const double p = h.conc(2)[i];
        const double gate = h.state(0)[i];
        flux[i] = h.param("permeability")[i] * h.size[i] * lr_po(c, p, gate, k) * (c - h.conc(0)[i]);
        dh[i] = k.a2 * (lr_q2(p, k) * (1 - gate) - c * gate);
    }
    EXPECT_TRUE(all_near(h.out(0), flux, 1e-13));
    EXPECT_TRUE(all_near(h.dstate(0), dh, 1e-13, 1e-300));
    // Release leaves the lumen; no IP3 (instance 1) or no capacity (instance 4): no flux.
    EXPECT_LT(h.out(0)[0], 0.0);
    EXPECT_EQ(h.out(0)[1], 0.0);
    EXPECT_EQ(h.out(0)[4], 0.0);
    // Against the gradient (instance 3: cytosol above the lumen) the flux reverses: a channel, not a pump.
    EXPECT_GT(h.out(0)[3], 0.0);
}

TEST(ip3r_li_rinzel, init_at_h_inf_and_observe_open_probability) {
    mechanism_harness h("ip3r_li_rinzel", 4);
    h.conc("ca", side::outer) = {0.05, 0.2, 1.0, -1e-9};
    h.conc("ip3", side::outer) = {0.4, 1.0, 0.1, 0.5};
    h.conc("ca", side::inner) = {400.0, 400.0, 400.0, 400.0};
    h.init();
    const li_rinzel_params k;
    std::vector<double> expected(4);
    for (std::size_t i = 0; i < 4; ++i) {
        expected[i] = lr_h_inf(std::max(h.conc(1)[i], 0.0), h.conc(2)[i], k);
    }
    EXPECT_TRUE(all_near(h.state(0), expected, 1e-14));
    EXPECT_DOUBLE_EQ(h.state(0)[3], 1.0); // a (numerically) negative Ca counts as none: nothing inactivated
    // At h = h_inf the gate does not move.
    h.rates();
    EXPECT_TRUE(all_near(h.dstate(0), {0.0, 0.0, 0.0, 0.0}, 0, 1e-18));
    for (std::size_t i = 0; i < 4; ++i) {
        EXPECT_TRUE(std::isfinite(h.out(0)[i]));
    }

    std::vector<double> po(4);
    std::vector<double> out_po(4);
    double* outs[] = {out_po.data()};
    h.mech().observe(h.pack(), outs);
    for (std::size_t i = 0; i < 4; ++i) {
        po[i] = lr_po(std::max(h.conc(1)[i], 0.0), h.conc(2)[i], h.state(0)[i], k);
    }
    EXPECT_TRUE(all_near(out_po, po, 1e-14));
}

// The Li-Rinzel cell, with the channel's flux taken from the kernel and SERCA and the leak in closed form
// (Li & Rinzel 1994 eq. 1; De Young & Keizer 1992):
//   dc/dt = -J_kernel / V_cyt - v3 c^2/(k3^2 + c^2) + c1 v2 (c_er - c),  c_er = (c0 - c)/c1
class li_rinzel_cell {
public:
    static constexpr double c0 = 2.0, c1 = 0.185, v2 = 0.11e-3, v3 = 0.9e-3, k3 = 0.1; // uM, 1/ms, uM/ms
    static constexpr double v_cyt = 1000.0, v_er = c1 * v_cyt, area = 1850.0;          // um^3, um^2

    li_rinzel_cell(): h_("ip3r_li_rinzel", 1) {
        h_.set_param("permeability", 6e-3 * v_er / area); // v1 = 6 s^-1 per ER volume
        h_.size = {area};
    }

    // (dc/dt, dh/dt) at cytosolic Ca c, gate g and IP3 p.
    std::array<double, 2> rhs(double c, double g, double p) {
        h_.conc(0) = {(c0 - c) / c1};
        h_.conc(1) = {c};
        h_.conc(2) = {p};
        h_.state(0) = {g};
        h_.rates();
        const double c_er = (c0 - c) / c1;
        const double dc = -h_.out(0)[0] / v_cyt - v3 * c * c / (k3 * k3 + c * c) + c1 * v2 * (c_er - c);
        return {dc, h_.dstate(0)[0]};
    }

    // The steady state at IP3 p: h = h_inf(c), dc/dt = 0, by bisection (dc/dt > 0 at c -> 0, < 0 at c -> c0).
    double steady_c(double p) {
        const li_rinzel_params k;
        double lo = 1e-9;
        double hi = c0 - 1e-9;
        for (int it = 0; it < 200; ++it) {
            const double mid = 0.5 * (lo + hi);
            (rhs(mid, lr_h_inf(mid, p, k), p)[0] > 0 ? lo : hi) = mid;
        }
        return 0.5 * (lo + hi);
    }

    // Trace of the 2x2 Jacobian at the steady state (central differences): a Hopf point where it changes sign
    // with a positive determinant.
    std::array<double, 2> trace_and_det(double p) {
        const li_rinzel_params k;
        const double c = steady_c(p);
        const double g = lr_h_inf(c, p, k);
        const double ec = 1e-7 * c;
        const double eg = 1e-7;
        const auto cp = rhs(c + ec, g, p);
        const auto cm = rhs(c - ec, g, p);
        const auto gp = rhs(c, g + eg, p);
        const auto gm = rhs(c, g - eg, p);
        const double j11 = (cp[0] - cm[0]) / (2 * ec);
        const double j21 = (cp[1] - cm[1]) / (2 * ec);
        const double j12 = (gp[0] - gm[0]) / (2 * eg);
        const double j22 = (gp[1] - gm[1]) / (2 * eg);
        return {j11 + j22, j11 * j22 - j12 * j21};
    }

private:
    mechanism_harness h_;
};

TEST(ip3r_li_rinzel, hopf_points_of_the_li_rinzel_cell) {
    // Li & Rinzel (1994): the steady state loses stability at a Hopf point commonly quoted at [IP3] = 0.355 uM and
    // regains it at an upper Hopf point (quoted near 0.666 uM; these equations and parameters put it lower, so only
    // 0.6-0.7 uM is asserted). Scan and refine by bisection.
    li_rinzel_cell cell;
    std::vector<double> hopf;
    double prev_p = 0.2;
    double prev = cell.trace_and_det(prev_p)[0];
    for (double p = 0.21; p <= 1.0 + 1e-9; p += 0.01) {
        const double now = cell.trace_and_det(p)[0];
        if ((now > 0) != (prev > 0)) {
            double lo = prev_p;
            double hi = p;
            for (int it = 0; it < 40; ++it) {
                const double mid = 0.5 * (lo + hi);
                ((cell.trace_and_det(mid)[0] > 0) == (prev > 0) ? lo : hi) = mid;
            }
            hopf.push_back(0.5 * (lo + hi));
            EXPECT_GT(cell.trace_and_det(hopf.back())[1], 0.0) << "not a Hopf point (saddle)";
        }
        prev = now;
        prev_p = p;
    }
    ASSERT_EQ(hopf.size(), 2u);
    std::printf("Li-Rinzel Hopf points: IP3 = %.4f and %.4f uM\n", hopf[0], hopf[1]);
    EXPECT_NEAR(hopf[0], 0.355, 0.005);
    EXPECT_GT(hopf[1], 0.6);
    EXPECT_LT(hopf[1], 0.7);
    // Unstable (oscillatory) between them, stable outside.
    EXPECT_LT(cell.trace_and_det(0.2)[0], 0.0);
    EXPECT_GT(cell.trace_and_det(0.5)[0], 0.0);
    EXPECT_LT(cell.trace_and_det(1.0)[0], 0.0);
}

// The whole Li-Rinzel model written as a cadyn model: cytosol and ER (V_er/V_cyt = c1 = 0.185), total Ca
// c0 = 2 uM per cytosolic volume, IP3 constant (nothing changes it), the published parameters written as in the
// paper: v1 = "6 s^-1" and v2 = "0.11 s^-1" per ER volume (both channels' reference compartment is the ER), v3 = 0.9 uM/s.
std::string li_rinzel_model(const std::string& channel, double ip3, double t_end_s) {
    const double c_start = 0.1;
    const double c_er_start = (2.0 - c_start) / 0.185;
    return fmt::format(R"(
[[compartments]]
name = "cyt"
volume = "1000 um^3"
concentrations = {{ ca = "{c} uM", ip3 = "{p} uM" }}

[[compartments]]
name = "er"
volume = "185 um^3"
concentrations = {{ ca = "{cer} uM" }}

[[membranes]]
name = "er_membrane"
inner = "er"
outer = "cyt"
area = "1850 um^2"

[[mechanisms]]
name = "ip3r"
type = "{channel}"
membrane = "er_membrane"
permeability = "6 s^-1"

[[mechanisms]]
name = "pump"
type = "serca"
membrane = "er_membrane"
vmax = "0.9 uM/s"
kd = "0.1 uM"
hill = 2

[[mechanisms]]
name = "er_leak"
type = "leak"
membrane = "er_membrane"
permeability = "0.11 s^-1"

[run]
t_end = "{t} s"
rtol = 1e-8
atol = "1e-10 uM"

[record]
interval = "20 ms"
observables = ["cyt.ca", "er.ca", "ip3r.open_probability"]
)",
                       fmt::arg("c", c_start), fmt::arg("p", ip3), fmt::arg("cer", c_er_start),
                       fmt::arg("channel", channel), fmt::arg("t", t_end_s));
}

struct late_trace {
    double peak_to_peak = 0;
    double period = 0; // [ms], 0 when fewer than two upward crossings
    double total_ca_drift = 0;
};

// The second half of a run: peak-to-peak of cytosolic Ca, mean period from upward crossings of the mid-level, and
// the largest deviation of total Ca (c + c1 c_er) from c0.
late_trace analyse_late(const memory_recorder& rec) {
    const auto& t = rec.times();
    const auto& c = rec.column("cyt.ca");
    const auto& c_er = rec.column("er.ca");
    const double from = t.back() / 2;
    double lo = std::numeric_limits<double>::infinity();
    double hi = -lo;
    late_trace out;
    for (std::size_t k = 0; k < t.size(); ++k) {
        out.total_ca_drift = std::max(out.total_ca_drift, std::abs(c[k] + 0.185 * c_er[k] - 2.0));
        if (t[k] >= from) {
            lo = std::min(lo, c[k]);
            hi = std::max(hi, c[k]);
        }
    }
    out.peak_to_peak = hi - lo;
    const double mid = 0.5 * (lo + hi);
    std::vector<double> ups;
    for (std::size_t k = 1; k < t.size(); ++k) {
        if (t[k - 1] >= from && c[k - 1] < mid && c[k] >= mid) {
            ups.push_back(t[k - 1] + (mid - c[k - 1]) / (c[k] - c[k - 1]) * (t[k] - t[k - 1]));
        }
    }
    if (ups.size() >= 2) {
        out.period = (ups.back() - ups.front()) / static_cast<double>(ups.size() - 1);
    }
    return out;
}

TEST(ip3r_li_rinzel, oscillates_only_inside_the_ip3_window) {
    // Li & Rinzel (1994): steady state below the lower Hopf point (0.355 uM) and above the upper one; sustained
    // oscillations with a period of several seconds between them. Thresholds: a resting trace moves by < 1e-3 uM
    // in the second half of 200 s; an oscillating one by > 0.1 uM (the published spikes reach several tenths uM).
    for (const double ip3: {0.2, 0.4, 0.5, 1.0}) {
        auto sys = testing::compile_text(li_rinzel_model("ip3r_li_rinzel", ip3, 200));
        memory_recorder rec;
        simulate(sys, rec);
        const late_trace late = analyse_late(rec);
        std::printf("Li-Rinzel IP3 = %.2f uM: late peak-to-peak %.4g uM, period %.4g s\n", ip3, late.peak_to_peak,
                    late.peak_to_peak > 0.1 ? late.period / 1000 : 0.0);
        const bool inside = ip3 > 0.355 && ip3 < 0.6;
        if (inside) {
            EXPECT_GT(late.peak_to_peak, 0.1) << "IP3 = " << ip3;
        }
        else {
            EXPECT_LT(late.peak_to_peak, 1e-3) << "IP3 = " << ip3;
        }
        // The ER membrane conserves Ca: c + c1 c_er stays c0 (to solver accuracy).
        EXPECT_LT(late.total_ca_drift, 1e-5) << "IP3 = " << ip3;
        if (ip3 == 0.4) {
            // "A period of several seconds" (Li & Rinzel 1994); we assert only 5-20 s.
            EXPECT_GT(late.period, 5000.0);
            EXPECT_LT(late.period, 20000.0);
        }
    }
}

// ------------------------------------------------------------------------------------------------------------
// De Young-Keizer: the 8-state scheme written out independently of the kernel
// ------------------------------------------------------------------------------------------------------------

struct dyk_params {
    // De Young & Keizer (1992): a [1/(uM ms)], d [uM].
    double a1 = 0.4, a2 = 0.2e-3, a3 = 0.4, a4 = 0.2e-3, a5 = 0.02;
    double d1 = 0.13, d2 = 1.049, d3 = 0.9434, d4 = 0.1445, d5 = 0.08234;
};

struct transition {
    int from, to;
    double on, off;
};

// The twelve transitions of the scheme, states numbered by the bits ijk (i: IP3, j: activating Ca, k: inactivating
// Ca). DYK 1992 Fig. 1: IP3 binding (a1, d1) with the inactivating site free and (a3, d3) with it occupied;
// activation (a5, d5) everywhere; inactivation (a4, d4) without IP3 and (a2, d2) with IP3.
std::vector<transition> dyk_transitions(const dyk_params& k, double c, double p) {
    return {
        {0b000, 0b100, k.a1 * p, k.a1 * k.d1}, {0b010, 0b110, k.a1 * p, k.a1 * k.d1},
        {0b001, 0b101, k.a3 * p, k.a3 * k.d3}, {0b011, 0b111, k.a3 * p, k.a3 * k.d3},
        {0b000, 0b010, k.a5 * c, k.a5 * k.d5}, {0b001, 0b011, k.a5 * c, k.a5 * k.d5},
        {0b100, 0b110, k.a5 * c, k.a5 * k.d5}, {0b101, 0b111, k.a5 * c, k.a5 * k.d5},
        {0b000, 0b001, k.a4 * c, k.a4 * k.d4}, {0b010, 0b011, k.a4 * c, k.a4 * k.d4},
        {0b100, 0b101, k.a2 * c, k.a2 * k.d2}, {0b110, 0b111, k.a2 * c, k.a2 * k.d2},
    };
}

std::array<double, 8> dyk_derivative(const dyk_params& k, double c, double p, const std::array<double, 8>& x) {
    std::array<double, 8> dx{};
    for (const transition& tr: dyk_transitions(k, c, p)) {
        const double net = tr.on * x[static_cast<std::size_t>(tr.from)] - tr.off * x[static_cast<std::size_t>(tr.to)];
        dx[static_cast<std::size_t>(tr.from)] -= net;
        dx[static_cast<std::size_t>(tr.to)] += net;
    }
    return dx;
}

// The steady state: M x = 0 with sum x = 1, by Gaussian elimination with partial pivoting.
std::array<double, 8> dyk_steady_state(const dyk_params& k, double c, double p) {
    std::array<std::array<double, 9>, 8> m{};
    for (const transition& tr: dyk_transitions(k, c, p)) {
        const auto f = static_cast<std::size_t>(tr.from);
        const auto t = static_cast<std::size_t>(tr.to);
        m[f][f] -= tr.on;
        m[t][f] += tr.on;
        m[t][t] -= tr.off;
        m[f][t] += tr.off;
    }
    for (std::size_t col = 0; col < 8; ++col) {
        m[0][col] = 1; // replace one balance equation by the normalisation
    }
    m[0][8] = 1;
    for (std::size_t col = 0; col < 8; ++col) {
        std::size_t pivot = col;
        for (std::size_t r = col + 1; r < 8; ++r) {
            if (std::abs(m[r][col]) > std::abs(m[pivot][col])) {
                pivot = r;
            }
        }
        std::swap(m[col], m[pivot]);
        for (std::size_t r = 0; r < 8; ++r) {
            if (r != col) {
                const double f = m[r][col] / m[col][col];
                for (std::size_t k2 = col; k2 < 9; ++k2) {
                    m[r][k2] -= f * m[col][k2];
                }
            }
        }
    }
    std::array<double, 8> x{};
    for (std::size_t r = 0; r < 8; ++r) {
        x[r] = m[r][8] / m[r][r];
    }
    return x;
}

// Closed form under detailed balance (d1 d2 = d3 d4): x110 = m_inf n_inf h_inf, the Li-Rinzel gates.
double dyk_open_closed_form(const dyk_params& k, double c, double p) {
    const li_rinzel_params lr{k.d1, k.d2, k.d3, k.d5, k.a2};
    return lr_po(c, p, lr_h_inf(c, p, lr), lr);
}

void set_dyk_params(mechanism_harness& h, std::size_t i, const dyk_params& k) {
    h.param("a1")[i] = k.a1;
    h.param("a2")[i] = k.a2;
    h.param("a3")[i] = k.a3;
    h.param("a4")[i] = k.a4;
    h.param("a5")[i] = k.a5;
    h.param("d1")[i] = k.d1;
    h.param("d2")[i] = k.d2;
    h.param("d3")[i] = k.d3;
    h.param("d4")[i] = k.d4;
    h.param("d5")[i] = k.d5;
}

TEST(ip3r_dyk, metadata) {
    const mechanism* m = find_mechanism("ip3r_dyk");
    ASSERT_NE(m, nullptr);
    EXPECT_TRUE(metadata_is_consistent(*m));
    const mechanism_info& info = m->info();
    expect_release_reads(info, true);
    // Seven independent subunit fractions; x000 = 1 - their sum.
    ASSERT_EQ(info.states.size(), 7u);
    const char* names[] = {"x001", "x010", "x011", "x100", "x101", "x110", "x111"};
    for (std::size_t s = 0; s < 7; ++s) {
        EXPECT_EQ(info.states[s].name, names[s]);
    }
    // De Young & Keizer (1992) Table 1.
    const dyk_params k;
    EXPECT_NEAR(default_of(info, "a1"), k.a1, 1e-15);
    EXPECT_NEAR(default_of(info, "a2"), k.a2, 1e-18);
    EXPECT_NEAR(default_of(info, "a3"), k.a3, 1e-15);
    EXPECT_NEAR(default_of(info, "a4"), k.a4, 1e-18);
    EXPECT_NEAR(default_of(info, "a5"), k.a5, 1e-17);
    EXPECT_DOUBLE_EQ(default_of(info, "d1"), k.d1);
    EXPECT_DOUBLE_EQ(default_of(info, "d2"), k.d2);
    EXPECT_DOUBLE_EQ(default_of(info, "d3"), k.d3);
    EXPECT_DOUBLE_EQ(default_of(info, "d4"), k.d4);
    EXPECT_DOUBLE_EQ(default_of(info, "d5"), k.d5);
    // The published constants obey detailed balance around the (IP3, inactivation) cycle to 0.04 %.
    EXPECT_NEAR(k.d1 * k.d2 / (k.d3 * k.d4), 1.0, 5e-4);
}

TEST(ip3r_dyk, kernel_matches_the_eight_state_scheme) {
    constexpr std::size_t n = 4;
    mechanism_harness h("ip3r_dyk", n);
    std::array<dyk_params, n> k{};
    k[1].a1 = 0.1;
    k[1].d1 = 0.5;
    k[1].a5 = 0.05;
    k[2].a2 = 1e-3;
    k[2].d2 = 0.3;
    k[2].d4 = 0.02;
    k[3].a3 = 0.05;
    k[3].d3 = 2.0;
    k[3].d5 = 0.3;
    for (std::size_t i = 0; i < n; ++i) {
        set_dyk_params(h, i, k[i]);
    }
    h.param("permeability") = {6e-4, 1e-2, 3e-5, 0.2};
    h.size = {1850.0, 3.0, 4e4, 10.0};
    h.conc("ca", side::inner) = {400.0, 20.0, 1500.0, 0.01};
    h.conc("ca", side::outer) = {0.1, 0.7, 0.3, 2.0};
    h.conc("ip3", side::outer) = {0.5, 2.0, 0.05, 0.3};
    // Arbitrary subunit distributions (each sums to 1 with its x000).
    const std::array<std::array<double, 7>, n> x = {{
        {0.05, 0.1, 0.02, 0.2, 0.03, 0.25, 0.05},
        {0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1},
        {0.3, 0.0, 0.2, 0.0, 0.3, 0.15, 0.05},
        {0.0, 0.0, 0.0, 0.0, 0.0, 0.9, 0.0},
    }};
    for (std::size_t s = 0; s < 7; ++s) {
        for (std::size_t i = 0; i < n; ++i) {
            h.state(s)[i] = x[i][s];
        }
    }
    h.rates();
    for (std::size_t i = 0; i < n; ++i) {
        std::array<double, 8> full{};
        double rest = 1;
        for (std::size_t s = 0; s < 7; ++s) {
            full[s + 1] = x[i][s];
            rest -= x[i][s];
        }
        full[0] = rest;
        const double c = h.conc(1)[i];
        const double p = h.conc(2)[i];
        const auto dx = dyk_derivative(k[i], c, p, full);
        for (std::size_t s = 0; s < 7; ++s) {
            EXPECT_NEAR(h.dstate(s)[i], dx[s + 1], 1e-13 * (1 + std::abs(dx[s + 1])) + 1e-16)
                << "instance " << i << " state " << s;
        }
        const double po = std::pow(full[0b110], 3);
        const double flux = h.param("permeability")[i] * h.size[i] * po * (c - h.conc(0)[i]);
        EXPECT_NEAR(h.out(0)[i], flux, 1e-13 * std::abs(flux)) << "instance " << i;
    }
}

TEST(ip3r_dyk, init_is_the_steady_state_of_the_scheme) {
    // The kernel's init (tree theorem on the IP3/inactivation cycle times the activation site) against Gaussian
    // elimination on the full 8-state generator, at default and at detailed-balance-breaking constants.
    constexpr std::size_t n = 5;
    mechanism_harness h("ip3r_dyk", n);
    std::array<dyk_params, n> k{};
    k[3].d4 = 0.02; // d1 d2 != d3 d4: a driven cycle; the tree theorem must still hold
    k[4].a3 = 0.01;
    k[4].a2 = 5e-3;
    for (std::size_t i = 0; i < n; ++i) {
        set_dyk_params(h, i, k[i]);
    }
    h.conc("ca", side::outer) = {0.05, 0.2, 1.0, 0.3, 5.0};
    h.conc("ip3", side::outer) = {0.4, 1.0, 0.0, 0.5, 0.2};
    h.conc("ca", side::inner) = {400.0, 400.0, 400.0, 400.0, 400.0};
    h.init();
    for (std::size_t i = 0; i < n; ++i) {
        const auto ss = dyk_steady_state(k[i], h.conc(1)[i], h.conc(2)[i]);
        for (std::size_t s = 0; s < 7; ++s) {
            EXPECT_NEAR(h.state(s)[i], ss[s + 1], 1e-12) << "instance " << i << " state " << s;
        }
    }
    h.rates();
    for (std::size_t s = 0; s < 7; ++s) {
        EXPECT_TRUE(all_near(h.dstate(s), std::vector<double>(n, 0.0), 0, 1e-15)) << "state " << s;
    }
}

TEST(ip3r_dyk, relaxes_to_the_closed_form_open_probability) {
    // Start with every subunit empty (x000 = 1: all states zero) and integrate the kernel (RK4, whose fixed point
    // is exactly the kernel's steady state) for 400 s at fixed c and IP3. The open probability must reach x110^3
    // of the exact steady state (1e-9), and the detailed-balance closed form m_inf^3 n_inf^3 h_inf^3 (Li & Rinzel
    // 1994: the reduction is exact at steady state) within 0.2 % (the published d's break detailed balance by
    // 0.04 %, which enters cubed).
    constexpr std::size_t n = 4;
    mechanism_harness h("ip3r_dyk", n);
    const std::vector<double> c = {0.1, 0.2, 0.5, 1.0};
    const std::vector<double> p = {0.5, 1.0, 0.3, 2.0};
    h.conc("ca", side::outer) = c;
    h.conc("ip3", side::outer) = p;
    h.conc("ca", side::inner) = {400.0, 400.0, 400.0, 400.0};
    const double dt = 1.0; // ms
    std::array<std::vector<double>, 7> y{};
    for (std::size_t s = 0; s < 7; ++s) {
        y[s].assign(n, 0.0);
    }
    auto derivative = [&](const std::array<std::vector<double>, 7>& at) {
        for (std::size_t s = 0; s < 7; ++s) {
            h.state(s) = at[s];
        }
        h.rates();
        std::array<std::vector<double>, 7> d{};
        for (std::size_t s = 0; s < 7; ++s) {
            d[s].assign(h.dstate(s).begin(), h.dstate(s).end());
        }
        return d;
    };
    auto axpy = [&](const std::array<std::vector<double>, 7>& base, const std::array<std::vector<double>, 7>& d,
                    double f) {
        auto r = base;
        for (std::size_t s = 0; s < 7; ++s) {
            for (std::size_t i = 0; i < n; ++i) {
                r[s][i] += f * d[s][i];
            }
        }
        return r;
    };
    for (int step = 0; step < 400000; ++step) {
        const auto k1 = derivative(y);
        const auto k2 = derivative(axpy(y, k1, dt / 2));
        const auto k3 = derivative(axpy(y, k2, dt / 2));
        const auto k4 = derivative(axpy(y, k3, dt));
        for (std::size_t s = 0; s < 7; ++s) {
            for (std::size_t i = 0; i < n; ++i) {
                y[s][i] += dt / 6 * (k1[s][i] + 2 * k2[s][i] + 2 * k3[s][i] + k4[s][i]);
            }
        }
    }
    for (std::size_t s = 0; s < 7; ++s) {
        h.state(s) = y[s];
    }
    std::vector<double> po(n);
    double* outs[] = {po.data()};
    h.mech().observe(h.pack(), outs);
    const dyk_params k;
    for (std::size_t i = 0; i < n; ++i) {
        const double exact = std::pow(dyk_steady_state(k, c[i], p[i])[0b110], 3);
        const double closed = dyk_open_closed_form(k, c[i], p[i]);
        EXPECT_NEAR(po[i], exact, 1e-9 * exact) << "c = " << c[i] << ", IP3 = " << p[i];
        EXPECT_NEAR(po[i], closed, 2e-3 * closed) << "c = " << c[i] << ", IP3 = " << p[i];
    }
}

TEST(ip3r_dyk, li_rinzel_is_its_steady_state_reduction) {
    // At steady state both mechanisms give the same open probability (Li & Rinzel 1994: h_inf = Q2/(Q2 + c) is
    // the DYK fraction with the inactivating site free), to the published constants' detailed-balance error.
    const std::vector<double> c = {0.02, 0.1, 0.25, 0.6, 2.0};
    const std::vector<double> p = {0.3, 0.5, 1.0, 0.2, 5.0};
    mechanism_harness dyk("ip3r_dyk", 5);
    mechanism_harness lr("ip3r_li_rinzel", 5);
    for (auto* h: {&dyk, &lr}) {
        h->conc("ca", side::outer) = c;
        h->conc("ip3", side::outer) = p;
        h->conc("ca", side::inner) = std::vector<double>(5, 400.0);
        h->init();
    }
    std::vector<double> po_dyk(5);
    std::vector<double> po_lr(5);
    double* out_dyk[] = {po_dyk.data()};
    double* out_lr[] = {po_lr.data()};
    dyk.mech().observe(dyk.pack(), out_dyk);
    lr.mech().observe(lr.pack(), out_lr);
    EXPECT_TRUE(all_near(po_dyk, po_lr, 2e-3));
}

TEST(ip3r_dyk, is_an_and_gate_for_ip3_and_ca) {
    // De Young & Keizer (1992): the channel needs IP3 AND Ca bound to one subunit; steady states via init.
    const std::vector<double> c = {0.01, 0.1, 0.3, 1.0, 10.0, 0.0, 0.0, 0.0, 0.25};
    const std::vector<double> p = {0.0, 0.0, 0.0, 0.0, 0.0, 0.1, 1.0, 10.0, 1.0};
    mechanism_harness h("ip3r_dyk", c.size());
    h.conc("ca", side::outer) = c;
    h.conc("ip3", side::outer) = p;
    h.conc("ca", side::inner) = std::vector<double>(c.size(), 400.0);
    h.init();
    std::vector<double> po(c.size());
    double* outs[] = {po.data()};
    h.mech().observe(h.pack(), outs);
    for (std::size_t i = 0; i + 1 < c.size(); ++i) {
        EXPECT_EQ(po[i], 0.0) << "c = " << c[i] << ", IP3 = " << p[i]; // no IP3 or no Ca: shut
    }
    // Both present: open. Closed form at c = 0.25, p = 1: (0.885 * 0.752 * 0.709)^3 = 0.105.
    EXPECT_GT(po.back(), 0.05);
    h.rates();
    for (std::size_t i = 0; i + 1 < c.size(); ++i) {
        EXPECT_EQ(h.out(0)[i], 0.0);
    }
    EXPECT_LT(h.out(0).back(), 0.0); // release from the loaded lumen
}

TEST(ip3r_dyk, open_probability_is_bell_shaped_in_ca) {
    // Bezprozvanny, Watras & Ehrlich (1991) Nature 351:751-754 measured a bell-shaped Po(Ca) of the cerebellar
    // IP3R peaking near 0.2-0.3 uM; DYK (1992) fitted it. The closed-form maximum of c/((c + d5)(c + Q2)) is at
    // c* = sqrt(d5 Q2): 0.194 uM at IP3 = 0.5 uM and 0.224 uM at IP3 = 1 uM.
    const dyk_params k;
    for (const double ip3: {0.5, 1.0}) {
        constexpr std::size_t n = 601;
        mechanism_harness h("ip3r_dyk", n);
        std::vector<double> c(n);
        for (std::size_t i = 0; i < n; ++i) {
            c[i] = 0.01 * std::pow(10.0, 3.0 * static_cast<double>(i) / static_cast<double>(n - 1)); // 0.01 .. 10 uM
        }
        h.conc("ca", side::outer) = c;
        h.conc("ip3", side::outer) = std::vector<double>(n, ip3);
        h.conc("ca", side::inner) = std::vector<double>(n, 400.0);
        h.init();
        std::vector<double> po(n);
        double* outs[] = {po.data()};
        h.mech().observe(h.pack(), outs);
        const auto best = static_cast<std::size_t>(std::max_element(po.begin(), po.end()) - po.begin());
        const double q2 = k.d2 * (ip3 + k.d1) / (ip3 + k.d3);
        const double expected = std::sqrt(k.d5 * q2);
        std::printf("DYK IP3 = %.1f uM: Po max %.4f at c = %.4f uM (closed form %.4f uM)\n", ip3, po[best], c[best],
                    expected);
        EXPECT_NEAR(c[best], expected, 0.015 * expected); // grid step 1.2 %, detailed balance 0.04 %
        EXPECT_GT(c[best], 0.15);
        EXPECT_LT(c[best], 0.3);
        // Inhibited at high Ca: at 10 uM below 1 % of the maximum; rising from low Ca.
        EXPECT_LT(po.back(), 0.01 * po[best]);
        EXPECT_LT(po.front(), 0.01 * po[best]);
    }
}

TEST(ip3r_dyk, oscillates_in_the_li_rinzel_cell) {
    // De Young & Keizer (1992) built the same cell (c0 = 2 uM, c1 = 0.185, v1 = 6 s^-1, v2 = 0.11 s^-1, v3 =
    // 0.9 uM/s, k3 = 0.1 uM) around the full model and found oscillations only at intermediate IP3; Li & Rinzel
    // (1994) showed their reduction keeps this behaviour. Same thresholds as for Li-Rinzel.
    for (const double ip3: {0.2, 0.4, 0.5, 1.0}) {
        auto sys = testing::compile_text(li_rinzel_model("ip3r_dyk", ip3, 300));
        memory_recorder rec;
        simulate(sys, rec);
        const late_trace late = analyse_late(rec);
        std::printf("DYK IP3 = %.2f uM: late peak-to-peak %.4g uM, period %.4g s\n", ip3, late.peak_to_peak,
                    late.peak_to_peak > 0.1 ? late.period / 1000 : 0.0);
        if (ip3 == 0.4 || ip3 == 0.5) {
            EXPECT_GT(late.peak_to_peak, 0.1) << "IP3 = " << ip3;
            EXPECT_GT(late.period, 5000.0) << "IP3 = " << ip3;
            EXPECT_LT(late.period, 20000.0) << "IP3 = " << ip3;
        }
        else {
            EXPECT_LT(late.peak_to_peak, 1e-3) << "IP3 = " << ip3;
        }
        EXPECT_LT(late.total_ca_drift, 1e-5) << "IP3 = " << ip3;
    }
}

// ------------------------------------------------------------------------------------------------------------
// Ryanodine receptor
// ------------------------------------------------------------------------------------------------------------

double hill_of(double c, double k, double n) {
    return std::pow(c, n) / (std::pow(k, n) + std::pow(c, n));
}

TEST(ryr, metadata) {
    const mechanism* m = find_mechanism("ryr");
    ASSERT_NE(m, nullptr);
    EXPECT_TRUE(metadata_is_consistent(*m));
    const mechanism_info& info = m->info();
    expect_release_reads(info, false);
    ASSERT_EQ(info.states.size(), 1u);
    EXPECT_EQ(info.states[0].name, "h");
    // Threshold ~2 uM with a steep (Hill >= 3) activation (the seed's CICR threshold).
    EXPECT_DOUBLE_EQ(default_of(info, "kd"), 2.0);
    EXPECT_GE(default_of(info, "hill"), 3.0);
    // Luminal sensor: EC50 0.45 mM, slope 2.5 (Shannon et al. 2004).
    EXPECT_DOUBLE_EQ(default_of(info, "kd_lumen"), 450.0);
    EXPECT_DOUBLE_EQ(default_of(info, "hill_lumen"), 2.5);
    // Adaptation: kc+ = 1.75 s^-1, kc- = 0.1 s^-1 (Keizer & Levine 1996).
    EXPECT_NEAR(default_of(info, "k_adapt"), 1.75e-3, 1e-18);
    EXPECT_NEAR(default_of(info, "k_recover"), 0.1e-3, 1e-18);
}

TEST(ryr, kernel_matches_closed_form_over_five_instances) {
    mechanism_harness h("ryr", 5);
    h.param("permeability") = {1.6e-3, 1e-2, 5e-5, 0.1, 0.0};
    h.param("kd") = {2.0, 0.5, 5.0, 1.0, 2.0};
    h.param("hill") = {4.0, 3.0, 1.5, 6.0, 4.0};
    h.param("kd_lumen") = {450.0, 100.0, 0.0, 1000.0, 450.0};
    h.param("hill_lumen") = {2.5, 1.0, 3.0, 4.0, 2.5};
    h.param("k_adapt") = {1.75e-3, 1e-2, 0.0, 5e-4, 1.75e-3};
    h.param("k_recover") = {1e-4, 1e-3, 1e-4, 0.0, 1e-4};
    h.size = {500.0, 20.0, 1e4, 1.0, 30.0};
    h.conc("ca", side::inner) = {500.0, 50.0, 1000.0, 2.0, 500.0};
    h.conc("ca", side::outer) = {3.0, 0.3, 0.1, 10.0, 3.0};
    h.state(0) = {1.0, 0.4, 0.9, 0.05, 1.0};
    h.rates();
    std::vector<double> flux(5);
    std::vector<double> dh(5);
    for (std::size_t i = 0; i < 5; ++i) {
        const double c = h.conc(1)[i];
        const double c_er = h.conc(0)[i];
        const double a = hill_of(c, h.param("kd")[i], h.param("hill")[i]);
        const double lumen =
            h.param("kd_lumen")[i] > 0 ? hill_of(c_er, h.param("kd_lumen")[i], h.param("hill_lumen")[i]) : 1.0;
        const double g = h.state(0)[i];
        flux[i] = h.param("permeability")[i] * h.size[i] * a * g * lumen * (c - c_er);
        dh[i] = h.param("k_recover")[i] * (1 - g) - h.param("k_adapt")[i] * a * g;
    }
    EXPECT_TRUE(all_near(h.out(0), flux, 1e-13));
    EXPECT_TRUE(all_near(h.dstate(0), dh, 1e-13, 1e-300));
    EXPECT_LT(h.out(0)[0], 0.0); // release from the loaded lumen
    EXPECT_GT(h.out(0)[3], 0.0); // cytosol above the lumen: the flux reverses
    EXPECT_EQ(h.out(0)[4], 0.0); // no permeability, no flux
}

TEST(ryr, init_at_rest_and_observe) {
    mechanism_harness h("ryr", 4);
    h.conc("ca", side::outer) = {0.1, 2.0, 20.0, -1e-9};
    h.conc("ca", side::inner) = {500.0, 500.0, 50.0, 500.0};
    h.init();
    const mechanism_info& info = h.info();
    const double kd = default_of(info, "kd");
    const double n = default_of(info, "hill");
    const double ka = default_of(info, "k_adapt");
    const double kr = default_of(info, "k_recover");
    std::vector<double> expected(4);
    for (std::size_t i = 0; i < 4; ++i) {
        const double a = hill_of(std::max(h.conc(1)[i], 0.0), kd, n);
        expected[i] = kr / (kr + ka * a);
    }
    EXPECT_TRUE(all_near(h.state(0), expected, 1e-14));
    h.rates();
    EXPECT_TRUE(all_near(h.dstate(0), {0.0, 0.0, 0.0, 0.0}, 0, 1e-18));
    for (std::size_t i = 0; i < 4; ++i) {
        EXPECT_TRUE(std::isfinite(h.out(0)[i]));
    }
    std::vector<double> po(4);
    double* outs[] = {po.data()};
    h.mech().observe(h.pack(), outs);
    for (std::size_t i = 0; i < 4; ++i) {
        const double a = hill_of(std::max(h.conc(1)[i], 0.0), kd, n);
        expected[i] =
            a * h.state(0)[i] * hill_of(h.conc(0)[i], default_of(info, "kd_lumen"), default_of(info, "hill_lumen"));
    }
    EXPECT_TRUE(all_near(po, expected, 1e-14));
    // No sustained release at rest: at 0.1 uM (ER loaded) Po = (0.1/2)^4 * L ~ 4e-6.
    EXPECT_LT(po[0], 1e-5);
    EXPECT_GT(po[1], 100 * po[0]);
}

TEST(ryr, activation_is_half_maximal_at_kd_with_hill_slope_n) {
    // Analytic: a = c^n/(K^n + c^n) gives a(K) = 1/2 and d ln(a/(1 - a)) / d ln c = n. With the luminal factor off
    // (kd_lumen = 0) and h = 1, Po = a.
    const std::vector<double> kd = {2.0, 1.0, 5.0, 0.5};
    const std::vector<double> n = {4.0, 3.0, 6.0, 2.0};
    const double eps = 1e-5;
    mechanism_harness h("ryr", 12);
    for (std::size_t i = 0; i < 4; ++i) {
        for (std::size_t r = 0; r < 3; ++r) {
            const std::size_t j = 3 * i + r;
            h.param("kd")[j] = kd[i];
            h.param("hill")[j] = n[i];
            h.param("kd_lumen")[j] = 0;
            h.state(0)[j] = 1.0;
            h.conc(0)[j] = 500.0;
            h.conc(1)[j] = kd[i] * (r == 0 ? 1.0 : r == 1 ? std::exp(eps) : std::exp(-eps));
        }
    }
    std::vector<double> po(12);
    double* outs[] = {po.data()};
    h.mech().observe(h.pack(), outs);
    for (std::size_t i = 0; i < 4; ++i) {
        EXPECT_NEAR(po[3 * i], 0.5, 1e-14) << "K = " << kd[i];
        auto logit = [](double a) { return std::log(a / (1 - a)); };
        const double slope = (logit(po[3 * i + 1]) - logit(po[3 * i + 2])) / (2 * eps);
        EXPECT_NEAR(slope, n[i], 1e-6) << "K = " << kd[i];
    }
}

// A cell for CICR: cytosol 1000 um^3 (0.1 uM), ER 50 um^3 (V/A = 0.1 um, so the ryr default permeability is 16 s^-1
// per ER volume = 0.8 s^-1 per cytosolic volume), SERCA 50 uM/s (K 0.2 uM, n 2), an ER leak that balances SERCA at
// rest, the ryr at its defaults and a 2-ms Ca current through the plasma membrane from a clamped bath.
struct cicr_run {
    double trigger_peak = 0; // cytosolic peak without the ryr (the trigger's own)
    double peak = 0;         // cytosolic peak with it
    double er_min = 0;       // lowest ER Ca with it
    double er_start = 0;
};

double cicr_peak_and_er_min(double rise, double er_ca, bool with_ryr, double& er_min) {
    const double v_cyt = 1000.0;
    const double v_er = 50.0;
    const double area = 500.0;
    const double c_rest = 0.1;
    const double serca_vmax = 0.05; // uM/ms of the cytosol
    const double serca_kd = 0.2;
    const mechanism_info& ryr = find_mechanism("ryr")->info();
    const double p_ryr = with_ryr ? default_of(ryr, "permeability") : 0.0;
    // Rest: SERCA uptake = leak + ryr release (both per cytosolic volume) at c_rest and er_ca.
    const double uptake = serca_vmax * c_rest * c_rest / (serca_kd * serca_kd + c_rest * c_rest);
    const double a = hill_of(c_rest, default_of(ryr, "kd"), default_of(ryr, "hill"));
    const double kr = default_of(ryr, "k_recover");
    const double h_rest = kr / (kr + default_of(ryr, "k_adapt") * a);
    const double lumen = hill_of(er_ca, default_of(ryr, "kd_lumen"), default_of(ryr, "hill_lumen"));
    const double release = p_ryr * area / v_cyt * a * h_rest * lumen * (er_ca - c_rest);
    const double p_leak = (uptake - release) * v_cyt / (area * (er_ca - c_rest)); // um/ms
    // A current I for 2 ms carries I d / (2 F) into the cytosol: I = rise * V * 2 / (zmol_per_ms_per_pA * d).
    const double duration = 2.0;
    const double current = rise * v_cyt * 2 / (constants::zmol_per_ms_per_pA * duration);
    auto sys = testing::compile_text(
        fmt::format(R"(
[[compartments]]
name = "bath"
volume = "1 nL"
clamped = true
concentrations = {{ ca = "2 mM" }}

[[compartments]]
name = "cyt"
volume = "{vc} um^3"
concentrations = {{ ca = "{c} uM" }}

[[compartments]]
name = "er"
volume = "{ve} um^3"
concentrations = {{ ca = "{cer} uM" }}

[[membranes]]
name = "pm"
inner = "cyt"
outer = "bath"
area = "500 um^2"

[[membranes]]
name = "er_membrane"
inner = "er"
outer = "cyt"
area = "{a} um^2"

[[mechanisms]]
name = "pump"
type = "serca"
membrane = "er_membrane"
vmax = "{s} uM/ms"
kd = "{skd} uM"
hill = 2

[[mechanisms]]
name = "er_leak"
type = "leak"
membrane = "er_membrane"
permeability = "{pl:.17g} um/ms"

[[mechanisms]]
name = "ryr"
type = "ryr"
membrane = "er_membrane"
permeability = "{pr:.17g} um/ms"

[[stimuli]]
name = "trigger"
membrane = "pm"
amplitude = "{i:.17g} pA"
start = "10 ms"
duration = "{d} ms"
count = 1

[run]
t_end = "3 s"
rtol = 1e-8
atol = "1e-10 uM"

[record]
interval = "0.5 ms"
observables = ["cyt.ca", "er.ca"]
)",
                    fmt::arg("vc", v_cyt), fmt::arg("c", c_rest), fmt::arg("ve", v_er), fmt::arg("cer", er_ca),
                    fmt::arg("a", area), fmt::arg("s", serca_vmax), fmt::arg("skd", serca_kd), fmt::arg("pl", p_leak),
                    fmt::arg("pr", p_ryr), fmt::arg("i", current), fmt::arg("d", duration)));
    memory_recorder rec;
    simulate(sys, rec);
    const auto& c = rec.column("cyt.ca");
    const auto& e = rec.column("er.ca");
    er_min = *std::min_element(e.begin(), e.end());
    // Before the trigger the cell is at rest.
    EXPECT_NEAR(c[10], c_rest, 1e-6 * c_rest);
    EXPECT_NEAR(e[10], er_ca, 1e-6 * er_ca);
    return *std::max_element(c.begin(), c.end());
}

cicr_run run_cicr(double rise, double er_ca) {
    cicr_run r;
    double unused = 0;
    r.trigger_peak = cicr_peak_and_er_min(rise, er_ca, false, unused);
    r.peak = cicr_peak_and_er_min(rise, er_ca, true, r.er_min);
    r.er_start = er_ca;
    std::printf("CICR: trigger peak %.3f uM, ER %.0f uM -> peak %.3f uM, ER min %.1f uM (%.1f %% drop)\n",
                r.trigger_peak, er_ca, r.peak, r.er_min, 100 * (1 - r.er_min / er_ca));
    return r;
}

TEST(ryr, cicr_needs_a_trigger_above_threshold_and_a_loaded_store) {
    // The seed's CICR claims: release ignites only when the trigger crosses the RyR threshold (~2 uM) and the ER is
    // loaded. A trigger to ~1 uM: ER drops < 5 %, no amplification. A trigger to ~3 uM with the ER at 0.5 mM:
    // regenerative release (ER drops > 30 %, cytosolic peak more than twice the trigger's own). The same trigger
    // with the ER at 0.05 mM: no release.
    const cicr_run weak = run_cicr(0.95, 500.0);
    EXPECT_NEAR(weak.trigger_peak, 1.0, 0.2);
    EXPECT_GT(weak.er_min, 0.95 * weak.er_start);
    EXPECT_LT(weak.peak, 1.1 * weak.trigger_peak);

    const cicr_run strong = run_cicr(3.0, 500.0);
    EXPECT_NEAR(strong.trigger_peak, 3.0, 0.3);
    EXPECT_LT(strong.er_min, 0.7 * strong.er_start);
    EXPECT_GT(strong.peak, 2 * strong.trigger_peak);

    const cicr_run depleted = run_cicr(3.0, 50.0);
    EXPECT_NEAR(depleted.trigger_peak, 3.0, 0.3);
    EXPECT_GT(depleted.er_min, 0.95 * depleted.er_start);
    EXPECT_LT(depleted.peak, 1.1 * depleted.trigger_peak);
}

TEST(ryr, ignition_threshold_lies_near_two_micromolar) {
    // The trigger peak that just ignites release (ER drop > 10 %), by bisection on the trigger size in the CICR
    // cell with the ER at 0.5 mM. Regeneration starts where release outruns SERCA, somewhat below half activation
    // (K = 2 uM); the seed's "~2 uM" is asserted as 1-2.5 uM.
    double lo = 0.95; // no ignition (tested above)
    double hi = 3.0;  // ignition (tested above)
    for (int it = 0; it < 10; ++it) {
        const double mid = 0.5 * (lo + hi);
        double er_min = 0;
        cicr_peak_and_er_min(mid, 500.0, true, er_min);
        (er_min > 0.9 * 500.0 ? lo : hi) = mid;
    }
    double unused = 0;
    const double threshold_peak = cicr_peak_and_er_min(lo, 500.0, false, unused);
    std::printf("CICR ignition threshold: trigger peak %.3f uM\n", threshold_peak);
    EXPECT_GT(threshold_peak, 1.0);
    EXPECT_LT(threshold_peak, 2.5);
}

} // namespace
} // namespace cadyn
