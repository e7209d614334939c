// cadyn-fit: the program behind `cadyn fit` (commands.hpp says why it is a program of its own). Run as
// `cadyn-fit fit ARGS...`, which `cadyn fit ARGS...` does.
#include "commands.hpp"
#include "common.hpp"

int main(int argc, char** argv) {
    using namespace cadyn::cli;
    CLI::App app{"cadyn-fit: the program behind `cadyn fit`"};
    app.require_subcommand(1);
    int status = ok;
    add_fit(app, status);
    return parse_and_run(app, argc, argv, status);
}
