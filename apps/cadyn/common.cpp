#include "common.hpp"
#include "commands.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>

#include <fmt/core.h>

#include <cadyn/error.hpp>
#include <cadyn/io/model_file.hpp>
#include <cadyn/settings.hpp>
#include <cadyn/units.hpp>

namespace cadyn::cli {

volatile std::sig_atomic_t stop_signal = 0;

namespace {
extern "C" void on_stop_signal(int signo) { stop_signal = signo; }
} // namespace

stop_on_signals::stop_on_signals() {
    stop_signal = 0;
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART | SA_RESETHAND;
    sigaction(SIGINT, &action, &old_int_);
    sigaction(SIGTERM, &action, &old_term_);
}

stop_on_signals::~stop_on_signals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
}

std::string trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\r')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\r')) {
        s.remove_suffix(1);
    }
    return std::string(s);
}

std::vector<std::string> split(const std::string& s, char by) {
    std::vector<std::string> out;
    std::size_t from = 0;
    while (true) {
        const auto at = s.find(by, from);
        out.push_back(trim(std::string_view(s).substr(from, at == std::string::npos ? std::string::npos : at - from)));
        if (at == std::string::npos) {
            return out;
        }
        from = at + 1;
    }
}

std::string model_text(const std::string& source) {
    if (source.empty()) {
        return std::string(default_model_text());
    }
    return read_model_text(source);
}

model_spec read_model_with_settings(const std::string& source, const std::vector<std::string>& set_texts,
                                    std::vector<std::pair<std::string, std::string>>& settings) {
    model_spec spec = source.empty() ? default_model() : parse_model(model_text(source), source);
    settings = parse_settings(set_texts, "--set");
    apply_settings(spec, settings);
    return spec;
}

std::string summary_head(const model_spec& spec, const std::string& source,
                         const std::vector<std::pair<std::string, std::string>>& settings) {
    std::string text = fmt::format("model:       {} ({})\n", spec.name.empty() ? "unnamed" : spec.name,
                                   source.empty() ? "built-in default" : source);
    for (const auto& [key, value]: settings) {
        text += fmt::format("set:         {} = {}\n", key, value);
    }
    return text;
}

std::filesystem::path plot_script(const char* name) {
    if (const char* env = std::getenv("CADYN_PLOT_SCRIPT"); env != nullptr && std::string(name) == "plot_traces.py") {
        return env;
    }
    const std::filesystem::path source = std::filesystem::path(CADYN_SOURCE_DIR) / "scripts" / name;
    if (std::filesystem::exists(source)) {
        return source;
    }
    return std::filesystem::path(CADYN_INSTALL_DATADIR) / name;
}

std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (const char c: s) {
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    }
    return out + "'";
}

std::pair<std::string, std::string> parse_setting(const std::string& text, const char* option) {
    const auto eq = text.find('=');
    if (eq == std::string::npos || eq == 0) {
        throw error(fmt::format("{} '{}': expected KEY=VALUE, e.g. {} pump.vmax='2 uM/s'", option, text, option));
    }
    if (text.find_first_of("\t\n") != std::string::npos) {
        throw error(fmt::format("{} '{}': a setting cannot hold a tab or a line break", option, text.substr(0, eq)));
    }
    return {text.substr(0, eq), text.substr(eq + 1)};
}

std::vector<std::pair<std::string, std::string>> parse_settings(const std::vector<std::string>& texts,
                                                                const char* option) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& t: texts) {
        out.push_back(parse_setting(t, option));
    }
    return out;
}

void apply_seed(model_spec& spec, const std::optional<long long>& seed) {
    if (seed) {
        if (*seed < 0) {
            throw error(fmt::format("--seed {}: expected a whole number >= 0", *seed));
        }
        spec.run.seed = static_cast<std::uint64_t>(*seed);
    }
}

void apply_run_options(simulation_options& options, const std::string& t_end, const std::string& start) {
    if (!t_end.empty()) {
        options.t_end = to_canonical(t_end, dims::time);
    }
    if (start == "initial") {
        options.start = start_from::initial;
    }
    else if (start == "steady_state") {
        options.start = start_from::steady_state;
    }
}

void apply_settings(model_spec& spec, const std::vector<std::pair<std::string, std::string>>& settings,
                    const char* option) {
    const source_location from_command_line{option, 0, 0};
    for (const auto& [key, value]: settings) {
        try {
            set_model_value(spec, key, value, from_command_line);
        }
        catch (const model_error& e) {
            auto problems = e.problems();
            for (auto& p: problems) {
                if (p.where.file.empty()) {
                    p.where = from_command_line;
                }
            }
            throw model_error(std::move(problems));
        }
        catch (const unit_error& e) {
            throw unit_error(fmt::format("{}: {}", option, e.what()));
        }
    }
}

int parse_and_run(CLI::App& app, int argc, char** argv, const int& status) {
    try {
        app.parse(argc, argv);
    }
    catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    }
    catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    }
    catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    }
    catch (const CLI::ParseError& e) {
        app.exit(e);
        return bad_input;
    }
    catch (const model_error& e) {
        fmt::print(stderr, "{}\n", e.what());
        return bad_input;
    }
    catch (const unit_error& e) {
        fmt::print(stderr, "error: {}\n", e.what());
        return bad_input;
    }
    catch (const solver_error& e) {
        fmt::print(stderr, "solver error: {}\n", e.what());
        return solver_failed;
    }
    catch (const error& e) {
        fmt::print(stderr, "error: {}\n", e.what());
        return bad_input;
    }
    catch (const std::exception& e) {
        fmt::print(stderr, "internal error (a bug in cadyn, please report it): {}\n", e.what());
        return internal;
    }
    return status;
}

} // namespace cadyn::cli
