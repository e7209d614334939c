// cadyn fit [MODEL] --data FILE --observable OBS --fit KEY[=START] ...: the values of chosen parameters that make
// an observable of the model follow a recording best (least squares, Ceres' Levenberg-Marquardt), with their
// standard errors, the fitted trace beside the data, and a plot (docs/fitting.md).
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <ceres/ceres.h>
#include <fmt/core.h>

#include <cadyn/error.hpp>
#include <cadyn/io/csv.hpp>
#include <cadyn/io/model_file.hpp>
#include <cadyn/settings.hpp>
#include <cadyn/simulate.hpp>
#include <cadyn/system.hpp>
#include <cadyn/units.hpp>

#include "commands.hpp"
#include "common.hpp"

namespace cadyn::cli {

namespace {

struct fit_arguments {
    std::string model;
    std::string data;
    std::string observable;
    std::string column;
    std::vector<std::string> fit;       // KEY or KEY=START
    std::vector<std::string> settings;  // --set
    std::string t_end;
    std::string start;
    unsigned max_iterations = 100;
    std::string out = "cadyn-fit";
    bool no_plot = false;
};

// A recording: times [ms] and values in the observable's canonical unit.
struct recording {
    std::vector<double> t;
    std::vector<double> y;
    std::string column;  // the header cell of the values
};

// "cyt.ca [nM]" -> {"cyt.ca", "nM"}; "F/F0" -> {"F/F0", ""}.
std::pair<std::string, std::string> name_and_unit(const std::string& cell) {
    const auto open = cell.rfind(" [");
    if (!cell.empty() && cell.back() == ']' && open != std::string::npos) {
        return {trim(std::string_view(cell).substr(0, open)), cell.substr(open + 2, cell.size() - open - 3)};
    }
    return {cell, ""};
}

// A CSV with a header: the first column the time with its unit ("t [s]"), the values in `column` (default the
// second) with theirs, converted to `unit` (the observable's canonical unit; "1" or "" for a dimensionless one).
// Lines starting with '#' and blank lines are skipped. Throws cadyn::error naming the file and line.
recording read_recording(const std::filesystem::path& path, const std::string& column, const std::string& unit) {
    std::ifstream in(path);
    if (!in) {
        throw error(fmt::format("cannot open the recording '{}'", path.string()));
    }
    const auto where = [&path](int line) { return fmt::format("{}:{}", path.string(), line); };
    std::string line;
    int number = 0;
    std::vector<std::string> header;
    while (header.empty() && std::getline(in, line)) {
        ++number;
        if (!trim(line).empty() && trim(line).front() != '#') {
            header = split(line, ',');
        }
    }
    if (header.size() < 2) {
        throw error(fmt::format("{}: expected a header with a time column and at least one column of values, e.g. "
                                "'t [s],F/F0'",
                                path.string()));
    }
    const int header_line = number;
    const auto [t_name, t_unit] = name_and_unit(header[0]);
    if (t_unit.empty() || !has_dimension(t_unit, dims::time)) {
        throw error(fmt::format("{}: the first column, '{}', must be the time with its unit, e.g. 't [s]' or 't [ms]'",
                                where(header_line), header[0]));
    }
    std::size_t k = 1;
    if (!column.empty()) {
        k = header.size();
        for (std::size_t i = 1; i < header.size(); ++i) {
            if (name_and_unit(header[i]).first == column || header[i] == column) {
                k = i;
            }
        }
        if (k == header.size()) {
            throw error(fmt::format("{}: no column '{}'; the header is: {}", where(header_line), column, line));
        }
    }
    recording r;
    r.column = header[k];
    const auto [y_name, y_unit] = name_and_unit(header[k]);
    const bool dimensionless = unit.empty() || unit == "1";
    double y_factor = 1;
    try {
        if (!y_unit.empty()) {
            y_factor = convert(1.0, y_unit, dimensionless ? "1" : unit);
        }
        else if (!dimensionless) {
            throw unit_error("");
        }
    }
    catch (const unit_error&) {
        throw error(fmt::format("{}: the column '{}' must carry a unit of {} (the observable's unit), e.g. '{} [{}]'",
                                where(header_line), header[k], unit, y_name, unit));
    }
    const double t_factor = convert(1.0, t_unit, "ms");
    const auto parse = [&](const std::string& text, int at, const std::string& what) {
        double v = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(v)) {
            throw error(fmt::format("{}: {} '{}' is not a number", where(at), what, text));
        }
        return v;
    };
    while (std::getline(in, line)) {
        ++number;
        if (trim(line).empty() || trim(line).front() == '#') {
            continue;
        }
        const auto c = split(line, ',');
        if (c.size() <= k) {
            throw error(fmt::format("{}: {} values, the header has {} columns", where(number), c.size(), header.size()));
        }
        const double t = parse(c[0], number, "the time") * t_factor;
        if (t < 0 || (!r.t.empty() && !(t > r.t.back()))) {
            throw error(fmt::format("{}: the times must be >= 0 and increase from line to line", where(number)));
        }
        r.t.push_back(t);
        r.y.push_back(parse(c[k], number, "the value") * y_factor);
    }
    return r;
}

// One fitted parameter: its key, the canonical unit of its value, and where it starts.
struct parameter {
    std::string key;
    std::string unit;  // canonical ("" for a user parameter)
    double start = 0;  // canonical
    std::string shown = "";  // the unit results are shown in: the start's when it converts, else `unit`
    double to_shown = 1;     // canonical -> shown
    std::string text(double v) const { return unit.empty() ? fmt::format("{}", v) : fmt::format("{} {}", v, unit); }
};

// The trace of `observable` with the parameters at `values` (canonical), linearly interpolated at the data's times;
// nullopt when the model refuses the values or the solver cannot finish.
std::optional<std::vector<double>> simulate_at(const model_spec& base, const std::vector<parameter>& params,
                                               const double* values, const std::string& observable,
                                               const simulation_options& options, const std::vector<double>& times) {
    try {
        model_spec spec = base;
        for (std::size_t j = 0; j < params.size(); ++j) {
            set_model_value(spec, params[j].key, params[j].text(values[j]), source_location{"--fit", 0, 0});
        }
        system sys = compile(spec);
        memory_recorder rec({observable});
        simulate(sys, rec, options);
        const auto& t = rec.times();
        const auto& y = rec.column(observable);
        std::vector<double> out;
        out.reserve(times.size());
        std::size_t i = 0;
        for (const double x: times) {
            while (i + 2 < t.size() && t[i + 1] < x) {
                ++i;
            }
            if (t.size() < 2) {
                out.push_back(y.empty() ? std::nan("") : y[0]);
                continue;
            }
            const double f = (x - t[i]) / (t[i + 1] - t[i]);
            out.push_back(y[i] + std::clamp(f, 0.0, 1.0) * (y[i + 1] - y[i]));
        }
        return out;
    }
    catch (const error&) {
        return std::nullopt;
    }
}

// Ceres' residuals: the model's trace minus the data, the parameters as natural logarithms (so they stay > 0) plus
// log_offset, so that Ceres' relative difference step is about the same in every parameter wherever it goes.
constexpr double log_offset = 10;
struct trace_residuals {
    const model_spec* base;
    const std::vector<parameter>* params;
    const std::string* observable;
    const simulation_options* options;
    const recording* data;
    bool operator()(double const* const* log_values, double* residuals) const {
        std::vector<double> values(params->size());
        for (std::size_t j = 0; j < values.size(); ++j) {
            values[j] = std::exp(log_values[0][j] - log_offset);
        }
        const auto trace = simulate_at(*base, *params, values.data(), *observable, *options, data->t);
        if (!trace) {
            return false;  // Ceres takes a smaller step
        }
        for (std::size_t i = 0; i < data->t.size(); ++i) {
            residuals[i] = (*trace)[i] - data->y[i];
        }
        return true;
    }
};

class progress final: public ceres::IterationCallback {
public:
    explicit progress(bool enabled): enabled_(enabled) {}
    ceres::CallbackReturnType operator()(const ceres::IterationSummary& s) override {
        if (enabled_) {
            fmt::print(stderr, "\r[fit] iteration {:3d}  cost {:.6g}", s.iteration, s.cost);
        }
        return ceres::SOLVER_CONTINUE;
    }

private:
    bool enabled_;
};

int fit(const fit_arguments& args) {
    const std::string source = args.model;
    std::vector<std::pair<std::string, std::string>> settings;
    model_spec base = read_model_with_settings(source, args.settings, settings);
    if (args.fit.empty()) {
        throw error("nothing to fit: give at least one --fit KEY or --fit KEY=START, e.g. --fit pmca.vmax");
    }

    // The parameters, each > 0 at its start (they are fitted as logarithms).
    std::vector<parameter> params;
    for (const auto& f: args.fit) {
        const auto eq = f.find('=');
        parameter p;
        p.key = f.substr(0, eq);
        if (find_model_setting(p.key) != nullptr) {
            throw error(fmt::format("--fit '{}': a run or record setting is not fitted; fit mechanism parameters, "
                                    "concentrations or user parameters",
                                    p.key));
        }
        for (const auto& q: params) {
            if (q.key == p.key) {
                throw error(fmt::format("--fit '{}': the key is given twice", p.key));
            }
        }
        model_spec probe = base;
        std::string start_unit;
        if (eq != std::string::npos) {
            apply_settings(probe, {{p.key, f.substr(eq + 1)}}, "--fit");
            start_unit = split_quantity(f.substr(eq + 1)).unit;
        }
        try {
            p.start = model_number(probe, p.key, p.unit);
        }
        catch (const model_error& e) {
            throw error(fmt::format("--fit: {}", e.what()));
        }
        p.shown = p.unit;
        if (!start_unit.empty() && !p.unit.empty()) {
            try {
                p.to_shown = convert(1.0, p.unit, start_unit);  // "uM/s" of a per-area capacity does not convert
                p.shown = start_unit;
            }
            catch (const unit_error&) {
                p.to_shown = 1;
            }
        }
        if (!(p.start > 0)) {
            throw error(fmt::format("--fit '{}': starts at {}; a fitted value must be above 0 (give a start: --fit "
                                    "{}=VALUE)",
                                    p.key, p.text(p.start), p.key));
        }
        params.push_back(p);
    }

    // The observable and the recording in its unit.
    const system probe = compile(base);
    std::string unit;
    bool found = false;
    std::string names;
    for (const auto& o: probe.observables()) {
        names += (names.empty() ? "" : ", ") + o.name;
        if (o.name == args.observable) {
            unit = o.unit;
            found = true;
        }
    }
    if (!found) {
        throw error(fmt::format("--observable '{}': the model has no such observable; it has: {}", args.observable,
                                names));
    }
    const auto data = read_recording(args.data, args.column, unit);
    if (data.t.size() <= params.size()) {
        throw error(fmt::format("{}: {} data points for {} parameters; a fit needs more points than parameters",
                                args.data, data.t.size(), params.size()));
    }

    // The runs: to the last data point (or --t-end), at tolerances tight enough for difference quotients.
    simulation_options options;
    apply_run_options(options, args.t_end, args.start);
    if (!options.t_end) {
        options.t_end = data.t.back();
    }
    if (*options.t_end < data.t.back()) {
        throw error(fmt::format("--t-end {} ms ends before the last data point ({} ms)", *options.t_end, data.t.back()));
    }
    model_spec tight = base;
    tight.run.rtol = std::min(base.run.rtol, 1e-9);
    tight.run.atol = std::min(base.run.atol, 1e-12);

    std::vector<double> log_values;
    std::vector<double> start_values;
    for (const auto& p: params) {
        log_values.push_back(std::log(p.start) + log_offset);
        start_values.push_back(p.start);
    }
    const auto before = simulate_at(tight, params, start_values.data(), args.observable, options, data.t);
    if (!before) {
        throw solver_error("the model does not run at the start values of the fitted parameters");
    }

    const trace_residuals functor{&tight, &params, &args.observable, &options, &data};
    // Difference quotients in the logarithms: steps of 1e-4 (relative to the offset log value, ~10), far above the
    // runs' own error at rtol 1e-9.
    ceres::NumericDiffOptions steps;
    steps.relative_step_size = 1e-5;
    auto* cost = new ceres::DynamicNumericDiffCostFunction<trace_residuals, ceres::CENTRAL>(
        new trace_residuals(functor), ceres::TAKE_OWNERSHIP, steps);
    cost->AddParameterBlock(static_cast<int>(params.size()));
    cost->SetNumResiduals(static_cast<int>(data.t.size()));
    ceres::Problem problem;
    problem.AddResidualBlock(cost, nullptr, log_values.data());
    ceres::Solver::Options solver;
    solver.linear_solver_type = ceres::DENSE_QR;
    solver.max_num_iterations = static_cast<int>(args.max_iterations);
    solver.function_tolerance = 1e-10;
    solver.parameter_tolerance = 1e-10;
    solver.logging_type = ceres::SILENT;
    progress bar(isatty(STDERR_FILENO) != 0);
    solver.callbacks.push_back(&bar);
    solver.update_state_every_iteration = false;
    ceres::Solver::Summary summary;
    ceres::Solve(solver, &problem, &summary);
    if (isatty(STDERR_FILENO) != 0) {
        fmt::print(stderr, "\n");
    }

    std::vector<double> fitted;
    for (const double v: log_values) {
        fitted.push_back(std::exp(v - log_offset));
    }
    const auto after = simulate_at(tight, params, fitted.data(), args.observable, options, data.t);
    if (!after) {
        throw solver_error("the model does not run at the fitted values");
    }
    const auto rms = [&data](const std::vector<double>& trace) {
        double sum = 0;
        for (std::size_t i = 0; i < trace.size(); ++i) {
            sum += (trace[i] - data.y[i]) * (trace[i] - data.y[i]);
        }
        return std::sqrt(sum / static_cast<double>(trace.size()));
    };

    // Standard errors: sigma^2 (J^T J)^-1 of the logarithms, sigma^2 = sum of squares / (points - parameters); the
    // value's standard error is its value times its logarithm's (to first order).
    const double n = static_cast<double>(data.t.size());
    const double sigma2 = std::pow(rms(*after), 2) * n / (n - static_cast<double>(params.size()));
    std::vector<std::optional<double>> standard_error(params.size());
    {
        ceres::Covariance::Options co;
        co.algorithm_type = ceres::DENSE_SVD;
        co.null_space_rank = -1;
        co.min_reciprocal_condition_number = 1e-14;
        ceres::Covariance covariance(co);
        const std::vector<std::pair<const double*, const double*>> blocks{{log_values.data(), log_values.data()}};
        if (covariance.Compute(blocks, &problem)) {
            std::vector<double> c(params.size() * params.size());
            covariance.GetCovarianceBlock(log_values.data(), log_values.data(), c.data());
            for (std::size_t j = 0; j < params.size(); ++j) {
                const double var = c[j * params.size() + j];
                if (std::isfinite(var) && var >= 0) {
                    standard_error[j] = fitted[j] * std::sqrt(sigma2 * var);
                }
            }
        }
    }

    // Outputs.
    const std::filesystem::path out_dir = args.out;
    std::error_code made;
    std::filesystem::create_directories(out_dir, made);
    if (made) {
        throw output_error(fmt::format("cannot create the output folder '{}': {}", out_dir.string(), made.message()));
    }
    const std::string u = unit.empty() || unit == "1" ? "" : fmt::format(" [{}]", unit);
    std::string table = fmt::format("t [ms],data{0},start{0},fitted{0},residual{0}\n", u);
    for (std::size_t i = 0; i < data.t.size(); ++i) {
        table += fmt::format("{},{},{},{},{}\n", data.t[i], data.y[i], (*before)[i], (*after)[i],
                             (*after)[i] - data.y[i]);
    }
    write_atomically(out_dir / "fit.csv", table);

    std::string text = summary_head(base, source, settings);
    const auto line = [&text](const std::string& s) { text += s + "\n"; };
    line(fmt::format("data:        {} points of '{}' in {} ({} to {} ms), against {}", data.t.size(), data.column,
                     args.data, data.t.front(), data.t.back(), args.observable));
    line(fmt::format("fit:         {} after {} iterations ({}, {:.2f} s)",
                     summary.IsSolutionUsable() ? "converged" : "NOT converged", summary.iterations.size() - 1,
                     ceres::TerminationTypeToString(summary.termination_type), summary.total_time_in_seconds));
    std::string again;
    for (std::size_t j = 0; j < params.size(); ++j) {
        const auto& p = params[j];
        const double k = p.to_shown;
        const std::string se = standard_error[j]
                                   ? fmt::format("+- {:.3g} ({:.2g} %)", k * *standard_error[j],
                                                 100 * *standard_error[j] / fitted[j])
                                   : std::string("(standard error: not identifiable from these data)");
        line(fmt::format("  {:<24} {:.6g} {}  {}   (start {:.6g})", p.key, k * fitted[j], p.shown, se, k * p.start));
        again += fmt::format(" --set {}={}", p.key,
                             shell_quote(p.shown.empty() ? fmt::format("{}", fitted[j])
                                                         : fmt::format("{} {}", k * fitted[j], p.shown)));
    }
    line(fmt::format("rms residual: {:.4g}{} at the start, {:.4g}{} fitted", rms(*before), u, rms(*after), u));
    line(fmt::format("run it:      cadyn run{}{}", source.empty() ? "" : " " + shell_quote(source), again));
    line(fmt::format("wrote:       {}", (out_dir / "fit.csv").string()));
    int status = summary.IsSolutionUsable() ? ok : solver_failed;
    if (!args.no_plot) {
        const auto png = out_dir / "fit.png";
        const std::string command = fmt::format("/usr/bin/python3 {} {} {} --title {}",
                                                shell_quote(plot_script("plot_fit.py").string()),
                                                shell_quote((out_dir / "fit.csv").string()), shell_quote(png.string()),
                                                shell_quote(args.observable));
        if (std::system(command.c_str()) == 0 && std::filesystem::exists(png)) {
            line(fmt::format("plot:        {}", png.string()));
        }
        else {
            fmt::print(stderr, "error: plotting failed ({}); the fit is in {}\n", command,
                       (out_dir / "fit.csv").string());
            status = std::max(status, static_cast<int>(output_failed));
        }
    }
    fmt::print("{}", text);
    write_atomically(out_dir / "fit-summary.txt", text);
    return status;
}

} // namespace

void add_fit(CLI::App& app, int& status) {
    static fit_arguments args;
    auto* cmd = app.add_subcommand("fit", "Fit parameters of a model to a recording (least squares): fitted values with "
                                          "standard errors, the fitted trace beside the data, a plot (docs/fitting.md)");
    cmd->add_option("MODEL", args.model, "Model file (.toml or SBML); omit for the built-in default model");
    cmd->add_option("--data", args.data,
                    "The recording: a CSV whose first column is the time with its unit ('t [s]') and whose values "
                    "carry theirs ('ca [nM]'; none for F/F0)")
        ->required();
    cmd->add_option("--observable", args.observable, "The model's observable the data record, e.g. cyt.ca or fluo4.F_F0")
        ->required();
    cmd->add_option("--column", args.column, "The data's column of values (default: the second)");
    cmd->add_option("--fit", args.fit,
                    "A value to fit (repeatable), from the model's value or from START: KEY or KEY=START, e.g. "
                    "--fit pmca.vmax --fit fixed.total='100 uM' (keys as --set; values stay above 0)")
        ->type_name("KEY[=START]")
        ->allow_extra_args(false)
        ->required();
    cmd->add_option("--set", args.settings, "Change a value that is not fitted (repeatable), as `cadyn run --set`")
        ->type_name("KEY=VALUE")
        ->allow_extra_args(false);
    cmd->add_option("--t-end", args.t_end, "Simulated time with its unit (default: the last data point)");
    cmd->add_option("--start", args.start, "Start from 'initial' concentrations or the 'steady_state'")
        ->check(CLI::IsMember({"initial", "steady_state"}));
    cmd->add_option("--max-iterations", args.max_iterations, "Levenberg-Marquardt iterations at most")
        ->capture_default_str()
        ->check(CLI::Range(1U, 100000U));
    cmd->add_option("--out", args.out, "Output folder (created if needed)")->capture_default_str();
    cmd->add_flag("--no-plot", args.no_plot, "Do not draw fit.png");
    set_callback(cmd, status, [] { return fit(args); });
}

} // namespace cadyn::cli
