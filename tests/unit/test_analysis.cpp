// Trace analysis against synthetic traces with known answers: a single exponential relaxation
//
//   y(t) = b + A exp(-(t - t0) / tau)
//
// (the solution of dy/dt = -(y - b) / tau, e.g. a Ca transient decaying through a linear pump; Neher &
// Augustine 1992, J Physiol 450:273-301, eq. 7) must be recovered exactly up to the fit's tolerance.
#include <cmath>
#include <numbers>
#include <optional>
#include <vector>

#include <gtest/gtest.h>

#include <cadyn/analysis.hpp>

namespace cadyn {
namespace {

struct trace {
    std::vector<double> t;
    std::vector<double> y;
};

// m + 1 samples of b + A exp(-(t - t0)/tau) over [t0, t0 + window], plus `noise` * A * sin(2 pi 7.3 j / m),
// a fixed, deterministic wiggle.
trace exponential_trace(double tau, double amplitude, double baseline, double t0, double window, int m,
                        double noise = 0) {
    trace tr;
    for (int j = 0; j <= m; ++j) {
        const double t = t0 + window * j / m;
        const double wiggle = noise * amplitude * std::sin(2 * std::numbers::pi * 7.3 * j / m);
        tr.t.push_back(t);
        tr.y.push_back(baseline + amplitude * std::exp(-(t - t0) / tau) + wiggle);
    }
    return tr;
}

void expect_rel(double actual, double expected, double rel, const char* what) {
    EXPECT_NEAR(actual, expected, rel * std::abs(expected)) << what;
}

TEST(analysis, fit_exponential_recovers_exact_parameters) {
    // Taus from 1 to 1000 (ms), windows from a third of tau to twenty taus.
    for (const double tau: {1.0, 3.7, 10.0, 100.0, 1000.0}) {
        for (const double windows: {0.3, 1.0, 4.0, 20.0}) {
            SCOPED_TRACE(::testing::Message() << "tau = " << tau << ", window = " << windows << " tau");
            const double amplitude = 0.8;
            const double baseline = 0.05;
            const trace tr = exponential_trace(tau, amplitude, baseline, 12.5, windows * tau, 400);
            const std::optional<exponential_fit> fit = fit_exponential(tr.t, tr.y);
            ASSERT_TRUE(fit.has_value());
            expect_rel(fit->tau, tau, 1e-6, "tau");
            expect_rel(fit->amplitude, amplitude, 1e-6, "amplitude");
            expect_rel(fit->baseline, baseline, 1e-6, "baseline");
            EXPECT_LT(fit->rms, 1e-9 * amplitude);
        }
    }
}

TEST(analysis, fit_exponential_rising_and_negative_baseline) {
    // A relaxation from below (negative amplitude) onto a negative baseline is the same model.
    const trace tr = exponential_trace(25.0, -2.0, -0.5, 0.0, 100.0, 300);
    const auto fit = fit_exponential(tr.t, tr.y);
    ASSERT_TRUE(fit.has_value());
    expect_rel(fit->tau, 25.0, 1e-6, "tau");
    expect_rel(fit->amplitude, -2.0, 1e-6, "amplitude");
    expect_rel(fit->baseline, -0.5, 1e-6, "baseline");
}

TEST(analysis, fit_exponential_uneven_sampling) {
    // Dense early, sparse late (as an adaptive solver records): t_j = T (j / m)^2.
    trace tr;
    for (int j = 0; j <= 200; ++j) {
        const double s = j / 200.0;
        tr.t.push_back(150.0 * s * s);
        tr.y.push_back(0.1 + 1.5 * std::exp(-tr.t.back() / 40.0));
    }
    const auto fit = fit_exponential(tr.t, tr.y);
    ASSERT_TRUE(fit.has_value());
    expect_rel(fit->tau, 40.0, 1e-6, "tau");
    expect_rel(fit->amplitude, 1.5, 1e-6, "amplitude");
    expect_rel(fit->baseline, 0.1, 1e-6, "baseline");
}

TEST(analysis, fit_exponential_needs_four_points) {
    // Three parameters need more than three points to be a fit rather than an interpolation.
    const trace tr = exponential_trace(10.0, 1.0, 0.0, 0.0, 30.0, 3);  // 4 points
    ASSERT_EQ(tr.t.size(), 4u);
    EXPECT_TRUE(fit_exponential(tr.t, tr.y).has_value());
    for (std::size_t n = 0; n < 4; ++n) {
        EXPECT_FALSE(fit_exponential(std::span<const double>(tr.t).first(n), std::span<const double>(tr.y).first(n)))
            << n << " points";
    }
    // Mismatched lengths, and a window of zero length, are not fits either.
    EXPECT_FALSE(fit_exponential(tr.t, std::span<const double>(tr.y).first(3)));
    const std::vector<double> same_t(5, 2.0);
    const std::vector<double> some_y = {1.0, 0.5, 0.25, 0.125, 0.0625};
    EXPECT_FALSE(fit_exponential(same_t, some_y));
}

TEST(analysis, flat_data_do_not_decay) {
    // A constant trace has no exponential in it: its least-squares amplitude is rounding noise, so no fit (and no
    // decay in a summary, e.g. of a run whose stimulus did nothing), for any level and length.
    for (const double level: {0.0, 1e-3, 0.05, 0.1, 0.3, 0.7, 1.1, 123.0}) {
        for (const int n: {5, 17, 50, 201}) {
            const std::vector<double> t = [&] {
                std::vector<double> v;
                for (int j = 0; j < n; ++j) {
                    v.push_back(0.37 * j);
                }
                return v;
            }();
            const std::vector<double> y(static_cast<std::size_t>(n), level);
            EXPECT_FALSE(fit_exponential(t, y).has_value()) << "level " << level << ", " << n << " points";
            EXPECT_FALSE(summarize_transient(t, y, 0.0).decay.has_value()) << "level " << level << ", " << n;
        }
    }
}

TEST(analysis, fit_exponential_with_small_noise) {
    // A fixed sinusoid of 1e-3 of the amplitude on top of the exponential: parameters still within 1%.
    for (const double tau: {1.0, 10.0, 100.0, 1000.0}) {
        for (const double windows: {1.0, 3.0, 10.0}) {
            SCOPED_TRACE(::testing::Message() << "tau = " << tau << ", window = " << windows << " tau");
            const double amplitude = 2.0;
            const double baseline = 0.1;
            const trace tr = exponential_trace(tau, amplitude, baseline, 0.0, windows * tau, 500, 1e-3);
            const auto fit = fit_exponential(tr.t, tr.y);
            ASSERT_TRUE(fit.has_value());
            expect_rel(fit->tau, tau, 1e-2, "tau");
            expect_rel(fit->amplitude, amplitude, 1e-2, "amplitude");
            // The baseline is 1/20 of the amplitude: hold it to 1% of the amplitude.
            EXPECT_NEAR(fit->baseline, baseline, 1e-2 * amplitude) << "baseline";
            // The residual is the wiggle: rms of a sinusoid of amplitude 2e-3 is 2e-3 / sqrt(2).
            EXPECT_LT(fit->rms, 1.1 * 1e-3 * amplitude / std::sqrt(2.0));
        }
    }
}

// A synthetic transient: rest, then instantaneous Ca jumps at the stimulus times, each relaxing with tau:
//   y(t) = rest + sum_k jump_k exp(-(t - t_k) / tau) [t >= t_k]
// After the last stimulus this is a single exponential with baseline `rest`. Times are multiples of 1/8 ms, so
// the stimulus times are sampled exactly.
trace transient(double rest, double tau, const std::vector<double>& times, const std::vector<double>& jumps,
                double t_end) {
    trace tr;
    const int m = static_cast<int>(t_end * 8);
    for (int j = 0; j <= m; ++j) {
        const double t = j / 8.0;
        double y = rest;
        for (std::size_t k = 0; k < times.size(); ++k) {
            if (t >= times[k]) {
                y += jumps[k] * std::exp(-(t - times[k]) / tau);
            }
        }
        tr.t.push_back(t);
        tr.y.push_back(y);
    }
    return tr;
}

TEST(analysis, summarize_transient_finds_rest_peak_and_decay) {
    // A large first response at 10 ms and two smaller ones: the global peak is the first, the decay fit starts
    // at the last stimulus (30 ms) and sees y = rest + y30 exp(-(t - 30)/tau).
    const double rest = 0.05;
    const double tau = 15.0;
    const std::vector<double> times = {10.0, 20.0, 30.0};
    const std::vector<double> jumps = {2.0, 0.2, 0.2};
    const trace tr = transient(rest, tau, times, jumps, 200.0);

    const transient_summary s = summarize_transient(tr.t, tr.y, 30.0);
    EXPECT_DOUBLE_EQ(s.resting, rest);
    EXPECT_DOUBLE_EQ(s.peak, rest + 2.0);
    EXPECT_DOUBLE_EQ(s.peak_time, 10.0);
    EXPECT_DOUBLE_EQ(s.decay_from, 30.0);
    ASSERT_TRUE(s.decay.has_value());
    const double above_rest_at_30 = 2.0 * std::exp(-20.0 / tau) + 0.2 * std::exp(-10.0 / tau) + 0.2;
    expect_rel(s.decay->tau, tau, 1e-6, "tau");
    expect_rel(s.decay->amplitude, above_rest_at_30, 1e-6, "amplitude");
    expect_rel(s.decay->baseline, rest, 1e-6, "baseline");
}

TEST(analysis, summarize_transient_decay_starts_at_local_peak_after_stimulus) {
    // With the last stimulus given slightly before its response is sampled, the fit starts at the largest value
    // after that time, not at the first sample after it.
    const trace tr = transient(0.1, 8.0, {5.0, 40.0}, {1.0, 3.0}, 120.0);
    const transient_summary s = summarize_transient(tr.t, tr.y, 39.9);
    EXPECT_DOUBLE_EQ(s.peak_time, 40.0);
    EXPECT_DOUBLE_EQ(s.decay_from, 40.0);
    ASSERT_TRUE(s.decay.has_value());
    expect_rel(s.decay->tau, 8.0, 1e-6, "tau");
    expect_rel(s.decay->baseline, 0.1, 1e-6, "baseline");
}

TEST(analysis, summarize_transient_without_a_decay) {
    // Last stimulus after the end of the trace: rest and peak, no decay fit.
    const trace tr = transient(0.05, 15.0, {10.0}, {1.0}, 50.0);
    const transient_summary late = summarize_transient(tr.t, tr.y, 60.0);
    EXPECT_DOUBLE_EQ(late.resting, 0.05);
    EXPECT_DOUBLE_EQ(late.peak, 1.05);
    EXPECT_FALSE(late.decay.has_value());
    // An empty trace gives an empty summary.
    const transient_summary empty = summarize_transient({}, {}, 0.0);
    EXPECT_FALSE(empty.decay.has_value());
}

} // namespace
} // namespace cadyn

// oscillation_period(): the mean interval between upward crossings of the mean over the second half of a trace.
TEST(analysis, oscillation_period_of_a_sine_and_of_spikes) {
    std::vector<double> t;
    std::vector<double> sine;
    std::vector<double> spikes;
    std::vector<double> noisy;
    const double period = 12.7;  // [s]
    for (int i = 0; i <= 2000; ++i) {
        const double x = 0.1 * i;  // every 0.1 s over 200 s
        t.push_back(x);
        sine.push_back(0.2 + 0.1 * std::sin(2 * std::numbers::pi * x / period));
        // Narrow Ca-like spikes every 12.7 s on a baseline.
        const double phase = std::fmod(x, period);
        spikes.push_back(0.1 + 0.3 * std::exp(-(phase - 2.0) * (phase - 2.0)));
        // The sine with a deterministic jitter of 5 % of its amplitude: each jitter crossing of the mean is no cycle.
        noisy.push_back(sine.back() + 0.005 * std::sin(1e4 * x * x));
    }
    const auto s = cadyn::oscillation_period(t, sine);
    ASSERT_TRUE(s.has_value());
    // Linear interpolation at the mean, where a sine is straightest: error far below the sampling step.
    EXPECT_NEAR(s->period, period, 1e-4 * period);
    EXPECT_EQ(s->cycles, 7U);  // 100 s / 12.7 s: 8 crossings, 7 intervals
    const auto p = cadyn::oscillation_period(t, spikes);
    ASSERT_TRUE(p.has_value());
    EXPECT_NEAR(p->period, period, 1e-3 * period);
    const auto n = cadyn::oscillation_period(t, noisy);
    ASSERT_TRUE(n.has_value());
    EXPECT_NEAR(n->period, period, 0.01 * period);
    EXPECT_EQ(n->cycles, 7U);
}

TEST(analysis, no_period_at_rest_or_in_a_decay) {
    std::vector<double> t;
    std::vector<double> damped;
    std::vector<double> decay;
    std::vector<double> flat;
    for (int i = 0; i <= 10000; ++i) {
        const double x = 0.1 * i;
        t.push_back(x);
        damped.push_back(0.1 + 0.1 * std::exp(-x / 5) * std::sin(x));  // rings down to rest within the first half
        decay.push_back(0.1 + std::exp(-x / 300));
        flat.push_back(0.1);
    }
    EXPECT_FALSE(cadyn::oscillation_period(t, damped).has_value());
    EXPECT_FALSE(cadyn::oscillation_period(t, decay).has_value());
    EXPECT_FALSE(cadyn::oscillation_period(t, flat).has_value());
    EXPECT_FALSE(cadyn::oscillation_period(std::vector<double>{0, 1, 2}, std::vector<double>{0, 1, 0}).has_value());
}
