#pragma once
// Streaming CSV traces, and writing files so that none is ever half-written under its final name.
//
// The trace is written as PATH.partial while the run goes on. Rows are collected in memory and written with one
// write() call per batch of whole rows, at least every flush_seconds of wall time, whenever the batch reaches
// 8192 numbers, and when the run is asked to stop: a run that is killed (even with SIGKILL) leaves a readable trace of
// whole rows up to its last flush (Linux may cut a write() short when SIGKILL lands during it, so the file can
// end with the start of one more row, without its newline). When the run ends normally the file is synced and
// renamed to PATH.
// A run that stopped on request (SIGINT/SIGTERM, see docs/robustness.md) is continued with resume(), which
// appends to the same PATH.partial.
//
// Formatting the numbers is most of a CSV trace's cost (~45 ns a number; a 1000 s Li-Rinzel run writes 80 000):
// batches of rows are formatted and written by a second thread while the solver goes on. A flush (on request, or
// when flush_seconds have passed) waits until everything recorded so far is in the file; an error of the writing
// thread is thrown from the next record(), flush() or end().
//
// Format: a header row "t [ms],cyt.ca [uM],...", then one row per record, numbers in the shortest form that reads
// back to the same double (exact round trip), fixed notation from 1e-4 to 1e16 and scientific outside (as fmt's
// "{}" writes them: "0.1", "729900", "1e-05").

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <cadyn/error.hpp>
#include <cadyn/simulate.hpp>

namespace cadyn {

// An output file could not be written (disk full, no permission). The CLI exits with status 4.
class output_error: public error {
public:
    using error::error;
};

class csv_recorder final: public recorder {
public:
    // flush_seconds: the longest wall time a record waits before it is written to the file.
    explicit csv_recorder(std::filesystem::path path, double flush_seconds = 1.0);
    // Writes what is still buffered to PATH.partial (a run that failed keeps its trace) but does not rename it.
    ~csv_recorder() override;
    csv_recorder(const csv_recorder&) = delete;
    csv_recorder& operator=(const csv_recorder&) = delete;

    void begin(const std::vector<observable_info>& observables) override;
    void record(double t, std::span<const double> values) override;
    void end() override;
    // Re-open PATH.partial for appending after its first `rows` data rows. Throws cadyn::error when the file is
    // missing, its header does not match `observables`, or it has fewer rows; rows beyond `rows` (written after
    // the state that is being continued) are cut off.
    void resume(const std::vector<observable_info>& observables, std::size_t rows) override;
    void flush() override;

    const std::filesystem::path& path() const { return path_; }
    const std::filesystem::path& partial_path() const { return partial_; }
    std::size_t rows() const { return rows_; }

private:
    struct writer;  // the writing thread

    void hand_over();   // give the pending rows to the writing thread (which starts on first use)
    void write_out();   // hand over and wait until everything is written
    void close_file();

    std::filesystem::path path_;
    std::filesystem::path partial_;
    int fd_ = -1;
    double flush_seconds_;
    double last_flush_ = 0;
    std::size_t rows_ = 0;
    std::size_t width_ = 0;        // numbers per row: t and the observables
    std::vector<double> pending_;  // whole rows not yet handed to the writer, row after row
    std::unique_ptr<writer> writer_;
};

// Append `v` to `out` as csv_recorder writes numbers: the shortest text that reads back to the same double, fixed
// from 1e-4 to 1e16, scientific outside. Returns the end of what it wrote (at most 32 characters).
char* format_number(char* out, double v);

// The header row for these observables, without the newline.
std::string csv_header(const std::vector<observable_info>& observables);

// Read a traces CSV (finished or .partial) and send it to `out`: begin() with the observables of its header
// ("name [unit]"), then every whole row; a last line without its newline is ignored. Throws cadyn::error for a
// file that cannot be read or parsed.
void replay_csv(const std::filesystem::path& path, recorder& out);

// Write `text` to PATH.partial in the same folder, sync it, and rename it to PATH: PATH is either the old file
// or the complete new one, never a half-written one. Throws output_error.
void write_atomically(const std::filesystem::path& path, std::string_view text);

// Rename `from` to `to` (same folder), throwing output_error rather than std::filesystem_error.
void rename_output(const std::filesystem::path& from, const std::filesystem::path& to);

} // namespace cadyn
