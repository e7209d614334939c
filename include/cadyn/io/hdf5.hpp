#pragma once
// HDF5 output: traces, spatial fields and run metadata in one file, readable with h5py.
//
// Layout (every dataset float64, extendible along time, chunked; units in a "unit" attribute):
//   /                   attributes: cadyn_version, model_name, model_source, format ("cadyn-hdf5 1"), plus any
//                       given as run_metadata::attributes (seed, start, solver, ...)
//   /model              string dataset: the model file's text (empty for a model built in code)
//   /traces/time        [records]            ms
//   /traces/<name>      [records]            one per recorded observable ("cyt.ca", "pmca.ca_flux")
//   /grid               attributes: geometry ("cable", "shells", ...), dimensions, shape (3 integers)
//   /grid/volume        [voxels]             um^3
//   /grid/centres_<k>   [shape[k]]           um, cell centres along axis k (k = 0, 1, 2 up to dimensions)
//   /grid/edges_<k>     [shape[k] + 1]       um, cell edges along axis k
//   /fields/time        [records]            ms
//   /fields/<name>      [records, voxels]    one per recorded field ("cyt.ca"); voxel index runs fastest along
//                                            axis 0 (reshape a row to shape[::-1] in numpy, C order)
// The file is written as PATH.partial and renamed to PATH by close(); a run that fails keeps PATH.partial.

#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <cadyn/geometry.hpp>
#include <cadyn/simulate.hpp>

namespace cadyn {

struct run_metadata {
    std::string model_name;
    std::string model_source;   // the file it came from
    std::string model_text;     // its text
    std::vector<std::pair<std::string, std::string>> attributes;  // more root attributes
};

class hdf5_recorder final: public recorder {
public:
    // Creates PATH.partial (throws output_error from cadyn/io/csv.hpp when it cannot).
    hdf5_recorder(std::filesystem::path path, const run_metadata& metadata);
    ~hdf5_recorder() override;  // closes the file without renaming it
    hdf5_recorder(const hdf5_recorder&) = delete;
    hdf5_recorder& operator=(const hdf5_recorder&) = delete;

    // Traces (the recorder interface): /traces/time and one dataset per observable.
    void begin(const std::vector<observable_info>& observables) override;
    void record(double t, std::span<const double> values) override;
    void end() override;    // closes and renames PATH.partial to PATH
    void flush() override;  // H5Fflush

    // Fields: call write_grid and begin_fields once, then append_fields at every record time with
    // fields.size() * voxels values, field after field.
    void write_grid(const grid& g, const std::string& geometry_name);
    void begin_fields(const std::vector<observable_info>& fields, std::size_t voxels);
    void append_fields(double t, std::span<const double> values);

    const std::filesystem::path& path() const { return path_; }

private:
    struct impl;
    std::unique_ptr<impl> impl_;
    std::filesystem::path path_;
};

} // namespace cadyn
