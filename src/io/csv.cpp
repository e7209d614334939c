#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <system_error>

#include <fmt/format.h>

#include <cadyn/io/csv.hpp>

namespace cadyn {

namespace {

double wall_seconds() {
    using clock = std::chrono::steady_clock;
    return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

// Batches of rows larger than this are written at once, whatever the time since the last flush.
constexpr std::size_t max_buffer = std::size_t{1} << 20;

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
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
}

void csv_recorder::begin(const std::vector<observable_info>& observables) {
    close_file();
    fd_ = open_for_writing(partial_, O_CREAT | O_TRUNC);
    buffer_ = csv_header(observables) + '\n';
    rows_ = 0;
    write_out();
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
    buffer_.clear();
    rows_ = rows;
    last_flush_ = wall_seconds();
}

void csv_recorder::record(double t, std::span<const double> values) {
    fmt::format_to(std::back_inserter(buffer_), "{}", t);
    for (const double v: values) {
        fmt::format_to(std::back_inserter(buffer_), ",{}", v);
    }
    buffer_ += '\n';
    ++rows_;
    if (buffer_.size() >= max_buffer || wall_seconds() - last_flush_ >= flush_seconds_) {
        write_out();
    }
}

void csv_recorder::write_out() {
    if (fd_ < 0) {
        return;
    }
    // One write() of whole rows: a kill between two calls never leaves half a row (one landing during the call
    // can still cut it short, see csv.hpp).
    write_all(fd_, buffer_, partial_);
    buffer_.clear();
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
