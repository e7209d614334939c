// Imposed membrane potentials: voltage-clamp steps, action-potential trains and expressions.
#include <cmath>
#include <numbers>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cadyn/model.hpp>
#include <cadyn/simulate.hpp>

#include "run_helpers.hpp"

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(protocols, steps_hold_each_level_for_its_duration) {
    cadyn::potential_protocol p;
    p.type = cadyn::potential_protocol::kind::steps;
    p.levels = {-80, 0, -80};
    p.durations = {10, 50};
    EXPECT_EQ(cadyn::potential_at(p, -70, 0.0), -80);
    EXPECT_EQ(cadyn::potential_at(p, -70, 9.999), -80);
    EXPECT_EQ(cadyn::potential_at(p, -70, 10.0), 0);   // each level starts at the sum of the earlier durations
    EXPECT_EQ(cadyn::potential_at(p, -70, 59.9), 0);
    EXPECT_EQ(cadyn::potential_at(p, -70, 60.0), -80);
    EXPECT_EQ(cadyn::potential_at(p, -70, 1e6), -80);  // the last level holds
    std::vector<double> breaks;
    cadyn::protocol_breakpoints(p, 100, breaks);
    EXPECT_THAT(breaks, ElementsAre(10, 60));
}

TEST(protocols, spikes_are_gaussians_of_the_given_half_width) {
    // V = rest + (peak - rest) exp(-4 ln2 ((t - t_k - 2w)/w)^2): the peak 2w after each onset, half height at
    // +-w/2 from it (full width at half maximum w).
    cadyn::potential_protocol p;
    p.type = cadyn::potential_protocol::kind::spikes;
    p.rest = -70;
    p.peak = 30;
    p.start = 5;
    p.frequency = 0.05;  // 50 Hz = 0.05 /ms
    p.count = 3;
    p.width = 1;
    for (int k = 0; k < 3; ++k) {
        const double centre = 5 + 20.0 * k + 2;
        EXPECT_NEAR(cadyn::potential_at(p, -70, centre), 30, 1e-9) << k;
        EXPECT_NEAR(cadyn::potential_at(p, -70, centre + 0.5), -20, 1e-9) << k;  // half of 100 mV above rest
        EXPECT_NEAR(cadyn::potential_at(p, -70, centre - 0.5), -20, 1e-9) << k;
        EXPECT_NEAR(cadyn::potential_at(p, -70, centre + 10), -70, 1e-9) << k;
    }
    EXPECT_NEAR(cadyn::potential_at(p, -70, 5 + 60 + 2), -70, 1e-9);  // count respected
    std::vector<double> breaks;
    cadyn::protocol_breakpoints(p, 100, breaks);
    EXPECT_THAT(breaks, ElementsAre(5, 25, 45));
}

TEST(protocols, recorded_potential_follows_the_protocol_in_a_run) {
    auto sys = cadyn::testing::compile_text(R"(
[[compartments]]
name = "ext"
volume = "1 nL"
clamped = true
concentrations = { ca = "2 mM" }

[[compartments]]
name = "cyt"
volume = "1 pL"
concentrations = { ca = "0.1 uM" }

[[membranes]]
name = "pm"
inner = "cyt"
outer = "ext"
area = "500 um^2"
potential = "-70 mV"
protocol = { type = "steps", levels = ["-80 mV", "0 mV", "-80 mV"], durations = ["10 ms", "20 ms"] }

[[mechanisms]]
type = "pmca"
membrane = "pm"

[run]
t_end = "50 ms"

[record]
interval = "5 ms"
)");
    cadyn::memory_recorder rec;
    cadyn::simulate(sys, rec);
    EXPECT_THAT(rec.column("pm.V"), ElementsAre(-80, -80, 0, 0, 0, 0, -80, -80, -80, -80, -80));
}

TEST(protocols, expression_protocol_uses_time_and_parameters) {
    auto sys = cadyn::testing::compile_text(R"(
[[compartments]]
name = "ext"
volume = "1 nL"
clamped = true
concentrations = { ca = "2 mM" }

[[compartments]]
name = "cyt"
volume = "1 pL"
concentrations = { ca = "0.1 uM" }

[parameters]
ramp = "2 mV/ms"

[[membranes]]
name = "pm"
inner = "cyt"
outer = "ext"
area = "500 um^2"
protocol = { type = "expression", value = "-80 + ramp * t" }

[[mechanisms]]
type = "leak"
membrane = "pm"

[run]
t_end = "40 ms"

[record]
interval = "10 ms"
)");
    cadyn::memory_recorder rec;
    cadyn::simulate(sys, rec);
    EXPECT_THAT(rec.column("pm.V"), ElementsAre(-80, -60, -40, -20, 0));
}

TEST(protocols, bad_protocols_are_reported) {
    try {
        cadyn::testing::compile_text(R"(
[[compartments]]
name = "cyt"
volume = "1 pL"

[[compartments]]
name = "ext"
volume = "1 nL"
clamped = true

[[membranes]]
name = "pm"
inner = "cyt"
outer = "ext"
area = "500 um^2"
protocol = { type = "steps", levels = ["-80 mV", "0 mV"], durations = [] }

[[membranes]]
name = "pm2"
inner = "cyt"
outer = "ext"
area = "500 um^2"
protocol = { type = "ramp" }
)");
        FAIL() << "expected a model_error";
    }
    catch (const cadyn::model_error& e) {
        EXPECT_THAT(e.what(), HasSubstr("a duration for every level but the last"));
        EXPECT_THAT(e.what(), HasSubstr("expected \"steps\", \"spikes\" or \"expression\""));
    }
}
