#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <mutex>
#include <system_error>
#include <thread>

#include <fmt/format.h>

#include <cadyn/io/csv.hpp>

namespace cadyn {

namespace {

double wall_seconds() {
    using clock = std::chrono::steady_clock;
    return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

// Rows are handed to the writing thread in batches of at least this many numbers (~160 KiB of text).
constexpr std::size_t batch_numbers = 8192;
// The most characters format_number() writes: "-2.2250738585072014e-308" has 24, a fixed number below 1e16 with
// 17 significant digits at most 23.
constexpr std::size_t max_number_chars = 32;

std::string system_message() { return std::strerror(errno); }

// write() until everything is out; a signal interrupting the call is not an error.
void write_all(int fd, std::string_view data, const std::filesystem::path& path) {
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw output_error(fmt::format("writing '{}' failed: {}", path.string(), system_message()));
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

int open_for_writing(const std::filesystem::path& path, int flags) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | flags, 0644);
    if (fd < 0) {
        throw output_error(fmt::format("cannot write '{}': {}", path.string(), system_message()));
    }
    return fd;
}

// "cyt.ca [uM]" -> {"cyt.ca", "uM"}; "fluo4.F_F0" -> {"fluo4.F_F0", ""}.
observable_info split_header(const std::string& h) {
    const auto open = h.rfind(" [");
    if (!h.empty() && h.back() == ']' && open != std::string::npos) {
        return {h.substr(0, open), h.substr(open + 2, h.size() - open - 3)};
    }
    return {h, ""};
}

} // namespace

std::string csv_header(const std::vector<observable_info>& observables) {
    std::string line = "t [ms]";
    for (const auto& o: observables) {
        line += o.unit.empty() ? fmt::format(",{}", o.name) : fmt::format(",{} [{}]", o.name, o.unit);
    }
    return line;
}

char* format_number(char* out, double v) {
    const double a = std::fabs(v);
    const auto style = a == 0 || (a >= 1e-4 && a < 1e16) ? std::chars_format::fixed : std::chars_format::scientific;
    return std::to_chars(out, out + max_number_chars, v, style).ptr;
}

// The writing thread of a csv_recorder: formats a batch of rows and writes it with one write() while the solver
// computes the next batch. It holds one batch at a time; a hand-over waits while it is still busy with the last.
struct csv_recorder::writer {
    std::mutex mutex;
    std::condition_variable changed;
    // Owned by the thread while busy, by the recorder otherwise.
    std::vector<double> rows;
    std::size_t width = 1;
    int fd = -1;
    std::filesystem::path path;
    bool busy = false;
    bool quit = false;
    std::exception_ptr failure;  // the first error of the thread, until the recorder throws it
    std::string text;            // the thread's
    std::thread thread{[this] { loop(); }};  // last: starts once everything above exists

    writer() = default;
    writer(const writer&) = delete;
    writer& operator=(const writer&) = delete;
    ~writer() {
        {
            const std::lock_guard lock{mutex};
            quit = true;
        }
        changed.notify_all();
        thread.join();
    }

    void loop() {
        std::unique_lock lock{mutex};
        for (;;) {
            changed.wait(lock, [this] { return busy || quit; });
            if (!busy) {
                return;
            }
            lock.unlock();
            std::exception_ptr error;
            try {
                write_rows();
            }
            catch (...) {
                error = std::current_exception();
            }
            rows.clear();
            lock.lock();
            busy = false;
            if (error && !failure) {
                failure = error;
            }
            changed.notify_all();
        }
    }

    void write_rows() {
        text.resize(rows.size() * (max_number_chars + 1));
        char* p = text.data();
        for (std::size_t i = 0; i < rows.size(); i += width) {
            for (std::size_t k = 0; k < width; ++k) {
                p = format_number(p, rows[i + k]);
                *p++ = k + 1 < width ? ',' : '\n';
            }
        }
        // One write() of whole rows: a kill between two calls never leaves half a row (one landing during the
        // call can still cut it short, see csv.hpp).
        write_all(fd, std::string_view(text.data(), static_cast<std::size_t>(p - text.data())), path);
    }

    // Waits until the thread has written everything it was given; throws its error, if it had one.
    void wait() {
        std::unique_lock lock{mutex};
        changed.wait(lock, [this] { return !busy; });
        if (failure) {
            std::exception_ptr error;
            std::swap(error, failure);
            std::rethrow_exception(error);
        }
    }

    // Takes `batch` (and leaves the emptied buffer of the last batch in its place).
    void give(std::vector<double>& batch, std::size_t numbers_per_row, int file, const std::filesystem::path& name) {
        wait();
        {
            const std::lock_guard lock{mutex};
            rows.swap(batch);
            width = numbers_per_row;
            fd = file;
            path = name;
            busy = true;
        }
        changed.notify_all();
    }
};

csv_recorder::csv_recorder(std::filesystem::path path, double flush_seconds):
    path_(std::move(path)), partial_(path_.string() + ".partial"), flush_seconds_(flush_seconds) {}

csv_recorder::~csv_recorder() {
    if (fd_ >= 0) {
        try {
            write_out();
        }
        catch (const std::exception&) {
            // Unwinding already (a solver error, say): keeping what could be written is all we can do here.
        }
        close_file();
    }
}

void csv_recorder::close_file() {
    writer_.reset();  // finishes the batch it has, then ends
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
}

void csv_recorder::begin(const std::vector<observable_info>& observables) {
    close_file();
    fd_ = open_for_writing(partial_, O_CREAT | O_TRUNC);
    write_all(fd_, csv_header(observables) + '\n', partial_);
    width_ = observables.size() + 1;
    pending_.clear();
    rows_ = 0;
    last_flush_ = wall_seconds();
}

void csv_recorder::resume(const std::vector<observable_info>& observables, std::size_t rows) {
    close_file();
    std::ifstream in(partial_, std::ios::binary);
    if (!in) {
        throw error(fmt::format("cannot continue: '{}' is missing", partial_.string()));
    }
    std::string line;
    if (!std::getline(in, line) || in.eof() || line != csv_header(observables)) {
        throw error(fmt::format("cannot continue: the header of '{}' does not match the model's observables",
                                partial_.string()));
    }
    // Find the end of the first `rows` whole rows; what follows is cut off.
    std::size_t found = 0;
    auto keep = static_cast<std::uintmax_t>(in.tellg());
    while (found < rows && std::getline(in, line) && !in.eof()) {
        ++found;
        keep = static_cast<std::uintmax_t>(in.tellg());
    }
    if (found < rows) {
        throw error(fmt::format("cannot continue: '{}' has {} whole rows, the checkpoint expects {}",
                                partial_.string(), found, rows));
    }
    in.close();
    std::error_code ec;
    std::filesystem::resize_file(partial_, keep, ec);
    if (ec) {
        throw output_error(fmt::format("cannot truncate '{}': {}", partial_.string(), ec.message()));
    }
    fd_ = open_for_writing(partial_, O_APPEND);
    width_ = observables.size() + 1;
    pending_.clear();
    rows_ = rows;
    last_flush_ = wall_seconds();
}

void csv_recorder::record(double t, std::span<const double> values) {
    pending_.push_back(t);
    pending_.insert(pending_.end(), values.begin(), values.end());
    ++rows_;
    if (wall_seconds() - last_flush_ >= flush_seconds_) {
        write_out();
    }
    else if (pending_.size() >= batch_numbers) {
        hand_over();
    }
}

void csv_recorder::hand_over() {
    if (fd_ < 0 || pending_.empty()) {
        return;
    }
    if (!writer_) {
        writer_ = std::make_unique<writer>();
    }
    writer_->give(pending_, width_, fd_, partial_);
}

void csv_recorder::write_out() {
    hand_over();
    if (writer_) {
        writer_->wait();
    }
    last_flush_ = wall_seconds();
}

void csv_recorder::flush() { write_out(); }

void csv_recorder::end() {
    write_out();
    if (fd_ >= 0 && ::fsync(fd_) != 0) {
        throw output_error(fmt::format("writing '{}' failed: {}", partial_.string(), system_message()));
    }
    close_file();
    rename_output(partial_, path_);
}

void replay_csv(const std::filesystem::path& path, recorder& out) {
    std::ifstream in(path, std::ios::binary);
    std::string line;
    if (!in || !std::getline(in, line) || in.eof()) {
        throw error(fmt::format("cannot read the traces in '{}'", path.string()));
    }
    std::vector<observable_info> observables;
    for (std::size_t start = 0;;) {
        const auto comma = line.find(',', start);
        observables.push_back(split_header(line.substr(start, comma - start)));
        if (comma == std::string::npos) {
            break;
        }
        start = comma + 1;
    }
    observables.erase(observables.begin());  // the time
    out.begin(observables);
    std::vector<double> values(observables.size());
    std::size_t row = 1;
    while (std::getline(in, line) && !in.eof()) {
        ++row;
        const char* p = line.c_str();
        char* next = nullptr;
        const double t = std::strtod(p, &next);
        bool good = next != p;
        for (auto& v: values) {
            if (!good || *next != ',') {
                good = false;
                break;
            }
            p = next + 1;
            v = std::strtod(p, &next);
            good = next != p;
        }
        if (!good || *next != '\0') {
            throw error(fmt::format("{}:{}: not a row of {} numbers", path.string(), row, values.size() + 1));
        }
        out.record(t, values);
    }
}

void rename_output(const std::filesystem::path& from, const std::filesystem::path& to) {
    std::error_code ec;
    std::filesystem::rename(from, to, ec);
    if (ec) {
        throw output_error(
            fmt::format("cannot rename '{}' to '{}': {}", from.string(), to.string(), ec.message()));
    }
}

void write_atomically(const std::filesystem::path& path, std::string_view text) {
    const std::filesystem::path partial = path.string() + ".partial";
    const int fd = open_for_writing(partial, O_CREAT | O_TRUNC);
    try {
        write_all(fd, text, partial);
        if (::fsync(fd) != 0) {
            throw output_error(fmt::format("writing '{}' failed: {}", partial.string(), system_message()));
        }
    }
    catch (...) {
        ::close(fd);
        std::error_code ignored;
        std::filesystem::remove(partial, ignored);
        throw;
    }
    ::close(fd);
    rename_output(partial, path);
}

} // namespace cadyn
