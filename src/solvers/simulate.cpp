// Time integration with CVODE and the resting state with KINSOL.
#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include <cadyn/simulate.hpp>

#include "solvers/sundials.hpp"

namespace cadyn {

using namespace detail;

namespace {

// Columns of the Jacobian grouped so that no two columns of a group share a row: perturbing a whole group at once
// gives every column of it from one rhs evaluation (Curtis, Powell & Reid 1974, greedy colouring).
struct jacobian_colouring {
    std::vector<std::vector<std::size_t>> pattern;  // rows of each column
    std::vector<std::vector<std::size_t>> groups;   // columns of each colour
    std::vector<double> atol;
    double rtol = 1e-6;

    jacobian_colouring(const system& sys, double relative, bool with_budget, const std::vector<double>& tolerances):
        pattern(sys.jacobian_pattern(with_budget)), atol(tolerances), rtol(relative) {
        const std::size_t n = pattern.size();
        std::vector<std::vector<char>> used;  // used[colour][row]
        for (std::size_t c = 0; c < n; ++c) {
            std::size_t colour = 0;
            for (; colour < groups.size(); ++colour) {
                const bool clash = std::any_of(pattern[c].begin(), pattern[c].end(),
                                               [&](std::size_t r) { return used[colour][r] != 0; });
                if (!clash) {
                    break;
                }
            }
            if (colour == groups.size()) {
                groups.emplace_back();
                used.emplace_back(n, 0);
            }
            groups[colour].push_back(c);
            for (const auto r: pattern[c]) {
                used[colour][r] = 1;
            }
        }
    }
};

struct rhs_data {
    system* sys;
    bool stimuli;
    callback_guard guard;
    const jacobian_colouring* colouring = nullptr;
    bool budget = false;  // y carries the integrated budget channels after the model's states
};

int cvode_rhs(sunrealtype t, N_Vector y, N_Vector ydot, void* user) noexcept {
    auto* d = static_cast<rhs_data*>(user);
    try {
        if (d->budget) {
            d->sys->rhs(t, N_VGetArrayPointer(y), N_VGetArrayPointer(ydot),
                        N_VGetArrayPointer(ydot) + d->sys->size(), d->stimuli);
        }
        else {
            d->sys->rhs(t, N_VGetArrayPointer(y), N_VGetArrayPointer(ydot), d->stimuli);
        }
        // A non-finite derivative is recoverable: CVODE retries with a smaller step.
        const double* f = N_VGetArrayPointer(ydot);
        for (sunindextype i = 0; i < N_VGetLength(ydot); ++i) {
            if (!std::isfinite(f[i])) {
                return 1;
            }
        }
        return 0;
    }
    catch (...) {
        d->guard.pending = std::current_exception();
        return -1;
    }
}

// Coloured difference-quotient Jacobian: J[:, j] = (f(y + d_j e_j) - f(y)) / d_j for all columns j of a colour at
// once, with d_j = sqrt(eps) max(|y_j|, atol_j / rtol).
int cvode_jacobian(sunrealtype t, N_Vector y, N_Vector fy, SUNMatrix jac, void* user, N_Vector tmp1, N_Vector tmp2,
                   N_Vector) noexcept {
    auto* d = static_cast<rhs_data*>(user);
    try {
        const auto& col = *d->colouring;
        const double srur = std::sqrt(std::numeric_limits<double>::epsilon());
        const double* y0 = N_VGetArrayPointer(y);
        const double* f0 = N_VGetArrayPointer(fy);
        double* yp = N_VGetArrayPointer(tmp1);
        double* fp = N_VGetArrayPointer(tmp2);
        const auto n = static_cast<std::size_t>(N_VGetLength(y));
        SUNMatZero(jac);
        std::copy(y0, y0 + n, yp);
        for (const auto& group: col.groups) {
            for (const auto j: group) {
                yp[j] = y0[j] + srur * std::max(std::abs(y0[j]), col.atol[j] / col.rtol);
            }
            if (d->budget) {
                d->sys->rhs(t, yp, fp, fp + d->sys->size(), d->stimuli);
            }
            else {
                d->sys->rhs(t, yp, fp, d->stimuli);
            }
            for (const auto j: group) {
                const double inc = yp[j] - y0[j];  // the increment actually represented
                double* column = SUNDenseMatrix_Column(jac, static_cast<sunindextype>(j));
                for (const auto r: col.pattern[j]) {
                    column[r] = (fp[r] - f0[r]) / inc;
                }
                yp[j] = y0[j];
            }
        }
        return 0;
    }
    catch (...) {
        d->guard.pending = std::current_exception();
        return -1;
    }
}

// One CVODE integrator over a system. With budget = true the state vector is extended by one integrated budget
// channel per flux channel (dq_c/dt = rate of channel c). Because the channels are computed in the same
// evaluation as dy/dt, every balance "change of total = sum of channels" is a linear invariant of the extended
// system, which BDF with Newton preserves to round-off: budgets close exactly, not only to the tolerance.
class integrator {
public:
    integrator(system& sys, const std::vector<double>& y0, double t0, bool stimuli, bool budget):
        data_{&sys, stimuli, {}, nullptr, budget},
        n_(static_cast<sunindextype>(sys.size())),
        nq_(budget ? static_cast<sunindextype>(sys.flux_channels().size()) : 0),
        y_(make_vector(n_ + nq_, ctx_)),
        atol_(make_vector(n_ + nq_, ctx_)) {
        const auto& run = sys.model().run;
        double* y = N_VGetArrayPointer(y_.get());
        std::copy(y0.begin(), y0.end(), y);
        std::fill(y + n_, y + n_ + nq_, 0.0);
        auto tol = sys.abs_tolerances();
        // The budget channels follow from the states; they take no part in step-size or Newton control.
        tol.resize(static_cast<std::size_t>(n_ + nq_), 1e100);
        std::copy(tol.begin(), tol.end(), N_VGetArrayPointer(atol_.get()));

        mem_.reset(CVodeCreate(CV_BDF, ctx_));
        if (!mem_) {
            throw internal_error("CVodeCreate failed");
        }
        void* m = mem_.get();
        check_cvode(CVodeInit(m, cvode_rhs, t0, y_.get()), "CVodeInit");
        check_cvode(CVodeSVtolerances(m, run.rtol, atol_.get()), "CVodeSVtolerances");
        check_cvode(CVodeSetUserData(m, &data_), "CVodeSetUserData");
        matrix_.reset(SUNDenseMatrix(n_ + nq_, n_ + nq_, ctx_));
        solver_.reset(SUNLinSol_Dense(y_.get(), matrix_.get(), ctx_));
        check_cvode(CVodeSetLinearSolver(m, solver_.get(), matrix_.get()), "CVodeSetLinearSolver");
        if (run.jacobian == jacobian_method::coloured) {
            colouring_ = std::make_unique<jacobian_colouring>(sys, run.rtol, budget, tol);
            data_.colouring = colouring_.get();
            check_cvode(CVodeSetJacFn(m, cvode_jacobian), "CVodeSetJacFn");
        }
        check_cvode(CVodeSetMaxNumSteps(m, 1000000), "CVodeSetMaxNumSteps");
        if (run.max_step > 0) {
            check_cvode(CVodeSetMaxStep(m, run.max_step), "CVodeSetMaxStep");
        }
    }

    // Advance to tout without stepping past t_stop. Returns the time reached.
    double advance(double tout, double t_stop) {
        void* m = mem_.get();
        check_cvode(CVodeSetStopTime(m, t_stop), "CVodeSetStopTime");
        double reached = 0;
        const int flag = CVode(m, tout, y_.get(), &reached, CV_NORMAL);
        data_.guard.rethrow();
        if (flag < 0) {
            char* name = CVodeGetReturnFlagName(flag);
            std::string text = name != nullptr ? name : "unknown";
            free(name);
            double h = 0;
            CVodeGetLastStep(m, &h);
            throw solver_error(fmt::format(
                "the solver stopped at t = {:.6g} ms ({}; last step {:.3g} ms). Try a smaller run.rtol or "
                "run.atol, a run.max_step, or check the model for rates that blow up",
                reached, text, h));
        }
        return reached;
    }

    // The model's events at time t, which may change the state (the budget is kept).
    void apply_events(double t) { data_.sys->apply_events(t, N_VGetArrayPointer(y_.get())); }

    // Restart the multistep history at a discontinuity, keeping the state and the budget.
    void restart(double t) { check_cvode(CVodeReInit(mem_.get(), t, y_.get()), "CVodeReInit"); }

    const double* y() const { return N_VGetArrayPointer(y_.get()); }
    std::vector<double> state() const { return {y(), y() + n_}; }
    std::vector<double> budget() const { return {y() + n_, y() + n_ + nq_}; }

    void add_statistics(solver_statistics& s) const {
        void* m = mem_.get();
        long v = 0;
        CVodeGetNumSteps(m, &v);
        s.steps += v;
        CVodeGetNumRhsEvals(m, &v);
        s.rhs_evaluations += v;
        CVodeGetNumJacEvals(m, &v);
        s.jacobian_evaluations += v;
        CVodeGetNumErrTestFails(m, &v);
        s.error_test_failures += v;
        CVodeGetNumNonlinSolvConvFails(m, &v);
        s.nonlinear_failures += v;
    }

private:
    sun_context ctx_;
    rhs_data data_;
    std::unique_ptr<jacobian_colouring> colouring_;
    sunindextype n_;
    sunindextype nq_;
    nvector y_;
    nvector atol_;
    // Destroyed in reverse order: the integrator before the linear solver and matrix it uses.
    sun_matrix matrix_;
    sun_linear_solver solver_;
    cvode_memory mem_;
};

// KINSOL's residual: dy/dt of the resting cell, with the equation of each conservation law's pivot replaced by
// the law itself (total - total at the guess, divided by the pivot's volume so it reads as a concentration).
struct steady_data {
    rhs_data rhs;
    std::vector<double> totals;  // per conservation law [zmol]
};

int kinsol_residual(N_Vector u, N_Vector f, void* user) noexcept {
    auto* d = static_cast<steady_data*>(user);
    try {
        const double* y = N_VGetArrayPointer(u);
        double* r = N_VGetArrayPointer(f);
        d->rhs.sys->rhs(0.0, y, r, false);
        const auto& laws = d->rhs.sys->conservation_laws();
        for (std::size_t k = 0; k < laws.size(); ++k) {
            double total = 0;
            double pivot_weight = 1;
            for (const auto& [index, weight]: laws[k].weights) {
                total += weight * y[index];
                if (index == laws[k].pivot) {
                    pivot_weight = weight;
                }
            }
            r[laws[k].pivot] = (total - d->totals[k]) / pivot_weight;
        }
        return 0;
    }
    catch (...) {
        d->rhs.guard.pending = std::current_exception();
        return -1;
    }
}

// Scale of each state for convergence tests: its magnitude, but at least the absolute tolerance.
std::vector<double> state_scale(const system& sys, const std::vector<double>& y) {
    const auto atol = sys.abs_tolerances();
    std::vector<double> s(y.size());
    for (std::size_t i = 0; i < y.size(); ++i) {
        s[i] = std::max({std::abs(y[i]), atol[i] * 1e3, 1e-6});
    }
    return s;
}

// max_i |f_i| / scale_i [1/ms]
double scaled_residual(system& sys, const std::vector<double>& y) {
    std::vector<double> f(y.size());
    sys.rhs(0.0, y.data(), f.data(), false);
    const auto s = state_scale(sys, y);
    double r = 0;
    for (std::size_t i = 0; i < y.size(); ++i) {
        r = std::max(r, std::abs(f[i]) / s[i]);
    }
    return r;
}

// Newton (KINSOL, line search, y >= 0). Returns true when it converged; y holds the result either way.
bool kinsol_solve(system& sys, std::vector<double>& y) {
    const auto n = static_cast<sunindextype>(y.size());
    sun_context ctx;
    steady_data data{{&sys, false, {}, nullptr}, {}};
    for (const auto& law: sys.conservation_laws()) {
        double total = 0;
        for (const auto& [index, weight]: law.weights) {
            total += weight * y[index];
        }
        data.totals.push_back(total);
    }
    auto u = make_vector(n, ctx);
    auto u_scale = make_vector(n, ctx);
    auto f_scale = make_vector(n, ctx);
    auto constraints = make_vector(n, ctx);
    std::copy(y.begin(), y.end(), N_VGetArrayPointer(u.get()));
    const auto scale = state_scale(sys, y);
    for (sunindextype i = 0; i < n; ++i) {
        // Concentrations and mechanism states stay non-negative. Scale residuals like the states, per ms.
        N_VGetArrayPointer(u_scale.get())[i] = 1.0 / scale[static_cast<std::size_t>(i)];
        N_VGetArrayPointer(f_scale.get())[i] = 1.0 / scale[static_cast<std::size_t>(i)];
        N_VGetArrayPointer(constraints.get())[i] = sys.is_nonnegative(static_cast<std::size_t>(i)) ? 1.0 : 0.0;
    }
    kinsol_memory mem(KINCreate(ctx));
    if (!mem) {
        throw internal_error("KINCreate failed");
    }
    void* m = mem.get();
    check_kinsol(KINInit(m, kinsol_residual, u.get()), "KINInit");
    check_kinsol(KINSetUserData(m, &data), "KINSetUserData");
    check_kinsol(KINSetConstraints(m, constraints.get()), "KINSetConstraints");
    check_kinsol(KINSetFuncNormTol(m, 1e-13), "KINSetFuncNormTol");
    check_kinsol(KINSetScaledStepTol(m, 1e-15), "KINSetScaledStepTol");
    check_kinsol(KINSetNumMaxIters(m, 500), "KINSetNumMaxIters");
    check_kinsol(KINSetMaxSetupCalls(m, 1), "KINSetMaxSetupCalls");  // exact Newton
    sun_matrix jac(SUNDenseMatrix(n, n, ctx));
    sun_linear_solver ls(SUNLinSol_Dense(u.get(), jac.get(), ctx));
    check_kinsol(KINSetLinearSolver(m, ls.get(), jac.get()), "KINSetLinearSolver");
    KINSetErrHandlerFn(m, [](int, const char*, const char*, char*, void*) {}, nullptr);
    const int flag = KINSol(m, u.get(), KIN_LINESEARCH, u_scale.get(), f_scale.get());
    data.rhs.guard.rethrow();
    const double* r = N_VGetArrayPointer(u.get());
    std::vector<double> candidate(r, r + n);
    const bool finite = std::all_of(candidate.begin(), candidate.end(), [](double v) { return std::isfinite(v); });
    if (flag >= 0 && finite) {
        y = std::move(candidate);
        return true;
    }
    return false;
}

} // namespace

steady_state find_steady_state(system& sys, const std::vector<double>& guess) {
    sys.reset_events();  // the resting cell of the model as written
    steady_state result;
    result.y = guess;
    if (sys.size() == 0) {
        result.converged = true;
        result.method = "trivial";
        return result;
    }
    constexpr double tolerance = 1e-10;  // [1/ms] scaled residual accepted as a steady state
    std::vector<double> y = guess;
    if (kinsol_solve(sys, y) && scaled_residual(sys, y) < tolerance) {
        result.y = y;
        result.converged = true;
        result.method = "KINSOL";
        result.residual = scaled_residual(sys, y);
        return result;
    }
    // Pseudo-transient continuation: integrate the resting cell (stimuli off) over growing horizons.
    integrator ode(sys, guess, 0.0, false, false);
    y = guess;
    for (double horizon = 1e2; horizon <= 1e10; horizon *= 10) {
        ode.advance(horizon, horizon);
        y = ode.state();
        if (scaled_residual(sys, y) < tolerance * 1e3) {
            break;
        }
    }
    std::vector<double> polished = y;
    if (kinsol_solve(sys, polished) && scaled_residual(sys, polished) < scaled_residual(sys, y)) {
        result.y = polished;
        result.method = "time integration + KINSOL";
    }
    else {
        result.y = y;
        result.method = "time integration";
    }
    result.residual = scaled_residual(sys, result.y);
    result.converged = result.residual < tolerance * 1e3;
    return result;
}

simulation_result simulate(system& sys, recorder& out, const simulation_options& options) {
    const auto& model = sys.model();
    simulation_result result;
    const double t_end = options.t_end.value_or(model.run.t_end);
    if (!(t_end > 0) || !std::isfinite(t_end)) {
        throw error(fmt::format("t_end must be a positive time, got {} ms", t_end));
    }
    result.t_end = t_end;
    result.y0 = sys.initial_state();
    if (options.start.value_or(model.run.start) == start_from::steady_state) {
        result.rest = find_steady_state(sys, result.y0);
        if (!result.rest->converged) {
            throw solver_error(fmt::format("no resting state found ({}; scaled residual {:.3g}/ms); start from the "
                                           "initial state instead (run.start = \"initial\")",
                                           result.rest->method, result.rest->residual));
        }
        result.y0 = result.rest->y;
    }

    sys.reset_events();
    sys.set_reference(result.y0.data());
    integrator ode(sys, result.y0, 0.0, true, true);
    std::vector<double> values(sys.observables().size());
    out.begin(sys.observables());
    sys.observe(0.0, result.y0.data(), values.data());
    out.record(0.0, values);
    if (options.inspect) {
        options.inspect(0.0, result.y0.data());
    }

    const auto breaks = sys.breakpoints(t_end);
    const double interval = model.record.interval;
    std::size_t next_break = 0;
    long next_record = 1;
    double t = 0;
    while (t < t_end) {
        const double t_stop = next_break < breaks.size() ? breaks[next_break] : t_end;
        const double t_record = std::min(static_cast<double>(next_record) * interval, t_end);
        const double target = std::min(t_record, t_stop);
        t = ode.advance(target, t_stop);
        // Whole records at multiples of the interval, and always the final time.
        const bool at_record = std::abs(t - t_record) <= 1e-12 * std::max(1.0, t_record);
        if (at_record) {
            sys.observe(t, ode.y(), values.data());
            out.record(t, values);
            if (options.inspect) {
                options.inspect(t, ode.y());
            }
            ++next_record;
            if (options.progress) {
                options.progress(t, t_end);
            }
        }
        if (next_break < breaks.size() && std::abs(t - t_stop) <= 1e-12 * std::max(1.0, t_stop)) {
            ode.apply_events(t);
            ode.restart(t);
            ++next_break;
            ++result.stats.restarts;
        }
    }
    out.end();
    result.y_end = ode.state();
    result.budget = ode.budget();
    ode.add_statistics(result.stats);
    return result;
}

void memory_recorder::begin(const std::vector<observable_info>& observables) {
    observables_ = observables;
    times_.clear();
    columns_.assign(observables.size(), {});
}

void memory_recorder::record(double t, std::span<const double> values) {
    times_.push_back(t);
    for (std::size_t k = 0; k < values.size(); ++k) {
        columns_[k].push_back(values[k]);
    }
}

const std::vector<double>& memory_recorder::column(const std::string& name) const {
    for (std::size_t k = 0; k < observables_.size(); ++k) {
        if (observables_[k].name == name) {
            return columns_[k];
        }
    }
    throw error(fmt::format("no recorded observable named '{}'", name));
}

void tee_recorder::begin(const std::vector<observable_info>& observables) {
    for (auto* s: sinks_) {
        s->begin(observables);
    }
}

void tee_recorder::record(double t, std::span<const double> values) {
    for (auto* s: sinks_) {
        s->record(t, values);
    }
}

void tee_recorder::end() {
    for (auto* s: sinks_) {
        s->end();
    }
}

} // namespace cadyn
