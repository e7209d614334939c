// cadyn export-sbml [MODEL] [-o FILE]: a model as SBML Level 3 Version 2, for COPASI, Tellurium or any SBML
// simulator (docs/sbml.md: what is exported, and what is refused because it cannot be written exactly).
#include <fstream>
#include <iostream>
#include <string>

#include <fmt/core.h>

#include <cadyn/error.hpp>
#include <cadyn/io/model_file.hpp>
#include <cadyn/io/sbml.hpp>

#include "commands.hpp"

namespace cadyn::cli {

void add_export_sbml(CLI::App& app, int& status) {
    auto* cmd = app.add_subcommand(
        "export-sbml", "Write a model as SBML Level 3 Version 2 (exit status 2, with the reasons, when it cannot be "
                       "exported exactly; docs/sbml.md)");
    static std::string path;
    static std::string output;
    cmd->add_option("MODEL", path, "Model file (.toml; default: the built-in default model)");
    cmd->add_option("-o,--output", output, "SBML file to write (default: standard output)");
    cmd->callback([&status] {
        // Errors (a bad model, a model that cannot be exported) propagate to main(), which prints them and exits 2.
        const model_spec model = path.empty() ? default_model() : read_model_file(path);
        const std::string text = write_sbml(model);
        if (output.empty()) {
            std::cout << text;
            status = ok;
            return;
        }
        std::ofstream out(output, std::ios::binary);
        out << text;
        out.close();
        if (!out) {
            fmt::print(stderr, "error: cannot write '{}'\n", output);
            status = output_failed;
            return;
        }
        status = ok;
    });
}

} // namespace cadyn::cli
