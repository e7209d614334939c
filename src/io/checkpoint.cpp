#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include <cadyn/io/checkpoint.hpp>
#include <cadyn/io/csv.hpp>

namespace cadyn {

namespace {

// Hexadecimal floats round-trip every double exactly, independent of the locale.
std::string hex(double v) { return fmt::format("{:a}", v); }

std::string hex_list(const std::vector<double>& values) {
    std::string out = std::to_string(values.size());
    for (const double v: values) {
        out += ' ' + hex(v);
    }
    return out;
}

class checkpoint_reader {
public:
    explicit checkpoint_reader(std::filesystem::path path): path_(std::move(path)) {}

    [[noreturn]] void fail(int line, const std::string& message) const {
        throw error(fmt::format("{}:{}: {}; not a checkpoint this build can continue from", path_.string(), line,
                                message));
    }

    // key -> (line number, rest of the line)
    std::map<std::string, std::pair<int, std::string>> lines;

    const std::pair<int, std::string>& get(const std::string& key) const {
        const auto it = lines.find(key);
        if (it == lines.end()) {
            fail(0, fmt::format("missing '{}'", key));
        }
        return it->second;
    }

    double number(const std::string& key) const {
        const auto& [line, text] = get(key);
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (end == text.c_str() || *end != '\0') {
            fail(line, fmt::format("'{}' is not a number: '{}'", key, text));
        }
        return v;
    }

    std::size_t count(const std::string& key) const {
        const auto& [line, text] = get(key);
        char* end = nullptr;
        const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
        if (text.empty() || text[0] == '-' || end == text.c_str() || *end != '\0') {
            fail(line, fmt::format("'{}' is not a count: '{}'", key, text));
        }
        return static_cast<std::size_t>(v);
    }

    std::vector<double> list(const std::string& key) const {
        const auto& [line, text] = get(key);
        std::istringstream in(text);
        std::size_t n = 0;
        if (!(in >> n)) {
            fail(line, fmt::format("'{}' does not start with its length", key));
        }
        std::vector<double> values;
        values.reserve(n);
        for (std::string word; in >> word;) {
            char* end = nullptr;
            values.push_back(std::strtod(word.c_str(), &end));
            if (end == word.c_str() || *end != '\0') {
                fail(line, fmt::format("'{}' has a value that is not a number: '{}'", key, word));
            }
        }
        if (values.size() != n) {
            fail(line, fmt::format("'{}' announces {} values and has {}", key, n, values.size()));
        }
        return values;
    }

private:
    std::filesystem::path path_;
};

} // namespace

std::string model_hash(std::string_view text) {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (const char c: text) {
        h ^= static_cast<unsigned char>(c);
        h *= 0x100000001b3ULL;
    }
    return fmt::format("{:016x}", h);
}

void write_checkpoint(const std::filesystem::path& path, const checkpoint& c) {
    if (c.model_source.find('\n') != std::string::npos) {
        throw output_error(fmt::format("cannot write a checkpoint for a model path with a line break: '{}'",
                                       c.model_source));
    }
    for (const auto& [key, value]: c.settings) {
        if (key.empty() || key.find_first_of("\t\n=") != std::string::npos ||
            value.find_first_of("\t\n") != std::string::npos) {
            throw output_error(fmt::format("cannot write a checkpoint for the setting '{}': its key holds '=', a "
                                           "tab or a line break, or its value a tab or a line break",
                                           key));
        }
    }
    const auto& s = c.state;
    // Version 2 adds the settings line; a run without settings writes what version-1 readers read.
    std::string text = fmt::format("cadyn-checkpoint {}\n", c.settings.empty() ? 1 : checkpoint_format_version);
    text += fmt::format("model_source {}\n", c.model_source);
    text += fmt::format("model_hash {}\n", c.model_hash);
    if (!c.settings.empty()) {
        std::string line;
        for (const auto& [key, value]: c.settings) {
            line += fmt::format("{}{}={}", line.empty() ? "" : "\t", key, value);
        }
        text += fmt::format("settings {}\n", line);
    }
    text += fmt::format("t_end {}\n", hex(s.t_end));
    text += fmt::format("t {}\n", hex(s.t));
    text += fmt::format("next_record {}\n", s.next_record);
    text += fmt::format("next_break {}\n", s.next_break);
    text += fmt::format("records {}\n", s.records);
    text += fmt::format("y0 {}\n", hex_list(s.y0));
    text += fmt::format("y {}\n", hex_list(s.y));
    if (s.rest) {
        text += fmt::format("rest {} {} {}\n", s.rest->converged ? 1 : 0, hex(s.rest->residual), s.rest->method);
    }
    else {
        text += "rest none\n";
    }
    text += fmt::format("stats {} {} {} {} {} {} {}\n", s.stats.steps, s.stats.rhs_evaluations,
                        s.stats.jacobian_evaluations, s.stats.error_test_failures, s.stats.nonlinear_failures,
                        s.stats.restarts, s.stats.stochastic_events);
    text += "end\n";
    write_atomically(path, text);
}

checkpoint read_checkpoint(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw error(fmt::format("no checkpoint at '{}': `cadyn run --resume DIR` continues a run that was stopped "
                                "by SIGINT or SIGTERM, which writes DIR/checkpoint",
                                path.string()));
    }
    checkpoint_reader r(path);
    std::string line;
    if (!std::getline(in, line) || line.rfind("cadyn-checkpoint ", 0) != 0) {
        r.fail(1, "the file does not start with 'cadyn-checkpoint'");
    }
    int version = 0;
    for (int v = 1; v <= checkpoint_format_version; ++v) {
        if (line == fmt::format("cadyn-checkpoint {}", v)) {
            version = v;
        }
    }
    if (version == 0) {
        r.fail(1, fmt::format("format '{}', this build reads 'cadyn-checkpoint 1' to 'cadyn-checkpoint {}'", line,
                              checkpoint_format_version));
    }
    bool ended = false;
    for (int number = 2; std::getline(in, line); ++number) {
        if (line == "end") {
            ended = true;
            break;
        }
        const auto space = line.find(' ');
        const std::string key = line.substr(0, space);
        const std::string value = space == std::string::npos ? "" : line.substr(space + 1);
        if (!r.lines.emplace(key, std::make_pair(number, value)).second) {
            r.fail(number, fmt::format("'{}' appears twice", key));
        }
    }
    if (!ended) {
        r.fail(0, "the file is truncated (no 'end' line)");
    }
    checkpoint c;
    c.model_source = r.get("model_source").second;
    c.model_hash = r.get("model_hash").second;
    if (version >= 2) {
        const auto& [number, text] = r.get("settings");
        std::size_t from = 0;
        while (from <= text.size()) {
            const auto to = std::min(text.find('\t', from), text.size());
            const std::string item = text.substr(from, to - from);
            const auto eq = item.find('=');
            if (eq == std::string::npos || eq == 0) {
                r.fail(number, fmt::format("setting '{}' is not KEY=VALUE", item));
            }
            c.settings.emplace_back(item.substr(0, eq), item.substr(eq + 1));
            from = to + 1;
        }
    }
    auto& s = c.state;
    s.t_end = r.number("t_end");
    s.t = r.number("t");
    s.next_record = r.count("next_record");
    s.next_break = r.count("next_break");
    s.records = r.count("records");
    s.y0 = r.list("y0");
    s.y = r.list("y");
    {
        const auto& [number, text] = r.get("rest");
        if (text != "none") {
            std::istringstream words(text);
            int converged = 0;
            std::string residual;
            steady_state rest;
            if (!(words >> converged >> residual)) {
                r.fail(number, "'rest' is neither 'none' nor 'CONVERGED RESIDUAL METHOD'");
            }
            rest.converged = converged != 0;
            rest.residual = std::strtod(residual.c_str(), nullptr);
            std::getline(words >> std::ws, rest.method);
            rest.y = s.y0;
            s.rest = std::move(rest);
        }
    }
    {
        const auto& [number, text] = r.get("stats");
        std::istringstream words(text);
        auto& st = s.stats;
        if (!(words >> st.steps >> st.rhs_evaluations >> st.jacobian_evaluations >> st.error_test_failures >>
              st.nonlinear_failures >> st.restarts)) {
            r.fail(number, "'stats' needs six counts");
        }
        // A seventh, the stochastic events, since stochastic mechanisms came (older checkpoints have six).
        if (!(words >> st.stochastic_events)) {
            st.stochastic_events = 0;
        }
    }
    if (!(s.t >= 0 && s.t < s.t_end) || s.records == 0 || s.next_record == 0) {
        r.fail(r.get("t").first, fmt::format("t = {} ms is not inside the run (0 to {} ms)", s.t, s.t_end));
    }
    return c;
}

} // namespace cadyn
