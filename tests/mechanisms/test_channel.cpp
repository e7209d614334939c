// Channel kernel against its closed form. While open (open_at <= t < close_at) a Ca current i enters the inner
// compartment; by Faraday's law (i = z F J, z = 2 for Ca2+) the amount flux is
//
//   J_in = i / (2 F)        [zmol/ms], i in pA:  i * 1e-12 C/s / (2 * 96485.33212 C/mol) * 1e-3 s/ms * 1e21 zmol/mol
//
// and 0 otherwise. It is not a stimulus: a steady-state solve keeps it open (the nanodomain's steady state).
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include <cadyn/catalogue.hpp>
#include <cadyn/units.hpp>

#include "mechanism_harness.hpp"

namespace cadyn {
namespace {

using testing_support::all_near;
using testing_support::mechanism_harness;
using testing_support::metadata_is_consistent;

// Faraday's law written out in SI units, independent of constants::zmol_per_ms_per_pA.
double faraday_flux(double current_pA) {
    constexpr double faraday = 96485.33212;  // C/mol, CODATA 2018 (exact)
    const double mol_per_s = current_pA * 1e-12 / (2 * faraday);
    return mol_per_s * 1e-3 * 1e21;  // per ms, in zmol
}

TEST(channel, metadata) {
    const mechanism* m = find_mechanism("channel");
    ASSERT_NE(m, nullptr);
    EXPECT_TRUE(metadata_is_consistent(*m));
    const mechanism_info& info = m->info();
    EXPECT_EQ(info.kind, mechanism_kind::membrane);
    EXPECT_FALSE(info.is_stimulus);  // stays open when the steady state is computed
    EXPECT_EQ(info.energy, energy_source::external);
    EXPECT_TRUE(info.reads.empty());
    EXPECT_TRUE(info.states.empty());
    ASSERT_EQ(info.outputs.size(), 1u);
    EXPECT_EQ(info.outputs[0], "ca");
    ASSERT_EQ(info.parameters.size(), 3u);
    EXPECT_EQ(info.parameters[0].name, "current");
    EXPECT_EQ(info.parameters[0].dim, &dims::current);
    EXPECT_EQ(info.parameters[1].name, "open_at");
    EXPECT_EQ(info.parameters[2].name, "close_at");
    EXPECT_EQ(info.parameters[0].lower, -std::numeric_limits<double>::infinity());
}

TEST(channel, defaults_half_a_picoampere_open_from_zero_practically_forever) {
    mechanism_harness h("channel", 1);
    EXPECT_DOUBLE_EQ(h.param("current")[0], 0.5);
    EXPECT_DOUBLE_EQ(h.param("open_at")[0], 0.0);
    EXPECT_DOUBLE_EQ(h.param("close_at")[0], 1e12);  // 1e9 s in ms
    h.t = 0;
    h.rates();
    EXPECT_TRUE(all_near(h.out(0), {faraday_flux(0.5)}, 1e-12));
}

TEST(channel, open_flux_is_current_over_2F) {
    // Five channels: a typical unitary current, a large one, an outward one, zero, a tiny one; areas differ to
    // show the current is per channel, not per area.
    mechanism_harness h("channel", 5);
    h.param("current") = {0.2, 3.0, -0.4, 0.0, 1e-6};
    h.size = {1e-5, 1.0, 50.0, 2.0, 1e3};
    h.t = 1.0;
    h.rates();
    EXPECT_TRUE(all_near(h.out(0), {faraday_flux(0.2), faraday_flux(3.0), faraday_flux(-0.4), 0.0, faraday_flux(1e-6)},
                         1e-12));
    // 1 pA of Ca current is 1e-12 / (2 F) mol/s = 5.182 zmol/ms (3121 ions per ms).
    EXPECT_NEAR(faraday_flux(1.0), 5.18213, 1e-5);
}

TEST(channel, zero_outside_its_window_and_open_on_the_left_edge) {
    mechanism_harness h("channel", 1);
    h.set_param("current", 0.7);
    h.set_param("open_at", 5.0);
    h.set_param("close_at", 12.5);
    const double on = faraday_flux(0.7);
    const std::vector<std::pair<double, double>> times = {
        {0.0, 0.0}, {4.999999, 0.0}, {5.0, on}, {8.0, on}, {12.4999999, on}, {12.5, 0.0}, {100.0, 0.0}};
    for (const auto& [t, expected]: times) {
        h.t = t;
        h.rates();
        EXPECT_TRUE(all_near(h.out(0), {expected}, 1e-12)) << "t = " << t;
    }
    // Closing before opening: never open.
    h.set_param("open_at", 10.0);
    h.set_param("close_at", 3.0);
    for (const double t: {0.0, 3.0, 5.0, 10.0, 20.0}) {
        h.t = t;
        h.rates();
        EXPECT_TRUE(all_near(h.out(0), {0.0}, 0.0)) << "t = " << t;
    }
}

TEST(channel, breakpoints_at_its_edges_within_t_end) {
    mechanism_harness h("channel", 1);
    h.set_param("open_at", 5.0);
    h.set_param("close_at", 12.5);
    EXPECT_TRUE(all_near(h.breakpoints(100.0), {5.0, 12.5}, 0.0));
    EXPECT_TRUE(all_near(h.breakpoints(10.0), {5.0}, 0.0));   // closing lies beyond t_end
    EXPECT_TRUE(all_near(h.breakpoints(12.5), {5.0, 12.5}, 0.0));  // (0, t_end] includes t_end
    EXPECT_TRUE(h.breakpoints(4.0).empty());
    // Open from t = 0 (the default): times are in (0, t_end], so nothing before it closes.
    h.set_param("open_at", 0.0);
    EXPECT_TRUE(all_near(h.breakpoints(100.0), {12.5}, 0.0));
    // The default closing time is far beyond any run.
    mechanism_harness d("channel", 1);
    EXPECT_TRUE(d.breakpoints(1e6).empty());
}

TEST(channel, several_instances_append_their_own_edges) {
    mechanism_harness h("channel", 3);
    h.param("open_at") = {1.0, 0.0, 2.0};
    h.param("close_at") = {4.0, 3.0, 1e12};
    EXPECT_TRUE(all_near(h.breakpoints(10.0), {1.0, 4.0, 3.0, 2.0}, 0.0));
    h.t = 2.5;
    h.rates();
    const double on = faraday_flux(0.5);
    EXPECT_TRUE(all_near(h.out(0), {on, on, on}, 1e-12));
    h.t = 3.5;
    h.rates();
    EXPECT_TRUE(all_near(h.out(0), {on, 0.0, on}, 1e-12));
}

} // namespace
} // namespace cadyn
