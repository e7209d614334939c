// Events: values set at a time during the run (block a pump, change the bath, add a bolus), against analytic
// relaxations after the event.
#include <cmath>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cadyn/simulate.hpp>

#include "run_helpers.hpp"

using ::testing::HasSubstr;

namespace {

double value_at(const cadyn::memory_recorder& rec, const std::string& name, double t) {
    const auto& times = rec.times();
    for (std::size_t k = 0; k < times.size(); ++k) {
        if (std::abs(times[k] - t) < 1e-9) {
            return rec.column(name)[k];
        }
    }
    throw std::runtime_error("no record at that time");
}

} // namespace

TEST(events, blocking_serca_lets_the_er_empty_through_its_leak) {
    // Closed cell, no buffers. After serca.vmax = 0 at t0 only the leak acts: the difference d = c_er - c decays
    // as exp(-k (t - t0)), k = P A (1/V_er + 1/V_cyt).
    auto sys = cadyn::testing::compile_text(R"toml(
[[compartments]]
name = "cyt"
volume = "1 pL"
concentrations = { ca = "0.1 uM" }

[[compartments]]
name = "er"
volume = "0.1 pL"
concentrations = { ca = "400 uM" }

[[membranes]]
name = "erm"
inner = "er"
outer = "cyt"
area = "500 um^2"

[[mechanisms]]
type = "serca"
membrane = "erm"
vmax = "0.2 zmol/(um^2 ms)"

[[mechanisms]]
type = "leak"
membrane = "erm"
permeability = "2e-4 um/ms"

[[events]]
time = "1 s"
set = { "serca.vmax" = "0 uM/s" }

[run]
t_end = "5 s"
rtol = 1e-9
atol = "1e-12 uM"

[record]
interval = "100 ms"
)toml");
    cadyn::memory_recorder rec;
    cadyn::simulate(sys, rec);
    const double k = 2e-4 * 500 * (1 / 100.0 + 1 / 1000.0);  // [1/ms]
    const double d0 = value_at(rec, "er.ca", 1000) - value_at(rec, "cyt.ca", 1000);
    for (const double t: {1500.0, 2000.0, 3000.0, 5000.0}) {
        const double d = value_at(rec, "er.ca", t) - value_at(rec, "cyt.ca", t);
        EXPECT_NEAR(d, d0 * std::exp(-k * (t - 1000)), 1e-6 * d0) << "t = " << t;
    }
}

TEST(events, changing_the_bath_and_adding_a_bolus) {
    // A cell exchanging Ca with a clamped bath through a linear leak (gamma = P A / V) and degrading IP3 (k).
    // At 1 s the bath drops to 0 Ca: c = c(t0) exp(-gamma (t - t0)). At 2 s an IP3 bolus sets cyt.ip3 = 2 uM:
    // ip3 = 2 exp(-k (t - 2 s)).
    auto sys = cadyn::testing::compile_text(R"toml(
[[compartments]]
name = "bath"
volume = "1 nL"
clamped = true
concentrations = { ca = "2 uM" }

[[compartments]]
name = "cyt"
volume = "1 pL"
concentrations = { ca = "2 uM", ip3 = "0 uM" }

[[membranes]]
name = "pm"
inner = "cyt"
outer = "bath"
area = "1000 um^2"

[[mechanisms]]
type = "leak"
membrane = "pm"
permeability = "1e-3 um/ms"

[parameters]
k = "2 s^-1"

[[reactions]]
name = "degradation"
equation = "cyt.ip3 ->"
rate = "k * cyt.ip3"

[[events]]
time = "1 s"
set = { "bath.ca" = "0 mM" }

[[events]]
time = "2 s"
set = { "cyt.ip3" = "2 uM" }

[run]
t_end = "3 s"
rtol = 1e-9
atol = "1e-12 uM"

[record]
interval = "100 ms"
)toml");
    cadyn::memory_recorder rec;
    cadyn::simulate(sys, rec);
    const double gamma = 1e-3 * 1000 / 1000;  // P A / V [1/ms]
    EXPECT_NEAR(value_at(rec, "cyt.ca", 1000), 2.0, 1e-9);  // in equilibrium with the bath until then
    for (const double t: {1100.0, 1500.0, 2000.0}) {
        EXPECT_NEAR(value_at(rec, "cyt.ca", t), 2 * std::exp(-gamma * (t - 1000)), 1e-7) << t;
    }
    for (const double t: {2100.0, 2500.0, 3000.0}) {
        EXPECT_NEAR(value_at(rec, "cyt.ip3", t), 2 * std::exp(-2e-3 * (t - 2000)), 1e-7) << t;
    }
    // A second run starts from the model as written: the events' changes were undone.
    cadyn::memory_recorder again;
    cadyn::simulate(sys, again);
    EXPECT_EQ(again.column("cyt.ca"), rec.column("cyt.ca"));
}

TEST(events, unknown_targets_are_reported) {
    try {
        cadyn::testing::compile_text(R"toml(
[[compartments]]
name = "cyt"
volume = "1 pL"
concentrations = { ca = "0.1 uM" }

[[events]]
time = "1 s"
set = { "pump.vmax" = "0 uM/s", "nothing" = 1 }
)toml");
        FAIL() << "expected a model_error";
    }
    catch (const cadyn::model_error& e) {
        EXPECT_THAT(e.what(), HasSubstr("'pump' is neither a mechanism nor a compartment"));
        EXPECT_THAT(e.what(), HasSubstr("no user parameter named 'nothing'"));
    }
}

TEST(events, a_parameter_change_reaches_every_voxel_of_a_large_grid) {
    // A 2000-voxel cable without diffusion: every voxel is the same closed Ca + buffer system, and a mechanism over
    // more than 1024 voxels runs its kernel 1024 voxels at a time with its parameters copied per chunk
    // (src/model/system.cpp, rhs_chunk). At t0 = 10 ms the buffer's total drops to 0: from then on the bound Ca
    // b only unbinds, db/dt = -kon (c + Kd) b with c + b = s conserved, so (K = s + Kd)
    //   b(t) = K b0 / (b0 + (K - b0) exp(kon K (t - t0))),  c = s - b,
    // in the first voxel, a voxel of the second chunk and the last voxel alike.
    auto sys = cadyn::testing::compile_text(R"toml(
[geometry]
type = "cable"
length = "2000 um"
diameter = "1 um"
voxels = 2000

[[compartments]]
name = "cyt"
concentrations = { ca = "1 uM" }

[[buffers]]
name = "buf"
compartment = "cyt"
total = "100 uM"
kd = "1 uM"
kon = "0.1 uM^-1 ms^-1"

[[events]]
time = "10 ms"
set = { "buf.total" = "0 uM" }

[[points]]
name = "first"
at = "0.5 um"

[[points]]
name = "second_chunk"
at = "1500.5 um"

[[points]]
name = "last"
at = "1999.5 um"

[run]
t_end = "12 ms"
start = "initial"
rtol = 1e-10
atol = "1e-10 uM"

[record]
interval = "0.1 ms"
observables = ["cyt.ca@first", "cyt.ca@second_chunk", "cyt.ca@last"]
)toml");
    cadyn::memory_recorder rec;
    cadyn::simulate(sys, rec);
    // The buffer starts in equilibrium with 1 uM free Ca: b0 = 100 * 1 / (1 + 1) = 50 uM.
    const double b0 = 50;
    const double s = 1 + b0;
    const double big_k = s + 1;
    const double kon = 0.1;
    for (const double t: {10.0, 10.1, 10.3, 10.6, 11.0, 12.0}) {
        const double b = big_k * b0 / (b0 + (big_k - b0) * std::exp(kon * big_k * (t - 10)));
        for (const char* where: {"cyt.ca@first", "cyt.ca@second_chunk", "cyt.ca@last"}) {
            EXPECT_NEAR(value_at(rec, where, t), s - b, 1e-6 * s) << where << " at t = " << t << " ms";
        }
    }
}
