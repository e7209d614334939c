// cadyn check MODEL: read and validate a model, report every problem with file:line, key and what was expected.
#include <fmt/core.h>

#include <cadyn/io/model_file.hpp>
#include <cadyn/system.hpp>

#include "commands.hpp"

namespace cadyn::cli {

namespace {
const char* plural(std::size_t n) { return n == 1 ? "" : "s"; }
} // namespace

void add_check(CLI::App& app, int& status) {
    auto* cmd = app.add_subcommand("check", "Read a model file and report every problem found (exit status 2 if any)");
    static std::string path;
    cmd->add_option("MODEL", path, "Model file (.toml)")->required();
    cmd->callback([&status] {
        try {
            // Compiling also checks what only the compiled layout knows (record observables, expressions).
            const auto sys = compile(read_model_file(path));
            fmt::print("{}: ok ({} compartment{}, {} membrane{}, {} mechanism{}, {} state variable{})\n", path,
                       sys.model().compartments.size(), plural(sys.model().compartments.size()),
                       sys.model().membranes.size(), plural(sys.model().membranes.size()),
                       sys.model().mechanisms.size(), plural(sys.model().mechanisms.size()), sys.size(),
                       plural(sys.size()));
            status = ok;
        }
        catch (const model_error& e) {
            for (const auto& p: e.problems()) {
                fmt::print(stderr, "{}\n", p.to_string());
            }
            fmt::print(stderr, "{}: {} problem{}\n", path, e.problems().size(), e.problems().size() == 1 ? "" : "s");
            status = bad_input;
        }
    });
}

} // namespace cadyn::cli
