#pragma once
// Analysis of traces: resting level, peak, decay time constant, and where the Ca went.

#include <cmath>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <cadyn/system.hpp>

namespace cadyn {

// y(t) = baseline + amplitude * exp(-(t - t[0]) / tau), least squares over all points.
struct exponential_fit {
    double tau = 0;        // [time unit of t]
    double amplitude = 0;
    double baseline = 0;
    double rms = 0;        // root-mean-square residual
};

// Fit a single exponential with a free baseline: for each tau the baseline and amplitude are linear least
// squares; tau is found by a log-spaced scan refined by golden-section search. Needs at least 4 points; returns
// nullopt when there are fewer or the data do not decay.
std::optional<exponential_fit> fit_exponential(std::span<const double> t, std::span<const double> y);

struct transient_summary {
    double resting = 0;                    // value at the start of the run
    double peak = 0;                       // largest value
    double peak_time = 0;
    double decay_from = 0;                 // time the decay fit starts (the peak after the last stimulus)
    std::optional<exponential_fit> decay;  // decay after the last stimulus
};

// Summarise a transient: resting value (first sample), peak, and the decay after `last_stimulus` (the fit runs
// from the largest value after that time to the end of the trace).
transient_summary summarize_transient(std::span<const double> t, std::span<const double> y, double last_stimulus);

// The period of a sustained oscillation: the mean interval between upward crossings of the mean over the second
// half of the trace (t >= (t.front() + t.back()) / 2), crossing times interpolated linearly. A crossing counts only
// after the trace has been below the mean by a tenth of its half range (a Schmitt trigger: noise and round-off at
// the mean are not cycles). nullopt when that half holds fewer than three such crossings or its range is below
// 1e-6 of its mean's magnitude (a trace at rest). The definition the peer benchmarks use (docs/performance.md).
struct oscillation {
    double period = 0;     // [time unit of t]
    std::size_t cycles = 0;  // intervals averaged
};
std::optional<oscillation> oscillation_period(std::span<const double> t, std::span<const double> y);

// How much of `species` each mechanism took out of `compartment` over a run [zmol], from the integrated budget
// channels (simulation_result::budget). Positive: removed from the compartment.
struct removal {
    std::string mechanism;
    double amount = 0;  // [zmol]
};
std::vector<removal> removal_by_mechanism(const system& sys, const std::vector<double>& budget,
                                          const std::string& compartment, const std::string& species);

// The balance of one species in one non-clamped compartment over a run [zmol]: its change in total (free +
// carried by states) against the sum of the budget channels into it (transfers in - out + sources). The two agree
// to round-off (see simulate()); `difference` is what they do not.
struct balance {
    std::string compartment;
    std::string species;
    double change = 0;
    double accounted = 0;
    double scale = 0;  // the amounts at stake: the species' largest total (start or end) or total moved
    double difference() const { return change - accounted; }
    // |difference| relative to `scale` (0 when nothing was there and nothing moved).
    double relative_error() const { return scale > 0 ? std::abs(difference()) / scale : 0.0; }
};
std::vector<balance> balances(const system& sys, const std::vector<double>& y_start, const std::vector<double>& y_end,
                              const std::vector<double>& budget);

// ATP hydrolysed by each ATP-consuming mechanism over a run [zmol], from its budget channel and its declared
// ATP per flux (PMCA 1 per Ca, SERCA 1 per 2 Ca, NCX 1 per 3 Na through the Na/K pump). Negative: ATP made
// (a reversed pump).
struct atp_use {
    std::string mechanism;
    double amount = 0;  // [zmol]
};
std::vector<atp_use> atp_consumption(const system& sys, const std::vector<double>& budget);

} // namespace cadyn
