#include <chrono>

#include <fmt/format.h>

#include <cadyn/io/csv.hpp>

namespace cadyn {

namespace {
double wall_seconds() {
    using clock = std::chrono::steady_clock;
    return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}
} // namespace

csv_recorder::csv_recorder(std::filesystem::path path, double flush_seconds):
    path_(std::move(path)), partial_(path_.string() + ".partial"), flush_seconds_(flush_seconds) {}

csv_recorder::~csv_recorder() = default;

void csv_recorder::begin(const std::vector<observable_info>& observables) {
    out_.open(partial_, std::ios::out | std::ios::trunc);
    if (!out_) {
        throw error(fmt::format("cannot write '{}'", partial_.string()));
    }
    line_ = "t [ms]";
    for (const auto& o: observables) {
        line_ += o.unit.empty() ? fmt::format(",{}", o.name) : fmt::format(",{} [{}]", o.name, o.unit);
    }
    out_ << line_ << '\n';
    out_.flush();
    last_flush_ = wall_seconds();
}

void csv_recorder::record(double t, std::span<const double> values) {
    line_.clear();
    fmt::format_to(std::back_inserter(line_), "{:.10g}", t);
    for (const double v: values) {
        fmt::format_to(std::back_inserter(line_), ",{:.10g}", v);
    }
    line_ += '\n';
    out_ << line_;
    const double now = wall_seconds();
    if (now - last_flush_ >= flush_seconds_) {
        out_.flush();
        last_flush_ = now;
    }
}

void csv_recorder::end() {
    out_.flush();
    if (!out_) {
        throw error(fmt::format("writing '{}' failed", partial_.string()));
    }
    out_.close();
    std::filesystem::rename(partial_, path_);
}

} // namespace cadyn
