#include <cadyn/error.hpp>

#include <fmt/format.h>

namespace cadyn {

std::string diagnostic::to_string() const {
    std::string out;
    if (!where.file.empty()) {
        out += where.file;
        if (where.line > 0) {
            out += fmt::format(":{}", where.line);
            if (where.column > 0) {
                out += fmt::format(":{}", where.column);
            }
        }
        out += ": ";
    }
    if (!key.empty()) {
        out += fmt::format("'{}': ", key);
    }
    out += message;
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
