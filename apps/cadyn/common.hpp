#pragma once
// Helpers shared by the subcommands that run models (run.cpp, sweep.cpp).

#include <signal.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include <cadyn/io/csv.hpp>
#include <cadyn/model.hpp>
#include <cadyn/simulate.hpp>

#include "commands.hpp"

namespace cadyn::cli {

// The model's text: the file's, or the built-in default model's (source empty).
std::string model_text(const std::string& source);

// The model file `source` (TOML or SBML) read and checked, or the built-in default model (source empty), with the
// `--set` texts applied in order; `settings` gets them as {KEY, VALUE}.
model_spec read_model_with_settings(const std::string& source, const std::vector<std::string>& set_texts,
                                    std::vector<std::pair<std::string, std::string>>& settings);

// The first lines of a summary: "model: NAME (FILE)" and a "set: KEY = VALUE" line per setting.
std::string summary_head(const model_spec& spec, const std::string& source,
                         const std::vector<std::pair<std::string, std::string>>& settings);

// A plotting script of scripts/: $CADYN_PLOT_SCRIPT for plot_traces.py, else the one in the source tree this
// binary was built from, else the installed copy.
std::filesystem::path plot_script(const char* name = "plot_traces.py");

// `s` in single quotes for a shell command line.
std::string shell_quote(const std::string& s);

// "KEY=VALUE" as {KEY, VALUE}; throws cadyn::error naming `option` ("--set") when there is no '=' or no key, or
// when the text holds a tab or a line break (a checkpoint could not keep it).
std::pair<std::string, std::string> parse_setting(const std::string& text, const char* option);

// Set by the SIGINT/SIGTERM handler that stop_on_signals installs (the signal's number, 0 until one comes): a run or
// a sweep checks it, stops, keeps what it has and exits with 128 + the number.
extern volatile std::sig_atomic_t stop_signal;

// Installs that handler for its lifetime (and clears stop_signal). SA_RESETHAND: a second Ctrl-C kills at once (what
// was flushed survives, as after SIGKILL); SA_RESTART: writes and reads go on undisturbed.
class stop_on_signals {
public:
    stop_on_signals();
    ~stop_on_signals();
    stop_on_signals(const stop_on_signals&) = delete;
    stop_on_signals& operator=(const stop_on_signals&) = delete;

private:
    struct sigaction old_int_ {};
    struct sigaction old_term_ {};
};

// `s` without the spaces (and carriage returns) around it.
std::string trim(std::string_view s);

// `s` cut at every `by`, each piece trimmed.
std::vector<std::string> split(const std::string& s, char by);

// Every "KEY=VALUE" of `texts` through parse_setting().
std::vector<std::pair<std::string, std::string>> parse_settings(const std::vector<std::string>& texts,
                                                                const char* option);

// --seed: the seed of the stochastic channels' random numbers; throws cadyn::error for a negative one.
void apply_seed(model_spec& spec, const std::optional<long long>& seed);

// --t-end (a time with its unit) and --start ("initial" or "steady_state"; empty: the model's) into `options`.
void apply_run_options(simulation_options& options, const std::string& t_end, const std::string& start);

// set_model_value() for each setting in order (include/cadyn/settings.hpp); a problem is reported as coming from
// `option` ("--set: 'pmca.vmax': ..."), with exit status 2 like any model error.
void apply_settings(model_spec& spec, const std::vector<std::pair<std::string, std::string>>& settings,
                    const char* option = "--set");

// The subcommand's callback: status = run(), or, when run() throws output_error (a result that could not be
// written), its message and exit status 4.
template <class Run>
void set_callback(CLI::App* cmd, int& status, Run run) {
    cmd->callback([&status, run] {
        try {
            status = run();
        }
        catch (const output_error& e) {
            std::fprintf(stderr, "error: %s\n", e.what());
            status = output_failed;
        }
    });
}

// Parse the command line and run the chosen subcommand; its status, or the exit status of the error it threw
// (printed to stderr): 2 bad input, 3 the solver, 1 a bug (commands.hpp).
int parse_and_run(CLI::App& app, int argc, char** argv, const int& status);

} // namespace cadyn::cli
