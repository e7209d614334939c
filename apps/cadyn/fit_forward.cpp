// `cadyn fit ...`: runs `cadyn-fit fit ...`, the program next to this one that links Ceres (commands.hpp).
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "commands.hpp"

namespace cadyn::cli {

void add_fit_forward(CLI::App& app, int& status) {
    auto* cmd = app.add_subcommand("fit", "Fit parameters of a model to a recording (least squares): fitted values "
                                          "with standard errors, the fitted trace beside the data, a plot "
                                          "(docs/fitting.md; `cadyn fit --help`)");
    cmd->prefix_command();  // everything after `fit`, --help included, goes to cadyn-fit
    cmd->set_help_flag();
    cmd->callback([cmd, &status] {
        std::error_code ec;
        const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
        const auto program = (ec ? std::filesystem::path("cadyn") : self).parent_path() / "cadyn-fit";
        std::vector<std::string> args{program.string(), "fit"};
        for (const auto& a: cmd->remaining()) {
            args.push_back(a);
        }
        std::vector<char*> argv;
        for (auto& a: args) {
            argv.push_back(a.data());
        }
        argv.push_back(nullptr);
        std::fflush(stdout);
        ::execv(program.c_str(), argv.data());
        fmt::print(stderr, "error: cannot run {}: {} (it is built and installed beside cadyn)\n", program.string(),
                   std::strerror(errno));
        status = internal;
    });
}

} // namespace cadyn::cli
