// cadyn run [MODEL] [--t-end T] [--out DIR]: simulate, write traces.csv and plot.png, print a summary.
// cadyn run --resume DIR: continue a run that SIGINT or SIGTERM stopped (docs/robustness.md).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include <fmt/core.h>

#include <cadyn/analysis.hpp>
#include <cadyn/geometry.hpp>
#include <cadyn/io/hdf5.hpp>
#include <cadyn/io/checkpoint.hpp>
#include <cadyn/io/csv.hpp>
#include <cadyn/io/model_file.hpp>
#include <cadyn/settings.hpp>
#include <cadyn/simulate.hpp>
#include <cadyn/units.hpp>

#include "commands.hpp"
#include "common.hpp"

namespace cadyn::cli {

namespace {

struct run_arguments {
    std::string model;
    std::string t_end;
    std::string out = "cadyn-out";
    std::string start;
    std::string resume;
    std::optional<long long> seed;
    std::vector<std::string> settings;  // --set KEY=VALUE, in order
    bool no_plot = false;
    bool allow_negative = false;
};

// How long a record may wait before it is written to traces.csv.partial: $CADYN_FLUSH_SECONDS, default 1 s.
double flush_seconds() {
    const char* env = std::getenv("CADYN_FLUSH_SECONDS");
    if (env == nullptr || *env == '\0') {
        return 1.0;
    }
    char* end = nullptr;
    const double v = std::strtod(env, &end);
    if (*end != '\0' || !(v >= 0) || !std::isfinite(v)) {
        throw error(fmt::format("CADYN_FLUSH_SECONDS must be a number of seconds >= 0, got '{}'", env));
    }
    return v;
}

// results.h5: the traces, the run's metadata and (spatial models) the fields voxel by voxel at every record.
class results_file final: public recorder {
public:
    results_file(const std::filesystem::path& path, const system& sys, const run_metadata& meta):
        h5_(path, meta), sys_(sys) {
        if (const auto* g = sys.mesh()) {
            const auto& wanted = sys.model().record.fields;
            const auto& all = sys.fields();
            for (std::size_t k = 0; k < all.size(); ++k) {
                // Default: every spatial species (not the mechanism states).
                const bool chosen = wanted.empty() ? is_species(sys.model(), all[k].name)
                                                   : std::find(wanted.begin(), wanted.end(), all[k].name) != wanted.end();
                if (chosen) {
                    chosen_.push_back(all[k]);
                    offsets_.push_back(sys.field_offset(k));
                }
            }
            h5_.write_grid(*g, geometry_name(sys.model().geometry.type));
            h5_.begin_fields(chosen_, g->size());
            values_.resize(chosen_.size() * g->size());
        }
    }
    void begin(const std::vector<observable_info>& observables) override { h5_.begin(observables); }
    void record(double t, std::span<const double> values) override { h5_.record(t, values); }
    void record_state(double t, const double* y) override {
        if (chosen_.empty()) {
            return;
        }
        const std::size_t n = sys_.mesh()->size();
        for (std::size_t k = 0; k < chosen_.size(); ++k) {
            std::copy(y + offsets_[k], y + offsets_[k] + n, values_.begin() + static_cast<long>(k * n));
        }
        h5_.append_fields(t, values_);
    }
    void end() override { h5_.end(); }
    void flush() override { h5_.flush(); }
    bool has_fields() const { return !chosen_.empty(); }
    const std::filesystem::path& path() const { return h5_.path(); }

private:
    // "cyt.ca" (a species in a compartment) rather than "calbindin.bound" (a mechanism state).
    static bool is_species(const model_spec& m, const std::string& name) {
        const auto dot = name.find('.');
        return dot != std::string::npos && m.find_compartment(name.substr(0, dot)) != nullptr &&
               m.find_species(name.substr(dot + 1)) != nullptr;
    }
    hdf5_recorder h5_;
    const system& sys_;
    std::vector<observable_info> chosen_;
    std::vector<std::size_t> offsets_;
    std::vector<double> values_;
};

// A progress bar on stderr when it is a terminal, at most 10 updates per second.
class progress_bar {
public:
    progress_bar(): enabled_(isatty(STDERR_FILENO) != 0) {}
    void operator()(double t, double t_end) {
        if (!enabled_) {
            return;
        }
        const auto now = std::chrono::steady_clock::now();
        if (t < t_end && now - last_ < std::chrono::milliseconds(100)) {
            return;
        }
        last_ = now;
        const int width = 40;
        const int filled = static_cast<int>(width * t / t_end);
        fmt::print(stderr, "\r[{:=<{}}{:<{}}] {:5.1f}%  t = {:.6g} ms", "", filled, "", width - filled,
                   100.0 * t / t_end, t);
        drawn_ = t < t_end;
        if (t >= t_end) {
            fmt::print(stderr, "\n");
        }
    }
    // End a bar left unfinished (the run stopped), so that what follows starts on its own line.
    void finish_line() {
        if (enabled_ && drawn_) {
            fmt::print(stderr, "\n");
            drawn_ = false;
        }
    }

private:
    bool enabled_;
    bool drawn_ = false;
    std::chrono::steady_clock::time_point last_{};
};

// budget.csv: every channel integrated over the run. Written under a temporary name and renamed.
void write_budget(const std::filesystem::path& path, const system& sys, const simulation_result& result) {
    std::ostringstream out;
    {
        out << "mechanism,type,species,from,to,role,amount [amol],atp [amol]\n";
        const auto& channels = sys.flux_channels();
        const auto atp = atp_consumption(sys, result.budget);
        for (std::size_t k = 0; k < channels.size(); ++k) {
            const auto& c = channels[k];
            // ATP is listed on the mechanism's first channel.
            std::string atp_text;
            const bool first = k == 0 || channels[k - 1].mechanism != c.mechanism;
            for (const auto& a: atp) {
                if (first && a.mechanism == c.mechanism) {
                    atp_text = fmt::format("{:.10g}", a.amount * 1e-3);
                }
            }
            const char* role = c.role == flux_channel::kind::transfer     ? "transfer"
                               : c.role == flux_channel::kind::conversion ? "conversion"
                                                                          : "source";
            out << fmt::format("{},{},{},{},{},{},{:.10g},{}\n", c.mechanism, c.type, c.species, c.from, c.to, role,
                               result.budget[k] * 1e-3, atp_text);
        }
    }
    write_atomically(path, out.str());
}

int run(const run_arguments& args) {
    const bool resuming = !args.resume.empty();
    std::filesystem::path out_dir = args.out;
    std::string source = args.model;
    std::optional<checkpoint> saved;
    if (resuming) {
        out_dir = args.resume;
        saved = read_checkpoint(out_dir / "checkpoint");
        source = saved->model_source;
        if (!source.empty() && !std::filesystem::exists(source)) {
            throw error(fmt::format("cannot continue: the model file '{}' the run was started from is gone", source));
        }
    }
    const std::string source_text = model_text(source);
    const std::string hash = model_hash(source_text);
    if (resuming && hash != saved->model_hash) {
        throw error(fmt::format(
            "cannot continue: the model {} changed since the checkpoint was written (hash {} then, {} now); a "
            "checkpoint only continues the run that wrote it. Start again: cadyn run {} --out {}",
            source.empty() ? "(the built-in default)" : "'" + source + "'", saved->model_hash, hash,
            source.empty() ? "" : shell_quote(source), shell_quote(out_dir.string())));
    }
    model_spec spec = source.empty() ? default_model() : parse_model(source_text, source);
    // --set KEY=VALUE, in order (a resumed run: those of the run it continues).
    std::vector<std::pair<std::string, std::string>> settings;
    if (resuming) {
        settings = saved->settings;
    }
    for (auto& s: parse_settings(args.settings, "--set")) {
        settings.push_back(std::move(s));
    }
    apply_settings(spec, settings);
    apply_seed(spec, args.seed);
    simulation_options options;
    if (resuming) {
        options.resume = saved->state;
    }
    apply_run_options(options, args.t_end, args.start);
    if (args.allow_negative) {
        options.negative_limit = 0;
    }
    system sys = compile(spec);
    const auto& model = sys.model();
    const std::string where = report_compartment(model);
    const std::string species = model.run.report_species;
    const std::string observable = where + "." + species;

    // The summary needs only the reported trace in memory; the CSV streams the rest to disk. A run that would
    // not fit is refused here, before anything is written.
    memory_recorder memory({observable});
    const double t_end = resuming ? saved->state.t_end : options.t_end.value_or(model.run.t_end);
    if (t_end > 0 && std::isfinite(t_end)) {
        check_memory(sys, t_end, memory.bytes_per_record(sys.observables().size()));
    }

    // Outputs only once the model is known to be good: a bad model writes nothing.
    std::error_code made;
    std::filesystem::create_directories(out_dir, made);
    if (made) {
        throw output_error(fmt::format("cannot create the output folder '{}': {}", out_dir.string(), made.message()));
    }
    if (!resuming) {
        std::filesystem::remove(out_dir / "checkpoint");  // it belongs to an earlier run of this folder
    }
    csv_recorder csv(out_dir / "traces.csv", flush_seconds());
    // results.h5 cannot be continued: a resumed run writes traces.csv only.
    std::optional<results_file> h5;
    if (!resuming) {
        run_metadata meta{model.name, source, source_text, {}};
        meta.attributes = {{"start", options.start.value_or(model.run.start) == start_from::steady_state
                                         ? "steady_state"
                                         : "initial"},
                           {"t_end_ms", fmt::format("{}", t_end)},
                           {"rtol", fmt::format("{}", model.run.rtol)},
                           {"atol_uM", fmt::format("{}", model.run.atol)},
                           {"model_hash", hash}};
        if (!settings.empty()) {
            std::string list;
            for (const auto& [key, value]: settings) {
                list += fmt::format("{}{}={}", list.empty() ? "" : "; ", key, value);
            }
            meta.attributes.emplace_back("settings", list);  // the model text is the file's, before them
        }
        h5.emplace(out_dir / "results.h5", sys, meta);
    }
    // A continued run's summary reads the whole trace back from traces.csv at the end.
    std::vector<recorder*> sinks{&csv};
    if (!resuming) {
        sinks.push_back(&memory);
        sinks.push_back(&*h5);
    }
    tee_recorder both(sinks);
    progress_bar bar;
    options.progress = [&bar](double t, double t_end_) { bar(t, t_end_); };
    options.should_stop = [] { return stop_signal != 0; };

    const auto wall_start = std::chrono::steady_clock::now();
    simulation_result result;
    try {
        const stop_on_signals handlers;
        result = simulate(sys, both, options);
    }
    catch (const solver_error& e) {
        bar.finish_line();
        csv.flush();
        if (std::filesystem::exists(csv.partial_path())) {
            throw solver_error(fmt::format("{}\nthe {} records up to there are in {}", e.what(), csv.rows(),
                                           csv.partial_path().string()));
        }
        throw;
    }
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();

    if (result.interrupted) {
        bar.finish_line();
        const int signo = stop_signal;
        checkpoint c{source.empty() ? std::string() : std::filesystem::absolute(source).string(), hash, result.state,
                     settings};
        write_checkpoint(out_dir / "checkpoint", c);
        fmt::print(stderr,
                   "interrupted by {} at t = {:.6g} ms of {:.6g} ms: the {} records so far are in {}, the state in {}\n"
                   "continue with: cadyn run --resume {}\n",
                   signo == SIGINT ? "SIGINT" : "SIGTERM", result.state.t, result.t_end, result.state.records,
                   csv.partial_path().string(), (out_dir / "checkpoint").string(), shell_quote(out_dir.string()));
        return 128 + (signo != 0 ? signo : SIGTERM);
    }
    // traces.csv is complete: a checkpoint could no longer be continued.
    std::filesystem::remove(out_dir / "checkpoint");
    memory_recorder whole({observable});
    if (resuming) {
        replay_csv(out_dir / "traces.csv", whole);
    }
    const memory_recorder& trace = resuming ? whole : memory;

    // Summary.
    std::string text;
    const auto line = [&text](const std::string& s) { text += s + "\n"; };
    line(fmt::format("model:       {} ({})", model.name.empty() ? "unnamed" : model.name,
                     source.empty() ? "built-in default" : source));
    line(fmt::format("simulated:   {:.6g} ms in {:.3f} s wall ({} states, {} steps, {} rhs evaluations)",
                     result.t_end, wall, sys.size(), result.stats.steps, result.stats.rhs_evaluations));
    for (const auto& [key, value]: settings) {
        line(fmt::format("set:         {} = {}", key, value));
    }
    if (sys.stochastic_instances() > 0) {
        line(fmt::format("stochastic:  {} channel transitions in {} cluster{} (seed {})", result.stats.stochastic_events,
                         sys.stochastic_instances(), sys.stochastic_instances() == 1 ? "" : "s", spec.run.seed));
    }
    if (resuming) {
        line(fmt::format("resumed:     from the checkpoint at t = {:.6g} ms (the wall time is this part's)",
                         saved->state.t));
    }
    if (result.rest) {
        line(fmt::format("start:       resting steady state ({}, scaled residual {:.2g}/ms)", result.rest->method,
                         result.rest->residual));
    }
    else {
        line("start:       the model's initial concentrations");
    }
    const auto breaks = sys.breakpoints(result.t_end);
    // Without a stimulus there is no decay to fit (the fit would only cost time on a long trace).
    const double last_stimulus = breaks.empty() ? std::numeric_limits<double>::infinity() : breaks.back();
    bool have_trace = false;
    for (const auto& o: trace.observables()) {
        have_trace = have_trace || o.name == observable;
    }
    if (have_trace) {
        const auto& c = trace.column(observable);
        const auto s = summarize_transient(trace.times(), c, last_stimulus);
        line(fmt::format("resting {}:  {:.4g} uM ({})", observable, s.resting * 1.0,
                         result.rest ? "steady state" : "initial value"));
        line(fmt::format("peak {}:     {:.4g} uM at {:.6g} ms", observable, s.peak, s.peak_time));
        if (s.decay && !breaks.empty()) {
            line(fmt::format("decay tau:   {:.4g} ms after the last stimulus (fit c = b + A exp(-t/tau) from {:.6g} "
                             "ms; b = {:.4g} uM)",
                             s.decay->tau, s.decay_from, s.decay->baseline));
        }
        else if (!breaks.empty()) {
            line("decay tau:   no decay to fit after the last stimulus");
        }
    }
    const auto removed = removal_by_mechanism(sys, result.budget, where, species);
    if (!removed.empty()) {
        line(fmt::format("{} moved out of {} over the run, by mechanism (amol; negative = brought in):", species,
                         where));
        const auto volume = model.find_compartment(where)->volume;
        for (const auto& r: removed) {
            // 1 amol = 1000 zmol; zmol / um^3 = uM.
            line(fmt::format("  {:<16} {:>12.4f} amol  ({:+.4g} uM of {})", r.mechanism, r.amount * 1e-3,
                             r.amount / volume, where));
        }
    }
    // Balance: the change of each compartment's total against what the channels moved.
    double worst = 0;
    for (const auto& b: balances(sys, result.y0, result.y_end, result.budget)) {
        worst = std::max(worst, b.relative_error());
    }
    write_budget(out_dir / "budget.csv", sys, result);
    const auto atp = atp_consumption(sys, result.budget);
    if (!atp.empty()) {
        double total = 0;
        for (const auto& a: atp) {
            total += a.amount;
        }
        line(fmt::format("ATP spent over the run: {:.4f} amol ({:.4g} amol/s on average):", total * 1e-3,
                         total * 1e-3 / (result.t_end * 1e-3)));
        for (const auto& a: atp) {
            line(fmt::format("  {:<16} {:>12.4f} amol  ({:.1f} %)", a.mechanism, a.amount * 1e-3,
                             total != 0 ? 100 * a.amount / total : 0.0));
        }
    }
    line(fmt::format("budget:      every compartment's change of total equals its channels to {:.1e} of the amounts "
                     "(budget.csv)",
                     worst));
    line(fmt::format("wrote:       {}, {}{}", (out_dir / "traces.csv").string(), (out_dir / "budget.csv").string(),
                     h5 ? ", " + h5->path().string() : std::string()));

    int status = ok;
    if (!args.no_plot) {
        const auto png = out_dir / "plot.png";
        const std::string command = fmt::format(
            "/usr/bin/python3 {} {} {} --title {}", shell_quote(plot_script().string()),
            shell_quote((out_dir / "traces.csv").string()), shell_quote(png.string()),
            shell_quote(model.name.empty() ? "cadyn" : model.name));
        if (std::system(command.c_str()) == 0 && std::filesystem::exists(png)) {
            line(fmt::format("plot:        {}", png.string()));
        }
        else {
            fmt::print(stderr, "error: plotting failed ({}); the traces are in {}\n", command,
                       (out_dir / "traces.csv").string());
            status = output_failed;
        }
        if (h5 && h5->has_fields()) {
            // Kymographs and profiles of the fields.
            const std::string fields_command =
                fmt::format("/usr/bin/python3 {} {} --out {} > /dev/null", shell_quote(plot_script("plot_fields.py").string()),
                            shell_quote(h5->path().string()), shell_quote(out_dir.string()));
            if (std::system(fields_command.c_str()) == 0) {
                line(fmt::format("fields:      kymographs and profiles in {} (*_kymograph.png, *_profiles.png)",
                                 out_dir.string()));
            }
            else {
                fmt::print(stderr, "error: plotting the fields failed ({}); they are in {}\n", fields_command,
                           h5->path().string());
                status = output_failed;
            }
        }
    }
    fmt::print("{}", text);
    write_atomically(out_dir / "summary.txt", text);
    return status;
}

} // namespace

void add_run(CLI::App& app, int& status) {
    static run_arguments args;
    auto* cmd = app.add_subcommand(
        "run", "Simulate a model (default: the built-in soma model); write traces.csv, plot.png and a summary");
    cmd->add_option("MODEL", args.model, "Model file (.toml); omit for the built-in default model");
    cmd->add_option("--t-end", args.t_end, "Simulated time with its unit, e.g. '5 s' (default: the model's run.t_end)");
    cmd->add_option("--out", args.out, "Output folder (created if needed)")->capture_default_str();
    cmd->add_option("--start", args.start, "Start from 'initial' concentrations or the 'steady_state'")
        ->check(CLI::IsMember({"initial", "steady_state"}));
    cmd->add_option("--seed", args.seed,
                    "Seed of the stochastic channels' random numbers (default: the model's run.seed, else 1)");
    cmd->add_option("--set", args.settings,
                    "Change one value of the model, with its unit (repeatable): KEY=VALUE, e.g. --set pump.vmax='2 uM/s' "
                    "--set cyt.ip3='0.4 uM' --set t_end='10 s' (keys as Python's Model.set; docs/sweeps.md)")
        ->type_name("KEY=VALUE")
        ->allow_extra_args(false);
    cmd->add_flag("--no-plot", args.no_plot, "Do not draw plot.png");
    cmd->add_flag("--allow-negative", args.allow_negative,
                  "Let concentrations go below -100 x run.atol instead of stopping with an error");
    auto* resume = cmd->add_option("--resume", args.resume,
                                   "Continue the run that SIGINT/SIGTERM stopped in DIR (from DIR/checkpoint)")
                       ->type_name("DIR");
    for (const char* name: {"MODEL", "--t-end", "--out", "--start", "--set"}) {
        resume->excludes(cmd->get_option(name));
    }
    set_callback(cmd, status, [] { return run(args); });
}

void add_default_model(CLI::App& app, int& status) {
    auto* cmd = app.add_subcommand("default-model", "Print the built-in default model (a starting point for your own)");
    cmd->callback([&status] {
        fmt::print("{}", default_model_text());
        status = ok;
    });
}

} // namespace cadyn::cli
