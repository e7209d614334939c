// PMCA kernel against its closed form, the Hill equation for a pump removing Ca from the inner compartment:
//
//   J_in = -vmax * A * c^n / (K^n + c^n)        [zmol/ms] with vmax [zmol/(um^2 ms)], A [um^2], c, K [uM]
//
// Source: Hill form with K0.5 ~0.2 uM, Brini & Carafoli (2009) Physiol Rev 89:1341-1378.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include <cadyn/catalogue.hpp>

#include "mechanism_harness.hpp"

namespace cadyn {
namespace {

using testing_support::all_near;
using testing_support::mechanism_harness;
using testing_support::metadata_is_consistent;

double hill_pmca(double vmax, double area, double c, double k, double n) {
    const double cn = std::pow(c, n);
    return -vmax * area * cn / (std::pow(k, n) + cn);
}

TEST(pmca, metadata) {
    const mechanism* m = find_mechanism("pmca");
    ASSERT_NE(m, nullptr);
    EXPECT_TRUE(metadata_is_consistent(*m));
    const mechanism_info& info = m->info();
    EXPECT_EQ(info.kind, mechanism_kind::membrane);
    EXPECT_FALSE(info.is_stimulus);
    ASSERT_EQ(info.reads.size(), 1u);
    EXPECT_EQ(info.reads[0].species, "ca");
    EXPECT_EQ(info.reads[0].where, side::inner);  // it pumps Ca out of the compartment it senses
    ASSERT_EQ(info.outputs.size(), 1u);
    EXPECT_EQ(info.outputs[0], "ca");
    EXPECT_TRUE(info.states.empty());
    EXPECT_GE(info.parameter_index("vmax"), 0);
    EXPECT_GE(info.parameter_index("kd"), 0);
    EXPECT_GE(info.parameter_index("hill"), 0);
    // Default K0.5 = 0.2 uM, Hill coefficient 1 (Brini & Carafoli 2009).
    EXPECT_DOUBLE_EQ(default_value(info.parameters[static_cast<std::size_t>(info.parameter_index("kd"))]), 0.2);
    EXPECT_DOUBLE_EQ(default_value(info.parameters[static_cast<std::size_t>(info.parameter_index("hill"))]), 1.0);
}

TEST(pmca, hill_equation_over_five_instances) {
    mechanism_harness h("pmca", 5);
    h.param("vmax") = {0.2, 0.05, 1.0, 0.3, 0.01};
    h.param("kd") = {0.2, 0.1, 0.5, 1.0, 0.05};
    h.param("hill") = {1.0, 2.0, 1.5, 4.0, 0.5};
    h.size = {100.0, 1200.0, 3.5, 50.0, 1e4};
    h.conc(0) = {0.05, 0.3, 0.5, 2.0, 10.0};
    h.rates();

    std::vector<double> expected(5);
    for (std::size_t i = 0; i < 5; ++i) {
        expected[i] = hill_pmca(h.param("vmax")[i], h.size[i], h.conc(0)[i], h.param("kd")[i], h.param("hill")[i]);
    }
    EXPECT_TRUE(all_near(h.out(0), expected, 1e-14));
}

TEST(pmca, half_maximal_at_k) {
    // c = K gives c^n / (K^n + c^n) = 1/2 for every n: the flux is half of vmax * A.
    mechanism_harness h("pmca", 5);
    h.param("vmax") = {0.2, 0.05, 1.0, 0.3, 0.01};
    h.param("kd") = {0.2, 0.1, 0.5, 1.0, 0.05};
    h.param("hill") = {1.0, 2.0, 1.5, 4.0, 0.5};
    h.size = {100.0, 1200.0, 3.5, 50.0, 1e4};
    h.conc(0) = h.param("kd");
    h.rates();

    std::vector<double> half(5);
    for (std::size_t i = 0; i < 5; ++i) {
        half[i] = -0.5 * h.param("vmax")[i] * h.size[i];
    }
    EXPECT_TRUE(all_near(h.out(0), half, 1e-15));
}

TEST(pmca, zero_without_ca_and_saturating) {
    mechanism_harness h("pmca", 3);
    h.set_param("vmax", 0.2);
    h.set_param("kd", 0.2);
    h.set_param("hill", 1.0);
    h.size = {10.0, 10.0, 10.0};
    // No Ca: no flux. A (numerically) negative concentration is treated as zero, not as a reversed pump.
    // Far above K: saturation at -vmax * A (within K/c).
    h.conc(0) = {0.0, -1e-9, 2e5};
    h.rates();
    EXPECT_EQ(h.out(0)[0], 0.0);
    EXPECT_EQ(h.out(0)[1], 0.0);
    EXPECT_NEAR(h.out(0)[2], -2.0, 2.0 * 0.2 / 2e5 * 1.0001);
}

TEST(pmca, flux_is_monotone_and_outward) {
    mechanism_harness h("pmca", 6);
    h.conc(0) = {0.01, 0.05, 0.1, 0.2, 1.0, 10.0};
    h.size.assign(6, 100.0);
    h.rates();
    for (std::size_t i = 0; i < 6; ++i) {
        EXPECT_LT(h.out(0)[i], 0.0) << "instance " << i;
        if (i > 0) {
            EXPECT_LT(h.out(0)[i], h.out(0)[i - 1]) << "instance " << i;
        }
    }
}

} // namespace
} // namespace cadyn
