// cadyn mechanisms [NAME]: the mechanism catalogue, with parameters, units, defaults and sources.
#include <fmt/core.h>

#include <cadyn/catalogue.hpp>
#include <cadyn/error.hpp>

#include "commands.hpp"

namespace cadyn::cli {

namespace {

void print_mechanism(const mechanism_info& info) {
    fmt::print("{} ({} mechanism)\n  {}\n", info.name, info.kind == mechanism_kind::membrane ? "membrane" : "volume",
               info.summary);
    fmt::print("  equations: {}\n", info.equations);
    fmt::print("  source:    {}\n", info.citation);
    fmt::print("  parameters:\n");
    for (const auto& f: info.parameters) {
        fmt::print("    {:<14} default {:<18} [{}]  {}\n", f.name, f.default_text, f.dim->canonical, f.meaning);
    }
    if (!info.states.empty()) {
        fmt::print("  states:\n");
        for (const auto& s: info.states) {
            fmt::print("    {:<14} [{}]  {}\n", s.name, s.dim->canonical, s.meaning);
        }
    }
    fmt::print("\n");
}

} // namespace

void add_mechanisms(CLI::App& app, int& status) {
    auto* cmd = app.add_subcommand("mechanisms", "List every mechanism with its parameters, units, defaults, source");
    static std::string name;
    cmd->add_option("NAME", name, "Show only this mechanism");
    cmd->callback([&status] {
        if (!name.empty()) {
            const auto* m = find_mechanism(name);
            if (m == nullptr) {
                throw error(fmt::format("no mechanism named '{}'; `cadyn mechanisms` lists them", name));
            }
            print_mechanism(m->info());
        }
        else {
            for (const auto* m: all_mechanisms()) {
                print_mechanism(m->info());
            }
        }
        status = ok;
    });
}

} // namespace cadyn::cli
