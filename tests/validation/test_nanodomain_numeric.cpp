// The numeric steady-state nanodomain (cadyn's spatial engine: half-shells around a `channel`, mobile `buffer`s,
// KINSOL with KLU) against the analytic forms of cadyn/nanodomain.hpp, where each is exact or its error is known:
//
//  - no buffer: the exact solution of the discretised problem's continuum, free diffusion in a half-shell held at
//    c_inf at its outer radius R, c = c_inf + sigma / (2 pi D) (1 / r - 1 / R), within 2 % from the fourth voxel
//    on (the first voxels see the finite-volume error of the 1 / r singularity);
//  - a slow buffer in excess (1 mM EGTA): the free buffer hardly moves, so the linearised solution (and the EBA,
//    Neher 1986) is near exact: within 3 % at 20 and 200 nm;
//  - a fast buffer (1 mM BAPTA): within 5 % of the linearised solution at 20 nm and of its excess over rest at
//    200 nm (Naraghi & Neher 1997: the linearisation holds while the free buffer near the channel stays near its
//    resting value; here it falls by at most a few %);
//  - a rapid, low-affinity buffer (kon 1e10 /M/s, the diffusion limit; Kd 50 uM): the RBA (Smith 1996) is
//    accurate beyond a few of its reaction lengths (the linearised length, 5.5 nm): within 3 % from 30 nm on;
//  - a buffer that saturates near the channel (the 100 uM, Kd 0.2 uM, kon 0.6 /uM/ms, D 20 um^2/s), where
//    every approximation fails (up to 2x at 200 nm): against an independent solution of the same boundary-value
//    problem by scipy.integrate.solve_bvp (see that test), within 1 %.
//
// The sources as in test_nanodomain_analytic.cpp.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include <cadyn/error.hpp>
#include <cadyn/nanodomain.hpp>
#include <cadyn/system.hpp>

namespace cadyn {
namespace {

using nanodomain::buffer;
using nanodomain::source;

source base() {
    source s;
    s.current = 0.2;
    s.bulk = 0.1;
    s.d_ca = 0.22;
    return s;
}

nanodomain::grid_options grid_for_tests() {
    nanodomain::grid_options g;
    g.mouth = 0.002;
    g.domain = 5;
    g.voxels = 300;
    g.finest = 0.0005;
    return g;
}

TEST(nanodomain_numeric, the_model_compiles_to_one_field_per_voxel) {
    const auto g = grid_for_tests();
    const model_spec m = nanodomain::numeric_model(base(), g);
    system sys = compile(m);
    const long ca = sys.state_index("cyt", "ca");
    ASSERT_GE(ca, 0);
    EXPECT_GE(sys.size(), g.voxels);
}

TEST(nanodomain_numeric, free_diffusion_in_a_clamped_half_shell) {
    const source s = base();
    const auto g = grid_for_tests();
    const auto p = nanodomain::solve_numeric(s, g);
    ASSERT_TRUE(p.converged) << p.method << " residual " << p.residual;
    ASSERT_EQ(p.r.size(), g.voxels);
    double worst = 0;
    for (std::size_t i = 3; i < p.r.size(); ++i) {
        const double exact = nanodomain::free_diffusion_clamped(s, p.r[i], g.domain);
        const double err = std::abs(p.c[i] - exact) / exact;
        worst = std::max(worst, err);
        EXPECT_LT(err, 0.02) << "voxel " << i << " at r = " << p.r[i] * 1e3 << " nm: numeric " << p.c[i]
                             << " uM, exact " << exact << " uM";
    }
    RecordProperty("worst_relative_error", std::to_string(worst));
    // The far boundary is held at rest; the last voxel's centre lies half a (coarse) voxel inside it.
    EXPECT_NEAR(p.c.back(), s.bulk, 0.01);
}

TEST(nanodomain_numeric, egta_in_excess_follows_the_linearized_and_excess_buffer_forms) {
    source s = base();
    s.buffers = {{"egta", 1000.0, 0.07, 0.0105, 0.22}};
    const auto p = nanodomain::solve_numeric(s, grid_for_tests());
    ASSERT_TRUE(p.converged) << p.method;
    for (const double r: {0.02, 0.2}) {
        const double numeric = p.at(r);
        const double lin = nanodomain::linearized(s, r);
        const double eba = nanodomain::excess_buffer(s, r);
        EXPECT_NEAR(numeric, lin, 0.03 * lin) << r;
        EXPECT_NEAR(numeric, eba, 0.03 * eba) << r;
        // EGTA captures little within 20 nm and most of the Ca by 200 nm.
        if (r < 0.1) {
            EXPECT_GT(numeric - s.bulk, 0.85 * (nanodomain::free_diffusion(s, r) - s.bulk));
        }
        else {
            EXPECT_LT(numeric - s.bulk, 0.5 * (nanodomain::free_diffusion(s, r) - s.bulk));
        }
    }
}

TEST(nanodomain_numeric, bapta_follows_the_linearized_form) {
    source s = base();
    s.buffers = {{"bapta", 1000.0, 0.22, 0.4, 0.22}};
    const auto p = nanodomain::solve_numeric(s, grid_for_tests());
    ASSERT_TRUE(p.converged) << p.method;
    const double lin20 = nanodomain::linearized(s, 0.02);
    EXPECT_NEAR(p.at(0.02), lin20, 0.05 * lin20);
    const double lin200 = nanodomain::linearized(s, 0.2) - s.bulk;
    EXPECT_NEAR(p.at(0.2) - s.bulk, lin200, 0.05 * lin200);
    // BAPTA cuts the Ca 20 nm from the channel to about half of free diffusion's (lambda ~ 28 nm).
    EXPECT_LT(p.at(0.02) - s.bulk, 0.6 * (nanodomain::free_diffusion(s, 0.02) - s.bulk));
}

TEST(nanodomain_numeric, a_rapid_buffer_follows_the_rba) {
    source s = base();
    s.buffers = {{"rapid", 500.0, 50.0, 10.0, 0.05}};
    const auto p = nanodomain::solve_numeric(s, grid_for_tests());
    ASSERT_TRUE(p.converged) << p.method;
    ASSERT_NEAR(nanodomain::linearize(s).lengths.at(0), 0.0055, 0.0002);
    for (const double r: {0.03, 0.1, 0.5}) {
        // In the clamped half-shell the conserved combination D_ca c + D_b [CaB] is harmonic and at rest at R, so it
        // is the RBA's with A / r replaced by A (1 / r - 1 / R): the RBA at the distance r' with 1 / r' = 1 / r - 1 / R.
        const double rba = nanodomain::rapid_buffer(s, 1 / (1 / r - 1 / 5.0));
        EXPECT_NEAR(p.at(r), rba, 0.03 * rba) << r;
    }
}

TEST(nanodomain_numeric, a_saturating_buffer_against_an_independent_solution) {
    // The reference: the radial steady state written as a first-order system in (c, r^2 c', [CaB], r^2 [CaB]')
    // and solved by scipy.integrate.solve_bvp (SciPy 1.10, tol 1e-6 and 1e-8, 2000 and 4000 log-spaced initial
    // nodes: the same digits) on [2 nm, 5 um], with r0^2 c'(r0) = -sigma / (2 pi D_ca), [CaB]'(r0) = 0, and c,
    // [CaB] at rest at 5 um:
    //   c(20 nm) = 32.6813 uM, c(200 nm) = 0.91633 uM.
    // Here the buffer saturates within ~100 nm of the channel (c >> Kd, only 100 uM of it), so it captures less
    // than every approximation assumes and Ca reaches farther: at 200 nm about twice the linearised value.
    source s = base();
    s.buffers = {{"cb", 100.0, 0.2, 0.6, 0.02}};
    const auto p = nanodomain::solve_numeric(s, grid_for_tests());
    ASSERT_TRUE(p.converged) << p.method;
    EXPECT_NEAR(p.at(0.02), 32.6813, 0.01 * 32.6813);
    EXPECT_NEAR(p.at(0.2), 0.91633, 0.01 * 0.91633);
    EXPECT_GT(p.at(0.2), 1.5 * nanodomain::linearized(s, 0.2));
    EXPECT_GT(p.at(0.2), 1.5 * nanodomain::rapid_buffer(s, 0.2));
}

} // namespace
} // namespace cadyn
