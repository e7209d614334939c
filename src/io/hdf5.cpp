// HDF5 output (cadyn/io/hdf5.hpp) with the HDF5 C API (serial HDF5, 1.10 or later).
//
// Time series are buffered in memory and written a chunk's worth of records at a time (and on flush() and end()):
// every dataset that grows in time is chunked along time, and a full buffer fills whole chunks. HDF5's own error
// printing is switched off; a failing call throws output_error naming the file and HDF5's innermost message.
//
// Names: an observable's or field's name becomes an HDF5 link name as it is ("cyt.ca"). A name that HDF5 cannot
// take as one link (empty, ".", or containing '/'), one called "time", and a name given twice are refused with
// output_error before anything is written.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <hdf5.h>

#include <cadyn/error.hpp>
#include <cadyn/io/csv.hpp>
#include <cadyn/io/hdf5.hpp>

#ifndef CADYN_VERSION
#define CADYN_VERSION "unknown"
#endif

namespace cadyn {

namespace {

constexpr const char* format_name = "cadyn-hdf5 1";

// Records per chunk of a 1-D time series: 8 KiB of float64 (HDF5 allocates whole chunks in the file, so a short
// run with many observables stays small).
constexpr hsize_t series_chunk = 1024;
// Trace records kept in memory before they are written: four chunks of every trace at once.
constexpr std::size_t trace_buffer_records = 4096;
// Values per chunk of a field dataset [records, voxels]: 128 KiB of float64, within HDF5's 1 MiB chunk cache. A
// field's records are written a chunk at a time.
constexpr hsize_t field_chunk_values = hsize_t{1} << 14;

// The innermost message on HDF5's error stack (where the failure was found), or "" when the stack is empty.
std::string hdf5_message() {
    std::string message;
    const auto walk = [](unsigned n, const H5E_error2_t* e, void* data) -> herr_t {
        if (n == 0 && e != nullptr && e->desc != nullptr) {
            *static_cast<std::string*>(data) = e->desc;
        }
        return 0;
    };
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk, &message);
    // A failed system call: "unable to open file: name = '...', errno = 2, error message = 'No such file or
    // directory', flags = 13, o_flags = 242" -> "unable to open file: No such file or directory".
    const std::string_view system = "error message = '";
    if (const auto at = message.find(system); at != std::string::npos) {
        const auto start = at + system.size();
        const auto stop = message.find('\'', start);
        const auto colon = message.find(':');
        message = (colon < at ? message.substr(0, colon + 2) : std::string()) + message.substr(start, stop - start);
    }
    return message.empty() ? "HDF5 error" : message;
}

// Before HDF5's first use in the process: no clean-up of HDF5 at exit. HDF5 1.10 (Debian 12 has 1.10.8) frees a
// file whose H5Fclose failed (a full disk) but keeps its identifier, and its exit handler then closes that freed
// file again and crashes (HDFFV-11052, fixed in HDF5 1.14.1): the CLI would die with SIGSEGV after reporting
// the output_error instead of exiting with status 4. Every file this recorder opens it closes itself.
// Afterwards (every call, as HDF5 keeps its error settings per thread): no printing of HDF5's error stack to
// stderr; failures become output_error with HDF5's innermost message.
void quiet_hdf5() {
    static const bool no_atexit = H5dont_atexit() >= 0;  // fails harmlessly when HDF5 is initialised already
    static_cast<void>(no_atexit);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

// An HDF5 identifier, closed with its own close function.
class handle {
public:
    handle() = default;
    handle(hid_t id, herr_t (*closer)(hid_t)): id_(id), close_(closer) {}
    ~handle() { reset(); }
    handle(handle&& other) noexcept: id_(std::exchange(other.id_, H5I_INVALID_HID)), close_(other.close_) {}
    handle& operator=(handle&& other) noexcept {
        if (this != &other) {
            reset();
            id_ = std::exchange(other.id_, H5I_INVALID_HID);
            close_ = other.close_;
        }
        return *this;
    }
    handle(const handle&) = delete;
    handle& operator=(const handle&) = delete;

    hid_t get() const { return id_; }
    bool valid() const { return id_ >= 0; }
    // Close now, reporting whether that worked (closing a file writes its metadata).
    bool close() {
        const hid_t id = std::exchange(id_, H5I_INVALID_HID);
        return id < 0 || close_(id) >= 0;
    }
    void reset() { static_cast<void>(close()); }

private:
    hid_t id_ = H5I_INVALID_HID;
    herr_t (*close_)(hid_t) = nullptr;
};

// A dataset that grows along its first axis; `rows` is its extent there.
struct growing {
    handle dataset;
    std::vector<double> buffer;  // records not yet written, row after row
    hsize_t rows = 0;
};

} // namespace

struct hdf5_recorder::impl {
    std::filesystem::path partial;
    handle file;
    handle string_type;  // variable-length UTF-8 string

    // /traces: time, then one per observable.
    std::vector<growing> traces;
    std::size_t trace_columns = 0;  // observables
    std::size_t trace_buffered = 0;

    // /fields: time, then one per field.
    growing field_time;
    std::vector<growing> fields;
    std::size_t voxels = 0;
    hsize_t field_chunk_rows = 1;
    std::size_t field_buffered = 0;
    bool fields_begun = false;

    [[noreturn]] void fail(std::string_view what) const {
        throw output_error(fmt::format("writing '{}' failed: {}: {}", partial.string(), what, hdf5_message()));
    }
    hid_t check(hid_t id, std::string_view what) const {
        if (id < 0) {
            fail(what);
        }
        return id;
    }
    void check_status(herr_t status, std::string_view what) const {
        if (status < 0) {
            fail(what);
        }
    }

    handle property_list(hid_t cls) const { return {check(H5Pcreate(cls), "creating a property list"), H5Pclose}; }

    // Link and attribute names are UTF-8.
    handle utf8_names(hid_t cls) const {
        auto p = property_list(cls);
        check_status(H5Pset_char_encoding(p.get(), H5T_CSET_UTF8), "setting the name encoding");
        return p;
    }

    void string_attribute(hid_t object, const std::string& name, const std::string& value) const {
        const std::string what = fmt::format("attribute '{}'", name);
        handle space{check(H5Screate(H5S_SCALAR), what), H5Sclose};
        const auto acpl = utf8_names(H5P_ATTRIBUTE_CREATE);
        handle attribute{
            check(H5Acreate2(object, name.c_str(), string_type.get(), space.get(), acpl.get(), H5P_DEFAULT), what),
            H5Aclose};
        const char* text = value.c_str();
        check_status(H5Awrite(attribute.get(), string_type.get(), &text), what);
    }

    void integer_attribute(hid_t object, const std::string& name, std::span<const std::int64_t> values,
                           bool scalar) const {
        const std::string what = fmt::format("attribute '{}'", name);
        const hsize_t size = values.size();
        handle space{check(scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &size, nullptr), what), H5Sclose};
        const auto acpl = utf8_names(H5P_ATTRIBUTE_CREATE);
        handle attribute{
            check(H5Acreate2(object, name.c_str(), H5T_STD_I64LE, space.get(), acpl.get(), H5P_DEFAULT), what),
            H5Aclose};
        check_status(H5Awrite(attribute.get(), H5T_NATIVE_INT64, values.data()), what);
    }

    // A group at the root, replacing one of that name written before; links kept in creation order.
    handle fresh_group(const char* name) const {
        const std::string what = fmt::format("group '/{}'", name);
        const htri_t exists = H5Lexists(file.get(), name, H5P_DEFAULT);
        check_status(exists, what);
        if (exists > 0) {
            check_status(H5Ldelete(file.get(), name, H5P_DEFAULT), what);
        }
        const auto gcpl = property_list(H5P_GROUP_CREATE);
        check_status(H5Pset_link_creation_order(gcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED), what);
        const auto lcpl = utf8_names(H5P_LINK_CREATE);
        return {check(H5Gcreate2(file.get(), name, lcpl.get(), gcpl.get(), H5P_DEFAULT), what), H5Gclose};
    }

    // A fixed float64 dataset with these values.
    void fixed_dataset(hid_t group, const std::string& name, std::span<const double> values,
                       const std::string& unit) const {
        const std::string what = fmt::format("dataset '{}'", name);
        const hsize_t size = values.size();
        handle space{check(H5Screate_simple(1, &size, nullptr), what), H5Sclose};
        const auto lcpl = utf8_names(H5P_LINK_CREATE);
        handle dataset{check(H5Dcreate2(group, name.c_str(), H5T_IEEE_F64LE, space.get(), lcpl.get(), H5P_DEFAULT,
                                        H5P_DEFAULT),
                             what),
                       H5Dclose};
        if (size > 0) {
            check_status(H5Dwrite(dataset.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()),
                         what);
        }
        string_attribute(dataset.get(), "unit", unit);
    }

    // A float64 dataset [0] or [0, width] that grows along its first axis, chunked chunk_rows records at a time.
    growing growing_dataset(hid_t group, const std::string& name, std::size_t width, hsize_t chunk_rows,
                            const std::string& unit) const {
        const std::string what = fmt::format("dataset '{}'", name);
        const int rank = width == 0 ? 1 : 2;
        const std::array<hsize_t, 2> dims{0, width};
        const std::array<hsize_t, 2> max_dims{H5S_UNLIMITED, width};
        const std::array<hsize_t, 2> chunk{chunk_rows, std::min<hsize_t>(width, field_chunk_values)};
        handle space{check(H5Screate_simple(rank, dims.data(), max_dims.data()), what), H5Sclose};
        const auto dcpl = property_list(H5P_DATASET_CREATE);
        check_status(H5Pset_chunk(dcpl.get(), rank, chunk.data()), what);
        const auto lcpl = utf8_names(H5P_LINK_CREATE);
        growing g;
        g.dataset = handle{check(H5Dcreate2(group, name.c_str(), H5T_IEEE_F64LE, space.get(), lcpl.get(),
                                            dcpl.get(), H5P_DEFAULT),
                                 what),
                           H5Dclose};
        string_attribute(g.dataset.get(), "unit", unit);
        return g;
    }

    // Append the buffered records (buffer.size() / max(width, 1) of them) to g and empty its buffer.
    void append(growing& g, std::size_t width) const {
        const std::size_t row = std::max<std::size_t>(width, 1);
        const hsize_t n = g.buffer.size() / row;
        if (n == 0) {
            return;
        }
        const int rank = width == 0 ? 1 : 2;
        const std::array<hsize_t, 2> extent{g.rows + n, width};
        const std::array<hsize_t, 2> start{g.rows, 0};
        const std::array<hsize_t, 2> count{n, width};
        check_status(H5Dset_extent(g.dataset.get(), extent.data()), "extending a dataset");
        handle file_space{check(H5Dget_space(g.dataset.get()), "writing a dataset"), H5Sclose};
        check_status(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(),
                                         nullptr),
                     "writing a dataset");
        handle memory_space{check(H5Screate_simple(rank, count.data(), nullptr), "writing a dataset"), H5Sclose};
        check_status(H5Dwrite(g.dataset.get(), H5T_NATIVE_DOUBLE, memory_space.get(), file_space.get(), H5P_DEFAULT,
                              g.buffer.data()),
                     "writing a dataset");
        g.rows += n;
        g.buffer.clear();
    }

    void write_traces() {
        quiet_hdf5();
        for (auto& g: traces) {
            append(g, 0);
        }
        trace_buffered = 0;
    }

    void write_fields() {
        if (!fields_begun) {
            return;
        }
        quiet_hdf5();
        append(field_time, 0);
        for (auto& g: fields) {
            append(g, voxels);
        }
        field_buffered = 0;
    }

    void write_all() {
        write_traces();
        write_fields();
    }

    void require_open(const char* call) const {
        if (!file.valid()) {
            throw internal_error(fmt::format("hdf5_recorder::{} after end() ('{}')", call, partial.string()));
        }
    }

    // Refuse names that cannot be one HDF5 link below the group, or that collide.
    void check_names(const std::vector<observable_info>& list, const char* group) const {
        std::set<std::string_view> seen;
        for (const auto& o: list) {
            const char* problem = nullptr;
            if (o.name.empty() || o.name == ".") {
                problem = "is not a valid HDF5 name";
            }
            else if (o.name.find('/') != std::string::npos) {
                problem = "contains '/', which HDF5 takes as a path separator";
            }
            else if (o.name == "time") {
                problem = "is taken by the time axis";
            }
            else if (!seen.insert(o.name).second) {
                problem = "is given twice";
            }
            if (problem != nullptr) {
                throw output_error(fmt::format("cannot write '{}': the name '{}' in /{} {}", partial.string(), o.name,
                                               group, problem));
            }
        }
    }

    void close_all() {
        traces.clear();
        fields.clear();
        field_time = growing{};
        fields_begun = false;
        string_type.reset();
    }
};

hdf5_recorder::hdf5_recorder(std::filesystem::path path, const run_metadata& metadata):
    impl_(std::make_unique<impl>()), path_(std::move(path)) {
    auto& m = *impl_;
    m.partial = path_.string() + ".partial";
    quiet_hdf5();

    m.string_type = handle{m.check(H5Tcopy(H5T_C_S1), "creating the string type"), H5Tclose};
    m.check_status(H5Tset_size(m.string_type.get(), H5T_VARIABLE), "creating the string type");
    m.check_status(H5Tset_cset(m.string_type.get(), H5T_CSET_UTF8), "creating the string type");

    const hid_t file = H5Fcreate(m.partial.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) {
        throw output_error(fmt::format("cannot create '{}': {}", m.partial.string(), hdf5_message()));
    }
    m.file = handle{file, H5Fclose};

    const hid_t root = m.file.get();
    m.string_attribute(root, "cadyn_version", CADYN_VERSION);
    m.string_attribute(root, "format", format_name);
    m.string_attribute(root, "model_name", metadata.model_name);
    m.string_attribute(root, "model_source", metadata.model_source);
    for (const auto& [name, value]: metadata.attributes) {
        const htri_t exists = H5Aexists(root, name.c_str());
        m.check_status(exists, fmt::format("attribute '{}'", name));
        if (exists > 0) {
            throw internal_error(fmt::format("hdf5_recorder: the root attribute '{}' is given twice", name));
        }
        m.string_attribute(root, name, value);
    }

    // /model: the model's text as one scalar string.
    handle space{m.check(H5Screate(H5S_SCALAR), "dataset '/model'"), H5Sclose};
    const auto lcpl = m.utf8_names(H5P_LINK_CREATE);
    handle model{m.check(H5Dcreate2(root, "model", m.string_type.get(), space.get(), lcpl.get(), H5P_DEFAULT,
                                    H5P_DEFAULT),
                         "dataset '/model'"),
                 H5Dclose};
    const char* text = metadata.model_text.c_str();
    // One string: a 4 KiB type-conversion buffer instead of HDF5's default 1 MiB, which it allocates zeroed for
    // this write (~0.5 ms of a short run's page faults).
    handle transfer{m.check(H5Pcreate(H5P_DATASET_XFER), "dataset '/model'"), H5Pclose};
    m.check_status(H5Pset_buffer(transfer.get(), 4096, nullptr, nullptr), "dataset '/model'");
    m.check_status(H5Dwrite(model.get(), m.string_type.get(), H5S_ALL, H5S_ALL, transfer.get(), &text),
                   "dataset '/model'");
}

hdf5_recorder::~hdf5_recorder() {
    if (!impl_ || !impl_->file.valid()) {
        return;
    }
    try {
        impl_->write_all();  // a run that failed keeps what it recorded
    }
    catch (const std::exception&) {
        // Unwinding already (a solver error, say): keeping what could be written is all we can do here.
    }
    impl_->close_all();
    impl_->file.reset();
}

void hdf5_recorder::begin(const std::vector<observable_info>& observables) {
    auto& m = *impl_;
    quiet_hdf5();
    m.require_open("begin");
    m.check_names(observables, "traces");
    m.traces.clear();
    const auto group = m.fresh_group("traces");
    m.traces.push_back(m.growing_dataset(group.get(), "time", 0, series_chunk, "ms"));
    for (const auto& o: observables) {
        m.traces.push_back(m.growing_dataset(group.get(), o.name, 0, series_chunk, o.unit));
    }
    for (auto& g: m.traces) {
        g.buffer.reserve(trace_buffer_records);
    }
    m.trace_columns = observables.size();
    m.trace_buffered = 0;
}

void hdf5_recorder::record(double t, std::span<const double> values) {
    auto& m = *impl_;
    m.require_open("record");
    if (m.traces.empty() || values.size() != m.trace_columns) {
        throw internal_error(fmt::format("hdf5_recorder::record: {} values for {} observables{}", values.size(),
                                         m.trace_columns, m.traces.empty() ? " (before begin)" : ""));
    }
    m.traces[0].buffer.push_back(t);
    for (std::size_t i = 0; i < values.size(); ++i) {
        m.traces[i + 1].buffer.push_back(values[i]);
    }
    if (++m.trace_buffered >= trace_buffer_records) {
        m.write_traces();
    }
}

void hdf5_recorder::flush() {
    auto& m = *impl_;
    if (!m.file.valid()) {
        return;
    }
    m.write_all();
    m.check_status(H5Fflush(m.file.get(), H5F_SCOPE_GLOBAL), "flushing the file");
}

void hdf5_recorder::end() {
    auto& m = *impl_;
    if (!m.file.valid()) {
        return;  // ended already
    }
    m.write_all();
    m.close_all();
    if (!m.file.close()) {
        m.fail("closing the file");
    }
    // Like the CSV trace: synced before it gets its final name.
    const int fd = ::open(m.partial.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) {
        if (fd >= 0) {
            ::close(fd);
        }
        throw output_error(fmt::format("writing '{}' failed: cannot sync it", m.partial.string()));
    }
    ::close(fd);
    rename_output(m.partial, path_);
}

void hdf5_recorder::write_grid(const grid& g, const std::string& geometry_name) {
    auto& m = *impl_;
    quiet_hdf5();
    m.require_open("write_grid");
    if (g.dimensions < 1 || g.dimensions > 3) {
        throw internal_error(fmt::format("hdf5_recorder::write_grid: a grid of {} dimensions", g.dimensions));
    }
    for (std::size_t k = 0; k < g.dimensions; ++k) {
        if (g.centres[k].size() != g.shape[k] || g.edges[k].size() != g.shape[k] + 1) {
            throw internal_error(fmt::format("hdf5_recorder::write_grid: axis {} has {} voxels, {} centres and {} "
                                             "edges",
                                             k, g.shape[k], g.centres[k].size(), g.edges[k].size()));
        }
    }
    const auto group = m.fresh_group("grid");
    m.string_attribute(group.get(), "geometry", geometry_name);
    const std::int64_t dimensions = static_cast<std::int64_t>(g.dimensions);
    m.integer_attribute(group.get(), "dimensions", std::span(&dimensions, 1), true);
    const std::array<std::int64_t, 3> shape{static_cast<std::int64_t>(g.shape[0]),
                                            static_cast<std::int64_t>(g.shape[1]),
                                            static_cast<std::int64_t>(g.shape[2])};
    m.integer_attribute(group.get(), "shape", shape, false);
    m.fixed_dataset(group.get(), "volume", g.volume, "um^3");
    for (std::size_t k = 0; k < g.dimensions; ++k) {
        m.fixed_dataset(group.get(), fmt::format("centres_{}", k), g.centres[k], "um");
        m.fixed_dataset(group.get(), fmt::format("edges_{}", k), g.edges[k], "um");
    }
}

void hdf5_recorder::begin_fields(const std::vector<observable_info>& fields, std::size_t voxels) {
    auto& m = *impl_;
    quiet_hdf5();
    m.require_open("begin_fields");
    if (voxels == 0) {
        throw internal_error("hdf5_recorder::begin_fields: fields of no voxels");
    }
    m.check_names(fields, "fields");
    m.fields.clear();
    m.fields_begun = false;
    m.voxels = voxels;
    // Whole records per chunk, up to field_chunk_values values (one record per chunk for a large grid).
    m.field_chunk_rows = std::clamp<hsize_t>(field_chunk_values / voxels, 1, series_chunk);
    const auto group = m.fresh_group("fields");
    m.field_time = m.growing_dataset(group.get(), "time", 0, series_chunk, "ms");
    for (const auto& f: fields) {
        m.fields.push_back(m.growing_dataset(group.get(), f.name, voxels, m.field_chunk_rows, f.unit));
        m.fields.back().buffer.reserve(m.field_chunk_rows * voxels);
    }
    m.field_buffered = 0;
    m.fields_begun = true;
}

void hdf5_recorder::append_fields(double t, std::span<const double> values) {
    auto& m = *impl_;
    m.require_open("append_fields");
    if (!m.fields_begun || values.size() != m.fields.size() * m.voxels) {
        throw internal_error(fmt::format("hdf5_recorder::append_fields: {} values for {} fields of {} voxels{}",
                                         values.size(), m.fields.size(), m.voxels,
                                         m.fields_begun ? "" : " (before begin_fields)"));
    }
    m.field_time.buffer.push_back(t);
    for (std::size_t f = 0; f < m.fields.size(); ++f) {
        const auto row = values.subspan(f * m.voxels, m.voxels);
        m.fields[f].buffer.insert(m.fields[f].buffer.end(), row.begin(), row.end());
    }
    if (++m.field_buffered >= m.field_chunk_rows) {
        m.write_fields();
    }
}

} // namespace cadyn
