// _cadyn: the extension module behind the Python package `cadyn` (python/cadyn/__init__.py, issue #6).
//
// It wraps the pipeline of `cadyn run` (apps/cadyn/run.cpp): a model (model_spec, read by the TOML reader) whose
// parameters can be changed with units, compile(), simulate() into an in-memory recorder that keeps every
// observable and, for spatial models, fields voxel by voxel, then the analysis (transient summary, budgets,
// balances, ATP). The Python side (cadyn/__init__.py, cadyn/result.py) adds the documented API and plotting.
//
// Errors: cadyn's exceptions become Python exceptions with the same text the CLI prints (without its "error: "
// prefix): model_error -> cadyn.ModelError (a ValueError) with .problems; unit_error -> cadyn.UnitError (a
// ModelError); solver_error -> cadyn.SolverError (a RuntimeError); output_error -> cadyn.OutputError (an OSError);
// any other cadyn::error -> cadyn.Error, their common base.
//
// Arrays handed to Python are read-only numpy views of the vectors a RunData owns (no copies); the RunData stays
// alive as long as any of them does.
#include <Python.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include <cadyn/analysis.hpp>
#include <cadyn/catalogue.hpp>
#include <cadyn/error.hpp>
#include <cadyn/geometry.hpp>
#include <cadyn/io/checkpoint.hpp>
#include <cadyn/io/csv.hpp>
#include <cadyn/io/hdf5.hpp>
#include <cadyn/io/model_file.hpp>
#include <cadyn/model.hpp>
#include <cadyn/settings.hpp>
#include <cadyn/simulate.hpp>
#include <cadyn/system.hpp>
#include <cadyn/units.hpp>

namespace py = pybind11;

namespace cadyn::python {

namespace {

// ---------------------------------------------------------------------------------------------------- exceptions

struct exception_types {
    PyObject* error = nullptr;
    PyObject* model_error = nullptr;
    PyObject* unit_error = nullptr;
    PyObject* solver_error = nullptr;
    PyObject* output_error = nullptr;
};
exception_types exceptions;

// A new exception class cadyn.NAME deriving from `bases` (a class or a tuple of classes), added to the module.
PyObject* new_exception(py::module_& m, const char* name, PyObject* bases, const char* doc) {
    const std::string qualified = std::string("cadyn.") + name;
    PyObject* type = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, bases, nullptr);
    if (type == nullptr) {
        throw py::error_already_set();
    }
    m.add_object(name, py::handle(type));  // the module keeps a reference; `exceptions` borrows it
    return type;
}

// Raise `type` with `message`; for a model_error the exception also gets .problems, one dict per diagnostic.
void raise(PyObject* type, const char* message, const std::vector<diagnostic>* problems = nullptr) {
    py::object exc = py::reinterpret_borrow<py::object>(type)(py::str(message));
    py::list list;
    if (problems != nullptr) {
        for (const auto& p: *problems) {
            py::dict d;
            d["file"] = p.where.file;
            d["line"] = p.where.line;
            d["column"] = p.where.column;
            d["key"] = p.key;
            d["message"] = p.message;
            list.append(d);
        }
    }
    exc.attr("problems") = list;
    PyErr_SetObject(type, exc.ptr());
}

void translate(std::exception_ptr p) {
    try {
        std::rethrow_exception(p);
    }
    catch (const model_error& e) {
        raise(exceptions.model_error, e.what(), &e.problems());
    }
    catch (const unit_error& e) {
        raise(exceptions.unit_error, e.what());
    }
    catch (const solver_error& e) {
        raise(exceptions.solver_error, e.what());
    }
    catch (const output_error& e) {
        raise(exceptions.output_error, e.what());
    }
    catch (const error& e) {
        raise(exceptions.error, e.what());
    }
}

// A model_error for one problem found in the Python API (no file or line: the key is what the user typed).
[[noreturn]] void fail(const std::string& key, const std::string& message) {
    diagnostic d;
    d.key = key;
    d.message = message;
    throw model_error({d});
}

// ---------------------------------------------------------------------------------------------------- the model

// Where a value set from Python is reported by validate(): no file, no line.
const source_location set_from_python{"model.set", 0, 0};

struct py_model {
    model_spec spec;
    std::string text;    // the TOML it was read from (results.h5 keeps it)
    std::string origin;  // the file, "<string>" or the like, or "" for the built-in default model
};

// A TOML model file. (SBML: cadyn.load() sends .xml/.sbml files to its _load_sbml hook, which raises
// NotImplementedError until the SBML reader (include/cadyn/io/sbml.hpp, issue #6) is in the library; then add a
// model_from_sbml(path) here that keeps the file's text and the imported model_spec, expose it as
// Model(sbml=path), and make _load_sbml call that.)
py_model model_from_file(const std::filesystem::path& path) {
    py_model m;
    m.text = read_model_text(path);  // the CLI's "cannot open the model file" when it cannot
    m.origin = path.string();
    m.spec = parse_model(m.text, m.origin);
    return m;
}

py_model model_from_text(const std::string& text, const std::string& source_name) {
    py_model m;
    m.text = text;
    m.origin = source_name;
    m.spec = parse_model(text, source_name);
    return m;
}

py_model builtin_default_model() {
    py_model m;
    m.text = std::string(default_model_text());
    m.spec = default_model();
    return m;
}

// A Python value as quantity text: a str as it is, a number by its repr (so that a bare number is accepted where
// the units module accepts one: dimensionless values).
std::string quantity_text_of(const py::handle& value, const std::string& key) {
    if (py::isinstance<py::str>(value)) {
        return value.cast<std::string>();
    }
    if (!py::isinstance<py::bool_>(value) && (py::isinstance<py::int_>(value) || py::isinstance<py::float_>(value))) {
        return py::repr(value).cast<std::string>();
    }
    fail(key, fmt::format("expected a quantity string such as \"0.2 uM\" (or a number for a dimensionless value), "
                          "got a {}",
                          py::str(py::type::of(value).attr("__name__")).cast<std::string>()));
}

std::string list_names(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n: names) {
        out += (out.empty() ? "" : ", ") + n;
    }
    return out;
}

// model.set(key, value): change one value of the model, then validate it as the model reader does
// (set_model_value, include/cadyn/settings.hpp). The model is unchanged when anything is wrong.
void set_value(py_model& pm, const std::string& key, const py::handle& value) {
    const auto* s = find_model_setting(key);
    const std::string full = s == nullptr ? std::string() : s->key;
    std::string text;
    if (full == "run.max_steps" || full == "run.seed") {
        const bool whole = py::isinstance<py::int_>(value) && !py::isinstance<py::bool_>(value);
        if (!whole) {
            fail(key, full == "run.max_steps"
                          ? "expected a positive whole number of solver steps (e.g. 1000000)"
                          : "expected a whole number >= 0 (the seed of the stochastic channels' random numbers)");
        }
        text = py::str(value).cast<std::string>();
    }
    else {
        text = quantity_text_of(value, key);
    }
    set_model_value(pm.spec, key, text, set_from_python);
}

// model.get(key): the value in canonical units and that unit ("" for a user parameter, whose unit the model does
// not keep, and for run.start).
std::pair<py::object, std::string> get_value(const py_model& pm, const std::string& key) {
    const model_spec& m = pm.spec;
    if (const auto* s = find_model_setting(key)) {
        const std::string full = s->key;
        if (full == "run.start") {
            return {py::str(m.run.start == start_from::steady_state ? "steady_state" : "initial"), ""};
        }
        if (full == "run.max_steps") {
            return {py::int_(m.run.max_steps), "1"};
        }
        if (full == "run.seed") {
            return {py::int_(m.run.seed), "1"};
        }
    }
    std::string unit;
    const double value = model_number(m, key, unit);
    return {py::float_(value), unit};
}

// Every value model.set() can change, with its canonical unit.
py::dict all_parameters(const py_model& pm) {
    const model_spec& m = pm.spec;
    py::dict out;
    for (const auto& mech: m.mechanisms) {
        const auto* impl = find_mechanism(mech.type);
        if (impl == nullptr) {
            continue;
        }
        for (const auto& field: impl->info().parameters) {
            const auto it = mech.parameters.find(std::string(field.name));
            if (it != mech.parameters.end()) {
                out[py::str(mech.name + "." + std::string(field.name))] =
                    py::make_tuple(it->second, std::string(field.dim->canonical));
            }
        }
    }
    for (const auto& c: m.compartments) {
        for (const auto& [species, value]: c.initial) {
            out[py::str(c.name + "." + species)] = py::make_tuple(value, "uM");
        }
    }
    for (const auto& p: m.parameters) {
        out[py::str("parameters." + p.name)] = py::make_tuple(p.value, "");
    }
    for (const auto& s: model_settings()) {
        const auto [value, unit] = get_value(pm, s.key);
        out[py::str(s.key)] = py::make_tuple(value, unit);
    }
    return out;
}

std::optional<start_from> parse_start(const std::optional<std::string>& start) {
    if (!start) {
        return std::nullopt;
    }
    if (*start == "initial") {
        return start_from::initial;
    }
    if (*start == "steady_state") {
        return start_from::steady_state;
    }
    fail("start", fmt::format("expected \"initial\" or \"steady_state\", got \"{}\"", *start));
}

// ---------------------------------------------------------------------------------------------------- a run

// Everything a run leaves for Python: the records (one vector per observable), the fields (one [records x voxels]
// block per field), the grid, the budget and its analysis.
struct run_data {
    std::string model_name;
    std::string model_origin;
    std::string model_text;
    std::vector<observable_info> observables;
    std::vector<double> times;                  // [ms]
    std::vector<std::vector<double>> columns;   // per observable, per record
    std::vector<observable_info> fields;
    std::vector<std::size_t> field_offsets;     // into y
    std::vector<std::vector<double>> field_values;  // per field: records x voxels, row-major
    std::optional<grid> mesh;
    std::string geometry;
    std::vector<flux_channel> channels;
    std::vector<double> budget;                 // [zmol] per channel
    std::vector<removal> removed;
    std::vector<atp_use> atp;
    std::vector<balance> balances_;
    std::optional<steady_state> rest;
    solver_statistics stats;
    std::vector<std::string> state_names;
    std::vector<double> y0;
    std::vector<double> y_end;
    double t_end = 0;
    double last_stimulus = std::numeric_limits<double>::infinity();  // no stimulus: infinity
    std::vector<double> breakpoints;
    std::string report;                         // "cyt.ca", or "" when the model has no free compartment
    std::string start;                          // "initial" or "steady_state"
    double rtol = 0;
    double atol = 0;

    std::size_t index_of(const std::string& name) const {
        for (std::size_t k = 0; k < observables.size(); ++k) {
            if (observables[k].name == name) {
                return k;
            }
        }
        return observables.size();
    }
};

// Keeps every record, and the chosen fields at every record, in a run_data.
class python_recorder final: public recorder {
public:
    // keep: the observables to record, by name (every one when empty); simulate() computes only those.
    python_recorder(run_data& d, std::vector<std::string> keep): d_(d), keep_(std::move(keep)) {}

    std::vector<char> wanted(const std::vector<observable_info>& observables) const override {
        std::vector<char> w(observables.size(), keep_.empty() ? 1 : 0);
        for (std::size_t k = 0; k < observables.size() && !keep_.empty(); ++k) {
            w[k] = std::find(keep_.begin(), keep_.end(), observables[k].name) != keep_.end() ? 1 : 0;
        }
        return w;
    }
    void begin(const std::vector<observable_info>& observables) override {
        const auto w = wanted(observables);
        index_.clear();
        d_.observables.clear();
        for (std::size_t k = 0; k < observables.size(); ++k) {
            if (w[k] != 0) {
                index_.push_back(k);
                d_.observables.push_back(observables[k]);
            }
        }
        d_.times.clear();
        d_.columns.assign(index_.size(), {});
        d_.field_values.assign(d_.fields.size(), {});
    }
    void record(double t, std::span<const double> values) override {
        d_.times.push_back(t);
        for (std::size_t j = 0; j < index_.size(); ++j) {
            d_.columns[j].push_back(values[index_[j]]);
        }
    }
    void record_state(double, const double* y) override {
        if (!d_.mesh) {
            return;
        }
        const std::size_t n = d_.mesh->size();
        for (std::size_t k = 0; k < d_.fields.size(); ++k) {
            d_.field_values[k].insert(d_.field_values[k].end(), y + d_.field_offsets[k], y + d_.field_offsets[k] + n);
        }
    }
    double bytes_per_record(std::size_t columns) const override {
        // 8 bytes per value, the time and every field's voxels; x 2 for the spare capacity of growing vectors.
        const std::size_t voxels = d_.mesh ? d_.mesh->size() : 0;
        const std::size_t kept = keep_.empty() ? columns : std::min(columns, keep_.size());
        return 2.0 * 8.0 * static_cast<double>(kept + 1 + d_.fields.size() * voxels);
    }

private:
    run_data& d_;
    std::vector<std::string> keep_;
    std::vector<std::size_t> index_;  // per kept column: its observable
};

// The observables to record: None -> every one (an empty list); a name or a list of names -> those, each checked.
std::vector<std::string> choose_observables(const system& sys, const py::object& observables) {
    if (observables.is_none()) {
        return {};
    }
    std::vector<std::string> wanted;
    if (py::isinstance<py::str>(observables)) {
        wanted.push_back(observables.cast<std::string>());
    }
    else {
        wanted = observables.cast<std::vector<std::string>>();
    }
    std::vector<std::string> names;
    for (const auto& o: sys.observables()) {
        names.push_back(o.name);
    }
    if (wanted.empty()) {
        fail("observables", fmt::format("expected None or observable names; the model's observables are: {}",
                                        list_names(names)));
    }
    for (const auto& w: wanted) {
        if (std::find(names.begin(), names.end(), w) == names.end()) {
            fail("observables",
                 fmt::format("no observable named '{}'; the model's observables are: {}", w, list_names(names)));
        }
    }
    return wanted;
}

// "cyt.ca" (a species in a compartment) rather than "calbindin.bound" (a mechanism state).
bool is_species_field(const model_spec& m, const std::string& name) {
    const auto dot = name.find('.');
    return dot != std::string::npos && m.find_compartment(name.substr(0, dot)) != nullptr &&
           m.find_species(name.substr(dot + 1)) != nullptr;
}

// The fields to keep: None -> the model's record.fields, else every spatial species (as `cadyn run`); "all" ->
// every field; a list -> those.
void choose_fields(run_data& d, const system& sys, const py::object& fields) {
    if (sys.mesh() == nullptr) {
        if (!fields.is_none() && !(py::isinstance<py::str>(fields) && fields.cast<std::string>() == "all") &&
            py::len(fields) > 0) {
            fail("fields", "this is not a spatial model (no [geometry]): it has no fields");
        }
        return;
    }
    const auto& all = sys.fields();
    std::vector<std::string> wanted;
    bool every = false;
    if (fields.is_none()) {
        wanted = sys.model().record.fields;
    }
    else if (py::isinstance<py::str>(fields)) {
        if (fields.cast<std::string>() != "all") {
            fail("fields", "expected None, \"all\" or a list of field names such as [\"cyt.ca\"]");
        }
        every = true;
    }
    else {
        wanted = fields.cast<std::vector<std::string>>();
        if (wanted.empty()) {
            return;
        }
    }
    std::vector<std::string> names;
    for (const auto& f: all) {
        names.push_back(f.name);
    }
    for (const auto& w: wanted) {
        if (std::find(names.begin(), names.end(), w) == names.end()) {
            fail("fields", fmt::format("no field named '{}'; the model's fields are: {}", w, list_names(names)));
        }
    }
    for (std::size_t k = 0; k < all.size(); ++k) {
        const bool chosen = every ? true
                            : wanted.empty()
                                ? is_species_field(sys.model(), all[k].name)
                                : std::find(wanted.begin(), wanted.end(), all[k].name) != wanted.end();
        if (chosen) {
            d.fields.push_back(all[k]);
            d.field_offsets.push_back(sys.field_offset(k));
        }
    }
}

std::shared_ptr<run_data> run_model(const py_model& pm, const std::optional<std::string>& t_end,
                                    const std::optional<std::string>& start, const py::object& fields,
                                    const py::object& observables, const std::optional<long long>& seed) {
    simulation_options options;
    if (t_end) {
        options.t_end = to_canonical(*t_end, dims::time);  // the CLI's --t-end message, word for word
    }
    options.start = parse_start(start);
    model_spec spec = pm.spec;
    if (seed) {
        if (*seed < 0) {
            throw error(fmt::format("seed must be a whole number >= 0, got {}", *seed));
        }
        spec.run.seed = static_cast<std::uint64_t>(*seed);
    }
    system sys = compile(std::move(spec));
    const model_spec& model = sys.model();

    auto d = std::make_shared<run_data>();
    d->model_name = model.name;
    d->model_origin = pm.origin;
    d->model_text = pm.text;
    d->state_names = sys.state_names();
    d->channels = sys.flux_channels();
    d->start = options.start.value_or(model.run.start) == start_from::steady_state ? "steady_state" : "initial";
    d->rtol = model.run.rtol;
    d->atol = model.run.atol;
    if (const auto* g = sys.mesh()) {
        d->mesh = *g;
        d->geometry = geometry_name(model.geometry.type);
    }
    choose_fields(*d, sys, fields);
    python_recorder out(*d, choose_observables(sys, observables));

    // Ctrl-C: checked at output steps at most every 20 ms of wall time (the GIL is taken for it only then: taking
    // it at each of 10001 output steps cost a 200 s Li-Rinzel run a third of its time, and let threads that run
    // models side by side wait on each other); the run stops and KeyboardInterrupt propagates once the GIL is
    // back.
    bool interrupted_by_signal = false;
    auto last_check = std::chrono::steady_clock::now();
    options.should_stop = [&interrupted_by_signal, &last_check] {
        const auto now = std::chrono::steady_clock::now();
        if (now - last_check < std::chrono::milliseconds(20)) {
            return false;
        }
        last_check = now;
        py::gil_scoped_acquire gil;
        if (PyErr_CheckSignals() != 0) {
            interrupted_by_signal = true;
            return true;
        }
        return false;
    };
    simulation_result result;
    {
        py::gil_scoped_release released;
        result = simulate(sys, out, options);
    }
    if (interrupted_by_signal) {
        throw py::error_already_set();
    }

    d->budget = result.budget;
    d->rest = result.rest;
    d->stats = result.stats;
    d->y0 = result.y0;
    d->y_end = result.y_end;
    d->t_end = result.t_end;
    d->breakpoints = sys.breakpoints(result.t_end);
    if (!d->breakpoints.empty()) {
        d->last_stimulus = d->breakpoints.back();
    }
    const std::string where = report_compartment(model);
    if (!where.empty()) {
        d->report = where + "." + model.run.report_species;
        d->removed = removal_by_mechanism(sys, result.budget, where, model.run.report_species);
    }
    d->atp = atp_consumption(sys, result.budget);
    d->balances_ = balances(sys, result.y0, result.y_end, result.budget);
    return d;
}

// The steady state of the model with stimuli off, by state name.
py::dict model_steady_state(const py_model& pm) {
    system sys = compile(pm.spec);
    steady_state rest;
    {
        py::gil_scoped_release released;
        rest = find_steady_state(sys, sys.initial_state());
    }
    if (!rest.converged) {
        throw solver_error(fmt::format("no steady state found (best scaled residual {:.3g}/ms after {})",
                                       rest.residual, rest.method));
    }
    py::dict out;
    const auto& names = sys.state_names();
    for (std::size_t i = 0; i < names.size(); ++i) {
        out[py::str(names[i])] = rest.y[i];
    }
    return out;
}

// A read-only numpy view of `data` (shape `shape`), kept alive by `owner`.
py::array view(const std::vector<double>& data, std::vector<py::ssize_t> shape, const py::handle& owner) {
    std::vector<py::ssize_t> strides(shape.size(), static_cast<py::ssize_t>(sizeof(double)));
    for (std::size_t k = shape.size(); k-- > 1;) {
        strides[k - 1] = strides[k] * shape[k];
    }
    py::array a(py::dtype::of<double>(), shape, strides, data.empty() ? nullptr : data.data(), owner);
    a.attr("setflags")(py::arg("write") = false);
    return a;
}

py::dict summarize(const run_data& d, const std::string& name) {
    const std::size_t k = d.index_of(name);
    if (k == d.observables.size()) {
        throw py::key_error(fmt::format("no recorded observable named '{}'", name));
    }
    py::dict out;
    out["observable"] = name;
    out["unit"] = d.observables[k].unit;
    const auto s = summarize_transient(d.times, d.columns[k], d.last_stimulus);
    out["resting"] = s.resting;
    out["peak"] = s.peak;
    out["peak_time_ms"] = s.peak_time;
    out["decay_tau_ms"] = py::none();
    out["decay_from_ms"] = py::none();
    out["decay_baseline"] = py::none();
    out["decay_amplitude"] = py::none();
    out["decay_rms"] = py::none();
    if (s.decay && !d.breakpoints.empty()) {
        out["decay_tau_ms"] = s.decay->tau;
        out["decay_from_ms"] = s.decay_from;
        out["decay_baseline"] = s.decay->baseline;
        out["decay_amplitude"] = s.decay->amplitude;
        out["decay_rms"] = s.decay->rms;
    }
    const auto osc = oscillation_period(d.times, d.columns[k]);
    out["period_ms"] = osc ? py::object(py::float_(osc->period)) : py::object(py::none());
    out["cycles"] = osc ? osc->cycles : 0;
    return out;
}

void write_hdf5(const run_data& d, const std::filesystem::path& path) {
    run_metadata meta{d.model_name, d.model_origin, d.model_text, {}};
    meta.attributes = {{"start", d.start},
                       {"t_end_ms", fmt::format("{}", d.t_end)},
                       {"rtol", fmt::format("{}", d.rtol)},
                       {"atol_uM", fmt::format("{}", d.atol)},
                       {"model_hash", model_hash(d.model_text)},
                       {"written_by", "cadyn Python package"}};
    hdf5_recorder h5(path, meta);
    const std::size_t voxels = d.mesh ? d.mesh->size() : 0;
    if (d.mesh && !d.fields.empty()) {
        h5.write_grid(*d.mesh, d.geometry);
        h5.begin_fields(d.fields, voxels);
    }
    h5.begin(d.observables);
    std::vector<double> row(d.observables.size());
    std::vector<double> block(d.fields.size() * voxels);
    for (std::size_t r = 0; r < d.times.size(); ++r) {
        for (std::size_t k = 0; k < row.size(); ++k) {
            row[k] = d.columns[k][r];
        }
        h5.record(d.times[r], row);
        if (d.mesh && !d.fields.empty()) {
            for (std::size_t f = 0; f < d.fields.size(); ++f) {
                const auto first = d.field_values[f].begin() + static_cast<long>(r * voxels);
                std::copy(first, first + static_cast<long>(voxels), block.begin() + static_cast<long>(f * voxels));
            }
            h5.append_fields(d.times[r], block);
        }
    }
    h5.end();
}

const char* role_name(flux_channel::kind k) {
    return k == flux_channel::kind::transfer ? "transfer" : k == flux_channel::kind::conversion ? "conversion" : "source";
}

} // namespace

} // namespace cadyn::python

PYBIND11_MODULE(_cadyn, m) {
    using namespace cadyn;
    using namespace cadyn::python;
    m.doc() = "cadyn's engine (C++). Use the package `cadyn`, which wraps this module.";
    m.attr("__version__") = CADYN_VERSION;

    exceptions.error = new_exception(m, "Error", PyExc_Exception,
                                     "Base class of cadyn's errors: input, solver or output problems.");
    {
        py::tuple bases = py::make_tuple(py::handle(exceptions.error), py::handle(PyExc_ValueError));
        exceptions.model_error = new_exception(
            m, "ModelError", bases.ptr(),
            "The model cannot be accepted; str(e) is the CLI's message (file:line:col: 'key': message, one line per "
            "problem) and e.problems lists them as dicts (file, line, column, key, message).");
    }
    exceptions.unit_error = new_exception(m, "UnitError", exceptions.model_error,
                                          "A quantity that cannot be parsed or has the wrong dimension.");
    {
        py::tuple bases = py::make_tuple(py::handle(exceptions.error), py::handle(PyExc_RuntimeError));
        exceptions.solver_error = new_exception(
            m, "SolverError", bases.ptr(),
            "The solver could not finish; the message names the time, the variable and what to try.");
    }
    {
        py::tuple bases = py::make_tuple(py::handle(exceptions.error), py::handle(PyExc_OSError));
        exceptions.output_error =
            new_exception(m, "OutputError", bases.ptr(), "An output file could not be written.");
    }
    py::register_exception_translator(&translate);

    py::class_<py_model>(m, "Model", "A cadyn model (see the package `cadyn`).")
        .def(py::init([](const std::optional<std::filesystem::path>& path, const std::optional<std::string>& text,
                         const std::string& source) {
                 if (path && text) {
                     throw py::value_error("give either path or text, not both");
                 }
                 if (path) {
                     return model_from_file(*path);
                 }
                 if (text) {
                     return model_from_text(*text, source);
                 }
                 return builtin_default_model();
             }),
             py::kw_only(), py::arg("path") = py::none(), py::arg("text") = py::none(),
             py::arg("source") = "<string>")
        .def(py::init([](const py_model& other) { return py_model(other); }), py::arg("other"))
        .def_property_readonly("name", [](const py_model& self) { return self.spec.name; })
        .def_property_readonly("description", [](const py_model& self) { return self.spec.description; })
        .def_property_readonly("source", [](const py_model& self) { return self.origin; })
        .def_property_readonly("text", [](const py_model& self) { return self.text; })
        .def_property_readonly("spatial", [](const py_model& self) { return self.spec.geometry.spatial(); })
        .def("_set", &set_value)
        .def("_get", &get_value)
        .def("_parameters", &all_parameters)
        .def("_mechanisms",
             [](const py_model& self) {
                 py::list out;
                 for (const auto& mech: self.spec.mechanisms) {
                     const auto* impl = find_mechanism(mech.type);
                     py::dict d;
                     d["name"] = mech.name;
                     d["type"] = mech.type;
                     d["kind"] = impl != nullptr && impl->info().kind == mechanism_kind::membrane ? "membrane" : "volume";
                     d["location"] = mech.location;
                     d["stimulus"] = impl != nullptr && impl->info().is_stimulus;
                     out.append(d);
                 }
                 return out;
             })
        .def("_species",
             [](const py_model& self) {
                 py::list out;
                 for (const auto& s: self.spec.species) {
                     py::dict d;
                     d["name"] = s.name;
                     d["charge"] = s.charge;
                     out.append(d);
                 }
                 return out;
             })
        .def("_compartments",
             [](const py_model& self) {
                 py::list out;
                 for (const auto& c: self.spec.compartments) {
                     py::dict d;
                     d["name"] = c.name;
                     d["volume_um3"] = c.volume;
                     d["clamped"] = c.clamped;
                     d["initial_uM"] = c.initial;
                     out.append(d);
                 }
                 return out;
             })
        .def("_observables",
             [](const py_model& self) {
                 cadyn::system sys = compile(self.spec);
                 std::vector<std::pair<std::string, std::string>> out;
                 for (const auto& o: sys.observables()) {
                     out.emplace_back(o.name, o.unit);
                 }
                 return out;
             })
        .def("_steady_state", &model_steady_state)
        .def("_run", &run_model, py::arg("t_end") = py::none(), py::arg("start") = py::none(),
             py::arg("fields") = py::none(), py::arg("observables") = py::none(), py::arg("seed") = py::none());

    py::class_<run_data, std::shared_ptr<run_data>>(m, "RunData", "The raw records of a run (see cadyn.Result).")
        .def_readonly("model_name", &run_data::model_name)
        .def_readonly("model_source", &run_data::model_origin)
        .def_readonly("t_end", &run_data::t_end)
        .def_readonly("report", &run_data::report)
        .def_readonly("start", &run_data::start)
        .def_readonly("breakpoints", &run_data::breakpoints)
        .def_readonly("state_names", &run_data::state_names)
        .def_property_readonly("last_stimulus",
                               [](const run_data& d) -> py::object {
                                   return std::isfinite(d.last_stimulus) ? py::object(py::float_(d.last_stimulus))
                                                                         : py::object(py::none());
                               })
        .def_property_readonly("time",
                               [](py::object self) {
                                   const auto& d = self.cast<const run_data&>();
                                   return view(d.times, {static_cast<py::ssize_t>(d.times.size())}, self);
                               })
        .def_property_readonly("observables",
                               [](const run_data& d) {
                                   std::vector<std::pair<std::string, std::string>> out;
                                   for (const auto& o: d.observables) {
                                       out.emplace_back(o.name, o.unit);
                                   }
                                   return out;
                               })
        .def("trace",
             [](py::object self, const std::string& name) {
                 const auto& d = self.cast<const run_data&>();
                 const std::size_t k = d.index_of(name);
                 if (k == d.observables.size()) {
                     std::vector<std::string> names;
                     for (const auto& o: d.observables) {
                         names.push_back(o.name);
                     }
                     throw py::key_error(
                         fmt::format("no recorded observable named '{}'; recorded: {}", name, list_names(names)));
                 }
                 return view(d.columns[k], {static_cast<py::ssize_t>(d.columns[k].size())}, self);
             })
        .def_property_readonly("field_names",
                               [](const run_data& d) {
                                   std::vector<std::pair<std::string, std::string>> out;
                                   for (const auto& f: d.fields) {
                                       out.emplace_back(f.name, f.unit);
                                   }
                                   return out;
                               })
        .def("field",
             [](py::object self, std::size_t k) {
                 const auto& d = self.cast<const run_data&>();
                 const auto voxels = static_cast<py::ssize_t>(d.mesh ? d.mesh->size() : 0);
                 const auto records = static_cast<py::ssize_t>(d.times.size());
                 return view(d.field_values.at(k), {records, voxels}, self);
             })
        .def_property_readonly("grid",
                               [](const run_data& d) -> py::object {
                                   if (!d.mesh) {
                                       return py::none();
                                   }
                                   const grid& g = *d.mesh;
                                   py::dict out;
                                   out["geometry"] = d.geometry;
                                   out["dimensions"] = g.dimensions;
                                   std::vector<std::size_t> shape(g.shape.begin(),
                                                                  g.shape.begin() + static_cast<long>(g.dimensions));
                                   out["shape"] = py::tuple(py::cast(shape));
                                   py::list centres;
                                   py::list edges;
                                   for (std::size_t k = 0; k < g.dimensions; ++k) {
                                       centres.append(py::array_t<double>(static_cast<py::ssize_t>(g.centres[k].size()),
                                                                          g.centres[k].data()));
                                       edges.append(py::array_t<double>(static_cast<py::ssize_t>(g.edges[k].size()),
                                                                        g.edges[k].data()));
                                   }
                                   out["centres"] = centres;
                                   out["edges"] = edges;
                                   out["volume"] = py::array_t<double>(static_cast<py::ssize_t>(g.volume.size()),
                                                                       g.volume.data());
                                   out["membrane_face"] = g.membrane_face;
                                   return out;
                               })
        .def_property_readonly("budget",
                               [](const run_data& d) {
                                   py::list out;
                                   for (std::size_t k = 0; k < d.channels.size(); ++k) {
                                       const auto& c = d.channels[k];
                                       py::dict e;
                                       e["mechanism"] = c.mechanism;
                                       e["type"] = c.type;
                                       e["species"] = c.species;
                                       e["from"] = c.from;
                                       e["to"] = c.to;
                                       e["membrane"] = c.membrane;
                                       e["role"] = role_name(c.role);
                                       e["amount_amol"] = d.budget[k] * 1e-3;  // 1 amol = 1000 zmol
                                       out.append(e);
                                   }
                                   return out;
                               })
        .def_property_readonly("removed",
                               [](const run_data& d) {
                                   std::vector<std::pair<std::string, double>> out;
                                   for (const auto& r: d.removed) {
                                       out.emplace_back(r.mechanism, r.amount * 1e-3);
                                   }
                                   return out;
                               })
        .def_property_readonly("atp",
                               [](const run_data& d) {
                                   std::vector<std::pair<std::string, double>> out;
                                   for (const auto& a: d.atp) {
                                       out.emplace_back(a.mechanism, a.amount * 1e-3);
                                   }
                                   return out;
                               })
        .def_property_readonly("balances",
                               [](const run_data& d) {
                                   py::list out;
                                   for (const auto& b: d.balances_) {
                                       py::dict e;
                                       e["compartment"] = b.compartment;
                                       e["species"] = b.species;
                                       e["change_amol"] = b.change * 1e-3;
                                       e["accounted_amol"] = b.accounted * 1e-3;
                                       e["relative_error"] = b.relative_error();
                                       out.append(e);
                                   }
                                   return out;
                               })
        .def_property_readonly("rest",
                               [](const run_data& d) -> py::object {
                                   if (!d.rest) {
                                       return py::none();
                                   }
                                   py::dict e;
                                   e["method"] = d.rest->method;
                                   e["converged"] = d.rest->converged;
                                   e["residual_per_ms"] = d.rest->residual;
                                   return e;
                               })
        .def_property_readonly("stats",
                               [](const run_data& d) {
                                   py::dict e;
                                   e["states"] = d.state_names.size();
                                   e["steps"] = d.stats.steps;
                                   e["rhs_evaluations"] = d.stats.rhs_evaluations;
                                   e["jacobian_evaluations"] = d.stats.jacobian_evaluations;
                                   e["error_test_failures"] = d.stats.error_test_failures;
                                   e["nonlinear_failures"] = d.stats.nonlinear_failures;
                                   e["restarts"] = d.stats.restarts;
                                   e["stochastic_events"] = d.stats.stochastic_events;
                                   return e;
                               })
        .def_property_readonly("y0", [](py::object self) {
            const auto& d = self.cast<const run_data&>();
            return view(d.y0, {static_cast<py::ssize_t>(d.y0.size())}, self);
        })
        .def_property_readonly("y_end", [](py::object self) {
            const auto& d = self.cast<const run_data&>();
            return view(d.y_end, {static_cast<py::ssize_t>(d.y_end.size())}, self);
        })
        .def("summarize", &summarize)
        .def("to_hdf5", [](const run_data& d, const std::filesystem::path& path) { write_hdf5(d, path); });

    m.def("convert", [](double value, const std::string& from, const std::string& to) { return convert(value, from, to); },
          py::arg("value"), py::arg("from_unit"), py::arg("to_unit"));
    m.def("to_canonical",
          [](const std::string& text) {
              const auto q = to_coherent(text);
              return py::make_tuple(q.value, q.unit);
          },
          py::arg("text"));
    m.def("mechanism_types", [] {
        std::vector<std::string> out;
        for (const auto* mech: all_mechanisms()) {
            out.emplace_back(mech->info().name);
        }
        return out;
    });
}
