// Pulse-train kernel against its closed form. During a pulse a Ca current I enters the inner compartment; by
// Faraday's law (I = z F J, z = 2 for Ca2+) the amount flux is
//
//   J_in = I / (2 F)        [zmol/ms], I in pA:  I * 1e-12 C/s / (2 * 96485.33212 C/mol) * 1e-3 s/ms * 1e21 zmol/mol
//
// and 0 outside the pulses. Pulse k (0 <= k < count) runs over [start + k/f, start + k/f + duration).
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include <cadyn/error.hpp>
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

struct train {
    double amplitude;  // pA
    double start;      // ms
    double duration;   // ms
    double frequency;  // 1/ms
    double count;
};

// Five different trains: single pulse, exact binary period, efflux (negative current), long pulses, and a
// period (3 ms) that is not exact in binary.
const std::vector<train> trains = {
    {100.0, 0.0, 2.0, 0.02, 1},
    {50.0, 5.0, 1.0, 0.125, 3},
    {-20.0, 10.0, 0.5, 0.05, 5},
    {300.0, 2.5, 3.0, 0.04, 2},
    {10.0, 1.0, 0.25, 1.0 / 3.0, 4},
};

void set_trains(mechanism_harness& h, const std::vector<train>& tr) {
    for (std::size_t i = 0; i < tr.size(); ++i) {
        h.param("amplitude")[i] = tr[i].amplitude;
        h.param("start")[i] = tr[i].start;
        h.param("duration")[i] = tr[i].duration;
        h.param("frequency")[i] = tr[i].frequency;
        h.param("count")[i] = tr[i].count;
    }
}

// The closed form: flux of train `tr` at time t, enumerating the pulses.
double expected_flux(const train& tr, double t) {
    for (double k = 0; k < tr.count; ++k) {
        const double onset = tr.start + k / tr.frequency;
        if (onset <= t && t < onset + tr.duration) {
            return faraday_flux(tr.amplitude);
        }
    }
    return 0.0;
}

TEST(pulse_train, metadata) {
    const mechanism* m = find_mechanism("pulse_train");
    ASSERT_NE(m, nullptr);
    EXPECT_TRUE(metadata_is_consistent(*m));
    const mechanism_info& info = m->info();
    EXPECT_EQ(info.kind, mechanism_kind::membrane);
    EXPECT_TRUE(info.is_stimulus);  // switched off when the resting state is computed
    EXPECT_TRUE(info.reads.empty());
    ASSERT_EQ(info.outputs.size(), 1u);
    EXPECT_EQ(info.outputs[0], "ca");
    EXPECT_TRUE(info.states.empty());
    for (const char* name: {"amplitude", "start", "duration", "frequency", "count"}) {
        EXPECT_GE(info.parameter_index(name), 0) << name;
    }
}

TEST(pulse_train, faraday_conversion_constant) {
    // 1 pA of a divalent ion: 1e-12 / (2 F) mol/s = 5.1821 zmol/ms.
    EXPECT_NEAR(constants::zmol_per_ms_per_pA / 2, faraday_flux(1.0), 1e-14 * faraday_flux(1.0));
    EXPECT_NEAR(faraday_flux(1.0), 5.18213, 1e-5);
}

TEST(pulse_train, flux_over_five_instances_on_a_time_sweep) {
    mechanism_harness h("pulse_train", 5);
    set_trains(h, trains);
    h.size = {1.0, 10.0, 100.0, 1000.0, 1e4};  // flux is per instance, not per area
    // Times on a grid offset from every pulse edge (edges are multiples of 0.25 ms or of 1/3 ms).
    std::vector<double> expected(5);
    int on_samples = 0;
    for (int step = 0; step <= 2400; ++step) {
        h.t = 0.0137 + 0.05 * step;
        h.rates();
        for (std::size_t i = 0; i < 5; ++i) {
            expected[i] = expected_flux(trains[i], h.t);
            on_samples += expected[i] != 0.0 ? 1 : 0;
        }
        ASSERT_TRUE(all_near(h.out(0), expected, 1e-14)) << "at t = " << h.t << " ms";
    }
    EXPECT_GT(on_samples, 100);  // the sweep did see pulses
}

TEST(pulse_train, breakpoints_list_onsets_and_ends_within_t_end) {
    mechanism_harness h("pulse_train", 1);
    // Train 2 (onsets 10, 30, 50, 70, 90 ms; 0.5 ms long) up to t_end = 70.25: the pulse at 70 has started
    // but its end (70.5) lies beyond t_end; the one at 90 is not listed.
    set_trains(h, {trains[2]});
    EXPECT_TRUE(all_near(h.breakpoints(70.25), {10.0, 10.5, 30.0, 30.5, 50.0, 50.5, 70.0}, 1e-14));
    // Up to 1000 ms: all five pulses and no more (count respected).
    EXPECT_TRUE(all_near(h.breakpoints(1000.0), {10.0, 10.5, 30.0, 30.5, 50.0, 50.5, 70.0, 70.5, 90.0, 90.5},
                         1e-14));
    // Train 0 starts at 0: breakpoints are times in (0, t_end], so only its end is listed.
    set_trains(h, {trains[0]});
    EXPECT_TRUE(all_near(h.breakpoints(100.0), {2.0}, 0.0));
}

TEST(pulse_train, kth_onset_at_start_plus_k_over_f) {
    for (std::size_t i = 0; i < trains.size(); ++i) {
        mechanism_harness h("pulse_train", 1);
        set_trains(h, {trains[i]});
        const std::vector<double> b = h.breakpoints(1e6);
        std::vector<double> expected;
        for (double k = 0; k < trains[i].count; ++k) {
            const double onset = trains[i].start + k / trains[i].frequency;
            for (const double edge: {onset, onset + trains[i].duration}) {
                if (edge > 0) {
                    expected.push_back(edge);
                }
            }
        }
        EXPECT_TRUE(all_near(b, expected, 1e-14)) << "train " << i;
    }
}

TEST(pulse_train, several_instances_append_their_own_breakpoints) {
    mechanism_harness h("pulse_train", 5);
    set_trains(h, trains);
    std::size_t edges = 0;
    for (const train& tr: trains) {
        edges += 2 * static_cast<std::size_t>(tr.count);
    }
    EXPECT_EQ(h.breakpoints(1e6).size(), edges - 1);  // minus train 0's onset at t = 0
}

TEST(pulse_train, rate_at_each_breakpoint_is_its_right_limit) {
    // Pulses are half-open: at a reported onset the pulse is on, at a reported end it is off. The solver restarts
    // at these times, so the kernel must agree with breakpoints() to the last bit even where t / period rounds
    // (here 300 pulses at 30 Hz and 70 Hz, whose periods are not exact in binary).
    for (const double f: {0.03, 0.07, 1.0 / 3.0}) {
        mechanism_harness h("pulse_train", 1);
        set_trains(h, {{100.0, 0.7, 0.4 / f, f, 300}});
        const std::vector<double> b = h.breakpoints(1e6);
        ASSERT_EQ(b.size(), 600u);
        const double on = faraday_flux(100.0);
        for (std::size_t j = 0; j < b.size(); ++j) {
            h.t = b[j];
            h.rates();
            const double expected = j % 2 == 0 ? on : 0.0;
            ASSERT_NEAR(h.out(0)[0], expected, 1e-14 * on)
                << "f = " << f << " /ms, breakpoint " << j << " at t = " << b[j] << " ms";
        }
    }
}

TEST(pulse_train, count_respected_and_zero_count_is_silent) {
    mechanism_harness h("pulse_train", 2);
    // Instance 0: three pulses of 1 ms every 8 ms from 5 ms; instance 1: count 0.
    set_trains(h, {trains[1], {50.0, 5.0, 1.0, 0.125, 0}});
    for (const double t: {5.0, 13.0, 21.0, 29.0, 37.0}) {
        h.t = t;
        h.rates();
        EXPECT_EQ(h.out(0)[0], t < 29.0 ? faraday_flux(50.0) : 0.0) << "t = " << t;
        EXPECT_EQ(h.out(0)[1], 0.0) << "t = " << t;
    }
    mechanism_harness silent("pulse_train", 1);
    set_trains(silent, {{50.0, 5.0, 1.0, 0.125, 0}});
    EXPECT_TRUE(silent.breakpoints(1000.0).empty());
}

TEST(pulse_train, zero_frequency_gives_a_single_pulse) {
    // f = 0 (allowed: lower bound 0) means an infinite period: only the first pulse, whatever the count.
    mechanism_harness h("pulse_train", 2);
    set_trains(h, {{100.0, 3.0, 2.0, 0.0, 1}, {100.0, 3.0, 2.0, 0.0, 5}});
    const double on = faraday_flux(100.0);
    for (const double t: {2.9, 3.0, 4.0, 4.999, 5.0, 100.0}) {
        h.t = t;
        h.rates();
        const double expected = t >= 3.0 && t < 5.0 ? on : 0.0;
        EXPECT_TRUE(all_near(h.out(0), {expected, expected}, 1e-14)) << "t = " << t;
    }
    EXPECT_TRUE(all_near(h.breakpoints(100.0), {3.0, 5.0, 3.0, 5.0}, 0.0));
}

TEST(pulse_train, before_start_and_defaults) {
    // Default: one 2 ms pulse of 100 pA at t = 0.
    mechanism_harness h("pulse_train", 1);
    for (const double t: {-1.0, 0.0, 1.999, 2.0, 50.0}) {
        h.t = t;
        h.rates();
        EXPECT_EQ(h.out(0)[0], t >= 0.0 && t < 2.0 ? 100.0 * constants::zmol_per_ms_per_pA / 2 : 0.0)
            << "t = " << t;
    }
}

} // namespace
} // namespace cadyn

TEST(pulse_train, a_single_pulse_may_outlast_the_period) {
    // count = 1: the frequency is irrelevant; a 500 ms pulse at the default 20 Hz runs the full 500 ms.
    cadyn::testing_support::mechanism_harness h("pulse_train", 1);
    h.param("amplitude") = {10.0};
    h.param("start") = {100.0};
    h.param("duration") = {500.0};
    h.param("count") = {1.0};
    const double on = 10.0 * cadyn::constants::zmol_per_ms_per_pA / 2;
    for (const double t: {100.0, 149.9, 150.0, 400.0, 599.9}) {
        h.t = t;
        h.rates();
        EXPECT_DOUBLE_EQ(h.out(0)[0], on) << "t = " << t;
    }
    for (const double t: {99.9, 600.0, 700.0}) {
        h.t = t;
        h.rates();
        EXPECT_DOUBLE_EQ(h.out(0)[0], 0.0) << "t = " << t;
    }
}

TEST(pulse_train, refuses_a_train_too_long_to_stop_at_every_edge) {
    // 1e9 pulses at 1 MHz over 2000 s would be 2e9 stops (16 GB of breakpoint times): a clear error up front.
    cadyn::testing_support::mechanism_harness h("pulse_train", 1);
    h.param("frequency") = {1e3};  // 1 MHz in 1/ms
    h.param("count") = {1e9};
    h.param("duration") = {1e-4};
    EXPECT_THROW(h.breakpoints(2e6), cadyn::error);
    h.param("count") = {10.0};
    EXPECT_EQ(h.breakpoints(2e6).size(), 19U);  // 10 onsets and 10 ends, less the onset at t = 0
}
