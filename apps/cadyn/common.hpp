#pragma once
// Helpers shared by the subcommands that run models (run.cpp, sweep.cpp).

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <cadyn/model.hpp>
#include <cadyn/simulate.hpp>

namespace cadyn::cli {

// The model's text: the file's, or the built-in default model's (source empty).
std::string model_text(const std::string& source);

// A plotting script of scripts/: $CADYN_PLOT_SCRIPT for plot_traces.py, else the one in the source tree this
// binary was built from, else the installed copy.
std::filesystem::path plot_script(const char* name = "plot_traces.py");

// `s` in single quotes for a shell command line.
std::string shell_quote(const std::string& s);

// "KEY=VALUE" as {KEY, VALUE}; throws cadyn::error naming `option` ("--set") when there is no '=' or no key, or
// when the text holds a tab or a line break (a checkpoint could not keep it).
std::pair<std::string, std::string> parse_setting(const std::string& text, const char* option);

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

} // namespace cadyn::cli
