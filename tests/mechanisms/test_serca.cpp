// SERCA kernel against its closed form, the Hill equation for a pump that moves cytosolic Ca (outer side of the
// store membrane) into the store lumen (inner side):
//
//   J_in = vmax * A * c_out^n / (K^n + c_out^n)        [zmol/ms]
//
// Source: Hill form with n = 2, K = 0.1-0.3 uM, De Young & Keizer (1992) PNAS 89:9895-9899; Lytton et al.
// (1992) J Biol Chem 267:14483-14489.
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

double hill_serca(double vmax, double area, double c, double k, double n) {
    const double cn = std::pow(c, n);
    return vmax * area * cn / (std::pow(k, n) + cn);
}

// Five instances with different parameters and cytosolic Ca.
void setup_five(mechanism_harness& h) {
    h.param("vmax") = {0.1, 0.02, 0.5, 1.0, 0.003};
    h.param("kd") = {0.2, 0.1, 0.3, 1.0, 0.05};
    h.param("hill") = {2.0, 1.0, 2.5, 4.0, 0.7};
    h.size = {500.0, 20.0, 1.0, 3000.0, 75.0};
}

TEST(serca, metadata) {
    const mechanism* m = find_mechanism("serca");
    ASSERT_NE(m, nullptr);
    EXPECT_TRUE(metadata_is_consistent(*m));
    const mechanism_info& info = m->info();
    EXPECT_EQ(info.kind, mechanism_kind::membrane);
    EXPECT_FALSE(info.is_stimulus);
    ASSERT_EQ(info.reads.size(), 1u);
    EXPECT_EQ(info.reads[0].species, "ca");
    EXPECT_EQ(info.reads[0].where, side::outer);  // senses cytosolic Ca: the outer side of the store membrane
    ASSERT_EQ(info.outputs.size(), 1u);
    EXPECT_EQ(info.outputs[0], "ca");
    EXPECT_TRUE(info.states.empty());
    // Default Hill coefficient 2 (cooperative binding of two Ca per cycle; De Young & Keizer 1992).
    EXPECT_DOUBLE_EQ(default_value(info.parameters[static_cast<std::size_t>(info.parameter_index("hill"))]), 2.0);
}

TEST(serca, hill_equation_over_five_instances) {
    mechanism_harness h("serca", 5);
    setup_five(h);
    h.conc("ca", side::outer) = {0.05, 0.5, 0.3, 0.9, 20.0};
    h.rates();

    std::vector<double> expected(5);
    for (std::size_t i = 0; i < 5; ++i) {
        expected[i] = hill_serca(h.param("vmax")[i], h.size[i], h.conc(0)[i], h.param("kd")[i], h.param("hill")[i]);
        EXPECT_GT(expected[i], 0.0);  // into the lumen (inner side)
    }
    EXPECT_TRUE(all_near(h.out(0), expected, 1e-14));
}

TEST(serca, half_maximal_at_k) {
    // c = K: c^n / (K^n + c^n) = 1/2 whatever n.
    mechanism_harness h("serca", 5);
    setup_five(h);
    h.conc(0) = h.param("kd");
    h.rates();

    std::vector<double> half(5);
    for (std::size_t i = 0; i < 5; ++i) {
        half[i] = 0.5 * h.param("vmax")[i] * h.size[i];
    }
    EXPECT_TRUE(all_near(h.out(0), half, 1e-15));
}

TEST(serca, hill_slope) {
    // The Hill plot is a straight line of slope n: J / (Jmax - J) = (c / K)^n, so
    // log(J / (Jmax - J)) at c = 2K minus that at c = K/2 is n log 4 (Hill 1910, J Physiol 40:iv-vii).
    mechanism_harness h("serca", 10);
    const std::vector<double> n_hill = {0.5, 1.0, 2.0, 3.0, 4.0};
    const std::vector<double> k = {0.1, 0.2, 0.3, 0.5, 1.0};
    for (std::size_t i = 0; i < 5; ++i) {
        for (std::size_t s = 0; s < 2; ++s) {
            const std::size_t j = 2 * i + s;
            h.param("hill")[j] = n_hill[i];
            h.param("kd")[j] = k[i];
            h.conc(0)[j] = s == 0 ? k[i] / 2 : 2 * k[i];
        }
    }
    h.set_param("vmax", 0.1);
    h.size.assign(10, 100.0);
    h.rates();

    const double jmax = 0.1 * 100.0;
    std::vector<double> slope(5);
    for (std::size_t i = 0; i < 5; ++i) {
        const double j_low = h.out(0)[2 * i];
        const double j_high = h.out(0)[2 * i + 1];
        slope[i] = (std::log(j_high / (jmax - j_high)) - std::log(j_low / (jmax - j_low))) / std::log(4.0);
    }
    EXPECT_TRUE(all_near(slope, n_hill, 1e-12));
}

TEST(serca, ignores_lumenal_ca_and_negative_cytosolic_ca) {
    // The Hill form has no back-flux: only the cytosolic (outer) concentration enters; below zero it is zero.
    mechanism_harness h("serca", 2);
    h.size = {100.0, 100.0};
    h.conc(0) = {0.0, -1e-6};
    h.rates();
    EXPECT_EQ(h.out(0)[0], 0.0);
    EXPECT_EQ(h.out(0)[1], 0.0);
}

} // namespace
} // namespace cadyn
