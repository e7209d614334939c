#pragma once
// Running a compiled system in time (CVODE) and finding its resting state (KINSOL).
//
// simulate() integrates with SUNDIALS CVODE (BDF, Newton iteration, dense direct linear solver; the Jacobian by
// coloured difference quotients over the system's sparsity pattern, or CVODE's own dense ones), stopping exactly
// at every stimulus or protocol discontinuity and restarting there. Every budget channel is integrated alongside
// the state, from the same evaluations, so "how much Ca did PMCA remove" closes exactly against the change in
// total Ca. Records go to a recorder as the run proceeds.
//
// Long runs (docs/robustness.md): a run can be asked to stop (simulation_options::should_stop, checked after
// every output step); it then returns the simulation_state it reached, which a later simulate() continues from
// (simulation_options::resume). Before allocating anything, simulate() estimates the memory it needs and refuses
// a run that would not fit. After every output step it checks that no concentration went negative beyond
// tolerance; when CVODE fails, the solver_error names the time, the variable and what to try.

#include <cstddef>
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
    // Which observables record() reads (1 = read), asked once before begin() or resume(): simulate() computes
    // only those and passes NaN for the others. Default: all of them.
    virtual std::vector<char> wanted(const std::vector<observable_info>& observables) const {
        return std::vector<char>(observables.size(), 1);
    }
    // The whole state y (system::size() values) at the time of the record() just made, for recorders that write
    // spatial fields voxel by voxel. Default: ignored.
    virtual void record_state(double t, const double* y) {
        static_cast<void>(t);
        static_cast<void>(y);
    }
    virtual void end() {}
    // Continue a run that stopped after `rows` records (see simulation_state): instead of begin(). A recorder
    // that cannot pick up where it left off starts afresh (the default).
    virtual void resume(const std::vector<observable_info>& observables, std::size_t rows) {
        static_cast<void>(rows);
        begin(observables);
    }
    // Make every record so far durable (called when a run stops early); the run is not finished.
    virtual void flush() {}
    // Bytes of memory the recorder keeps per record for `columns` observables (0 when it streams them out).
    // simulate() uses it to refuse, up front, a run whose records would not fit in memory.
    virtual double bytes_per_record(std::size_t columns) const {
        static_cast<void>(columns);
        return 0;
    }
};

// Keeps records in memory (for analysis and tests): every observable, or only the named ones (a long run keeps
// what its summary needs, not every column: 16 bytes per record for one column instead of 8 x (1 + columns)).
class memory_recorder final: public recorder {
public:
    memory_recorder() = default;
    explicit memory_recorder(std::vector<std::string> keep): keep_(std::move(keep)) {}

    void begin(const std::vector<observable_info>& observables) override;
    void record(double t, std::span<const double> values) override;
    std::vector<char> wanted(const std::vector<observable_info>& observables) const override;
    double bytes_per_record(std::size_t columns) const override;

    const std::vector<observable_info>& observables() const { return observables_; }
    const std::vector<double>& times() const { return times_; }
    // The recorded values of one observable; throws cadyn::error for an unknown name.
    const std::vector<double>& column(const std::string& name) const;

private:
    std::vector<std::string> keep_;     // empty: every observable
    std::vector<observable_info> observables_;
    std::vector<std::size_t> source_;   // for each kept column, its index among the recorded values
    std::vector<double> times_;
    std::vector<std::vector<double>> columns_;
};

// Forwards to several recorders.
class tee_recorder final: public recorder {
public:
    explicit tee_recorder(std::vector<recorder*> sinks): sinks_(std::move(sinks)) {}
    void begin(const std::vector<observable_info>& observables) override;
    void record(double t, std::span<const double> values) override;
    std::vector<char> wanted(const std::vector<observable_info>& observables) const override;
    void record_state(double t, const double* y) override;
    void end() override;
    void resume(const std::vector<observable_info>& observables, std::size_t rows) override;
    void flush() override;
    double bytes_per_record(std::size_t columns) const override;

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
// Throws cadyn::error for a model with stochastic mechanisms (docs/stochastic.md): it has no resting state.
steady_state find_steady_state(system& sys, const std::vector<double>& guess);

struct solver_statistics {
    long steps = 0;
    long rhs_evaluations = 0;
    long jacobian_evaluations = 0;
    long error_test_failures = 0;
    long nonlinear_failures = 0;
    long restarts = 0;  // at stimulus discontinuities
    long stochastic_events = 0;  // transitions fired by stochastic mechanisms (docs/stochastic.md)
};

// Where a run stands between two output steps: everything needed to continue it as if it had not stopped.
// A continued run restarts CVODE's BDF history at t, so it agrees with an uninterrupted one to the solver
// tolerance, not bit for bit.
struct simulation_state {
    double t = 0;                       // [ms] reached
    double t_end = 0;                   // [ms] the run's end
    std::vector<double> y0;             // the state the run started from (budgets, relative observables)
    std::vector<double> y;              // the ODE states then the integrated budget channels [zmol], at t
    std::size_t next_record = 1;        // the next record is at next_record x record.interval (or t_end)
    std::size_t next_break = 0;         // breakpoints already passed: their events have been applied
    std::size_t records = 0;            // records sent to the recorder so far (the CSV's data rows)
    std::optional<steady_state> rest;   // when the run started from the resting state (its y is y0)
    solver_statistics stats;            // accumulated over every part of the run so far
};

struct simulation_options {
    std::optional<double> t_end;   // [ms]; default: the model's run.t_end
    std::optional<start_from> start;        // default: the model's run.start
    std::function<void(double t, double t_end)> progress;  // called after each record
    std::function<void(double t, const double* y)> inspect;  // called with the state at each record
    // Asked after every output step (a record or a discontinuity): when it returns true the run stops there,
    // flushes the recorder, and returns with interrupted = true and the state reached. Called often: make it
    // cheap (the CLI reads a flag its SIGINT/SIGTERM handler sets).
    std::function<bool()> should_stop;
    // Continue a stopped run instead of starting one (t_end and start are then taken from the state).
    std::optional<simulation_state> resume;
    // A concentration or mechanism state below -negative_limit x atol after an output step is an error (it
    // cannot be negative; the model drains more than is there). 0 turns the check off.
    double negative_limit = 100;
};

struct simulation_result {
    std::optional<steady_state> rest;   // when the run started from the resting state
    std::vector<double> y0;             // state the run started from
    std::vector<double> y_end;          // state at t_end
    double t_end = 0;                   // [ms]
    std::vector<double> budget;         // per flux channel: integrated amount over the run [zmol] (= amol * 1e-3)
    solver_statistics stats;
    bool interrupted = false;           // should_stop asked for a stop before t_end
    simulation_state state;             // where the run stopped (filled when interrupted)
};

// Integrate sys from its start state to t_end, sending a record every model.record.interval to `out`.
// Throws cadyn::error when the run would need more memory than is available (before allocating it), and
// solver_error when CVODE fails or a concentration goes negative (see simulation_options::negative_limit).
simulation_result simulate(system& sys, recorder& out, const simulation_options& options = {});

// What a run of sys to t_end would need in memory [bytes]: the solver (dense Newton matrix and its saved copy,
// CVODE's vectors, the Jacobian colouring) and the records a recorder keeps (bytes_per_record per record).
struct memory_estimate {
    double solver = 0;
    double records = 0;
    double rows = 0;     // number of records
    double total() const { return solver + records; }
};
memory_estimate estimate_memory(const system& sys, double t_end, double bytes_per_record);

// Memory this process can still use [bytes]: /proc/meminfo's MemAvailable, lowered to the room left under a
// cgroup (v2) memory.max when one is set; sysconf's available pages where /proc is missing.
double available_memory();

// Throw cadyn::error, with the estimate and the amount available, when the estimate exceeds 80 % of
// available_memory().
void check_memory(const system& sys, double t_end, double bytes_per_record);

} // namespace cadyn
