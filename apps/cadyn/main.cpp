// cadyn: simulate intracellular calcium homeostasis and signalling. See `cadyn --help`.
#include <cstdio>
#include <exception>

#include <fmt/core.h>

#include <cadyn/error.hpp>

#include "commands.hpp"

int main(int argc, char** argv) {
    using namespace cadyn::cli;
    CLI::App app{"cadyn: simulate intracellular calcium homeostasis and signalling"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "cadyn 0.1.0");
    int status = ok;
    add_run(app, status);
    add_sweep(app, status);
    add_check(app, status);
    add_mechanisms(app, status);
    add_default_model(app, status);
    add_thermo(app, status);
    add_nanodomain(app, status);
    add_export_sbml(app, status);
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
    catch (const cadyn::model_error& e) {
        fmt::print(stderr, "{}\n", e.what());
        return bad_input;
    }
    catch (const cadyn::unit_error& e) {
        fmt::print(stderr, "error: {}\n", e.what());
        return bad_input;
    }
    catch (const cadyn::solver_error& e) {
        fmt::print(stderr, "solver error: {}\n", e.what());
        return solver_failed;
    }
    catch (const cadyn::error& e) {
        fmt::print(stderr, "error: {}\n", e.what());
        return bad_input;
    }
    catch (const std::exception& e) {
        fmt::print(stderr, "internal error (a bug in cadyn, please report it): {}\n", e.what());
        return internal;
    }
    return status;
}
