// cadyn: simulate intracellular calcium homeostasis and signalling. See `cadyn --help`.
#include "commands.hpp"
#include "common.hpp"

int main(int argc, char** argv) {
    using namespace cadyn::cli;
    CLI::App app{"cadyn: simulate intracellular calcium homeostasis and signalling"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "cadyn 0.1.0");
    int status = ok;
    add_run(app, status);
    add_sweep(app, status);
    add_fit_forward(app, status);
    add_check(app, status);
    add_mechanisms(app, status);
    add_default_model(app, status);
    add_thermo(app, status);
    add_nanodomain(app, status);
    add_export_sbml(app, status);
    return parse_and_run(app, argc, argv, status);
}
