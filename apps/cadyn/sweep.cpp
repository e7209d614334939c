// cadyn sweep [MODEL] --vary KEY=VALUES [--vary ...]: the model at every point of a grid of parameter values, the
// points run in parallel threads (or split over the tasks of a cluster job array with --part), one row of results
// per point in sweep.csv, and a plot (docs/sweeps.md).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>

#include <cadyn/analysis.hpp>
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

struct sweep_arguments {
    std::string model;
    std::vector<std::string> vary;      // KEY=VALUES, the first varying slowest
    std::vector<std::string> settings;  // --set KEY=VALUE, applied to every point before the varied values
    std::vector<std::string> observe;   // observables summarised besides the reported one
    std::string t_end;
    std::string start;
    std::optional<long long> seed;
    unsigned jobs = 0;  // 0: one per hardware thread
    std::string part;   // I/N
    std::string out = "cadyn-sweep";
    bool no_plot = false;
};

// One varied key and its values, as numbers in one unit (the CSV's column) and as the text set_model_value reads.
struct axis {
    std::string key;
    std::string unit;  // empty: plain numbers
    std::vector<double> values;

    std::string text(std::size_t k) const {
        return unit.empty() ? fmt::format("{}", values[k]) : fmt::format("{} {}", values[k], unit);
    }
};

// "KEY=A,B,C" (a list; bare numbers take the unit of the last value that has one: "10,20,40 uM/s") or
// "KEY=FROM:TO:N" and "KEY=FROM:TO:N:log" (N values from FROM to TO, evenly or geometrically spaced; a bare FROM
// takes TO's unit). Values given in other units of the same dimension are converted to that unit.
axis parse_axis(const std::string& argument) {
    const auto [key, values] = parse_setting(argument, "--vary");
    axis a;
    a.key = key;
    const auto fail = [&argument](const std::string& why) {
        throw error(fmt::format("--vary '{}': {}", argument, why));
    };
    std::vector<quantity_text> items;
    const auto quantity = [&fail](const std::string& text) {
        try {
            return split_quantity(text);
        }
        catch (const unit_error& e) {
            fail(e.what());
        }
        return quantity_text{};
    };
    const auto in_unit = [&a, &fail](const quantity_text& q) {
        if (q.unit.empty() || q.unit == a.unit) {
            return q.value;
        }
        if (a.unit.empty()) {
            fail(fmt::format("'{} {}' has a unit and the other values have none", q.value, q.unit));
        }
        try {
            return convert(q.value, q.unit, a.unit);
        }
        catch (const unit_error& e) {
            fail(e.what());
        }
        return 0.0;
    };
    if (values.find(':') != std::string::npos) {
        const auto parts = split(values, ':');
        if (parts.size() < 3 || parts.size() > 4 || (parts.size() == 4 && parts[3] != "log")) {
            fail("expected FROM:TO:N or FROM:TO:N:log, e.g. --vary cyt.ip3='0.2 uM:0.8 uM:7'");
        }
        const auto from = quantity(parts[0]);
        const auto to = quantity(parts[1]);
        a.unit = to.unit.empty() ? from.unit : to.unit;
        const double lo = in_unit(from);
        const double hi = in_unit(to);
        std::size_t n = 0;
        const auto [end, ec] = std::from_chars(parts[2].data(), parts[2].data() + parts[2].size(), n);
        if (ec != std::errc{} || end != parts[2].data() + parts[2].size() || n < 2 || n > 1000000) {
            fail(fmt::format("the number of values, '{}', must be a whole number from 2 to 1000000", parts[2]));
        }
        const bool log = parts.size() == 4;
        if (log && !(lo > 0 && hi > 0)) {
            fail("a logarithmic range needs FROM and TO above 0");
        }
        for (std::size_t k = 0; k < n; ++k) {
            const double f = static_cast<double>(k) / static_cast<double>(n - 1);
            const double v = k == n - 1 ? hi : log ? lo * std::pow(hi / lo, f) : lo + (hi - lo) * f;
            // To 15 significant digits: 0.2 + 0.8 * 1/8 is 0.30000000000000004 in binary, and 0.3 is meant.
            a.values.push_back(std::stod(fmt::format("{:.15g}", v)));
        }
    }
    else {
        for (const auto& item: split(values, ',')) {
            if (item.empty()) {
                fail("an empty value in the list");
            }
            items.push_back(quantity(item));
            if (!items.back().unit.empty()) {
                a.unit = items.back().unit;
            }
        }
        for (const auto& q: items) {
            a.values.push_back(in_unit(q));
        }
    }
    return a;
}

// I/N of --part: this task runs the points whose index modulo N is I - 1.
std::pair<std::size_t, std::size_t> parse_part(const std::string& text) {
    const auto slash = text.find('/');
    std::size_t i = 0;
    std::size_t n = 0;
    const bool good = slash != std::string::npos &&
                      std::from_chars(text.data(), text.data() + slash, i).ptr == text.data() + slash &&
                      std::from_chars(text.data() + slash + 1, text.data() + text.size(), n).ptr ==
                          text.data() + text.size() &&
                      n >= 1 && i >= 1 && i <= n;
    if (!good) {
        throw error(fmt::format("--part '{}': expected I/N with 1 <= I <= N, e.g. --part \"$SLURM_ARRAY_TASK_ID/16\"",
                                text));
    }
    return {i, n};
}

std::string csv_text(const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) {
        return s;
    }
    std::string out = "\"";
    for (const char c: s) {
        out += c == '"' ? std::string("\"\"") : std::string(1, c);
    }
    return out + "\"";
}

std::string number(double v) { return std::isfinite(v) ? fmt::format("{}", v) : std::string(); }

// One point's results: the row of sweep.csv after its point index and values.
struct point_result {
    std::string status = "ok";
    bool failed = false;
    std::string columns;  // ",steps,wall,..." already formatted
};

struct observed {
    std::string name;
    std::string unit;
};

point_result run_point(const model_spec& model, const std::vector<std::pair<std::string, std::string>>& values,
                       const std::vector<std::string>& observe, const simulation_options& options) {
    point_result r;
    const auto wall_start = std::chrono::steady_clock::now();
    try {
        model_spec spec = model;
        apply_settings(spec, values, "--vary");
        system sys = compile(spec);
        memory_recorder rec(observe);
        const auto result = simulate(sys, rec, options);
        if (result.interrupted) {
            r.failed = true;
            r.status = "stopped";
            return r;
        }
        const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
        const auto breaks = sys.breakpoints(result.t_end);
        const double last_stimulus = breaks.empty() ? std::numeric_limits<double>::infinity() : breaks.back();
        r.columns = fmt::format(",{},{:.6f}", result.stats.steps, wall);
        for (std::size_t k = 0; k < observe.size(); ++k) {
            const auto& c = rec.column(observe[k]);
            const auto s = summarize_transient(rec.times(), c, last_stimulus);
            const auto osc = oscillation_period(rec.times(), c);
            r.columns += fmt::format(",{},{},{},{},{},{}", number(s.resting), number(s.peak), number(s.peak_time),
                                     number(c.empty() ? std::nan("") : c.back()), osc ? number(osc->period) : "",
                                     osc ? fmt::format("{}", osc->cycles) : "");
            if (k == 0) {
                r.columns += fmt::format(",{}", s.decay && !breaks.empty() ? number(s.decay->tau) : "");
            }
        }
    }
    catch (const error& e) {
        r.failed = true;
        r.status = e.what();
        r.columns.clear();
    }
    catch (const std::exception& e) {  // out of memory, say: this point fails, the others go on
        r.failed = true;
        r.status = fmt::format("internal error: {}", e.what());
        r.columns.clear();
    }
    return r;
}

int sweep(const sweep_arguments& args) {
    const std::string source = args.model;
    std::vector<std::pair<std::string, std::string>> settings;
    model_spec base = read_model_with_settings(source, args.settings, settings);
    apply_seed(base, args.seed);
    if (args.vary.empty()) {
        throw error("nothing to sweep: give at least one --vary KEY=VALUES, e.g. --vary pmca.vmax='10,20,40 "
                    "pmol/cm^2/s'");
    }
    std::vector<axis> axes;
    for (const auto& v: args.vary) {
        axes.push_back(parse_axis(v));
        for (std::size_t j = 0; j + 1 < axes.size(); ++j) {
            if (axes[j].key == axes.back().key) {
                throw error(fmt::format("--vary '{}': the key is varied twice", axes.back().key));
            }
        }
    }
    std::size_t points = 1;
    for (const auto& a: axes) {
        if (points > 10000000 / a.values.size()) {
            throw error("more than 10 million points: split the sweep");
        }
        points *= a.values.size();
    }
    const auto [part, parts] = args.part.empty() ? std::pair<std::size_t, std::size_t>{1, 1} : parse_part(args.part);

    simulation_options options;
    apply_run_options(options, args.t_end, args.start);

    // Every value of every key, each checked alone on the model before anything runs or is written: a wrong unit
    // or a value out of range is exit status 2. (A combination that only fails together fails its point.)
    for (const auto& a: axes) {
        for (std::size_t k = 0; k < a.values.size(); ++k) {
            model_spec check = base;
            apply_settings(check, {{a.key, a.text(k)}}, "--vary");
        }
    }
    std::vector<std::size_t> mine;
    for (std::size_t p = part - 1; p < points; p += parts) {
        mine.push_back(p);
    }
    const auto values_of = [&axes](std::size_t p) {
        std::vector<std::size_t> k(axes.size());
        for (std::size_t j = axes.size(); j-- > 0;) {
            k[j] = p % axes[j].values.size();
            p /= axes[j].values.size();
        }
        return k;
    };
    // Point p's model: the base with its values (each worker makes its own; none is kept).
    const auto settings_of = [&axes, &values_of](std::size_t p) {
        const auto k = values_of(p);
        std::vector<std::pair<std::string, std::string>> point_settings;
        for (std::size_t j = 0; j < axes.size(); ++j) {
            point_settings.emplace_back(axes[j].key, axes[j].text(k[j]));
        }
        return point_settings;
    };

    // The observables: the reported Ca first (where the model has it: an SBML model may not), then --observe; the
    // model's first observable when that leaves none.
    const system probe = compile(base);
    std::vector<observed> observe;
    const auto add = [&](const std::string& name, bool required) {
        for (const auto& o: observe) {
            if (o.name == name) {
                return;
            }
        }
        for (const auto& o: probe.observables()) {
            if (o.name == name) {
                observe.push_back({o.name, o.unit});
                return;
            }
        }
        if (!required) {
            return;
        }
        std::string names;
        for (const auto& o: probe.observables()) {
            names += (names.empty() ? "" : ", ") + o.name;
        }
        throw error(fmt::format("--observe '{}': the model has no such observable; it has: {}", name, names));
    };
    add(report_compartment(probe.model()) + "." + probe.model().run.report_species, false);
    for (const auto& o: args.observe) {
        add(o, true);
    }
    if (observe.empty() && !probe.observables().empty()) {
        add(probe.observables().front().name, true);
    }
    if (observe.empty()) {
        throw error("the model has no observable to summarise");
    }
    std::vector<std::string> observe_names;
    for (const auto& o: observe) {
        observe_names.push_back(o.name);
    }

    // Outputs.
    const std::filesystem::path out_dir = args.out;
    std::error_code made;
    std::filesystem::create_directories(out_dir, made);
    if (made) {
        throw output_error(fmt::format("cannot create the output folder '{}': {}", out_dir.string(), made.message()));
    }
    const std::string stem = parts == 1 ? "sweep" : fmt::format("sweep-part-{}-of-{}", part, parts);
    const auto csv_path = out_dir / (stem + ".csv");
    const auto partial_path = out_dir / (stem + ".csv.partial");
    std::string header = "point";
    for (const auto& a: axes) {
        header += "," + csv_text(a.unit.empty() ? a.key : fmt::format("{} [{}]", a.key, a.unit));
    }
    header += ",status,steps,wall [s]";
    for (std::size_t k = 0; k < observe.size(); ++k) {
        const auto& o = observe[k];
        const std::string u = o.unit.empty() ? "" : fmt::format(" [{}]", o.unit);
        header += fmt::format(",{0} start{1},{0} peak{1},{0} peak time [ms],{0} end{1},{0} period [ms],{0} cycles",
                              o.name, u);
        if (k == 0) {
            header += fmt::format(",{} decay tau [ms]", o.name);
        }
    }
    std::ofstream partial(partial_path, std::ios::binary | std::ios::trunc);
    if (!partial) {
        throw output_error(fmt::format("cannot write '{}'", partial_path.string()));
    }
    partial << header << "\n" << std::flush;

    const std::size_t metric_columns = 2 + 6 * observe.size() + 1;  // steps, wall, 6 per observable, decay tau
    const auto row_of = [&](std::size_t p, const point_result& r) {
        std::string row = fmt::format("{}", p);
        const auto k = values_of(p);
        for (std::size_t j = 0; j < axes.size(); ++j) {
            row += "," + number(axes[j].values[k[j]]);
        }
        row += "," + csv_text(r.status);
        row += r.columns.empty() ? std::string(metric_columns, ',') : r.columns;  // a failed point: empty cells
        return row;
    };

    unsigned jobs = args.jobs != 0 ? args.jobs : std::max(1U, std::thread::hardware_concurrency());
    jobs = static_cast<unsigned>(std::max<std::size_t>(1, std::min<std::size_t>(jobs, mine.size())));
    // Points running at once must fit in memory together (each run checks only itself): fewer jobs when they would
    // not, estimated from the model as given (a varied value may change the size of a point a little).
    std::string fewer_jobs;
    {
        const memory_recorder sizing(observe_names);
        const double t_end = options.t_end.value_or(base.run.t_end);
        const double need =
            estimate_memory(probe, t_end, sizing.bytes_per_record(probe.observables().size())).total();
        const double room = 0.8 * available_memory();
        if (need > 0 && jobs > 1 && need * jobs > room) {
            const auto fit = static_cast<unsigned>(std::max(1.0, std::floor(room / need)));
            if (fit < jobs) {
                fewer_jobs = fmt::format(" (of {} asked: each point needs about {:.3g} MB, {:.3g} MB available)", jobs,
                                         need / 1e6, room / 0.8 / 1e6);
                fmt::print(stderr, "note: {} point{} at once{}\n", fit, fit == 1 ? "" : "s", fewer_jobs);
                jobs = fit;
            }
        }
    }
    const bool tty = isatty(STDERR_FILENO) != 0;
    std::vector<std::optional<point_result>> results(mine.size());
    std::atomic<std::size_t> next{0};
    std::mutex lock;
    std::size_t done = 0;
    std::size_t failures = 0;
    bool write_failed = false;
    simulation_options point_options = options;
    point_options.should_stop = [] { return stop_signal != 0; };

    const auto wall_start = std::chrono::steady_clock::now();
    const auto worker = [&] {
        while (stop_signal == 0) {
            const std::size_t i = next.fetch_add(1);
            if (i >= mine.size()) {
                return;
            }
            auto r = run_point(base, settings_of(mine[i]), observe_names, point_options);
            if (stop_signal != 0 && r.status == "stopped") {
                return;
            }
            const std::lock_guard guard{lock};
            ++done;
            failures += r.failed ? 1 : 0;
            partial << row_of(mine[i], r) << "\n" << std::flush;
            write_failed = write_failed || !partial;
            results[i] = std::move(r);
            if (tty) {
                fmt::print(stderr, "\r[sweep] {}/{} points{}", done, mine.size(),
                           failures != 0 ? fmt::format(" ({} failed)", failures) : std::string());
            }
        }
    };
    {
        const stop_on_signals handlers;
        std::vector<std::thread> pool;
        for (unsigned j = 1; j < jobs; ++j) {
            pool.emplace_back(worker);
        }
        worker();
        for (auto& t: pool) {
            t.join();
        }
    }
    if (tty) {
        fmt::print(stderr, "\n");
    }
    partial.close();
    if (write_failed || !partial) {
        throw output_error(fmt::format("writing '{}' failed", partial_path.string()));
    }
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    if (stop_signal != 0) {
        const int signo = stop_signal;
        fmt::print(stderr, "stopped by {} after {} of {} points: their rows are in {}\n",
                   signo == SIGINT ? "SIGINT" : "SIGTERM", done, mine.size(), partial_path.string());
        return 128 + signo;
    }

    // The rows in point order, under the final name.
    std::string table = header + "\n";
    for (std::size_t i = 0; i < mine.size(); ++i) {
        table += row_of(mine[i], *results[i]) + "\n";
    }
    write_atomically(csv_path, table);
    std::filesystem::remove(partial_path);

    std::string text = summary_head(base, source, settings);
    const auto line = [&text](const std::string& s) { text += s + "\n"; };
    for (const auto& a: axes) {
        line(fmt::format("varied:      {} from {} to {}{} ({} values)", a.key, a.values.front(), a.values.back(),
                         a.unit.empty() ? "" : " " + a.unit, a.values.size()));
    }
    line(fmt::format("points:      {} of {}{} in {:.2f} s wall on {} thread{}{}", mine.size(), points,
                     parts == 1 ? "" : fmt::format(" (part {} of {})", part, parts), wall, jobs, jobs == 1 ? "" : "s",
                     fewer_jobs));
    if (failures != 0) {
        line(fmt::format("failed:      {} point{} (their status column says why)", failures, failures == 1 ? "" : "s"));
    }
    line(fmt::format("summarised:  {} (start, peak, end, period)", observe.front().name));
    line(fmt::format("wrote:       {}", csv_path.string()));
    int status = failures != 0 ? solver_failed : ok;
    if (!args.no_plot && parts == 1 && axes.size() <= 2) {
        const auto png = out_dir / "sweep.png";
        const std::string command =
            fmt::format("/usr/bin/python3 {} {} {}", shell_quote(plot_script("plot_sweep.py").string()),
                        shell_quote(csv_path.string()), shell_quote(png.string()));
        if (std::system(command.c_str()) == 0 && std::filesystem::exists(png)) {
            line(fmt::format("plot:        {}", png.string()));
        }
        else {
            fmt::print(stderr, "error: plotting failed ({}); the results are in {}\n", command, csv_path.string());
            status = std::max(status, static_cast<int>(output_failed));
        }
    }
    fmt::print("{}", text);
    write_atomically(out_dir / (stem + "-summary.txt"), text);
    return status;
}

} // namespace

void add_sweep(CLI::App& app, int& status) {
    static sweep_arguments args;
    auto* cmd = app.add_subcommand(
        "sweep", "Run a model at every point of a grid of parameter values (in parallel, or split over a cluster job "
                 "array); one row per point in sweep.csv, and a plot (docs/sweeps.md)");
    cmd->add_option("MODEL", args.model, "Model file (.toml or SBML); omit for the built-in default model");
    cmd->add_option("--vary", args.vary,
                    "A key and its values (repeatable; the first varies slowest): KEY=A,B,C (bare numbers take the "
                    "last value's unit: pmca.vmax='10,20,40 pmol/cm^2/s') or KEY=FROM:TO:N[:log] "
                    "(cyt.ip3='0.2 uM:0.8 uM:7')")
        ->type_name("KEY=VALUES")
        ->allow_extra_args(false)
        ->required();
    cmd->add_option("--set", args.settings, "Change a value for every point (repeatable), as `cadyn run --set`")
        ->type_name("KEY=VALUE")
        ->allow_extra_args(false);
    cmd->add_option("--observe", args.observe,
                    "Also summarise this observable (repeatable; default: the reported Ca only)")
        ->allow_extra_args(false);
    cmd->add_option("--t-end", args.t_end, "Simulated time with its unit (default: the model's run.t_end)");
    cmd->add_option("--start", args.start, "Start from 'initial' concentrations or the 'steady_state'")
        ->check(CLI::IsMember({"initial", "steady_state"}));
    cmd->add_option("--seed", args.seed, "Seed of the stochastic channels' random numbers, the same at every point");
    cmd->add_option("--jobs", args.jobs, "Points run at once (default: one per hardware thread)")
        ->check(CLI::Range(1U, 4096U));
    cmd->add_option("--part", args.part,
                    "Run only part I of N (points whose index modulo N is I - 1): one task of a job array; writes "
                    "sweep-part-I-of-N.csv")
        ->type_name("I/N");
    cmd->add_option("--out", args.out, "Output folder (created if needed)")->capture_default_str();
    cmd->add_flag("--no-plot", args.no_plot, "Do not draw sweep.png");
    set_callback(cmd, status, [] { return sweep(args); });
}

} // namespace cadyn::cli
