// Buffer kernel against its closed form, mass-action 1:1 binding Ca + B <-> CaB with koff = kon Kd:
//
//   d[CaB]/dt = kon ([Ca] ([B]tot - [CaB]) - Kd [CaB]),    d[Ca]/dt = -d[CaB]/dt
//   equilibrium: [CaB] = [B]tot [Ca] / (Kd + [Ca])
//
// Source: Neher & Augustine (1992) J Physiol 450:273-301.
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

void setup_five(mechanism_harness& h) {
    h.param("total") = {100.0, 50.0, 0.0, 2000.0, 10.0};
    h.param("kd") = {1.0, 0.2, 0.5, 10.0, 1e-3};
    h.param("kon") = {0.1, 0.5, 0.1, 1e-3, 1.0};
    h.size = {1.0, 10.0, 100.0, 0.1, 5e3};  // volume: unused by a binding reaction
}

TEST(buffer, metadata) {
    const mechanism* m = find_mechanism("buffer");
    ASSERT_NE(m, nullptr);
    EXPECT_TRUE(metadata_is_consistent(*m));
    const mechanism_info& info = m->info();
    EXPECT_EQ(info.kind, mechanism_kind::volume);
    EXPECT_FALSE(info.is_stimulus);
    ASSERT_EQ(info.reads.size(), 1u);
    EXPECT_EQ(info.reads[0].species, "ca");
    EXPECT_EQ(info.reads[0].where, side::local);
    ASSERT_EQ(info.outputs.size(), 1u);
    EXPECT_EQ(info.outputs[0], "ca");
    ASSERT_EQ(info.states.size(), 1u);
    EXPECT_EQ(info.states[0].dim, &dims::concentration);
    // The bound buffer holds one Ca per molecule, so Ca totals count it once.
    EXPECT_EQ(info.states[0].carries, "ca");
    EXPECT_EQ(info.states[0].carried, 1.0);
    // kon ~1e8 /M/s = 0.1 /(uM ms) (Xu et al. 1997).
    EXPECT_DOUBLE_EQ(default_value(info.parameters[static_cast<std::size_t>(info.parameter_index("kon"))]), 0.1);
}

TEST(buffer, mass_action_over_five_instances) {
    mechanism_harness h("buffer", 5);
    setup_five(h);
    h.conc(0) = {0.05, 1.0, 0.3, 500.0, 0.0};
    h.state(0) = {8.0, 49.0, 0.0, 100.0, 9.5};  // away from equilibrium, both directions
    h.rates();

    std::vector<double> expected(5);
    for (std::size_t i = 0; i < 5; ++i) {
        const double c = h.conc(0)[i];
        const double cab = h.state(0)[i];
        expected[i] = h.param("kon")[i] * (c * (h.param("total")[i] - cab) - h.param("kd")[i] * cab);
    }
    EXPECT_TRUE(all_near(h.dstate(0), expected, 1e-14));
    EXPECT_LT(h.dstate(0)[0], 0.0);  // 8 uM bound at 0.05 uM free (equilibrium 4.8), Kd 1 uM: unbinding
    EXPECT_GT(h.dstate(0)[3], 0.0);  // 500 uM free, 100 of 2000 bound, Kd 10 uM: binding
}

TEST(buffer, conserves_ca) {
    // Whatever binds leaves the free pool: d[Ca]/dt + carried * d[CaB]/dt = 0, exactly.
    mechanism_harness h("buffer", 5);
    setup_five(h);
    h.conc(0) = {0.05, 1.0, 0.3, 500.0, 0.0};
    h.state(0) = {8.0, 49.0, 0.0, 100.0, 9.5};
    h.rates();
    const double carried = h.info().states[0].carried;
    std::vector<double> minus_bound(5);
    for (std::size_t i = 0; i < 5; ++i) {
        minus_bound[i] = -carried * h.dstate(0)[i];
    }
    EXPECT_TRUE(all_near(h.out(0), minus_bound, 0.0));
}

TEST(buffer, init_is_equilibrium) {
    // init() sets [CaB] = [B]tot [Ca] / (Kd + [Ca]); there the net binding rate vanishes (to rounding).
    mechanism_harness h("buffer", 5);
    setup_five(h);
    h.conc(0) = {0.05, 0.2, 0.3, 500.0, 1e-4};
    h.init();

    std::vector<double> expected(5);
    for (std::size_t i = 0; i < 5; ++i) {
        const double c = h.conc(0)[i];
        expected[i] = h.param("total")[i] * c / (h.param("kd")[i] + c);
    }
    EXPECT_TRUE(all_near(h.state(0), expected, 1e-15));
    EXPECT_DOUBLE_EQ(h.state(0)[1], 25.0);  // [Ca] = Kd: half the buffer is bound

    h.rates();
    for (std::size_t i = 0; i < 5; ++i) {
        // Each of the two terms is kon c ([B]tot - [CaB]); the difference must cancel to a few ulps of it.
        const double c = h.conc(0)[i];
        const double scale = h.param("kon")[i] * c * h.param("total")[i];
        EXPECT_LE(std::abs(h.dstate(0)[i]), 1e-14 * scale) << "instance " << i;
        EXPECT_EQ(h.out(0)[i], -h.dstate(0)[i]) << "instance " << i;
    }
}

} // namespace
} // namespace cadyn
