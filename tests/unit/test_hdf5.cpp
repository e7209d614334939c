// HDF5 output (cadyn/io/hdf5.hpp): traces, a grid and fields written by hdf5_recorder, read back with the HDF5 C
// API (values compared exactly) and with h5py (tests/python/read_hdf5.py, which also runs scripts/plot_fields.py).
// The grids are made by hand, not by build_grid.
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cadyn/io/csv.hpp>
#include <cadyn/io/hdf5.hpp>

#if defined(__SANITIZE_ADDRESS__)
#define CADYN_TEST_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CADYN_TEST_LSAN 1
#endif
#endif
#ifdef CADYN_TEST_LSAN
#include <sanitizer/lsan_interface.h>
#endif

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

// The records written below; tests/python/read_hdf5.py checks the same numbers, from the same formulas.
constexpr std::size_t trace_records = 10000;  // two full buffers of 4096 records and a part of one
constexpr std::size_t cable_field_records = 40;
constexpr std::size_t axisymmetric_field_records = 30;

double trace_value(std::size_t record, std::size_t column) {
    return static_cast<double>(record + 1) / (static_cast<double>(column) + 3.0);
}
double field_value(std::size_t record, std::size_t field, std::size_t voxel, std::size_t voxels) {
    return static_cast<double>(record * voxels + voxel + 1) / (static_cast<double>(field) + 7.0);
}

// A fresh folder in the temporary folder, unique to this process and test; removed at the end of a test that
// passed (kept for a look when it failed).
class scratch_dir {
public:
    explicit scratch_dir(const std::string& name):
        path_(fs::temp_directory_path() / ("cadyn_hdf5_" + name + "_" + std::to_string(::getpid()))) {
        fs::remove_all(path_);
        fs::create_directories(path_);
    }
    ~scratch_dir() {
        if (!::testing::Test::HasFailure()) {
            std::error_code ignored;
            fs::remove_all(path_, ignored);
        }
    }
    scratch_dir(const scratch_dir&) = delete;
    scratch_dir& operator=(const scratch_dir&) = delete;
    const fs::path& path() const { return path_; }
    fs::path operator/(const std::string& name) const { return path_ / name; }

private:
    fs::path path_;
};

cadyn::run_metadata metadata() {
    cadyn::run_metadata m;
    m.model_name = "soma";
    m.model_source = "models/soma.toml";
    m.model_text = "format_version = 1\nname = \"soma\"\n# 1 \xC2\xB5m\n";
    m.attributes = {{"seed", "42"}, {"start", "rest"}, {"solver", "CVODE BDF"}, {"note", "r = 5 \xC2\xB5m"}};
    return m;
}

// A cable of 5 voxels along x with graded spacing, radius 0.5 um.
cadyn::grid cable_grid() {
    cadyn::grid g;
    g.dimensions = 1;
    g.shape = {5, 1, 1};
    g.edges[0] = {0, 1, 2.5, 4.5, 7, 10};
    for (std::size_t i = 0; i < 5; ++i) {
        g.centres[0].push_back(0.5 * (g.edges[0][i] + g.edges[0][i + 1]));
        g.volume.push_back(0.25 * (g.edges[0][i + 1] - g.edges[0][i]));
    }
    return g;
}

// An axisymmetric (r, z) grid of 4 x 3 voxels.
cadyn::grid axisymmetric_grid() {
    cadyn::grid g;
    g.dimensions = 2;
    g.shape = {4, 3, 1};
    g.edges[0] = {0, 0.5, 1, 1.5, 2};
    g.edges[1] = {0, 1, 2, 3};
    for (std::size_t k = 0; k < 2; ++k) {
        for (std::size_t i = 0; i < g.shape[k]; ++i) {
            g.centres[k].push_back(0.5 * (g.edges[k][i] + g.edges[k][i + 1]));
        }
    }
    for (std::size_t j = 0; j < 3; ++j) {
        for (std::size_t i = 0; i < 4; ++i) {
            const double r0 = g.edges[0][i];
            const double r1 = g.edges[0][i + 1];
            g.volume.push_back(std::numbers::pi * (r1 * r1 - r0 * r0) * (g.edges[1][j + 1] - g.edges[1][j]));
        }
    }
    return g;
}

const std::vector<cadyn::observable_info> trace_observables{
    {"cyt.ca", "uM"}, {"pmca.ca_flux", "amol/s"}, {"fluo4.F_F0", ""}};

void write_traces(cadyn::hdf5_recorder& out) {
    out.begin(trace_observables);
    std::vector<double> row(trace_observables.size());
    for (std::size_t i = 0; i < trace_records; ++i) {
        for (std::size_t j = 0; j < row.size(); ++j) {
            row[j] = trace_value(i, j);
        }
        out.record(0.5 * static_cast<double>(i), row);
        if (i == trace_records / 3) {
            out.flush();
        }
    }
}

void write_fields(cadyn::hdf5_recorder& out, const std::vector<cadyn::observable_info>& fields, std::size_t voxels,
                  std::size_t records) {
    out.begin_fields(fields, voxels);
    std::vector<double> values(fields.size() * voxels);
    for (std::size_t i = 0; i < records; ++i) {
        for (std::size_t f = 0; f < fields.size(); ++f) {
            for (std::size_t v = 0; v < voxels; ++v) {
                values[f * voxels + v] = field_value(i, f, v, voxels);
            }
        }
        out.append_fields(2.5 * static_cast<double>(i), values);
    }
}

// The cable file: traces, the grid and two fields.
fs::path write_cable_file(const fs::path& dir) {
    const auto path = dir / "cable.h5";
    cadyn::hdf5_recorder out(path, metadata());
    const auto g = cable_grid();
    out.write_grid(g, "cable");
    write_traces(out);
    write_fields(out, {{"cyt.ca", "uM"}, {"cyt.calbindin", "uM"}}, g.size(), cable_field_records);
    out.end();
    return path;
}

// The axisymmetric file: the grid and one field; no observables in the traces.
fs::path write_axisymmetric_file(const fs::path& dir) {
    const auto path = dir / "axisym.h5";
    cadyn::hdf5_recorder out(path, metadata());
    const auto g = axisymmetric_grid();
    out.write_grid(g, "axisymmetric");
    out.begin({});
    write_fields(out, {{"cyt.ca", "uM"}}, g.size(), axisymmetric_field_records);
    for (std::size_t i = 0; i < 3; ++i) {
        out.record(static_cast<double>(i), {});
    }
    out.end();
    return path;
}

// --- Reading back with the C API ---

class h5 {
public:
    h5(hid_t id, herr_t (*closer)(hid_t)): id_(id), close_(closer) {}
    ~h5() {
        if (id_ >= 0) {
            close_(id_);
        }
    }
    h5(const h5&) = delete;
    h5& operator=(const h5&) = delete;
    hid_t get() const { return id_; }
    bool valid() const { return id_ >= 0; }

private:
    hid_t id_;
    herr_t (*close_)(hid_t);
};

h5 open_file(const fs::path& path) { return {H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose}; }

// A scalar variable-length UTF-8 string attribute; "<missing>" and a failed expectation when it is not one.
std::string string_attribute(hid_t object, const char* path, const char* name) {
    h5 attribute{H5Aopen_by_name(object, path, name, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
    if (!attribute.valid()) {
        ADD_FAILURE() << "no attribute " << path << " @" << name;
        return "<missing>";
    }
    h5 type{H5Aget_type(attribute.get()), H5Tclose};
    EXPECT_EQ(H5Tget_class(type.get()), H5T_STRING);
    EXPECT_GT(H5Tis_variable_str(type.get()), 0) << name;
    EXPECT_EQ(H5Tget_cset(type.get()), H5T_CSET_UTF8) << name;
    h5 memory{H5Tcopy(H5T_C_S1), H5Tclose};
    H5Tset_size(memory.get(), H5T_VARIABLE);
    H5Tset_cset(memory.get(), H5T_CSET_UTF8);
    char* text = nullptr;
    EXPECT_GE(H5Aread(attribute.get(), memory.get(), &text), 0);
    std::string value = text != nullptr ? text : "";
    H5free_memory(text);
    return value;
}

std::vector<std::int64_t> integer_attribute(hid_t object, const char* path, const char* name) {
    h5 attribute{H5Aopen_by_name(object, path, name, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
    if (!attribute.valid()) {
        ADD_FAILURE() << "no attribute " << path << " @" << name;
        return {};
    }
    h5 space{H5Aget_space(attribute.get()), H5Sclose};
    std::vector<std::int64_t> values(static_cast<std::size_t>(H5Sget_simple_extent_npoints(space.get())));
    EXPECT_GE(H5Aread(attribute.get(), H5T_NATIVE_INT64, values.data()), 0);
    return values;
}

struct dataset_contents {
    std::vector<hsize_t> dims;
    std::vector<hsize_t> max_dims;
    bool chunked = false;
    std::vector<double> values;
};

dataset_contents read_dataset(hid_t file, const std::string& path) {
    dataset_contents c;
    h5 dataset{H5Dopen2(file, path.c_str(), H5P_DEFAULT), H5Dclose};
    if (!dataset.valid()) {
        ADD_FAILURE() << "no dataset " << path;
        return c;
    }
    h5 type{H5Dget_type(dataset.get()), H5Tclose};
    EXPECT_GT(H5Tequal(type.get(), H5T_IEEE_F64LE), 0) << path << " is not float64";
    h5 space{H5Dget_space(dataset.get()), H5Sclose};
    const int rank = H5Sget_simple_extent_ndims(space.get());
    c.dims.resize(static_cast<std::size_t>(rank));
    c.max_dims.resize(static_cast<std::size_t>(rank));
    H5Sget_simple_extent_dims(space.get(), c.dims.data(), c.max_dims.data());
    h5 dcpl{H5Dget_create_plist(dataset.get()), H5Pclose};
    c.chunked = H5Pget_layout(dcpl.get()) == H5D_CHUNKED;
    c.values.resize(static_cast<std::size_t>(H5Sget_simple_extent_npoints(space.get())));
    if (!c.values.empty()) {
        EXPECT_GE(H5Dread(dataset.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, c.values.data()), 0);
    }
    return c;
}

std::string model_text(hid_t file) {
    h5 dataset{H5Dopen2(file, "/model", H5P_DEFAULT), H5Dclose};
    if (!dataset.valid()) {
        ADD_FAILURE() << "no /model";
        return {};
    }
    h5 memory{H5Tcopy(H5T_C_S1), H5Tclose};
    H5Tset_size(memory.get(), H5T_VARIABLE);
    H5Tset_cset(memory.get(), H5T_CSET_UTF8);
    char* text = nullptr;
    EXPECT_GE(H5Dread(dataset.get(), memory.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &text), 0);
    std::string value = text != nullptr ? text : "";
    H5free_memory(text);
    return value;
}

void expect_root_attributes(hid_t file) {
    EXPECT_EQ(string_attribute(file, "/", "format"), "cadyn-hdf5 1");
    EXPECT_EQ(string_attribute(file, "/", "cadyn_version"), CADYN_TEST_VERSION);
    EXPECT_EQ(string_attribute(file, "/", "model_name"), "soma");
    EXPECT_EQ(string_attribute(file, "/", "model_source"), "models/soma.toml");
    EXPECT_EQ(string_attribute(file, "/", "seed"), "42");
    EXPECT_EQ(string_attribute(file, "/", "start"), "rest");
    EXPECT_EQ(string_attribute(file, "/", "solver"), "CVODE BDF");
    EXPECT_EQ(string_attribute(file, "/", "note"), "r = 5 \xC2\xB5m");
    EXPECT_EQ(model_text(file), metadata().model_text);
}

TEST(hdf5, traces_grid_and_fields_read_back_exactly) {
    const scratch_dir dir("cable");
    const auto path = write_cable_file(dir.path());
    EXPECT_TRUE(fs::exists(path));
    EXPECT_FALSE(fs::exists(path.string() + ".partial"));

    h5 file = open_file(path);
    ASSERT_TRUE(file.valid());
    expect_root_attributes(file.get());

    // Traces: time and one dataset per observable, extendible and chunked, units attached.
    const auto time = read_dataset(file.get(), "/traces/time");
    EXPECT_THAT(time.dims, ElementsAre(trace_records));
    EXPECT_THAT(time.max_dims, ElementsAre(H5S_UNLIMITED));
    EXPECT_TRUE(time.chunked);
    EXPECT_EQ(string_attribute(file.get(), "/traces/time", "unit"), "ms");
    for (std::size_t i = 0; i < trace_records && i < time.values.size(); ++i) {
        ASSERT_EQ(time.values[i], 0.5 * static_cast<double>(i)) << i;
    }
    for (std::size_t j = 0; j < trace_observables.size(); ++j) {
        const auto name = "/traces/" + trace_observables[j].name;
        const auto c = read_dataset(file.get(), name);
        ASSERT_THAT(c.dims, ElementsAre(trace_records)) << name;
        EXPECT_TRUE(c.chunked);
        EXPECT_EQ(string_attribute(file.get(), name.c_str(), "unit"), trace_observables[j].unit);
        for (std::size_t i = 0; i < trace_records; ++i) {
            ASSERT_EQ(c.values[i], trace_value(i, j)) << name << " record " << i;
        }
    }

    // The grid.
    const auto g = cable_grid();
    EXPECT_EQ(string_attribute(file.get(), "/grid", "geometry"), "cable");
    EXPECT_THAT(integer_attribute(file.get(), "/grid", "dimensions"), ElementsAre(1));
    EXPECT_THAT(integer_attribute(file.get(), "/grid", "shape"), ElementsAre(5, 1, 1));
    EXPECT_EQ(read_dataset(file.get(), "/grid/volume").values, g.volume);
    EXPECT_EQ(read_dataset(file.get(), "/grid/centres_0").values, g.centres[0]);
    EXPECT_EQ(read_dataset(file.get(), "/grid/edges_0").values, g.edges[0]);
    EXPECT_EQ(string_attribute(file.get(), "/grid/volume", "unit"), "um^3");
    EXPECT_EQ(string_attribute(file.get(), "/grid/centres_0", "unit"), "um");
    EXPECT_EQ(string_attribute(file.get(), "/grid/edges_0", "unit"), "um");
    EXPECT_LE(H5Lexists(file.get(), "/grid/centres_1", H5P_DEFAULT), 0);

    // Fields: [records, voxels], voxel index fastest.
    const auto field_time = read_dataset(file.get(), "/fields/time");
    EXPECT_THAT(field_time.dims, ElementsAre(cable_field_records));
    EXPECT_EQ(string_attribute(file.get(), "/fields/time", "unit"), "ms");
    const std::vector<std::string> fields{"cyt.ca", "cyt.calbindin"};
    for (std::size_t f = 0; f < fields.size(); ++f) {
        const auto name = "/fields/" + fields[f];
        const auto c = read_dataset(file.get(), name);
        ASSERT_THAT(c.dims, ElementsAre(cable_field_records, 5)) << name;
        EXPECT_THAT(c.max_dims, ElementsAre(H5S_UNLIMITED, 5));
        EXPECT_TRUE(c.chunked);
        EXPECT_EQ(string_attribute(file.get(), name.c_str(), "unit"), "uM");
        for (std::size_t i = 0; i < cable_field_records; ++i) {
            EXPECT_EQ(field_time.values[i], 2.5 * static_cast<double>(i));
            for (std::size_t v = 0; v < 5; ++v) {
                ASSERT_EQ(c.values[i * 5 + v], field_value(i, f, v, 5)) << name << " " << i << " " << v;
            }
        }
    }
}

TEST(hdf5, axisymmetric_grid_has_two_axes) {
    const scratch_dir dir("axisym");
    const auto path = write_axisymmetric_file(dir.path());
    h5 file = open_file(path);
    ASSERT_TRUE(file.valid());
    const auto g = axisymmetric_grid();
    EXPECT_EQ(string_attribute(file.get(), "/grid", "geometry"), "axisymmetric");
    EXPECT_THAT(integer_attribute(file.get(), "/grid", "dimensions"), ElementsAre(2));
    EXPECT_THAT(integer_attribute(file.get(), "/grid", "shape"), ElementsAre(4, 3, 1));
    for (std::size_t k = 0; k < 2; ++k) {
        EXPECT_EQ(read_dataset(file.get(), "/grid/centres_" + std::to_string(k)).values, g.centres[k]);
        EXPECT_EQ(read_dataset(file.get(), "/grid/edges_" + std::to_string(k)).values, g.edges[k]);
    }
    EXPECT_EQ(read_dataset(file.get(), "/grid/volume").values, g.volume);
    const auto c = read_dataset(file.get(), "/fields/cyt.ca");
    ASSERT_THAT(c.dims, ElementsAre(axisymmetric_field_records, 12));
    for (std::size_t i = 0; i < axisymmetric_field_records; ++i) {
        for (std::size_t v = 0; v < 12; ++v) {
            ASSERT_EQ(c.values[i * 12 + v], field_value(i, 0, v, 12));
        }
    }
    // Traces with no observables: the time axis alone.
    EXPECT_THAT(read_dataset(file.get(), "/traces/time").values, ElementsAre(0.0, 1.0, 2.0));
}

TEST(hdf5, a_large_grid_is_chunked_within_a_record) {
    const scratch_dir dir("large");
    const auto path = dir / "large.h5";
    constexpr std::size_t voxels = 100000;  // more values than one chunk holds
    {
        cadyn::hdf5_recorder out(path, {});
        write_fields(out, {{"cyt.ca", "uM"}}, voxels, 3);
        out.end();
    }
    h5 file = open_file(path);
    ASSERT_TRUE(file.valid());
    EXPECT_EQ(string_attribute(file.get(), "/", "model_name"), "");
    EXPECT_EQ(model_text(file.get()), "");
    const auto c = read_dataset(file.get(), "/fields/cyt.ca");
    ASSERT_THAT(c.dims, ElementsAre(3, voxels));
    for (std::size_t i = 0; i < 3; ++i) {
        for (std::size_t v = 0; v < voxels; ++v) {
            ASSERT_EQ(c.values[i * voxels + v], field_value(i, 0, v, voxels));
        }
    }
}

TEST(hdf5, a_run_that_does_not_end_keeps_the_partial_file) {
    const scratch_dir dir("partial");
    const auto path = dir / "out.h5";
    {
        cadyn::hdf5_recorder out(path, metadata());
        out.begin(trace_observables);
        const std::vector<double> row{1, 2, 3};
        for (int i = 0; i < 10; ++i) {
            out.record(i, row);
        }
        out.flush();
        out.record(10, row);  // buffered only: the destructor writes it
    }
    EXPECT_FALSE(fs::exists(path));
    ASSERT_TRUE(fs::exists(path.string() + ".partial"));
    h5 file = open_file(path.string() + ".partial");
    ASSERT_TRUE(file.valid());
    EXPECT_THAT(read_dataset(file.get(), "/traces/time").dims, ElementsAre(11));
    EXPECT_THAT(read_dataset(file.get(), "/traces/cyt.ca").values, testing::Each(1.0));
}

TEST(hdf5, an_unwritable_path_throws_output_error) {
    const scratch_dir dir("unwritable");
    // A path below a regular file cannot be created, even by root.
    std::ofstream(dir / "file") << "x";
    const auto path = dir / "file" / "out.h5";
    try {
        cadyn::hdf5_recorder out(path, metadata());
        FAIL() << "expected output_error";
    }
    catch (const cadyn::output_error& e) {
        EXPECT_THAT(e.what(), HasSubstr(path.string() + ".partial"));
    }
}

// A write that fails (here: past a file size limit, as on a full disk) is an output_error naming the file, and the
// process still exits normally afterwards (HDF5 1.10 crashes at exit after a failed H5Fclose unless its exit
// handler is off, see src/io/hdf5.cpp).
TEST(hdf5, a_failed_write_throws_output_error_and_the_process_exits_cleanly) {
    const scratch_dir dir("full");
    const auto path = dir / "out.h5";
    const auto run = [&path] {
#ifdef CADYN_TEST_LSAN
        // HDF5 1.10 leaks the buffer of a chunk it failed to write (its bug, in its error path): not ours to report.
        __lsan_disable();
#endif
        std::signal(SIGXFSZ, SIG_IGN);
        const rlimit limit{256 * 1024, 256 * 1024};
        setrlimit(RLIMIT_FSIZE, &limit);
        try {
            cadyn::hdf5_recorder out(path, metadata());
            const auto g = cable_grid();
            out.write_grid(g, "cable");
            write_traces(out);
            write_fields(out, {{"cyt.ca", "uM"}}, 20000, 20);  // 3 MB
            out.end();
        }
        catch (const cadyn::output_error& e) {
            std::cerr << "output_error: " << e.what() << std::endl;
            std::exit(4);
        }
        std::exit(1);
    };
    EXPECT_EXIT(run(), testing::ExitedWithCode(4), "output_error: writing '.*out\\.h5\\.partial' failed: .*too large");
    EXPECT_FALSE(fs::exists(path));
}

TEST(hdf5, names_that_are_not_one_hdf5_link_are_refused) {
    const scratch_dir dir("names");
    cadyn::hdf5_recorder out(dir / "out.h5", metadata());
    EXPECT_THROW(out.begin({{"a/b", "uM"}}), cadyn::output_error);
    EXPECT_THROW(out.begin({{"time", "ms"}}), cadyn::output_error);
    EXPECT_THROW(out.begin({{"cyt.ca", "uM"}, {"cyt.ca", "uM"}}), cadyn::output_error);
    EXPECT_THROW(out.begin_fields({{"", "uM"}}, 3), cadyn::output_error);
    try {
        out.begin_fields({{"er/ca", "uM"}}, 3);
        FAIL() << "expected output_error";
    }
    catch (const cadyn::output_error& e) {
        EXPECT_THAT(e.what(), HasSubstr("'er/ca'"));
        EXPECT_THAT(e.what(), HasSubstr("out.h5.partial"));
    }
    // Dots are fine; begin() may be called again (the traces start afresh).
    out.begin({{"cyt.ca", "uM"}});
    out.begin({{"cyt.ca", "uM"}});
    out.record(0, std::vector<double>{1.0});
    out.end();
    EXPECT_TRUE(fs::exists(dir / "out.h5"));
}

// h5py reads the same files (shapes, values, attributes as str, units), and scripts/plot_fields.py plots them.
TEST(hdf5, h5py_reads_the_files_and_plot_fields_plots_them) {
    const scratch_dir dir("h5py");
    const auto cable = write_cable_file(dir.path());
    const auto axisym = write_axisymmetric_file(dir.path());
    const auto script = fs::path(CADYN_SOURCE_DIR) / "tests" / "python" / "read_hdf5.py";
    const auto command = "/usr/bin/python3 '" + script.string() + "' '" + cable.string() + "' '" + axisym.string() +
                         "' '" + (dir / "plots").string() + "' '" CADYN_TEST_VERSION "'";
    const int status = std::system(command.c_str());
    ASSERT_EQ(status, 0) << command << " (see its output above; scripts/setup.sh installs python3-h5py)";
}

} // namespace
