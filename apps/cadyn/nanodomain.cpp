// cadyn nanodomain: the steady-state Ca profile around one open channel, numeric and analytic, side by side.
// docs/nanodomain.md has the equations of each approximation and their sources.
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <fmt/format.h>

#include <cadyn/error.hpp>
#include <cadyn/io/csv.hpp>
#include <cadyn/nanodomain.hpp>
#include <cadyn/units.hpp>

#include "commands.hpp"

namespace cadyn::cli {

namespace {

struct nanodomain_arguments {
    std::string current = "0.2 pA";
    std::string bulk = "0.1 uM";
    std::string d_ca = "220 um^2/s";
    std::vector<std::string> buffers;
    std::string at = "20 nm,200 nm";
    bool json = false;
    std::string plot;
    std::string out;
    bool no_numeric = false;
    std::string mouth = "2 nm";
    std::string domain = "5 um";
    std::size_t voxels = 300;
    std::string finest = "0.5 nm";
};

// Named buffers with the values usually quoted; any of them can be changed: --buffer "egta,total=10mM".
// Rate constants from Naraghi (1997) Cell Calcium 22:255-268 (T-jump: BAPTA 4.0e8, EGTA 1.05e7 /M/s); Kd of BAPTA
// 0.22 uM and of EGTA 0.07 uM (pH 7.2); both diffuse like small molecules, 220 um^2/s.
struct preset {
    const char* name;
    nanodomain::buffer value;
};
const std::vector<preset>& presets() {
    static const std::vector<preset> list = {
        {"bapta", {"bapta", 1000.0, 0.22, 0.4, 0.22}},
        {"egta", {"egta", 1000.0, 0.07, 0.0105, 0.22}},
    };
    return list;
}

std::string trim(const std::string& s) {
    const auto first = s.find_first_not_of(" \t");
    if (first == std::string::npos) {
        return {};
    }
    const auto last = s.find_last_not_of(" \t");
    return s.substr(first, last - first + 1);
}

std::vector<std::string> split(const std::string& text, char sep) {
    std::vector<std::string> parts;
    std::size_t from = 0;
    while (true) {
        const auto at = text.find(sep, from);
        parts.push_back(trim(text.substr(from, at == std::string::npos ? std::string::npos : at - from)));
        if (at == std::string::npos) {
            return parts;
        }
        from = at + 1;
    }
}

// A quantity for option `option`: "0.2 pA", "0.6/uM/ms" (a unit written from a slash means 1/...).
double quantity(const std::string& option, const std::string& text, const dimension& dim) {
    try {
        auto parts = split_quantity(text);
        std::string unit = trim(parts.unit);
        if (!unit.empty() && unit.front() == '/') {
            unit = "1" + unit;
        }
        return to_canonical(unit.empty() ? text : fmt::format("{} {}", parts.value, unit), dim);
    }
    catch (const unit_error& e) {
        throw error(fmt::format("{}: {}", option, e.what()));
    }
}

nanodomain::buffer parse_buffer(const std::string& text, std::size_t index) {
    const std::string option = fmt::format("--buffer '{}'", text);
    nanodomain::buffer b;
    b.name = fmt::format("buffer{}", index + 1);
    bool total = false, kd = false, kon = false, d = false;
    const auto items = split(text, ',');
    for (std::size_t k = 0; k < items.size(); ++k) {
        const std::string& item = items[k];
        const auto eq = item.find('=');
        if (eq == std::string::npos) {
            if (k != 0) {
                throw error(fmt::format("{}: expected key=value, got '{}' (a preset name may only come first)", option,
                                        item));
            }
            bool found = false;
            for (const auto& p: presets()) {
                if (item == p.name) {
                    b = p.value;
                    total = kd = kon = d = found = true;
                }
            }
            if (!found) {
                throw error(fmt::format("{}: unknown buffer '{}'; presets are bapta and egta, or give "
                                        "total=...,kd=...,kon=...,D=...",
                                        option, item));
            }
            continue;
        }
        const std::string key = trim(item.substr(0, eq));
        const std::string value = trim(item.substr(eq + 1));
        const std::string what = fmt::format("{} {}", option, key);
        if (key == "name") {
            if (value.empty()) {
                throw error(fmt::format("{}: empty name", option));
            }
            b.name = value;
        }
        else if (key == "total") {
            b.total = quantity(what, value, dims::concentration);
            total = true;
        }
        else if (key == "kd") {
            b.kd = quantity(what, value, dims::concentration);
            kd = true;
        }
        else if (key == "kon") {
            b.kon = quantity(what, value, dims::second_order_rate);
            kon = true;
        }
        else if (key == "D" || key == "d" || key == "diffusion") {
            b.diffusion = quantity(what, value, dims::diffusivity);
            d = true;
        }
        else {
            throw error(fmt::format("{}: unknown key '{}'; use name, total, kd, kon, D", option, key));
        }
    }
    if (!(total && kd && kon && d)) {
        throw error(fmt::format("{}: give total, kd, kon and D (e.g. "
                                "\"total=100uM,kd=0.2uM,kon=0.6/uM/ms,D=20um^2/s\"), or start from a preset (bapta, "
                                "egta)",
                                option));
    }
    if (!(b.total >= 0) || !(b.kd > 0) || !(b.kon >= 0) || !(b.diffusion >= 0)) {
        throw error(fmt::format("{}: expected total >= 0, kd > 0, kon >= 0 and D >= 0", option));
    }
    return b;
}

std::string number(double v) {
    return std::isfinite(v) ? fmt::format("{}", v) : std::string("null");
}

std::string json_string(const std::string& s) {
    std::string out = "\"";
    for (const char c: s) {
        if (c == '"' || c == '\\') {
            out += '\\';
        }
        out += c;
    }
    return out + "\"";
}

std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (const char c: s) {
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    }
    return out + "'";
}

// The plotting script: $CADYN_NANODOMAIN_PLOT_SCRIPT, else the source tree's, else the installed copy.
std::filesystem::path plot_script() {
    if (const char* env = std::getenv("CADYN_NANODOMAIN_PLOT_SCRIPT")) {
        return env;
    }
    const auto source = std::filesystem::path(CADYN_SOURCE_DIR) / "scripts" / "plot_nanodomain.py";
    if (std::filesystem::exists(source)) {
        return source;
    }
    return std::filesystem::path(CADYN_INSTALL_DATADIR) / "plot_nanodomain.py";
}

// profile.csv: every form at the voxel centres (or, without the numeric solve, at log-spaced distances).
std::string profile_csv(const nanodomain::source& s, const std::vector<double>& r,
                        const std::optional<nanodomain::numeric_profile>& numeric, double outer) {
    std::string text = "r [nm],numeric [uM],free [uM],free clamped [uM],linearized [uM],eba [uM],rba [uM]\n";
    const auto analytic = nanodomain::analytic_profile(s, r);
    for (std::size_t i = 0; i < r.size(); ++i) {
        const auto& a = analytic[i];
        text += fmt::format("{:.10g},{},{:.10g},{:.10g},{:.10g},{:.10g},{:.10g}\n", r[i] * 1e3,
                            numeric ? fmt::format("{:.10g}", numeric->c[i]) : std::string(), a.free,
                            nanodomain::free_diffusion_clamped(s, r[i], outer), a.linearized, a.excess, a.rapid);
    }
    return text;
}

int run_nanodomain(const nanodomain_arguments& args) {
    nanodomain::source s;
    s.current = quantity("--current", args.current, dims::current);
    s.bulk = quantity("--bulk", args.bulk, dims::concentration);
    s.d_ca = quantity("--d-ca", args.d_ca, dims::diffusivity);
    if (!(s.current > 0)) {
        throw error(fmt::format("--current: expected an inward (positive) Ca current, got '{}'", args.current));
    }
    if (!(s.bulk >= 0)) {
        throw error(fmt::format("--bulk: expected a concentration >= 0, got '{}'", args.bulk));
    }
    if (!(s.d_ca > 0)) {
        throw error(fmt::format("--d-ca: expected a positive diffusion coefficient, got '{}'", args.d_ca));
    }
    for (std::size_t k = 0; k < args.buffers.size(); ++k) {
        s.buffers.push_back(parse_buffer(args.buffers[k], k));
    }
    for (std::size_t k = 0; k < s.buffers.size(); ++k) {
        for (std::size_t j = 0; j < k; ++j) {
            if (s.buffers[j].name == s.buffers[k].name) {
                throw error(fmt::format("--buffer: two buffers are named '{}'; give one a name=...", s.buffers[k].name));
            }
        }
        if (s.buffers[k].name == "channel") {
            throw error("--buffer: 'channel' is taken by the channel; name the buffer otherwise");
        }
    }
    std::vector<double> distances;
    for (const auto& item: split(args.at, ',')) {
        const double r = quantity("--at", item, dims::length);
        if (!(r > 0)) {
            throw error(fmt::format("--at: distances must be positive, got '{}'", item));
        }
        distances.push_back(r);
    }
    nanodomain::grid_options g;
    g.mouth = quantity("--mouth", args.mouth, dims::length);
    g.domain = quantity("--domain", args.domain, dims::length);
    g.finest = quantity("--finest", args.finest, dims::length);
    g.voxels = args.voxels;
    if (!(g.mouth > 0) || !(g.domain > g.mouth)) {
        throw error(fmt::format("--mouth, --domain: expected 0 < mouth < domain, got {} and {}", args.mouth,
                                args.domain));
    }
    if (g.voxels < 10 || g.voxels > 200000) {
        throw error(fmt::format("--voxels: expected 10 to 200000, got {}", g.voxels));
    }
    if (!(g.finest > 0) || g.finest * static_cast<double>(g.voxels) > g.domain - g.mouth) {
        throw error(fmt::format("--finest: expected a positive spacing with voxels x finest <= domain - mouth, got {}",
                                args.finest));
    }

    std::optional<nanodomain::numeric_profile> numeric;
    if (!args.no_numeric) {
        numeric = nanodomain::solve_numeric(s, g);
        if (!numeric->converged) {
            throw solver_error(fmt::format("the steady state was not found ({}, scaled residual {:.3g}/ms); try a "
                                           "coarser --finest, fewer --voxels or --no-numeric",
                                           numeric->method, numeric->residual));
        }
    }
    // The numeric value at a distance, NaN outside the grid (inside the mouth, beyond the clamped radius).
    const auto numeric_at = [&](double r) {
        return numeric && r >= g.mouth && r <= g.domain ? numeric->at(r) : std::numeric_limits<double>::quiet_NaN();
    };
    const auto lin = nanodomain::linearize(s);
    const double lambda = nanodomain::excess_buffer_length(s);
    const auto rows = nanodomain::analytic_profile(s, distances);

    if (args.json) {
        std::string text = fmt::format("{{\"current_pA\": {}, \"bulk_uM\": {}, \"d_ca_um2_per_ms\": {}, "
                                       "\"flux_zmol_per_ms\": {}, \"buffers\": [",
                                       s.current, s.bulk, s.d_ca, nanodomain::flux(s.current));
        for (std::size_t k = 0; k < s.buffers.size(); ++k) {
            const auto& b = s.buffers[k];
            const auto e = nanodomain::at_rest(b, s.bulk);
            text += fmt::format("{}{{\"name\": {}, \"total_uM\": {}, \"kd_uM\": {}, \"kon_per_uM_ms\": {}, "
                                "\"d_um2_per_ms\": {}, \"free_at_rest_uM\": {}, \"capacity\": {}}}",
                                k ? ", " : "", json_string(b.name), b.total, b.kd, b.kon, b.diffusion, e.free,
                                e.capacity);
        }
        text += fmt::format("], \"eba_length_nm\": {}, \"linearized\": {{\"far\": {}, \"lengths_nm\": [",
                            number(lambda * 1e3), lin.far);
        for (std::size_t m = 0; m < lin.lengths.size(); ++m) {
            text += fmt::format("{}{}", m ? ", " : "", lin.lengths[m] * 1e3);
        }
        text += "], \"weights\": [";
        for (std::size_t m = 0; m < lin.weights.size(); ++m) {
            text += fmt::format("{}{}", m ? ", " : "", lin.weights[m]);
        }
        text += "]}, \"numeric\": ";
        if (numeric) {
            text += fmt::format("{{\"voxels\": {}, \"mouth_nm\": {}, \"domain_um\": {}, \"finest_nm\": {}, "
                                "\"method\": {}, \"residual\": {}}}",
                                numeric->r.size(), g.mouth * 1e3, g.domain, g.finest * 1e3,
                                json_string(numeric->method), numeric->residual);
        }
        else {
            text += "null";
        }
        text += ", \"points\": [";
        for (std::size_t k = 0; k < rows.size(); ++k) {
            const auto& p = rows[k];
            text += fmt::format("{}{{\"r_nm\": {}, \"numeric_uM\": {}, \"free_uM\": {}, \"linearized_uM\": {}, "
                                "\"eba_uM\": {}, \"rba_uM\": {}}}",
                                k ? ", " : "", p.r * 1e3, number(numeric_at(p.r)),
                                p.free, p.linearized, p.excess, p.rapid);
        }
        text += "]}\n";
        fmt::print("{}", text);
    }
    else {
        fmt::print("nanodomain: {:.4g} pA of Ca current ({:.4g} zmol/ms) into a half-space; rest {:.4g} uM, "
                   "D_Ca {:.4g} um^2/s\n",
                   s.current, nanodomain::flux(s.current), s.bulk, s.d_ca * 1e3);
        for (const auto& b: s.buffers) {
            const auto e = nanodomain::at_rest(b, s.bulk);
            fmt::print("buffer {}: {:.6g} uM, Kd {:.6g} uM, kon {:.6g} /uM/ms, D {:.6g} um^2/s; free at rest "
                       "{:.4g} uM, capacity {:.4g}{}\n",
                       b.name, b.total, b.kd, b.kon, b.diffusion * 1e3, e.free, e.capacity,
                       b.diffusion > 0 ? "" : " (fixed: no effect at steady state)");
        }
        if (std::isfinite(lambda)) {
            fmt::print("EBA length {:.4g} nm; linearized: far weight {:.4g}", lambda * 1e3, lin.far);
            for (std::size_t m = 0; m < lin.lengths.size(); ++m) {
                fmt::print(", {:.4g} nm (weight {:.4g})", lin.lengths[m] * 1e3, lin.weights[m]);
            }
            fmt::print("\n");
        }
        if (numeric) {
            fmt::print("numeric: {} half-shells from {:.4g} nm to {:.4g} um (finest {:.4g} nm, outer radius held at "
                       "rest), {} (scaled residual {:.2g}/ms)\n",
                       numeric->r.size(), g.mouth * 1e3, g.domain, g.finest * 1e3, numeric->method, numeric->residual);
        }
        fmt::print("\n{:>10} {:>12} {:>12} {:>12} {:>12} {:>12}   [uM]\n", "r [nm]", "numeric", "free", "linearized",
                   "EBA", "RBA");
        for (const auto& p: rows) {
            fmt::print("{:>10.4g} {:>12} {:>12.5g} {:>12.5g} {:>12.5g} {:>12.5g}\n", p.r * 1e3,
                       std::isfinite(numeric_at(p.r)) ? fmt::format("{:.5g}", numeric_at(p.r)) : std::string("-"), p.free, p.linearized,
                       p.excess, p.rapid);
        }
    }

    // Outputs: profile.csv and the plot.
    const std::vector<double> r_profile = numeric ? numeric->r : nanodomain::log_spaced(g.mouth, g.domain, 300);
    const std::string csv = profile_csv(s, r_profile, numeric, g.domain);
    if (!args.out.empty()) {
        std::error_code made;
        std::filesystem::create_directories(args.out, made);
        if (made) {
            throw output_error(fmt::format("--out: cannot create the folder '{}': {}", args.out, made.message()));
        }
        write_atomically(std::filesystem::path(args.out) / "profile.csv", csv);
        if (!args.json) {
            fmt::print("\nwrote {}\n", (std::filesystem::path(args.out) / "profile.csv").string());
        }
    }
    if (!args.plot.empty()) {
        const auto table = std::filesystem::temp_directory_path() /
                           fmt::format("cadyn-nanodomain-{}.csv", static_cast<long>(getpid()));
        write_atomically(table, csv);
        std::vector<std::string> marks;
        for (const double r: distances) {
            marks.push_back(fmt::format("{:.6g}", r * 1e3));
        }
        std::string mark_text;
        for (const auto& m: marks) {
            mark_text += (mark_text.empty() ? "" : ",") + m;
        }
        const std::string title = fmt::format("{:.3g} pA, rest {:.3g} uM, {} buffer{}", s.current, s.bulk,
                                              s.buffers.size(), s.buffers.size() == 1 ? "" : "s");
        const std::string command =
            fmt::format("/usr/bin/python3 {} {} {} --title {} --mark {}", shell_quote(plot_script().string()),
                        shell_quote(table.string()), shell_quote(args.plot), shell_quote(title),
                        shell_quote(mark_text));
        const int rc = std::system(command.c_str());
        std::filesystem::remove(table);
        if (rc != 0 || !std::filesystem::exists(args.plot)) {
            throw output_error(fmt::format("--plot: plotting failed ({})", command));
        }
        if (!args.json) {
            fmt::print("plot: {}\n", args.plot);
        }
    }
    return ok;
}

} // namespace

void add_nanodomain(CLI::App& app, int& status) {
    static nanodomain_arguments args;
    auto* cmd = app.add_subcommand(
        "nanodomain", "Steady-state Ca around one open channel: numeric profile and the free-diffusion, linearized, "
                      "excess-buffer and rapid-buffer approximations at chosen distances (docs/nanodomain.md)");
    cmd->add_option("--current", args.current, "Ca current through the channel, e.g. '0.2 pA'")->capture_default_str();
    cmd->add_option("--bulk", args.bulk, "Resting Ca far from the channel, e.g. '100 nM'")->capture_default_str();
    cmd->add_option("--d-ca", args.d_ca, "Diffusion coefficient of free Ca")->capture_default_str();
    cmd->add_option("--buffer", args.buffers,
                    "A buffer: 'total=100uM,kd=0.2uM,kon=0.6/uM/ms,D=20um^2/s' (optional name=...), or a preset "
                    "'bapta' or 'egta' with changes ('egta,total=10mM'); repeat for several")
        ->take_all()
        ->allow_extra_args(false);
    cmd->add_option("--at", args.at, "Distances to print, comma-separated")->capture_default_str();
    cmd->add_flag("--json", args.json, "Print JSON instead of text");
    cmd->add_option("--plot", args.plot, "Draw c(r), log-log, every form, into this PNG file")->type_name("FILE");
    cmd->add_option("--out", args.out, "Write profile.csv (every form at every distance) into this folder")
        ->type_name("DIR");
    cmd->add_flag("--no-numeric", args.no_numeric, "Only the analytic forms (no spatial steady-state solve)");
    cmd->add_option("--mouth", args.mouth, "Numeric grid: inner radius, the channel mouth")->capture_default_str();
    cmd->add_option("--domain", args.domain, "Numeric grid: outer radius, held at rest")->capture_default_str();
    cmd->add_option("--voxels", args.voxels, "Numeric grid: number of half-shells")->capture_default_str();
    cmd->add_option("--finest", args.finest, "Numeric grid: the innermost shell's thickness")->capture_default_str();
    cmd->callback([&status] {
        try {
            status = run_nanodomain(args);
        }
        catch (const output_error& e) {
            fmt::print(stderr, "error: {}\n", e.what());
            status = output_failed;
        }
    });
}

} // namespace cadyn::cli
