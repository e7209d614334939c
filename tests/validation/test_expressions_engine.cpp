// Generic reactions and rules written as math expressions, against closed-form solutions.
#include <cmath>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cadyn/simulate.hpp>

#include "run_helpers.hpp"

using ::testing::HasSubstr;

TEST(reactions, first_order_decay_matches_exponential) {
    // d[ip3]/dt = -k [ip3]  ->  [ip3](t) = [ip3]0 exp(-k t), k = 2 s^-1.
    auto sys = cadyn::testing::compile_text(R"(
[[compartments]]
name = "cyt"
volume = "1 pL"
concentrations = { ip3 = "1 uM" }

[parameters]
k_deg = "2 s^-1"

[[reactions]]
name = "degradation"
equation = "cyt.ip3 ->"
rate = "k_deg * cyt.ip3"

[run]
t_end = "3 s"
rtol = 1e-9
atol = "1e-14 uM"

[record]
interval = "100 ms"
)");
    cadyn::memory_recorder rec;
    cadyn::simulate(sys, rec);
    const auto& t = rec.times();
    const auto& ip3 = rec.column("cyt.ip3");
    for (std::size_t k = 0; k < t.size(); ++k) {
        EXPECT_NEAR(ip3[k], std::exp(-2e-3 * t[k]), 1e-6 * std::exp(-2e-3 * t[k])) << "t = " << t[k];
    }
}

TEST(reactions, amount_rate_across_compartments_conserves_amount) {
    // Transport a -> b written as an amount per time (SBML's kinetic-law form): rate = k * a.ca * V_a [zmol/ms].
    // Amount is conserved, and each side follows the two-compartment exchange solution:
    // with k_ab = k, k_ba = k V_a / V_b ... here only a -> b, so a(t) = a0 exp(-k t) and
    // b(t) = b0 + (a0 - a(t)) V_a / V_b.
    auto sys = cadyn::testing::compile_text(R"(
[[compartments]]
name = "a"
volume = "1 pL"
concentrations = { ca = "10 uM" }

[[compartments]]
name = "b"
volume = "4 pL"
concentrations = { ca = "0 uM" }

[parameters]
k = "1 s^-1"

[[reactions]]
name = "transfer"
equation = "a.ca -> b.ca"
amount_rate = "k * a.ca * a"

[run]
t_end = "2 s"
rtol = 1e-9
atol = "1e-14 uM"
)");
    cadyn::memory_recorder rec;
    cadyn::simulate(sys, rec);
    const auto& t = rec.times();
    const auto& a = rec.column("a.ca");
    const auto& b = rec.column("b.ca");
    for (std::size_t k = 0; k < t.size(); k += 100) {
        const double a_exact = 10 * std::exp(-1e-3 * t[k]);
        EXPECT_NEAR(a[k], a_exact, 1e-6 * 10);
        EXPECT_NEAR(b[k], (10 - a_exact) / 4, 1e-6 * 10);
        EXPECT_NEAR(a[k] * 1000 + b[k] * 4000, 10 * 1000, 1e-9 * 10000);
    }
}

TEST(rules, assignment_and_rate_rules) {
    // Rate rule on a parameter: dx/dt = -x / tau  ->  x = x0 exp(-t/tau).
    // Assignment rule: y = 2 x + 1, recorded as an observable.
    // Rate rule on a species driven by the assignment: d[c]/dt = y  ->  c(t) = c0 + 2 x0 tau (1 - e^{-t/tau}) + t.
    auto sys = cadyn::testing::compile_text(R"(
[[compartments]]
name = "cyt"
volume = "1 pL"
concentrations = { ip3 = "0.5 uM" }

[parameters]
x = 3
tau = "200 ms"

[[rules]]
variable = "x"
rate = "-x / tau"

[[rules]]
variable = "y"
value = "2 * x + 1"

[[rules]]
variable = "cyt.ip3"
rate = "y * 1e-3"

[run]
t_end = "1 s"
rtol = 1e-10
atol = "1e-12 uM"

[record]
interval = "10 ms"
observables = ["x", "y", "cyt.ip3"]
)");
    cadyn::memory_recorder rec;
    cadyn::simulate(sys, rec);
    const auto& t = rec.times();
    for (std::size_t k = 0; k < t.size(); ++k) {
        const double x = 3 * std::exp(-t[k] / 200);
        EXPECT_NEAR(rec.column("x")[k], x, 1e-7);
        EXPECT_NEAR(rec.column("y")[k], 2 * x + 1, 2e-7);
        const double c = 0.5 + 1e-3 * (2 * 3 * 200 * (1 - std::exp(-t[k] / 200)) + t[k]);
        EXPECT_NEAR(rec.column("cyt.ip3")[k], c, 1e-7);
    }
}

TEST(rules, cyclic_assignment_rules_are_rejected) {
    try {
        cadyn::testing::compile_text(R"(
[[compartments]]
name = "cyt"
volume = "1 pL"
concentrations = { ca = "0.1 uM" }

[[rules]]
variable = "p"
value = "q + 1"

[[rules]]
variable = "q"
value = "p * 2"
)");
        FAIL() << "expected a model_error";
    }
    catch (const cadyn::model_error& e) {
        EXPECT_THAT(e.what(), HasSubstr("cycle"));
        EXPECT_THAT(e.what(), HasSubstr("<test>:"));
    }
}
