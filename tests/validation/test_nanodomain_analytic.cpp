// The analytic steady-state nanodomain around one open channel (cadyn/nanodomain.hpp) against what can be derived
// independently: units worked out in SI, limits of each approximation, an independent solution of the linearised
// equations for two buffers (2 x 2 algebra by hand, no Jacobi rotations) checked against its own ODEs by finite
// differences, the defining identity of the rapid-buffer approximation, and the length constants of BAPTA and EGTA
// from their published rate constants.
//
// Sources: Neher (1986) Exp Brain Res Ser 14:80-96 (EBA); Naraghi & Neher (1997) J Neurosci 17:6961-6973 (the
// linearised solution); Wagner & Keizer (1994) Biophys J 67:447-456 and Smith (1996) Biophys J 71:3064-3072 (RBA);
// Smith, Wagner & Keizer (1996) Biophys J 70:2527-2539 (validity of EBA and RBA near a point source); Neher (1998)
// Neuron 20:389-399 (the length constant sqrt(D_Ca / (kon B)) of BAPTA, tens of nm, and EGTA, hundreds).
#include <cmath>
#include <numbers>
#include <vector>

#include <gtest/gtest.h>

#include <cadyn/nanodomain.hpp>

namespace cadyn {
namespace {

using nanodomain::buffer;
using nanodomain::source;

constexpr double pi = std::numbers::pi;

// 0.2 pA into the cytosol, 100 nM at rest, D_Ca = 220 um^2/s.
source bare() {
    source s;
    s.current = 0.2;
    s.bulk = 0.1;
    s.d_ca = 0.22;
    return s;
}

// A mobile buffer like the ones in the issue: 100 uM, Kd 0.2 uM, kon 0.6 /uM/ms, D 20 um^2/s.
buffer mobile_buffer() { return {"b", 100.0, 0.2, 0.6, 0.02}; }

// c - c_inf of free diffusion in SI: sigma = i / (2 F) [mol/s], D [m^2/s], r [m] -> mol/m^3 = mM; x 1000 -> uM.
double free_excess_si(double current_pA, double d_um2_per_s, double r_nm) {
    const double sigma = current_pA * 1e-12 / (2 * 96485.33212);
    const double d = d_um2_per_s * 1e-12;
    const double r = r_nm * 1e-9;
    return sigma / (2 * pi * d * r) * 1e3;
}

TEST(nanodomain_analytic, free_diffusion_in_si_units) {
    const source s = bare();
    for (const double r_nm: {2.0, 20.0, 200.0, 5000.0}) {
        const double expected = 0.1 + free_excess_si(0.2, 220.0, r_nm);
        EXPECT_NEAR(nanodomain::free_diffusion(s, r_nm * 1e-3), expected, 1e-12 * expected) << r_nm << " nm";
    }
    // By hand: 0.2 pA -> 1.03643 zmol/ms; / (2 pi 0.22 um^2/ms 0.02 um) = 37.49 uM above rest at 20 nm.
    EXPECT_NEAR(nanodomain::free_diffusion(s, 0.02) - 0.1, 37.49, 0.01);
    EXPECT_NEAR(nanodomain::flux(0.2), 1.036426, 1e-6);
    // Half-space: twice what the same current gives in free space at the same distance.
    EXPECT_NEAR(nanodomain::amplitude(s), 2 * nanodomain::flux(0.2) / (4 * pi), 1e-15);
}

TEST(nanodomain_analytic, clamped_shell_form_vanishes_at_the_outer_radius) {
    const source s = bare();
    EXPECT_NEAR(nanodomain::free_diffusion_clamped(s, 5.0, 5.0), 0.1, 1e-15);
    // Far inside the shell it is free diffusion minus a constant A / (D R).
    const double r = 0.01;
    EXPECT_NEAR(nanodomain::free_diffusion(s, r) - nanodomain::free_diffusion_clamped(s, r, 5.0),
                free_excess_si(0.2, 220.0, 5000.0), 1e-12);
}

TEST(nanodomain_analytic, equilibrium_of_a_buffer_at_rest) {
    const buffer b = mobile_buffer();
    const auto e = nanodomain::at_rest(b, 0.1);
    EXPECT_NEAR(e.bound, 100.0 * 0.1 / 0.3, 1e-12);
    EXPECT_NEAR(e.free, 100.0 * 0.2 / 0.3, 1e-12);
    EXPECT_NEAR(e.bound + e.free, 100.0, 1e-12);
    EXPECT_NEAR(e.capacity, 100.0 * 0.2 / (0.3 * 0.3), 1e-12);
}

TEST(nanodomain_analytic, without_buffers_every_form_is_free_diffusion) {
    const source s = bare();
    EXPECT_TRUE(std::isinf(nanodomain::excess_buffer_length(s)));
    for (const double r: {0.002, 0.02, 0.2, 2.0}) {
        const double f = nanodomain::free_diffusion(s, r);
        EXPECT_NEAR(nanodomain::excess_buffer(s, r), f, 1e-13 * f);
        EXPECT_NEAR(nanodomain::linearized(s, r), f, 1e-13 * f);
        EXPECT_NEAR(nanodomain::rapid_buffer(s, r), f, 1e-13 * f);
    }
}

TEST(nanodomain_analytic, a_fixed_buffer_changes_nothing_at_steady_state) {
    source s = bare();
    buffer fixed = mobile_buffer();
    fixed.diffusion = 0;
    s.buffers = {fixed};
    for (const double r: {0.005, 0.05, 0.5}) {
        const double f = nanodomain::free_diffusion(s, r);
        EXPECT_NEAR(nanodomain::excess_buffer(s, r), f, 1e-13 * f);
        EXPECT_NEAR(nanodomain::linearized(s, r), f, 1e-13 * f);
        EXPECT_NEAR(nanodomain::rapid_buffer(s, r), f, 1e-13 * f);
    }
}

TEST(nanodomain_analytic, eba_tends_to_free_diffusion_as_kon_vanishes) {
    source s = bare();
    buffer b = mobile_buffer();
    b.kon = 1e-18;
    s.buffers = {b};
    for (const double r: {0.002, 0.02, 0.2, 1.0}) {
        const double f = nanodomain::free_diffusion(s, r);
        // exp(-r / lambda) = 1 - r / lambda + ..., lambda = sqrt(0.22 / (1e-18 * 66.7)) um ~ 57 m.
        EXPECT_NEAR(nanodomain::excess_buffer(s, r), f, 1e-6 * f) << r;
    }
}

TEST(nanodomain_analytic, eba_is_a_screened_point_source) {
    source s = bare();
    s.buffers = {mobile_buffer()};
    // lambda = sqrt(D_Ca / (kon B_free)), B_free = 100 * 0.2 / 0.3 uM.
    const double lambda = std::sqrt(0.22 / (0.6 * 100.0 * 0.2 / 0.3));
    EXPECT_NEAR(nanodomain::excess_buffer_length(s), lambda, 1e-15);
    // u = c - c_inf solves D lap u = kon B u: (1 / r^2) (r^2 u')' = u / lambda^2, by finite differences.
    for (const double r: {0.005, 0.03, 0.1}) {
        // The radial Laplacian as (1 / r) d^2 (r u) / dr^2, which differences r u (smooth) instead of u (1 / r).
        const double h = 1e-3 * r;
        const auto ru = [&](double x) { return x * (nanodomain::excess_buffer(s, x) - s.bulk); };
        const auto u = [&](double x) { return ru(x) / x; };
        const double lap = (ru(r + h) - 2 * ru(r) + ru(r - h)) / (h * h * r);
        EXPECT_NEAR(lap, u(r) / (lambda * lambda), 1e-5 * u(r) / (lambda * lambda)) << r;
    }
}

TEST(nanodomain_analytic, rba_tends_to_free_diffusion_as_the_buffer_vanishes) {
    source s = bare();
    buffer b = mobile_buffer();
    b.total = 1e-9;
    s.buffers = {b};
    for (const double r: {0.002, 0.02, 0.2, 2.0}) {
        const double f = nanodomain::free_diffusion(s, r);
        EXPECT_NEAR(nanodomain::rapid_buffer(s, r), f, 1e-9 * f) << r;
    }
}

TEST(nanodomain_analytic, rba_satisfies_its_conserved_combination) {
    // D_ca c + D_b [CaB](c) = D_ca c_inf + D_b [CaB](c_inf) + A / r, [CaB](c) = B c / (K + c): one buffer (the
    // closed-form root) and three (the monotone solve).
    for (const std::size_t count: {1u, 3u}) {
        source s = bare();
        s.current = 0.5;
        s.buffers.clear();
        for (std::size_t k = 0; k < count; ++k) {
            buffer b = mobile_buffer();
            b.kd = 0.2 * static_cast<double>(k + 1) * static_cast<double>(k + 1);
            b.total = 100.0 / static_cast<double>(k + 1);
            b.diffusion = 0.02 * static_cast<double>(k + 1);
            s.buffers.push_back(b);
        }
        for (const double r: {1e-4, 0.002, 0.02, 0.2, 2.0, 200.0}) {
            const double c = nanodomain::rapid_buffer(s, r);
            double lhs = s.d_ca * c;
            double rhs = s.d_ca * s.bulk + nanodomain::amplitude(s) / r;
            for (const auto& b: s.buffers) {
                lhs += b.diffusion * b.total * c / (b.kd + c);
                rhs += b.diffusion * b.total * s.bulk / (b.kd + s.bulk);
            }
            EXPECT_NEAR(lhs, rhs, 1e-12 * rhs) << count << " buffers, r = " << r;
        }
    }
}

TEST(nanodomain_analytic, rba_limits_near_and_far) {
    source s = bare();
    s.buffers = {mobile_buffer()};
    const double a = nanodomain::amplitude(s);
    // Far away c -> c_inf, with the effective diffusion of buffered Ca: (c - c_inf) r -> A / (D_ca + kappa D_b).
    const double kappa = 100.0 * 0.2 / (0.3 * 0.3);
    EXPECT_NEAR(nanodomain::rapid_buffer(s, 1e9), s.bulk, 1e-9);
    const double r = 1e4;
    EXPECT_NEAR((nanodomain::rapid_buffer(s, r) - s.bulk) * r, a / (0.22 + kappa * 0.02), 1e-4 * a / (0.22 + kappa * 0.02));
    // Close to the source the buffer is saturated and Ca diffuses freely: (c - c_inf) r D_ca / A -> 1.
    const double r0 = 1e-7;
    EXPECT_NEAR((nanodomain::rapid_buffer(s, r0) - s.bulk) * r0 * s.d_ca / a, 1.0, 1e-3);
}

TEST(nanodomain_analytic, linearized_one_buffer_closed_form_and_limits) {
    source s = bare();
    const buffer b = mobile_buffer();
    s.buffers = {b};
    // Naraghi & Neher (1997): 1 / lambda^2 = kon B_free / D_ca + kon (c_inf + K) / D_b, weight a / (a + d).
    const double a = 0.6 * (100.0 * 0.2 / 0.3) / 0.22;
    const double d = 0.6 * (0.1 + 0.2) / 0.02;
    const auto lin = nanodomain::linearize(s);
    ASSERT_EQ(lin.lengths.size(), 1u);
    EXPECT_NEAR(lin.lengths[0], 1 / std::sqrt(a + d), 1e-12 * lin.lengths[0]);
    EXPECT_NEAR(lin.weights[0], a / (a + d), 1e-12);
    EXPECT_NEAR(lin.far, d / (a + d), 1e-12);
    // Far weight = D_ca / (D_ca + kappa D_b).
    const double kappa = 100.0 * 0.2 / (0.3 * 0.3);
    EXPECT_NEAR(lin.far, 0.22 / (0.22 + kappa * 0.02), 1e-12);

    // D_b -> oo: the free buffer no longer moves, LIN -> EBA.
    source fast = s;
    fast.buffers[0].diffusion = 1e9;
    for (const double r: {0.002, 0.02, 0.2}) {
        const double eba = nanodomain::excess_buffer(fast, r);
        EXPECT_NEAR(nanodomain::linearized(fast, r), eba, 1e-6 * eba) << r;
    }
    // D_b -> 0: the buffer fills up where it is and carries nothing, LIN -> free diffusion.
    source slow = s;
    slow.buffers[0].diffusion = 1e-12;
    for (const double r: {0.002, 0.02, 0.2}) {
        const double f = nanodomain::free_diffusion(slow, r);
        EXPECT_NEAR(nanodomain::linearized(slow, r), f, 1e-6 * f) << r;
    }
}

TEST(nanodomain_analytic, linearized_equals_rba_for_rapid_buffers_and_small_currents) {
    // kon -> oo (Kd fixed): the linearised length -> 0 and LIN -> A / ((D_ca + kappa D_b) r), which is the RBA
    // linearised around c_inf; with a small current the RBA itself is linear.
    source s = bare();
    s.current = 1e-6;
    buffer b = mobile_buffer();
    b.kon = 1e4;
    s.buffers = {b};
    for (const double r: {0.01, 0.1, 1.0}) {
        const double lin = nanodomain::linearized(s, r) - s.bulk;
        const double rba = nanodomain::rapid_buffer(s, r) - s.bulk;
        EXPECT_NEAR(lin, rba, 1e-4 * rba) << r;
    }
}

TEST(nanodomain_analytic, rba_and_eba_agree_for_a_rapid_buffer_in_large_excess) {
    // 10 mM of a fast (1 /uM/ms) low-affinity (Kd 100 uM) buffer diffusing like Ca: kappa = 99.8, so
    // kappa D_b / D_ca ~ 100, and lambda = sqrt(0.22 / (1 * 9990)) um = 4.7 nm. Beyond a few lambda both say the
    // channel's Ca is almost all taken up: the EBA's excess over rest decays as exp(-r / lambda), the RBA's is
    // D_ca / (D_ca + kappa D_b) ~ 1 % of free diffusion's; each is below 2 % of it, so they agree to that.
    source s = bare();
    s.buffers = {{"fast", 10000.0, 100.0, 1.0, 0.22}};
    const double lambda = nanodomain::excess_buffer_length(s);
    EXPECT_NEAR(lambda, std::sqrt(0.22 / (1.0 * 10000.0 * 100.0 / 100.1)), 1e-12);
    for (const double r: {5 * lambda, 10 * lambda, 50 * lambda}) {
        const double free = nanodomain::free_diffusion(s, r) - s.bulk;
        const double eba = nanodomain::excess_buffer(s, r) - s.bulk;
        const double rba = nanodomain::rapid_buffer(s, r) - s.bulk;
        EXPECT_LT(eba, 0.02 * free) << r;
        EXPECT_LT(rba, 0.02 * free) << r;
        EXPECT_NEAR(eba, rba, 0.02 * free) << r;
    }
}

// The linearised equations for two buffers solved by hand, independently of linearize(): M = diag(d) + a 1^T is
// 2 x 2, its eigenvalues are the roots of mu^4 - tr mu^2 + det = 0, an eigenvector of mu^2 is (M12, mu^2 - M11),
// and the regular solution x = (A / r) sum_m c_m e_m (1 - exp(-mu_m r)) has sum_m c_m e_m = M^-1 a.
struct two_buffer_solution {
    double a[2], dd[2], mu2[2], e[2][2], c[2];
    double amp, d_ca;
    // x_j(r) = D_j v_j (r): the bound-buffer excess times its diffusion coefficient.
    double x(std::size_t j, double r) const {
        double v = 0;
        for (std::size_t m = 0; m < 2; ++m) {
            v += c[m] * e[m][j] * (1 - std::exp(-std::sqrt(mu2[m]) * r));
        }
        return amp / r * v;
    }
    double w(double r) const { return amp / r; }
    double u(double r) const { return (w(r) - x(0, r) - x(1, r)) / d_ca; }
};

two_buffer_solution solve_two(const source& s) {
    two_buffer_solution t{};
    t.amp = nanodomain::amplitude(s);
    t.d_ca = s.d_ca;
    for (std::size_t j = 0; j < 2; ++j) {
        const auto& b = s.buffers[j];
        const double free = b.total * b.kd / (b.kd + s.bulk);
        t.a[j] = b.kon * free / s.d_ca;
        t.dd[j] = b.kon * (s.bulk + b.kd) / b.diffusion;
    }
    const double m11 = t.dd[0] + t.a[0], m12 = t.a[0], m21 = t.a[1], m22 = t.dd[1] + t.a[1];
    const double tr = m11 + m22, det = m11 * m22 - m12 * m21;
    const double disc = std::sqrt(tr * tr - 4 * det);
    t.mu2[0] = (tr - disc) / 2;
    t.mu2[1] = (tr + disc) / 2;
    for (std::size_t m = 0; m < 2; ++m) {
        t.e[m][0] = m12;
        t.e[m][1] = t.mu2[m] - m11;
    }
    // y0 = M^-1 a by Cramer's rule, then y0 = c_0 e_0 + c_1 e_1.
    const double y0 = (t.a[0] * m22 - m12 * t.a[1]) / det;
    const double y1 = (m11 * t.a[1] - m21 * t.a[0]) / det;
    const double de = t.e[0][0] * t.e[1][1] - t.e[1][0] * t.e[0][1];
    t.c[0] = (y0 * t.e[1][1] - t.e[1][0] * y1) / de;
    t.c[1] = (t.e[0][0] * y1 - y0 * t.e[0][1]) / de;
    return t;
}

TEST(nanodomain_analytic, linearized_two_buffers_against_a_hand_solution_of_the_linear_equations) {
    source s = bare();
    // BAPTA-like (fast, 0.5 mM) and EGTA-like (slow, 2 mM) buffers, both mobile.
    s.buffers = {{"bapta", 500.0, 0.22, 0.4, 0.22 * 0.9}, {"egta", 2000.0, 0.07, 0.01, 0.22 * 0.9}};
    const auto t = solve_two(s);
    // First: the hand solution solves the linearised equations (finite differences, relative 1e-5):
    //   D_ca lap u = sum_j (D_ca a_j u - x_j d_j),   lap x_j = -(D_ca a_j u - x_j d_j)  (x_j = D_j v_j)
    for (const double r: {0.003, 0.02, 0.1, 0.5}) {
        // The radial Laplacian as (1 / r) d^2 (r f) / dr^2 (r f is smooth; f has a 1 / r part).
        const double h = 1e-3 * r;
        const auto lap = [&](auto f) {
            return ((r + h) * f(r + h) - 2 * r * f(r) + (r - h) * f(r - h)) / (h * h * r);
        };
        const double u = t.u(r);
        double sum_reactions = 0;
        double scale = 0;
        for (std::size_t j = 0; j < 2; ++j) {
            const double reaction = s.d_ca * t.a[j] * u - t.x(j, r) * t.dd[j];
            sum_reactions += reaction;
            scale += std::abs(s.d_ca * t.a[j] * u) + std::abs(t.x(j, r) * t.dd[j]);
            const double lx = lap([&](double q) { return t.x(j, q); });
            const double terms = std::abs(s.d_ca * t.a[j] * u) + std::abs(t.x(j, r) * t.dd[j]);
            EXPECT_NEAR(lx, -reaction, 1e-5 * terms) << "buffer " << j << " r " << r;
        }
        const double lu = lap([&](double q) { return t.u(q); });
        EXPECT_NEAR(s.d_ca * lu, sum_reactions, 1e-5 * scale) << "Ca, r " << r;
        // u is regular where it should be: x_j finite at the source.
    }
    EXPECT_NEAR(t.x(0, 1e-9), t.amp * (t.c[0] * t.e[0][0] * std::sqrt(t.mu2[0]) + t.c[1] * t.e[1][0] * std::sqrt(t.mu2[1])),
                1e-5 * std::abs(t.x(0, 1e-9)));
    // Then: linearized() gives the same Ca.
    for (const double r: {0.001, 0.005, 0.02, 0.1, 0.3, 1.0, 5.0}) {
        const double expected = s.bulk + t.u(r);
        EXPECT_NEAR(nanodomain::linearized(s, r), expected, 1e-9 * expected) << r;
    }
    const auto lin = nanodomain::linearize(s);
    ASSERT_EQ(lin.lengths.size(), 2u);
    EXPECT_NEAR(lin.lengths[0], 1 / std::sqrt(t.mu2[1]), 1e-12 * lin.lengths[0]);
    EXPECT_NEAR(lin.lengths[1], 1 / std::sqrt(t.mu2[0]), 1e-12 * lin.lengths[1]);
    double sum = lin.far;
    for (const double w: lin.weights) {
        EXPECT_GE(w, 0.0);
        sum += w;
    }
    EXPECT_NEAR(sum, 1.0, 1e-12);
}

TEST(nanodomain_analytic, two_halves_of_a_buffer_are_one_buffer) {
    source one = bare();
    one.buffers = {mobile_buffer()};
    source two = bare();
    buffer half = mobile_buffer();
    half.total /= 2;
    two.buffers = {half, half};
    for (const double r: {0.002, 0.02, 0.2, 2.0}) {
        const double lin = nanodomain::linearized(one, r);
        const double rba = nanodomain::rapid_buffer(one, r);
        const double eba = nanodomain::excess_buffer(one, r);
        EXPECT_NEAR(nanodomain::linearized(two, r), lin, 1e-12 * lin) << r;
        EXPECT_NEAR(nanodomain::rapid_buffer(two, r), rba, 1e-12 * rba) << r;
        EXPECT_NEAR(nanodomain::excess_buffer(two, r), eba, 1e-12 * eba) << r;
    }
}

TEST(nanodomain_analytic, ordering_around_a_buffered_channel) {
    // With a mobile buffer every approximation lies below free diffusion, and the EBA (which lets the buffer
    // capture without ever depleting it) lies below the linearised solution (which lets the buffer deplete).
    source s = bare();
    s.buffers = {mobile_buffer()};
    for (const double r: {0.005, 0.02, 0.1, 0.5}) {
        const double f = nanodomain::free_diffusion(s, r);
        const double lin = nanodomain::linearized(s, r);
        const double eba = nanodomain::excess_buffer(s, r);
        const double rba = nanodomain::rapid_buffer(s, r);
        EXPECT_LT(lin, f) << r;
        EXPECT_LT(eba, lin) << r;
        EXPECT_LT(rba, f) << r;
        EXPECT_GT(eba, s.bulk) << r;
    }
}

TEST(nanodomain_analytic, length_constants_of_bapta_and_egta) {
    // Neher (1998): lambda = sqrt(D_Ca / (kon B)). Rate constants as usually quoted: BAPTA kon = 4e8 /M/s
    // (0.4 /uM/ms), EGTA kon = 2.5e6 /M/s (0.0025 /uM/ms, the slow end of the range, pH 7.2); D_Ca 220 um^2/s;
    // the buffer Ca-free (c_inf -> 0, so the free buffer is the total). BAPTA at 1 mM: sqrt(0.22 / 400) um
    // = 23.5 nm, in the 20-30 nm quoted for it; EGTA at 1 mM: sqrt(0.22 / 2.5) um = 297 nm, hundreds of nm.
    source s = bare();
    s.bulk = 0;
    s.buffers = {{"bapta", 1000.0, 0.22, 0.4, 0.2}};
    const double bapta = nanodomain::excess_buffer_length(s);
    EXPECT_NEAR(bapta * 1e3, 23.45, 0.01);
    EXPECT_GT(bapta, 0.020);
    EXPECT_LT(bapta, 0.030);
    s.buffers = {{"egta", 1000.0, 0.07, 0.0025, 0.2}};
    const double egta = nanodomain::excess_buffer_length(s);
    EXPECT_NEAR(egta * 1e3, 296.6, 0.1);
    EXPECT_GT(egta, 0.200);
    // Ten times more buffer: sqrt(10) shorter.
    s.buffers[0].total = 10000.0;
    EXPECT_NEAR(nanodomain::excess_buffer_length(s), egta / std::sqrt(10.0), 1e-12);
}

TEST(nanodomain_analytic, log_spaced_ends_exactly) {
    const auto r = nanodomain::log_spaced(0.002, 2.0, 4);
    ASSERT_EQ(r.size(), 4u);
    EXPECT_DOUBLE_EQ(r.front(), 0.002);
    EXPECT_DOUBLE_EQ(r.back(), 2.0);
    EXPECT_NEAR(r[1], 0.02, 1e-15);
    EXPECT_NEAR(r[2], 0.2, 1e-14);
}

} // namespace
} // namespace cadyn
