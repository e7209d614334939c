#pragma once
// Running a compiled system in time (CVODE) and finding its resting state (KINSOL).
//
// simulate() integrates with SUNDIALS CVODE (BDF, Newton iteration, dense direct linear solver; the Jacobian by
// coloured difference quotients over the system's sparsity pattern, or CVODE's own dense ones), stopping exactly
// at every stimulus or protocol discontinuity and restarting there. Every budget channel is integrated alongside
// the state, from the same evaluations, so "how much Ca did PMCA remove" closes exactly against the change in
// total Ca. Records go to a recorder as the run proceeds.

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <cadyn/system.hpp>

namespace cadyn {

// Receives records while a run proceeds. begin() once, record() per sample (t in ms, values in the units of
// the observables), end() once when the run finishes normally.
class recorder {
public:
    virtual ~recorder() = default;
    virtual void begin(const std::vector<observable_info>& observables) = 0;
    virtual void record(double t, std::span<const double> values) = 0;
    virtual void end() {}
};

// Keeps every record in memory (for analysis and tests).
class memory_recorder final: public recorder {
public:
    void begin(const std::vector<observable_info>& observables) override;
    void record(double t, std::span<const double> values) override;

    const std::vector<observable_info>& observables() const { return observables_; }
    const std::vector<double>& times() const { return times_; }
    // The recorded values of one observable; throws cadyn::error for an unknown name.
    const std::vector<double>& column(const std::string& name) const;

private:
    std::vector<observable_info> observables_;
    std::vector<double> times_;
    std::vector<std::vector<double>> columns_;
};

// Forwards to several recorders.
class tee_recorder final: public recorder {
public:
    explicit tee_recorder(std::vector<recorder*> sinks): sinks_(std::move(sinks)) {}
    void begin(const std::vector<observable_info>& observables) override;
    void record(double t, std::span<const double> values) override;
    void end() override;

private:
    std::vector<recorder*> sinks_;
};

struct steady_state {
    std::vector<double> y;
    bool converged = false;
    std::string method;       // "KINSOL", "time integration + KINSOL", "time integration"
    double residual = 0;      // max |dy/dt| scaled by max(|y|, atol) [1/ms]
};

// The resting state of the cell: dy/dt = 0 with stimuli off. Tries KINSOL (Newton with line search, y >= 0)
// from `guess`; when that fails (for example a closed cell, whose Jacobian is singular), integrates in time until
// the state stops changing and polishes the result with KINSOL.
steady_state find_steady_state(system& sys, const std::vector<double>& guess);

struct simulation_options {
    std::optional<double> t_end;   // [ms]; default: the model's run.t_end
    std::optional<start_from> start;        // default: the model's run.start
    std::function<void(double t, double t_end)> progress;  // called after each record
    std::function<void(double t, const double* y)> inspect;  // called with the state at each record
};

struct solver_statistics {
    long steps = 0;
    long rhs_evaluations = 0;
    long jacobian_evaluations = 0;
    long error_test_failures = 0;
    long nonlinear_failures = 0;
    long restarts = 0;  // at stimulus discontinuities
};

struct simulation_result {
    std::optional<steady_state> rest;   // when the run started from the resting state
    std::vector<double> y0;             // state the run started from
    std::vector<double> y_end;          // state at t_end
    double t_end = 0;                   // [ms]
    std::vector<double> budget;         // per flux channel: integrated amount over the run [zmol] (= amol * 1e-3)
    solver_statistics stats;
};

// Integrate sys from its start state to t_end, sending a record every model.record.interval to `out`.
simulation_result simulate(system& sys, recorder& out, const simulation_options& options = {});

} // namespace cadyn
