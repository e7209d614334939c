#include <cadyn/error.hpp>

#include <iterator>

#include <fmt/format.h>

namespace cadyn {

std::string diagnostic::to_string() const {
    std::string out;
    auto it = std::back_inserter(out);
    if (!where.file.empty()) {
        fmt::format_to(it, "{}", where.file);
        if (where.line > 0) {
            fmt::format_to(it, ":{}", where.line);
            if (where.column > 0) {
                fmt::format_to(it, ":{}", where.column);
            }
        }
        fmt::format_to(it, ": ");
    }
    if (!key.empty()) {
        fmt::format_to(it, "'{}': ", key);
    }
    fmt::format_to(it, "{}", message);
    return out;
}

namespace {
std::string join_problems(const std::vector<diagnostic>& problems) {
    std::string out;
    for (const auto& p: problems) {
        if (!out.empty()) {
            out += '\n';
        }
        out += p.to_string();
    }
    return out;
}
} // namespace

model_error::model_error(std::vector<diagnostic> problems):
    error(join_problems(problems)), problems_(std::move(problems)) {}

} // namespace cadyn
