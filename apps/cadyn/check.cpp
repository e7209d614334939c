// cadyn check MODEL: read and validate a model, report every problem with file:line, key and what was expected.
#include <fmt/core.h>

#include <algorithm>

#include <cadyn/audit.hpp>
#include <cadyn/io/model_file.hpp>
#include <cadyn/units.hpp>
#include <cadyn/system.hpp>

#include "commands.hpp"

namespace cadyn::cli {

namespace {
std::string path;

const char* plural(std::size_t n) { return n == 1 ? "" : "s"; }

int run_audit(system& sys, double atp) {
    audit_options options;
    options.atp_free_energy = atp;
    const auto report = audit(sys, options);
    fmt::print("{}: thermodynamic audit over {:.6g} ms, {} checks\n", path, sys.model().run.t_end, report.checks);
    for (const auto& name: report.audited) {
        const auto f = std::find_if(report.findings.begin(), report.findings.end(),
                                    [&](const audit_finding& x) { return x.mechanism == name; });
        if (f == report.findings.end()) {
            fmt::print("  ok        {}\n", name);
        }
        else {
            fmt::print("  VIOLATION {} ({}): {}; first at t = {:.6g} ms, at {} record{}\n", f->mechanism, f->type,
                       f->message, f->t, f->count, plural(static_cast<std::size_t>(f->count)));
        }
    }
    for (const auto& s: report.skipped) {
        fmt::print("  skipped   {}\n", s);
    }
    fmt::print("{}\n", report.passed() ? "passed: no flux runs against its driving force without an energy source"
                                       : "FAILED: the model violates the second law");
    return report.passed() ? ok : bad_input;
}
} // namespace

void add_check(CLI::App& app, int& status) {
    auto* cmd = app.add_subcommand("check", "Read a model file and report every problem found (exit status 2 if any)");
    static bool thermo = false;
    static std::string atp = "50 kJ/mol";
    cmd->add_option("MODEL", path, "Model file (.toml)")->required();
    cmd->add_flag("--thermo", thermo,
                  "Also run the model and audit every membrane flux against the second law (exit 2 on a violation)");
    cmd->add_option("--atp", atp, "Free energy of ATP hydrolysis available to pumps, for --thermo")->capture_default_str();
    cmd->callback([&status] {
        try {
            // Compiling also checks what only the compiled layout knows (record observables, expressions).
            auto sys = compile(read_model_file(path));
            if (thermo) {
                status = run_audit(sys, to_canonical(atp, dims::molar_energy));
                return;
            }
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
