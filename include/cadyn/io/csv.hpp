#pragma once
// Streaming CSV traces.
//
// The file is written as PATH.partial while the run goes on and flushed at least every flush_seconds of wall
// time, so a run that is killed keeps a readable trace up to its last flush; when the run ends normally the file
// is renamed to PATH. A finished file is therefore never half-written.
//
// Format: a header row "t [ms],cyt.ca [uM],...", then one row per record, numbers with 10 significant digits.

#include <filesystem>
#include <fstream>

#include <cadyn/simulate.hpp>

namespace cadyn {

class csv_recorder final: public recorder {
public:
    explicit csv_recorder(std::filesystem::path path, double flush_seconds = 1.0);
    ~csv_recorder() override;

    void begin(const std::vector<observable_info>& observables) override;
    void record(double t, std::span<const double> values) override;
    void end() override;

    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
    std::filesystem::path partial_;
    std::ofstream out_;
    double flush_seconds_;
    double last_flush_ = 0;
    std::string line_;
};

} // namespace cadyn
