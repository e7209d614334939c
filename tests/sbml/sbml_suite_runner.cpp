// The SBML Test Suite's semantic cases, run through cadyn's SBML import (docs/sbml.md).
//
//   sbml_suite_runner [ROOT] [--cases 1-100,250] [--csv FILE] [--verbose]
//
// For every case folder NNNNN under ROOT (default: CADYN_SBML_SUITE) it reads NNNNN-settings.txt (start, duration,
// steps, variables, absolute, relative, amount, concentration) and the tags of NNNNN-model.m, imports the highest
// SBML Level/Version the case provides, simulates from 0 over `duration` with `steps` output intervals, and compares
// every output row with NNNNN-results.csv by the suite's criterion |simulated - expected| <= absolute + relative x
// |expected|. Each case is
//   pass          every value of every row within tolerance;
//   fail          a value out of tolerance, or the model was imported but could not be simulated;
//   out of scope  the import refused the model (sbml_unsupported: a feature cadyn cannot honour), or the case is not
//                 a time course (flux balance).
// It prints a summary by component tag and test tag, and the reasons for refusals, writes one CSV row per case with
// --csv, and exits 1 when an in-scope case fails (0 otherwise; 77 when ROOT does not exist, for ctest's SKIP).
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <cadyn/io/sbml.hpp>
#include <cadyn/simulate.hpp>
#include <cadyn/system.hpp>

namespace fs = std::filesystem;

namespace {

std::string trim(const std::string& s) {
    const auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) {
        return {};
    }
    const auto e = s.find_last_not_of(" \t\r\n");
    return s.substr(b, e - b + 1);
}

std::vector<std::string> split_list(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream in(s);
    std::string item;
    while (std::getline(in, item, ',')) {
        item = trim(item);
        if (!item.empty()) {
            out.push_back(item);
        }
    }
    return out;
}

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// "key: value" lines.
std::map<std::string, std::string> key_values(const std::string& text) {
    std::map<std::string, std::string> out;
    std::stringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        const auto colon = line.find(':');
        if (colon != std::string::npos) {
            out[trim(line.substr(0, colon))] = trim(line.substr(colon + 1));
        }
    }
    return out;
}

struct case_info {
    std::string id;
    fs::path dir;
    std::vector<std::string> component_tags;
    std::vector<std::string> test_tags;
    std::string test_type;
};

enum class outcome { pass, fail, out_of_scope };

struct case_result {
    outcome status = outcome::fail;
    std::string reason;
    std::string feature;  // out of scope: the feature refused
    std::string file;
    double seconds = 0;
};

// The SBML file of the highest level and version in the case folder: NNNNN-sbml-l<L>v<V>.xml. (Parsed by hand:
// GCC 12 warns inside std::regex when built with the sanitizers.)
fs::path pick_sbml(const case_info& c) {
    const std::string prefix = c.id + "-sbml-l";
    fs::path best;
    int best_rank = -1;
    for (const auto& entry: fs::directory_iterator(c.dir)) {
        const std::string name = entry.path().filename().string();
        if (name.size() != prefix.size() + 7 || name.compare(0, prefix.size(), prefix) != 0 ||
            name.compare(prefix.size() + 3, 4, ".xml") != 0) {
            continue;
        }
        const char level = name[prefix.size()];
        const char version = name[prefix.size() + 2];
        if (std::isdigit(static_cast<unsigned char>(level)) == 0 || name[prefix.size() + 1] != 'v' ||
            std::isdigit(static_cast<unsigned char>(version)) == 0) {
            continue;
        }
        const int rank = (level - '0') * 10 + (version - '0');
        if (rank > best_rank) {
            best_rank = rank;
            best = entry.path();
        }
    }
    return best;
}

struct results_table {
    std::vector<std::string> header;
    std::vector<std::vector<double>> rows;
};

results_table read_results(const fs::path& p) {
    results_table t;
    std::stringstream in(read_text(p));
    std::string line;
    bool first = true;
    while (std::getline(in, line)) {
        if (trim(line).empty()) {
            continue;
        }
        const auto cells = split_list(line);
        if (first) {
            t.header = cells;
            first = false;
            continue;
        }
        std::vector<double> row;
        for (const auto& cell: cells) {
            row.push_back(std::strtod(cell.c_str(), nullptr));
        }
        t.rows.push_back(std::move(row));
    }
    return t;
}

bool within(double sim, double expected, double absolute, double relative) {
    if (std::isnan(expected)) {
        return std::isnan(sim);
    }
    if (std::isinf(expected)) {
        return sim == expected;
    }
    return std::abs(sim - expected) <= absolute + relative * std::abs(expected);
}

case_result run_case(const case_info& c, bool verbose) {
    case_result r;
    if (c.test_type != "TimeCourse") {
        r.status = outcome::out_of_scope;
        r.feature = "testType " + c.test_type;
        r.reason = "not a time course: " + c.test_type;
        return r;
    }
    const auto settings = key_values(read_text(c.dir / (c.id + "-settings.txt")));
    const auto sbml = pick_sbml(c);
    if (sbml.empty()) {
        r.reason = "no SBML file";
        return r;
    }
    r.file = sbml.filename().string();
    const double start = std::strtod(settings.at("start").c_str(), nullptr);
    const double duration = std::strtod(settings.at("duration").c_str(), nullptr);
    const long steps = std::strtol(settings.at("steps").c_str(), nullptr, 10);
    const double absolute = std::strtod(settings.at("absolute").c_str(), nullptr);
    const double relative = std::strtod(settings.at("relative").c_str(), nullptr);
    const auto variables = split_list(settings.at("variables"));
    const auto amount_list = split_list(settings.count("amount") != 0U ? settings.at("amount") : "");
    const std::set<std::string> amounts(amount_list.begin(), amount_list.end());

    cadyn::sbml_model imported;
    try {
        imported = cadyn::import_sbml(read_text(sbml), sbml.string());
    }
    catch (const cadyn::sbml_unsupported& e) {
        r.status = outcome::out_of_scope;
        const std::string& msg = e.problems().front().message;
        const auto q1 = msg.find('\'');
        const auto q2 = q1 == std::string::npos ? q1 : msg.find('\'', q1 + 1);
        r.feature = q2 == std::string::npos ? msg : msg.substr(q1 + 1, q2 - q1 - 1);
        r.reason = e.problems().front().key + ": " + msg;
        return r;
    }
    catch (const cadyn::error& e) {
        r.reason = std::string("import failed: ") + e.what();
        return r;
    }
    if (start != 0) {
        r.status = outcome::out_of_scope;
        r.feature = "start time";
        r.reason = "the case starts at t != 0";
        return r;
    }
    auto& model = imported.model;
    const double tf = imported.time_factor;
    model.run.t_end = duration * tf;
    model.record.interval = duration / static_cast<double>(steps) * tf;
    model.record.observables.clear();
    // Tolerances well inside the suite's: atol at a millionth of its absolute tolerance, on the smallest scale a
    // value can have in cadyn's units.
    double scale = 1;
    for (const auto& [id, s]: imported.symbols) {
        if (s.type == cadyn::sbml_symbol::kind::species) {
            scale = std::min({scale, s.concentration_factor, s.amount_factor / s.volume});
        }
    }
    model.run.rtol = 1e-10;
    model.run.atol = std::max(1e-6 * absolute * scale, 1e-300);

    // What to record: the observables of the requested variables.
    std::vector<std::string> keep;
    for (const auto& v: variables) {
        const auto it = imported.symbols.find(v);
        if (it == imported.symbols.end()) {
            r.reason = fmt::format("variable '{}' is not a symbol of the imported model", v);
            return r;
        }
        if (!it->second.observable.empty()) {
            keep.push_back(it->second.observable);
        }
    }
    try {
        auto sys = cadyn::compile(model);
        cadyn::memory_recorder rec(keep);
        cadyn::simulation_options options;
        options.negative_limit = 0;
        cadyn::simulate(sys, rec, options);
        const auto expected = read_results(c.dir / (c.id + "-results.csv"));
        if (rec.times().size() != expected.rows.size()) {
            r.reason = fmt::format("{} records for {} expected rows", rec.times().size(), expected.rows.size());
            return r;
        }
        double worst = 0;
        std::string worst_text;
        for (std::size_t col = 1; col < expected.header.size(); ++col) {
            const std::string& v = expected.header[col];
            const auto& sym = imported.symbols.at(v);
            const bool amount = amounts.contains(v);
            for (std::size_t k = 0; k < expected.rows.size(); ++k) {
                const double want = expected.rows[k][col];
                const double got = sym.observable.empty() ? sym.value
                                                          : imported.to_sbml(v, rec.column(sym.observable)[k], amount);
                if (!within(got, want, absolute, relative)) {
                    const double excess = std::abs(got - want) / (absolute + relative * std::abs(want));
                    if (!(excess <= worst)) {
                        worst = std::isnan(excess) ? 1e300 : excess;
                        worst_text = fmt::format("{} at t = {:g}: {:.10g}, expected {:.10g}", v, expected.rows[k][0],
                                                 got, want);
                    }
                }
            }
        }
        if (!worst_text.empty()) {
            r.reason = fmt::format("{} ({:.3g} x the tolerance)", worst_text, worst);
            return r;
        }
        r.status = outcome::pass;
    }
    catch (const std::exception& e) {
        r.reason = std::string("simulation failed: ") + e.what();
        if (verbose) {
            std::cerr << c.id << ": " << r.reason << "\n";
        }
    }
    return r;
}

std::set<int> parse_cases(const std::string& spec) {
    std::set<int> out;
    for (const auto& part: split_list(spec)) {
        const auto dash = part.find('-');
        if (dash == std::string::npos) {
            out.insert(std::stoi(part));
        }
        else {
            for (int k = std::stoi(part.substr(0, dash)); k <= std::stoi(part.substr(dash + 1)); ++k) {
                out.insert(k);
            }
        }
    }
    return out;
}

struct tally {
    int pass = 0;
    int fail = 0;
    int out = 0;
};

} // namespace

int main(int argc, char** argv) {
    fs::path root = CADYN_SBML_SUITE;
    fs::path csv;
    std::set<int> only;
    bool verbose = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--cases" && i + 1 < argc) {
            only = parse_cases(argv[++i]);
        }
        else if (a == "--csv" && i + 1 < argc) {
            csv = argv[++i];
        }
        else if (a == "--verbose" || a == "-v") {
            verbose = true;
        }
        else if (a == "--help" || a == "-h") {
            std::cout << "usage: sbml_suite_runner [ROOT] [--cases 1-100,250] [--csv FILE] [--verbose]\n";
            return 0;
        }
        else {
            root = a;
        }
    }
    if (!fs::is_directory(root)) {
        std::cout << "SBML Test Suite not found at " << root.string()
                  << " (configure with -DCADYN_SBML_SUITE=.../semantic); skipped\n";
        return 77;
    }
    std::vector<case_info> cases;
    for (const auto& entry: fs::directory_iterator(root)) {
        const std::string name = entry.path().filename().string();
        if (!entry.is_directory() || name.size() != 5 || !std::all_of(name.begin(), name.end(), ::isdigit)) {
            continue;
        }
        if (!only.empty() && !only.contains(std::stoi(name))) {
            continue;
        }
        case_info c;
        c.id = name;
        c.dir = entry.path();
        const auto header = key_values(read_text(c.dir / (name + "-model.m")));
        c.component_tags = split_list(header.count("componentTags") != 0U ? header.at("componentTags") : "");
        c.test_tags = split_list(header.count("testTags") != 0U ? header.at("testTags") : "");
        c.test_type = header.count("testType") != 0U ? header.at("testType") : "";
        cases.push_back(std::move(c));
    }
    std::sort(cases.begin(), cases.end(), [](const case_info& a, const case_info& b) { return a.id < b.id; });

    std::ofstream out;
    if (!csv.empty()) {
        out.open(csv);
        out << "case,status,file,seconds,feature,reason,componentTags,testTags\n";
    }
    const auto quote = [](const std::string& s) {
        std::string q = "\"";
        for (const char ch: s) {
            q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
        }
        return q + "\"";
    };
    const auto join = [](const std::vector<std::string>& v) {
        std::string s;
        for (const auto& x: v) {
            s += (s.empty() ? "" : " ") + x;
        }
        return s;
    };

    std::map<std::string, tally> by_component;
    std::map<std::string, tally> by_test;
    std::map<std::string, int> refusals;
    tally total;
    std::vector<std::string> failures;
    const auto begin = std::chrono::steady_clock::now();
    for (const auto& c: cases) {
        const auto t0 = std::chrono::steady_clock::now();
        auto r = run_case(c, verbose);
        r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const auto count = [&](tally& t) {
            (r.status == outcome::pass ? t.pass : r.status == outcome::fail ? t.fail : t.out) += 1;
        };
        count(total);
        for (const auto& tag: c.component_tags) {
            count(by_component[tag]);
        }
        for (const auto& tag: c.test_tags) {
            count(by_test[tag]);
        }
        const char* status = r.status == outcome::pass ? "pass" : r.status == outcome::fail ? "fail" : "out-of-scope";
        if (r.status == outcome::out_of_scope) {
            refusals[r.feature] += 1;
        }
        if (r.status == outcome::fail) {
            failures.push_back(c.id + " (" + r.file + "): " + r.reason);
        }
        if (verbose) {
            std::cout << fmt::format("{} {:<12} {:7.3f} s  {}\n", c.id, status, r.seconds, r.reason);
        }
        if (out.is_open()) {
            out << c.id << "," << status << "," << r.file << "," << fmt::format("{:.4f}", r.seconds) << ","
                << quote(r.feature) << "," << quote(r.reason) << "," << quote(join(c.component_tags)) << ","
                << quote(join(c.test_tags)) << "\n";
        }
    }
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();

    const auto table = [](const char* title, const std::map<std::string, tally>& m) {
        std::cout << fmt::format("\n{:<28} {:>6} {:>6} {:>6} {:>13}\n", title, "cases", "pass", "fail", "out of scope");
        for (const auto& [tag, t]: m) {
            std::cout << fmt::format("{:<28} {:>6} {:>6} {:>6} {:>13}\n", tag, t.pass + t.fail + t.out, t.pass, t.fail,
                                     t.out);
        }
    };
    table("component tag", by_component);
    table("test tag", by_test);
    std::cout << "\nrefused (out of scope), by feature:\n";
    std::vector<std::pair<int, std::string>> sorted;
    for (const auto& [f, n]: refusals) {
        sorted.emplace_back(n, f);
    }
    std::sort(sorted.rbegin(), sorted.rend());
    for (const auto& [n, f]: sorted) {
        std::cout << fmt::format("  {:>5}  {}\n", n, f);
    }
    if (!failures.empty()) {
        std::cout << "\nfailed:\n";
        for (const auto& f: failures) {
            std::cout << "  " << f << "\n";
        }
    }
    const int in_scope = total.pass + total.fail;
    std::cout << fmt::format("\nSBML Test Suite ({}): {} cases, {} in scope: {} passed, {} failed ({:.1f} % of in-scope "
                             "cases pass); {} out of scope; {:.1f} s\n",
                             root.string(), cases.size(), in_scope, total.pass, total.fail,
                             in_scope > 0 ? 100.0 * total.pass / in_scope : 100.0, total.out, wall);
    return total.fail > 0 ? 1 : 0;
}
