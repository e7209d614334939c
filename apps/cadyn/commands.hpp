#pragma once
// The cadyn command line: one file per subcommand. Exit status: 0 success, 1 internal error, 2 bad input (model,
// units, arguments), 3 the solver could not finish, 4 the run finished but an output could not be produced.

#include <CLI/CLI.hpp>

namespace cadyn::cli {

enum exit_code : int { ok = 0, internal = 1, bad_input = 2, solver_failed = 3, output_failed = 4 };

// Each registers its subcommand; the callback stores the exit code in `status`.
void add_run(CLI::App& app, int& status);
void add_sweep(CLI::App& app, int& status);
// `cadyn fit` runs the program cadyn-fit next to cadyn (add_fit, fit.cpp), which alone links Ceres: loading Ceres
// and its libraries at every start would cost every other command ~2 ms (docs/performance.md, "Start-up").
void add_fit(CLI::App& app, int& status);
void add_fit_forward(CLI::App& app, int& status);
void add_check(CLI::App& app, int& status);
void add_mechanisms(CLI::App& app, int& status);
void add_default_model(CLI::App& app, int& status);
void add_thermo(CLI::App& app, int& status);
void add_nanodomain(CLI::App& app, int& status);
void add_export_sbml(CLI::App& app, int& status);

} // namespace cadyn::cli
