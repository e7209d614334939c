// Resting state as a non-equilibrium steady state of pumps against leaks, checked against the algebraic solution.
#include <cmath>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cadyn/simulate.hpp>

#include "run_helpers.hpp"

namespace {

// Plasma membrane: PMCA (Hill, n) against a linear leak from a bath at c_out; ER: SERCA (Hill 2) against a leak.
std::string pump_leak_model(double hill, const std::string& start) {
    return fmt::format(R"toml(
[[compartments]]
name = "ext"
volume = "1 nL"
clamped = true
concentrations = {{ ca = "1.5 mM" }}

[[compartments]]
name = "cyt"
volume = "2 pL"
concentrations = {{ ca = "1 uM" }}

[[compartments]]
name = "er"
volume = "0.2 pL"
concentrations = {{ ca = "10 uM" }}

[[membranes]]
name = "pm"
inner = "cyt"
outer = "ext"
area = "800 um^2"

[[membranes]]
name = "erm"
inner = "er"
outer = "cyt"
area = "1000 um^2"

[[mechanisms]]
type = "pmca"
membrane = "pm"
vmax = "0.2 zmol/(um^2 ms)"
kd = "0.2 uM"
hill = {n}

[[mechanisms]]
name = "pm_leak"
type = "leak"
membrane = "pm"
permeability = "5e-5 um/ms"

[[mechanisms]]
type = "serca"
membrane = "erm"
vmax = "0.1 zmol/(um^2 ms)"
kd = "0.3 uM"
hill = 2

[[mechanisms]]
name = "er_leak"
type = "leak"
membrane = "erm"
permeability = "2e-5 um/ms"

[[buffers]]
name = "b"
compartment = "cyt"
total = "50 uM"
kd = "0.5 uM"

[run]
t_end = "1 s"
start = "{start}"
)toml",
                       fmt::arg("n", hill), fmt::arg("start", start));
}

// Algebraic resting state: vmax c^n / (K^n + c^n) = P (c_out - c) per unit area, solved by bisection on [0, c_out]
// (the left side rises and the right side falls with c, so the root is unique); then the ER balance
// vs c^2/(Ks^2 + c^2) = Pe (c_er - c) gives c_er in closed form.
struct resting {
    double cyt;
    double er;
};
resting algebraic(double hill) {
    const double vmax = 0.2;
    const double k = 0.2;
    const double p = 5e-5;
    const double c_out = 1500;
    double lo = 0;
    double hi = c_out;
    for (int i = 0; i < 200; ++i) {
        const double c = (lo + hi) / 2;
        const double f = vmax * std::pow(c, hill) / (std::pow(k, hill) + std::pow(c, hill)) - p * (c_out - c);
        (f > 0 ? hi : lo) = c;
    }
    const double c = (lo + hi) / 2;
    const double serca = 0.1 * c * c / (0.3 * 0.3 + c * c);
    return {c, c + serca / 2e-5};
}

class pump_leak: public ::testing::TestWithParam<double> {};

} // namespace

TEST_P(pump_leak, kinsol_matches_algebraic_resting_state) {
    const double hill = GetParam();
    auto sys = cadyn::testing::compile_text(pump_leak_model(hill, "initial"));
    const auto rest = cadyn::find_steady_state(sys, sys.initial_state());
    ASSERT_TRUE(rest.converged) << rest.method;
    const auto expected = algebraic(hill);
    const double cyt = rest.y[static_cast<std::size_t>(sys.state_index("cyt", "ca"))];
    const double er = rest.y[static_cast<std::size_t>(sys.state_index("er", "ca"))];
    EXPECT_NEAR(cyt, expected.cyt, 1e-6 * expected.cyt);
    EXPECT_NEAR(er, expected.er, 1e-6 * expected.er);
    // The buffer sits in equilibrium with the resting free Ca: B c / (Kd + c).
    const auto& names = sys.state_names();
    const auto bound = std::find(names.begin(), names.end(), "b.bound") - names.begin();
    EXPECT_NEAR(rest.y[static_cast<std::size_t>(bound)], 50 * cyt / (0.5 + cyt), 1e-6);
}

TEST_P(pump_leak, run_from_steady_state_stays_there) {
    const double hill = GetParam();
    auto sys = cadyn::testing::compile_text(pump_leak_model(hill, "steady_state"));
    cadyn::memory_recorder rec;
    const auto result = cadyn::simulate(sys, rec);
    ASSERT_TRUE(result.rest.has_value());
    const auto expected = algebraic(hill);
    for (const double c: rec.column("cyt.ca")) {
        EXPECT_NEAR(c, expected.cyt, 1e-6 * expected.cyt);
    }
}

INSTANTIATE_TEST_SUITE_P(hill, pump_leak, ::testing::Values(1.0, 2.0));

TEST(steady_state, closed_cell_resting_state_keeps_total_calcium) {
    // Without a plasma membrane total Ca is a conserved moiety: the Jacobian of dy/dt is singular and the resting
    // state is the one the dynamics reach from the initial state, with the same total. The solver replaces one
    // equation by the conservation law (moiety reduction) so Newton has a unique answer.
    auto sys = cadyn::testing::compile_text(R"toml(
[[compartments]]
name = "cyt"
volume = "2 pL"
concentrations = { ca = "5 uM" }

[[compartments]]
name = "er"
volume = "0.2 pL"
concentrations = { ca = "100 uM" }

[[membranes]]
name = "erm"
inner = "er"
outer = "cyt"
area = "1000 um^2"

[[mechanisms]]
type = "serca"
membrane = "erm"
vmax = "0.1 zmol/(um^2 ms)"
kd = "0.3 uM"
hill = 2

[[mechanisms]]
name = "er_leak"
type = "leak"
membrane = "erm"
permeability = "2e-5 um/ms"
)toml");
    const auto y0 = sys.initial_state();
    const auto rest = cadyn::find_steady_state(sys, y0);
    ASSERT_TRUE(rest.converged) << rest.method << " residual " << rest.residual;
    EXPECT_EQ(rest.method, "KINSOL");
    ASSERT_EQ(sys.conservation_laws().size(), 1U);
    const double total = sys.total_amount(y0.data(), "ca");
    EXPECT_NEAR(sys.total_amount(rest.y.data(), "ca"), total, 1e-8 * total);
    // At rest SERCA uptake equals the leak: vs c^2/(K^2 + c^2) = P (c_er - c).
    const double c = rest.y[static_cast<std::size_t>(sys.state_index("cyt", "ca"))];
    const double c_er = rest.y[static_cast<std::size_t>(sys.state_index("er", "ca"))];
    EXPECT_NEAR(0.1 * c * c / (0.09 + c * c), 2e-5 * (c_er - c), 1e-8);
}

TEST(steady_state, parameter_states_may_be_negative) {
    // A user parameter driven by a rate rule relaxes to a negative value: dx/dt = (x_inf - x)/tau with
    // x_inf = -2. Concentrations are constrained to be non-negative in Newton; parameters are not.
    auto sys = cadyn::testing::compile_text(R"(
[[compartments]]
name = "cyt"
volume = "1 pL"
concentrations = { ca = "0.1 uM" }

[parameters]
x = 1
tau = "10 ms"

[[rules]]
variable = "x"
rate = "(-2 - x) / tau"
)");
    const auto rest = cadyn::find_steady_state(sys, sys.initial_state());
    ASSERT_TRUE(rest.converged);
    EXPECT_EQ(rest.method, "KINSOL");
    EXPECT_NEAR(rest.y.back(), -2.0, 1e-10);
}
