// Conservation by construction: in a closed cell (no plasma-membrane flux) total Ca, free + bound, times volume,
// summed over compartments, is constant however hard the stimuli push Ca between cytosol and ER.
#include <cmath>

#include <gtest/gtest.h>

#include <cadyn/analysis.hpp>
#include <cadyn/io/model_file.hpp>
#include <cadyn/simulate.hpp>

#include "run_helpers.hpp"

namespace {

// Cytosol and ER with buffers in both, SERCA and an ER leak, and strong release pulses from the ER (a negative
// current into the ER lumen is release into the cytosol): 20 ms pulses of 500 pA at 0.5 Hz over 100 s.
const char* closed_cell = R"(
[[compartments]]
name = "cyt"
radius = "8 um"
concentrations = { ca = "100 nM" }

[[compartments]]
name = "er"
volume = "0.2 pL"
concentrations = { ca = "400 uM" }

[[membranes]]
name = "er_membrane"
inner = "er"
outer = "cyt"
area = "1500 um^2"

[[mechanisms]]
type = "serca"
membrane = "er_membrane"
vmax = "200 uM/s"

[[mechanisms]]
name = "er_leak"
type = "leak"
membrane = "er_membrane"
permeability = "1e-4 um/ms"

[[buffers]]
name = "calbindin"
compartment = "cyt"
total = "80 uM"
kd = "0.4 uM"
kon = "20 uM^-1 s^-1"

[[buffers]]
name = "calsequestrin"
compartment = "er"
total = "2 mM"
kd = "500 uM"
kon = "0.1 uM^-1 s^-1"

[[stimuli]]
name = "release"
membrane = "er_membrane"
amplitude = "-500 pA"
start = "1 s"
duration = "20 ms"
frequency = "0.5 Hz"
count = 50

[run]
t_end = "100 s"
rtol = 1e-8
atol = "1e-10 uM"

[record]
interval = "10 ms"
)";

class conservation: public ::testing::TestWithParam<cadyn::jacobian_method> {};

} // namespace

TEST_P(conservation, closed_cell_total_calcium_constant_over_100_s) {
    auto sys = cadyn::testing::compile_text(closed_cell, GetParam());
    cadyn::memory_recorder rec;
    const auto result = cadyn::simulate(sys, rec);

    // Total Ca at every record, from the recorded columns: sum over compartments of (free + bound) * volume.
    const double v_cyt = sys.model().find_compartment("cyt")->volume;
    const double v_er = sys.model().find_compartment("er")->volume;
    const auto& cyt = rec.column("cyt.ca");
    const auto& er = rec.column("er.ca");
    const auto& cb = rec.column("calbindin.bound");
    const auto& cs = rec.column("calsequestrin.bound");
    const double total0 = (cyt[0] + cb[0]) * v_cyt + (er[0] + cs[0]) * v_er;
    ASSERT_NEAR(total0, sys.total_amount(result.y0.data(), "ca"), 1e-12 * total0);

    double worst = 0;
    double peak_cyt = 0;
    for (std::size_t k = 0; k < rec.times().size(); ++k) {
        const double total = (cyt[k] + cb[k]) * v_cyt + (er[k] + cs[k]) * v_er;
        worst = std::max(worst, std::abs(total - total0) / total0);
        peak_cyt = std::max(peak_cyt, cyt[k]);
    }
    EXPECT_LT(worst, 1e-9) << "total Ca drifted";
    EXPECT_NEAR(sys.total_amount(result.y_end.data(), "ca"), total0, 1e-9 * total0);
    // The stimuli really were strong: cytosolic Ca left its resting range.
    EXPECT_GT(peak_cyt, 0.5);
    EXPECT_EQ(rec.times().back(), 100000.0);
}

TEST_P(conservation, budget_channels_account_for_every_transfer) {
    // What each compartment gained equals what the channels moved into it. The channels are integrated alongside
    // the state from the same evaluations, so each balance is a linear invariant of the extended system and
    // closes to round-off, not only to the solver tolerance: 1e-10 of the total Ca.
    auto sys = cadyn::testing::compile_text(closed_cell, GetParam());
    cadyn::memory_recorder rec;
    cadyn::simulation_options options;
    options.t_end = 20000.0;
    const auto result = cadyn::simulate(sys, rec, options);
    const double scale = sys.total_amount(result.y0.data(), "ca");
    const auto lines = cadyn::balances(sys, result.y0, result.y_end, result.budget);
    ASSERT_EQ(lines.size(), 2U);  // cyt and er
    for (const auto& b: lines) {
        EXPECT_GT(std::abs(b.change), 1e-4 * scale) << b.compartment << ": something must have moved";
        EXPECT_NEAR(b.change, b.accounted, 1e-10 * scale) << b.compartment;
    }
}

TEST_P(conservation, open_cell_budget_closes_against_the_bath) {
    // The default soma exchanges Ca with a clamped bath (PMCA, leak, stimulus): its total changes, and the budget
    // says by exactly how much, per compartment.
    auto model = cadyn::default_model();
    model.run.jacobian = GetParam();
    auto sys = cadyn::compile(model);
    cadyn::memory_recorder rec;
    const auto result = cadyn::simulate(sys, rec);
    const double scale = sys.total_amount(result.y0.data(), "ca");
    for (const auto& b: cadyn::balances(sys, result.y0, result.y_end, result.budget)) {
        EXPECT_NEAR(b.change, b.accounted, 1e-10 * scale) << b.compartment << "." << b.species;
    }
}

INSTANTIATE_TEST_SUITE_P(jacobian, conservation, ::testing::ValuesIn(cadyn::testing::every_jacobian()),
                         [](const auto& param) { return cadyn::testing::jacobian_name(param.param); });
