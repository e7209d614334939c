// Leak kernel against its closed form, Fick's first law across a membrane of permeability P:
//
//   J_in = P * A * (c_out - c_in)        [zmol/ms] with P [um/ms], A [um^2], c [uM] (uM um^3 = zmol)
//
// Source: linear leak as in Li & Rinzel (1994) J Theor Biol 166:461-473 (v2 term).
#include <vector>

#include <gtest/gtest.h>

#include <cadyn/catalogue.hpp>

#include "mechanism_harness.hpp"

namespace cadyn {
namespace {

using testing_support::all_near;
using testing_support::mechanism_harness;
using testing_support::metadata_is_consistent;

void setup_five(mechanism_harness& h) {
    h.param("permeability") = {1e-5, 3e-4, 0.0, 2e-2, 7e-6};
    h.size = {1200.0, 15.0, 100.0, 0.5, 8e4};
}

TEST(leak, metadata) {
    const mechanism* m = find_mechanism("leak");
    ASSERT_NE(m, nullptr);
    EXPECT_TRUE(metadata_is_consistent(*m));
    const mechanism_info& info = m->info();
    EXPECT_EQ(info.kind, mechanism_kind::membrane);
    EXPECT_FALSE(info.is_stimulus);
    ASSERT_EQ(info.reads.size(), 2u);
    EXPECT_EQ(info.reads[0].species, "ca");
    EXPECT_EQ(info.reads[1].species, "ca");
    EXPECT_EQ(info.reads[0].where, side::inner);
    EXPECT_EQ(info.reads[1].where, side::outer);
    ASSERT_EQ(info.outputs.size(), 1u);
    EXPECT_EQ(info.outputs[0], "ca");
    EXPECT_TRUE(info.states.empty());
}

TEST(leak, fick_law_over_five_instances) {
    mechanism_harness h("leak", 5);
    setup_five(h);
    h.conc("ca", side::inner) = {0.05, 400.0, 0.1, 2.0, 1.0};
    h.conc("ca", side::outer) = {2000.0, 0.1, 2000.0, 2.5, 0.0};
    h.rates();

    std::vector<double> expected(5);
    for (std::size_t i = 0; i < 5; ++i) {
        expected[i] = h.param("permeability")[i] * h.size[i] *
                      (h.conc("ca", side::outer)[i] - h.conc("ca", side::inner)[i]);
    }
    EXPECT_TRUE(all_near(h.out(0), expected, 1e-15));
    EXPECT_GT(h.out(0)[0], 0.0);  // down the gradient: into the cell
    EXPECT_LT(h.out(0)[1], 0.0);  // out of a full store
    EXPECT_EQ(h.out(0)[2], 0.0);  // P = 0: no leak
}

TEST(leak, zero_at_equal_concentrations) {
    mechanism_harness h("leak", 5);
    setup_five(h);
    h.conc(0) = {0.0, 0.1, 1.0, 400.0, 2000.0};
    h.conc(1) = h.conc(0);
    h.rates();
    EXPECT_TRUE(all_near(h.out(0), std::vector<double>(5, 0.0), 0.0));
}

TEST(leak, antisymmetric_in_the_two_sides) {
    // Swapping inner and outer concentrations reverses the flux exactly: J(a, b) = -J(b, a).
    mechanism_harness h("leak", 5);
    setup_five(h);
    const std::vector<double> a = {0.05, 400.0, 0.1, 2.0, 1.0};
    const std::vector<double> b = {2000.0, 0.1, 2000.0, 2.5, 0.0};
    h.conc(0) = a;
    h.conc(1) = b;
    h.rates();
    const std::vector<double> forward(h.out(0).begin(), h.out(0).end());
    h.conc(0) = b;
    h.conc(1) = a;
    h.rates();
    std::vector<double> reversed_negated(5);
    for (std::size_t i = 0; i < 5; ++i) {
        reversed_negated[i] = -h.out(0)[i];
    }
    EXPECT_TRUE(all_near(forward, reversed_negated, 0.0));
}

} // namespace
} // namespace cadyn
