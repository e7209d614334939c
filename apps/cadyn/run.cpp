// cadyn run [MODEL] [--t-end T] [--out DIR]: simulate, write traces.csv and plot.png, print a summary.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>

#include <fmt/core.h>

#include <cadyn/analysis.hpp>
#include <cadyn/io/csv.hpp>
#include <cadyn/io/model_file.hpp>
#include <cadyn/simulate.hpp>
#include <cadyn/units.hpp>

#include "commands.hpp"

namespace cadyn::cli {

namespace {

struct run_arguments {
    std::string model;
    std::string t_end;
    std::string out = "cadyn-out";
    std::string start;
    bool no_plot = false;
};

// The compartment the summary reports on: run.report, else "cyt", else the first that is not clamped.
std::string report_compartment(const model_spec& m) {
    if (!m.run.report_compartment.empty()) {
        return m.run.report_compartment;
    }
    const auto* cyt = m.find_compartment("cyt");
    if (cyt != nullptr && !cyt->clamped) {
        return "cyt";
    }
    for (const auto& c: m.compartments) {
        if (!c.clamped) {
            return c.name;
        }
    }
    return {};
}

// The plotting script: $CADYN_PLOT_SCRIPT, else the one in the source tree this binary was built from, else the
// installed copy.
std::filesystem::path plot_script() {
    if (const char* env = std::getenv("CADYN_PLOT_SCRIPT")) {
        return env;
    }
    const std::filesystem::path source = std::filesystem::path(CADYN_SOURCE_DIR) / "scripts" / "plot_traces.py";
    if (std::filesystem::exists(source)) {
        return source;
    }
    return std::filesystem::path(CADYN_INSTALL_DATADIR) / "plot_traces.py";
}

std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (const char c: s) {
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    }
    return out + "'";
}

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
        if (t >= t_end) {
            fmt::print(stderr, "\n");
        }
    }

private:
    bool enabled_;
    std::chrono::steady_clock::time_point last_{};
};

// budget.csv: every channel integrated over the run. Written under a temporary name and renamed.
void write_budget(const std::filesystem::path& path, const system& sys, const simulation_result& result) {
    const auto partial = path.string() + ".partial";
    {
        std::ofstream out(partial);
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
        if (!out) {
            throw error(fmt::format("cannot write '{}'", partial));
        }
    }
    std::filesystem::rename(partial, path);
}

int run(const run_arguments& args) {
    model_spec spec = args.model.empty() ? default_model() : read_model_file(args.model);
    simulation_options options;
    if (!args.t_end.empty()) {
        options.t_end = to_canonical(args.t_end, dims::time);
    }
    if (args.start == "initial") {
        options.start = start_from::initial;
    }
    else if (args.start == "steady_state") {
        options.start = start_from::steady_state;
    }
    system sys = compile(spec);
    const auto& model = sys.model();
    const std::string where = report_compartment(model);
    const std::string species = model.run.report_species;
    const std::string observable = where + "." + species;

    // Outputs only once the model is known to be good: a bad model writes nothing.
    const std::filesystem::path out_dir = args.out;
    std::filesystem::create_directories(out_dir);
    csv_recorder csv(out_dir / "traces.csv");
    memory_recorder memory;
    tee_recorder both({&csv, &memory});
    progress_bar bar;
    options.progress = [&bar](double t, double t_end) { bar(t, t_end); };

    const auto wall_start = std::chrono::steady_clock::now();
    const auto result = simulate(sys, both, options);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();

    // Summary.
    std::string text;
    const auto line = [&text](const std::string& s) { text += s + "\n"; };
    line(fmt::format("model:       {} ({})", model.name.empty() ? "unnamed" : model.name,
                     args.model.empty() ? "built-in default" : args.model));
    line(fmt::format("simulated:   {:.6g} ms in {:.3f} s wall ({} states, {} steps, {} rhs evaluations)",
                     result.t_end, wall, sys.size(), result.stats.steps, result.stats.rhs_evaluations));
    if (result.rest) {
        line(fmt::format("start:       resting steady state ({}, scaled residual {:.2g}/ms)", result.rest->method,
                         result.rest->residual));
    }
    else {
        line("start:       the model's initial concentrations");
    }
    const auto breaks = sys.breakpoints(result.t_end);
    const double last_stimulus = breaks.empty() ? 0.0 : breaks.back();
    bool have_trace = false;
    for (const auto& o: memory.observables()) {
        have_trace = have_trace || o.name == observable;
    }
    if (have_trace) {
        const auto& c = memory.column(observable);
        const auto s = summarize_transient(memory.times(), c, last_stimulus);
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
    line(fmt::format("wrote:       {}, {}", (out_dir / "traces.csv").string(), (out_dir / "budget.csv").string()));

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
    }
    fmt::print("{}", text);
    std::ofstream(out_dir / "summary.txt") << text;
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
    cmd->add_flag("--no-plot", args.no_plot, "Do not draw plot.png");
    cmd->callback([&status] { status = run(args); });
}

void add_default_model(CLI::App& app, int& status) {
    auto* cmd = app.add_subcommand("default-model", "Print the built-in default model (a starting point for your own)");
    cmd->callback([&status] {
        fmt::print("{}", default_model_text());
        status = ok;
    });
}

} // namespace cadyn::cli
