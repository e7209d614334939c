// TOML model reader (toml++). Every problem is collected with its location; see docs/model-format.md.
#include <cmath>
#include <fstream>
#include <limits>
#include <numbers>
#include <optional>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include <cadyn/catalogue.hpp>
#include <cadyn/geometry.hpp>
#include <cadyn/io/model_file.hpp>
#include <cadyn/io/sbml.hpp>
#include <cadyn/units.hpp>

#include "io/default_model.hpp"

namespace cadyn {

namespace {

// The per-volume form that a value with `unit` offers for a per-area membrane parameter, or nullptr: a
// concentration rate or a whole-membrane amount rate for a flux density, a rate for a permeability.
const dimension* per_volume_alternative(const field_info& field, const std::string& unit) {
    if (field.dim == &dims::flux_density) {
        if (has_dimension(unit, dims::concentration_rate)) {
            return &dims::concentration_rate;
        }
        if (has_dimension(unit, dims::flux)) {
            return &dims::flux;
        }
    }
    if (field.dim == &dims::permeability && has_dimension(unit, dims::rate)) {
        return &dims::rate;
    }
    return nullptr;
}

class reader {
public:
    explicit reader(std::string source): source_(std::move(source)) {}

    model_spec read(const toml::table& root);
    std::vector<diagnostic>& problems() { return problems_; }

    // The keys, in validate()'s spelling, of everything the reader already reported: validate() names an element
    // by its name ("compartments.cyt.volume") where the reader names it by position ("compartments[1].volume"),
    // and its findings about a value the reader could not read (a volume of 0 after "5" was rejected) only repeat
    // the reader's message less helpfully.
    std::set<std::string> covered_keys() const {
        std::set<std::string> out = covered_;
        for (const auto& p: problems_) {
            out.insert(p.key);
            for (const auto& [by_index, by_name]: aliases_) {
                if (p.key.starts_with(by_index)) {
                    out.insert(by_name + p.key.substr(by_index.size()));
                }
            }
        }
        return out;
    }

private:
    std::string source_;
    std::vector<diagnostic> problems_;
    model_spec m_;
    std::vector<std::pair<std::string, std::string>> aliases_;  // "compartments[1]." -> "compartments.cyt."
    std::set<std::string> covered_;  // further validate() keys that only repeat a reader problem
    std::set<std::string> unusable_;  // compartments and membranes whose size could not be read (reported)

    // Problems reported with a key starting with `prefix`.
    bool reported_under(const std::string& prefix) const {
        for (const auto& p: problems_) {
            if (p.key.starts_with(prefix)) {
                return true;
            }
        }
        return false;
    }

    // A value that must be positive (a volume, a radius, an area), reported where it was written.
    void check_positive(const toml::table& t, const std::string& key, const std::string& path,
                        const std::optional<double>& value, const dimension& dim) {
        if (value && !(*value > 0)) {
            const auto* node = t.get(key);
            const auto* text = node->as_string();
            report(*node, path + key,
                   fmt::format("expected a positive {}, got '{}'", dim.name, text != nullptr ? text->get() : ""));
        }
    }

    source_location where(const toml::node& node) const {
        const auto& s = node.source();
        return {source_, static_cast<int>(s.begin.line), static_cast<int>(s.begin.column)};
    }

    void report(const toml::node& node, const std::string& key, std::string message) {
        problems_.push_back({where(node), key, std::move(message)});
    }

    // Complain about keys of `table` that are not in `allowed`.
    void check_keys(const toml::table& table, const std::string& prefix, const std::set<std::string>& allowed) {
        for (const auto& [k, node]: table) {
            const std::string key(k.str());
            if (!allowed.contains(key)) {
                std::string list;
                for (const auto& a: allowed) {
                    list += (list.empty() ? "" : ", ") + a;
                }
                report(node, prefix + key, fmt::format("unknown key '{}'; expected one of: {}", key, list));
            }
        }
    }

    std::optional<std::string> get_string(const toml::table& t, const std::string& key, const std::string& path,
                                          bool required) {
        const auto* node = t.get(key);
        if (node == nullptr) {
            if (required) {
                report(t, path + key, "missing required key");
            }
            return std::nullopt;
        }
        if (const auto* s = node->as_string()) {
            return s->get();
        }
        report(*node, path + key, "expected a string");
        return std::nullopt;
    }

    std::optional<bool> get_bool(const toml::table& t, const std::string& key, const std::string& path) {
        const auto* node = t.get(key);
        if (node == nullptr) {
            return std::nullopt;
        }
        if (const auto* b = node->as_boolean()) {
            return b->get();
        }
        report(*node, path + key, "expected true or false");
        return std::nullopt;
    }

    // A quantity of dimension `dim`, from a string with units ("1.5 mM"), or from a bare number when the
    // dimension is dimensionless.
    std::optional<double> quantity(const toml::node& node, const std::string& key, const dimension& dim) {
        if (const auto* s = node.as_string()) {
            try {
                return to_canonical(s->get(), dim);
            }
            catch (const unit_error& e) {
                report(node, key, e.what());
                return std::nullopt;
            }
        }
        if (node.is_number()) {
            const double v = node.value<double>().value_or(NAN);
            if (&dim == &dims::dimensionless) {
                return v;
            }
            report(node, key,
                   fmt::format("expected a {} with its unit as a string, e.g. \"{}\"; a bare number has no unit",
                               dim.name, dim.example));
            return std::nullopt;
        }
        report(node, key, fmt::format("expected a {}, e.g. \"{}\"", dim.name, dim.example));
        return std::nullopt;
    }

    std::optional<double> get_quantity(const toml::table& t, const std::string& key, const std::string& path,
                                       const dimension& dim, bool required) {
        const auto* node = t.get(key);
        if (node == nullptr) {
            if (required) {
                report(t, path + key, fmt::format("missing required key (a {}, e.g. \"{}\")", dim.name, dim.example));
            }
            return std::nullopt;
        }
        return quantity(*node, path + key, dim);
    }

    // Each element of an array of tables, e.g. [[compartments]].
    template <typename F>
    void each_table(const toml::table& root, const std::string& key, F&& f) {
        const auto* node = root.get(key);
        if (node == nullptr) {
            return;
        }
        const auto* arr = node->as_array();
        if (arr == nullptr) {
            report(*node, key, fmt::format("expected an array of tables: write each entry as [[{}]]", key));
            return;
        }
        std::size_t i = 0;
        for (const auto& el: *arr) {
            if (const auto* t = el.as_table()) {
                f(*t, fmt::format("{}[{}].", key, i));
            }
            else {
                report(el, fmt::format("{}[{}]", key, i), "expected a table");
            }
            ++i;
        }
    }

    void read_header(const toml::table& root);
    void read_species(const toml::table& root);
    void read_geometry(const toml::table& root);
    void read_points(const toml::table& root);
    std::optional<std::array<double, 3>> position(const toml::node& node, const std::string& key);
    void read_compartments(const toml::table& root);
    void read_spatial_compartment(const toml::table& t, const std::string& path, compartment_spec& c);
    void read_membranes(const toml::table& root);
    potential_protocol read_protocol(const toml::table& t, const std::string& path, double holding);
    std::vector<double> quantity_list(const toml::table& t, const std::string& key, const std::string& path,
                                      const dimension& dim);
    void read_mechanism_table(const toml::table& t, const std::string& path, const std::string& type,
                              const std::set<std::string>& fixed_keys);
    void read_mechanisms(const toml::table& root);
    std::optional<double> mechanism_parameter(const toml::node& node, const std::string& key,
                                              const mechanism_spec& mech, const field_info& field);
    void read_events(const toml::table& root);
    void read_parameters(const toml::table& root);
    void read_reactions(const toml::table& root);
    void read_rules(const toml::table& root);
    void read_run(const toml::table& root);
    void read_record(const toml::table& root);
    bool parse_side(const std::string& text, std::vector<participant>& out);
};

void reader::read_header(const toml::table& root) {
    check_keys(root, "",
               {"format_version", "name", "description", "temperature", "species", "compartments", "membranes",
                "mechanisms", "buffers", "stimuli", "parameters", "reactions", "rules", "events", "run", "record",
                "geometry", "points"});
    const auto* version = root.get("format_version");
    if (version == nullptr) {
        report(root, "format_version",
               fmt::format("missing: the file must declare its format, e.g. format_version = {}", model_format_version));
    }
    else if (const auto* v = version->as_integer()) {
        // Compared as read (64 bits): narrowed to int first, 4294967297 would pass for 1.
        if (v->get() == model_format_version) {
            m_.format_version = model_format_version;
        }
        else {
            report(*version, "format_version",
                   fmt::format("this cadyn reads format_version {}, the file has {}", model_format_version,
                               v->get()));
        }
    }
    else {
        report(*version, "format_version", "expected an integer");
    }
    m_.name = get_string(root, "name", "", false).value_or("");
    m_.description = get_string(root, "description", "", false).value_or("");
    m_.temperature = get_quantity(root, "temperature", "", dims::temperature, false).value_or(m_.temperature);
}

void reader::read_species(const toml::table& root) {
    const auto* node = root.get("species");
    if (node == nullptr) {
        return;
    }
    const auto* t = node->as_table();
    if (t == nullptr) {
        report(*node, "species", "expected a table: [species] with one entry per species, e.g. ip3 = { charge = 0 }");
        return;
    }
    for (const auto& [k, v]: *t) {
        const std::string name(k.str());
        const auto* entry = v.as_table();
        if (entry == nullptr) {
            report(v, "species." + name, "expected a table, e.g. { charge = 0 }");
            continue;
        }
        check_keys(*entry, "species." + name + ".", {"charge"});
        int charge = 0;
        if (const auto* c = entry->get("charge")) {
            const auto* i = c->as_integer();
            // A valence beyond int would be narrowed silently (4294967298 to 2).
            if (i != nullptr && i->get() >= std::numeric_limits<int>::min() &&
                i->get() <= std::numeric_limits<int>::max()) {
                charge = static_cast<int>(i->get());
            }
            else {
                report(*c, "species." + name + ".charge", "expected an integer valence");
            }
        }
        else if (!known_species_charge(name, charge)) {
            report(v, "species." + name, "missing key 'charge' (the valence z)");
        }
        m_.species.push_back({name, charge, where(v)});
    }
}

// A position: one length (the first coordinate) or a list of up to three.
std::optional<std::array<double, 3>> reader::position(const toml::node& node, const std::string& key) {
    std::array<double, 3> at{0, 0, 0};
    if (const auto* arr = node.as_array()) {
        if (arr->empty() || arr->size() > 3) {
            report(node, key, "expected one to three lengths, e.g. [\"20 nm\", \"0 nm\"]");
            return std::nullopt;
        }
        for (std::size_t k = 0; k < arr->size(); ++k) {
            const auto v = quantity(*arr->get(k), key, dims::length);
            if (!v) {
                return std::nullopt;
            }
            at[k] = *v;
        }
        return at;
    }
    const auto v = quantity(node, key, dims::length);
    if (!v) {
        return std::nullopt;
    }
    at[0] = *v;
    return at;
}

void reader::read_geometry(const toml::table& root) {
    const auto* node = root.get("geometry");
    if (node == nullptr) {
        return;
    }
    const auto* t = node->as_table();
    if (t == nullptr) {
        report(*node, "geometry", "expected a table [geometry]");
        return;
    }
    auto& g = m_.geometry;
    g.where = where(*t);
    const std::string path = "geometry.";
    const auto type = get_string(*t, "type", path, true).value_or("");
    std::set<std::string> keys = {"type", "voxels", "finest", "membrane_face", "clamped_faces"};
    std::vector<std::pair<std::string, double*>> lengths;
    std::size_t axes = 1;
    if (type == "cable") {
        g.type = geometry_spec::kind::cable;
        lengths = {{"length", &g.length}, {"diameter", &g.diameter}};
    }
    else if (type == "shells") {
        g.type = geometry_spec::kind::shells;
        lengths = {{"outer_radius", &g.outer_radius}};
        keys.insert({"inner_radius", "solid_fraction"});
        g.inner_radius = get_quantity(*t, "inner_radius", path, dims::length, false).value_or(0.0);
        g.solid_fraction = get_quantity(*t, "solid_fraction", path, dims::dimensionless, false).value_or(1.0);
        if (!(g.solid_fraction > 0 && g.solid_fraction <= 1)) {
            report(*t->get("solid_fraction"), path + "solid_fraction",
                   "expected a fraction of the full sphere in (0, 1] (0.5: a half-space under a membrane)");
            g.solid_fraction = 1;
        }
        if (g.inner_radius < 0) {
            report(*t->get("inner_radius"), path + "inner_radius", "expected a radius >= 0");
            g.inner_radius = 0;
        }
    }
    else if (type == "axisymmetric") {
        g.type = geometry_spec::kind::axisymmetric;
        lengths = {{"radius", &g.radius}, {"depth", &g.depth}};
        axes = 2;
    }
    else if (type == "box") {
        g.type = geometry_spec::kind::box;
        keys.insert("size");
        axes = 3;
        const auto* size = t->get("size");
        const auto* arr = size != nullptr ? size->as_array() : nullptr;
        if (arr == nullptr || arr->size() != 3) {
            report(size != nullptr ? *size : static_cast<const toml::node&>(*t), path + "size",
                   "expected three lengths, e.g. [\"2 um\", \"2 um\", \"1 um\"]");
        }
        else {
            for (std::size_t k = 0; k < 3; ++k) {
                g.size[k] = quantity(*arr->get(k), path + "size", dims::length).value_or(0.0);
                if (!(g.size[k] > 0)) {
                    report(*arr->get(k), path + "size", "expected positive lengths");
                }
            }
        }
    }
    else if (!type.empty()) {
        report(*t->get("type"), path + "type",
               fmt::format("expected \"cable\", \"shells\", \"axisymmetric\" or \"box\", got \"{}\"", type));
    }
    for (const auto& [key, target]: lengths) {
        keys.insert(key);
        const auto v = get_quantity(*t, key, path, dims::length, true);
        check_positive(*t, key, path, v, dims::length);
        *target = v.value_or(0.0);
    }
    check_keys(*t, path, keys);
    if (g.type == geometry_spec::kind::shells && g.inner_radius >= g.outer_radius && g.outer_radius > 0) {
        report(*t, path + "inner_radius", "the inner radius must be smaller than the outer radius");
    }
    // voxels: a whole number (first axis) or one per axis.
    if (const auto* v = t->get("voxels")) {
        std::vector<const toml::node*> items;
        if (const auto* arr = v->as_array()) {
            for (const auto& el: *arr) {
                items.push_back(&el);
            }
        }
        else {
            items.push_back(v);
        }
        if (items.size() != axes && !(items.size() == 1 && axes == 1)) {
            report(*v, path + "voxels", fmt::format("expected {} whole numbers, one per axis", axes));
        }
        for (std::size_t k = 0; k < std::min<std::size_t>(items.size(), 3); ++k) {
            const auto* i = items[k]->as_integer();
            if (i == nullptr || i->get() < 1 || i->get() > 100000000) {
                report(*items[k], path + "voxels", "expected a whole number of voxels >= 1");
            }
            else {
                g.voxels[k] = static_cast<std::size_t>(i->get());
            }
        }
    }
    else if (g.spatial()) {
        report(*t, path + "voxels", "missing: how many voxels along each axis, e.g. voxels = 100");
    }
    if (const auto* f = t->get("finest")) {
        if (const auto* arr = f->as_array()) {
            for (std::size_t k = 0; k < std::min<std::size_t>(arr->size(), 3); ++k) {
                g.finest[k] = quantity(*arr->get(k), path + "finest", dims::length).value_or(0.0);
            }
        }
        else if (const auto v = quantity(*f, path + "finest", dims::length)) {
            g.finest.fill(*v);
            if (g.type == geometry_spec::kind::cable || g.type == geometry_spec::kind::box) {
                report(*f, path + "finest", "graded grids are for shells and axisymmetric geometries; a cable or "
                                            "a box takes a list with 0 for uniform axes");
            }
        }
    }
    g.membrane_face = get_string(*t, "membrane_face", path, false).value_or("");
    if (const auto* cf = t->get("clamped_faces")) {
        const auto* arr = cf->as_array();
        if (arr == nullptr) {
            report(*cf, path + "clamped_faces", "expected a list of face names, e.g. [\"outer\"]");
        }
        else {
            for (const auto& el: *arr) {
                if (const auto* s = el.as_string()) {
                    g.clamped_faces.push_back(s->get());
                }
                else {
                    report(el, path + "clamped_faces", "expected face names as strings");
                }
            }
        }
    }
    const double total_voxels = static_cast<double>(g.voxels[0]) * static_cast<double>(g.voxels[1]) *
                                static_cast<double>(g.voxels[2]);
    constexpr double voxel_limit = 1e7;  // a few GB of states, names and faces: beyond what this engine serves
    if (g.spatial() && total_voxels > voxel_limit) {
        report(*t, path + "voxels",
               fmt::format("{:.4g} voxels in all: more than the {:.0e} this build handles (memory); use a coarser or "
                           "graded grid",
                           total_voxels, voxel_limit));
    }
    if (g.spatial() && !reported_under("geometry")) {
        try {
            static_cast<void>(build_grid(g));  // reports bad gradings and face names
        }
        catch (const model_error& e) {
            for (const auto& d: e.problems()) {
                problems_.push_back(d);
            }
        }
    }
}

void reader::read_points(const toml::table& root) {
    each_table(root, "points", [&](const toml::table& t, const std::string& path) {
        check_keys(t, path, {"name", "at"});
        point_spec p;
        p.where = where(t);
        p.name = get_string(t, "name", path, true).value_or("");
        if (!m_.geometry.spatial()) {
            report(t, path + "name", "only spatial models have points: add a [geometry]");
        }
        if (const auto* at = t.get("at")) {
            p.at = position(*at, path + "at").value_or(p.at);
        }
        else {
            report(t, path + "at", "missing: where the point is, e.g. at = \"20 nm\"");
        }
        if (m_.find_point(p.name) != nullptr) {
            report(t, path + "name", fmt::format("a point named '{}' is already defined", p.name));
        }
        m_.points.push_back(std::move(p));
    });
}

// Spatial compartments: volume fraction of each voxel, diffusion coefficients, initial patches.
void reader::read_spatial_compartment(const toml::table& t, const std::string& path, compartment_spec& c) {
    c.fraction = get_quantity(t, "fraction", path, dims::dimensionless, false).value_or(1.0);
    if (!(c.fraction > 0 && c.fraction <= 1)) {
        report(*t.get("fraction"), path + "fraction", "expected a volume fraction in (0, 1]");
        c.fraction = 1;
    }
    if (const auto* node = t.get("diffusion")) {
        if (const auto* dt = node->as_table()) {
            for (const auto& [k, v]: *dt) {
                const std::string species(k.str());
                if (const auto d = quantity(v, path + "diffusion." + species, dims::diffusivity)) {
                    if (*d < 0) {
                        report(v, path + "diffusion." + species, "expected a diffusion coefficient >= 0");
                    }
                    c.diffusion[species] = *d;
                }
            }
        }
        else {
            report(*node, path + "diffusion", "expected a table, e.g. { ca = \"220 um^2/s\" }");
        }
    }
    each_table(t, "patches", [&](const toml::table& pt, const std::string& sub) {
        const std::string p = path + sub;
        check_keys(pt, p, {"species", "value", "from", "to"});
        compartment_spec::patch patch;
        patch.species = get_string(pt, "species", p, true).value_or("");
        patch.value = get_quantity(pt, "value", p, dims::concentration, true).value_or(0.0);
        patch.from = get_quantity(pt, "from", p, dims::length, true).value_or(0.0);
        patch.to = get_quantity(pt, "to", p, dims::length, true).value_or(0.0);
        if (patch.value < 0) {
            report(pt, p + "value", "expected a concentration >= 0");
        }
        if (patch.to < patch.from) {
            report(pt, p + "to", "expected to >= from");
        }
        c.patches.push_back(std::move(patch));
    });
}

void reader::read_compartments(const toml::table& root) {
    each_table(root, "compartments", [&](const toml::table& t, const std::string& path) {
        check_keys(t, path, {"name", "volume", "radius", "length", "clamped", "concentrations", "fraction",
                             "diffusion", "patches"});
        compartment_spec c;
        c.where = where(t);
        c.name = get_string(t, "name", path, true).value_or("");
        c.clamped = get_bool(t, "clamped", path).value_or(false);
        const bool spatial = m_.geometry.spatial();
        if (!spatial) {
            for (const char* key: {"fraction", "diffusion", "patches"}) {
                if (const auto* node = t.get(key)) {
                    report(*node, path + key, "only spatial models have this key: add a [geometry]");
                }
            }
        }
        else {
            read_spatial_compartment(t, path, c);
        }
        const auto volume = get_quantity(t, "volume", path, dims::volume, false);
        const auto radius = get_quantity(t, "radius", path, dims::length, false);
        const auto length = get_quantity(t, "length", path, dims::length, false);
        check_positive(t, "volume", path, volume, dims::volume);
        check_positive(t, "radius", path, radius, dims::length);
        check_positive(t, "length", path, length, dims::length);
        const std::string named = "compartments." + c.name + ".";
        aliases_.emplace_back(path, named);
        if (reported_under(path + "volume") || reported_under(path + "radius") || reported_under(path + "length")) {
            covered_.insert(named + "volume");
            unusable_.insert(c.name);
        }
        if (spatial && (volume || radius || length)) {
            report(t, path + (volume ? "volume" : radius ? "radius" : "length"),
                   "in a spatial model the [geometry] sets every compartment's size; give a fraction instead");
        }
        else if (spatial) {
            c.volume = c.fraction * geometry_volume(m_.geometry);
        }
        else if (volume) {
            c.volume = *volume;
            if (radius || length) {
                report(t, path + "volume", "give either a volume or a geometry (radius, length), not both");
            }
        }
        else if (radius && length) {
            // Cylinder without end caps: V = pi r^2 L, side surface 2 pi r L.
            c.volume = std::numbers::pi * *radius * *radius * *length;
            c.surface = 2 * std::numbers::pi * *radius * *length;
        }
        else if (radius) {
            // Sphere: V = 4/3 pi r^3, surface 4 pi r^2.
            c.volume = 4.0 / 3.0 * std::numbers::pi * std::pow(*radius, 3);
            c.surface = 4 * std::numbers::pi * *radius * *radius;
        }
        else if (!t.contains("volume") && !t.contains("radius")) {
            report(t, path + "volume",
                   "missing: give a volume (e.g. \"1 pL\"), a radius (sphere) or a radius and a length (cylinder)");
        }
        if (const auto* conc = t.get("concentrations")) {
            if (const auto* ct = conc->as_table()) {
                for (const auto& [k, v]: *ct) {
                    const std::string species(k.str());
                    int charge = 0;
                    if (m_.find_species(species) == nullptr && !known_species_charge(species, charge)) {
                        report(v, path + "concentrations." + species,
                               fmt::format("unknown species '{}': declare it in [species] with its charge, e.g. "
                                           "{} = {{ charge = 0 }}",
                                           species, species));
                        continue;
                    }
                    if (const auto value = quantity(v, path + "concentrations." + species, dims::concentration)) {
                        c.initial[species] = *value;
                    }
                }
            }
            else {
                report(*conc, path + "concentrations", "expected a table, e.g. { ca = \"100 nM\" }");
            }
        }
        m_.compartments.push_back(std::move(c));
    });
}

std::vector<double> reader::quantity_list(const toml::table& t, const std::string& key, const std::string& path,
                                          const dimension& dim) {
    std::vector<double> out;
    const auto* node = t.get(key);
    if (node == nullptr) {
        report(t, path + key, fmt::format("missing: a list such as [\"{}\", \"{}\"]", dim.example, dim.example));
        return out;
    }
    const auto* arr = node->as_array();
    if (arr == nullptr) {
        report(*node, path + key, fmt::format("expected a list such as [\"{}\", \"{}\"]", dim.example, dim.example));
        return out;
    }
    for (const auto& el: *arr) {
        if (const auto v = quantity(el, path + key, dim)) {
            out.push_back(*v);
        }
    }
    return out;
}

// A membrane potential protocol: steps (voltage clamp), spikes (an action-potential train) or an expression.
potential_protocol reader::read_protocol(const toml::table& t, const std::string& path, double holding) {
    potential_protocol p;
    const auto type = get_string(t, "type", path, true).value_or("");
    if (type == "steps") {
        check_keys(t, path, {"type", "levels", "durations"});
        p.type = potential_protocol::kind::steps;
        p.levels = quantity_list(t, "levels", path, dims::potential);
        p.durations = quantity_list(t, "durations", path, dims::time);
    }
    else if (type == "spikes") {
        check_keys(t, path, {"type", "rest", "peak", "start", "frequency", "count", "width"});
        p.type = potential_protocol::kind::spikes;
        p.rest = get_quantity(t, "rest", path, dims::potential, false).value_or(holding);
        p.peak = get_quantity(t, "peak", path, dims::potential, true).value_or(holding);
        p.start = get_quantity(t, "start", path, dims::time, false).value_or(0.0);
        p.frequency = get_quantity(t, "frequency", path, dims::rate, false).value_or(0.0);
        p.count = get_quantity(t, "count", path, dims::dimensionless, false).value_or(1.0);
        p.width = get_quantity(t, "width", path, dims::time, false).value_or(1.0);
    }
    else if (type == "expression") {
        check_keys(t, path, {"type", "value"});
        p.type = potential_protocol::kind::expression;
        p.expression = get_string(t, "value", path, true).value_or("");
    }
    else if (!type.empty()) {
        report(*t.get("type"), path + "type",
               fmt::format("expected \"steps\", \"spikes\" or \"expression\", got \"{}\"", type));
    }
    return p;
}

void reader::read_membranes(const toml::table& root) {
    each_table(root, "membranes", [&](const toml::table& t, const std::string& path) {
        check_keys(t, path, {"name", "inner", "outer", "area", "potential", "protocol"});
        membrane_spec mb;
        mb.where = where(t);
        mb.name = get_string(t, "name", path, true).value_or("");
        mb.inner = get_string(t, "inner", path, true).value_or("");
        mb.outer = get_string(t, "outer", path, true).value_or("");
        const std::string named = "membranes." + mb.name + ".";
        aliases_.emplace_back(path, named);
        // Reported here, at the line of the reference; validate() knows only the membrane's line.
        for (const auto& [side_key, name]: {std::pair<const char*, const std::string&>{"inner", mb.inner},
                                            std::pair<const char*, const std::string&>{"outer", mb.outer}}) {
            if (!name.empty() && m_.find_compartment(name) == nullptr) {
                std::string known;
                for (const auto& c: m_.compartments) {
                    known += (known.empty() ? "" : ", ") + c.name;
                }
                report(*t.get(side_key), path + side_key,
                       fmt::format("no compartment named '{}'; the compartments are: {}", name, known));
            }
        }
        if (mb.inner.empty() || mb.outer.empty()) {
            covered_.insert("membranes." + mb.name);  // "inner and outer must differ" would only repeat it
        }
        mb.potential = get_quantity(t, "potential", path, dims::potential, false).value_or(0.0);
        if (const auto* node = t.get("protocol")) {
            if (const auto* pt = node->as_table()) {
                mb.protocol = read_protocol(*pt, path + "protocol.", mb.potential);
            }
            else {
                report(*node, path + "protocol", "expected a table, e.g. { type = \"steps\", ... }");
            }
        }
        const auto* in_c = m_.find_compartment(mb.inner);
        const auto* out_c = m_.find_compartment(mb.outer);
        const bool on_face = m_.geometry.spatial() && in_c != nullptr && out_c != nullptr &&
                             in_c->clamped != out_c->clamped;
        if (on_face) {
            // A membrane between the spatial domain and a bath sits on the geometry's membrane face.
            const auto face = m_.geometry.membrane_face.empty() ? default_membrane_face(m_.geometry.type)
                                                                : m_.geometry.membrane_face;
            mb.area = geometry_face_area(m_.geometry, face);
            if (const auto* node = t.get("area")) {
                report(*node, path + "area",
                       fmt::format("this membrane lies on the geometry's '{}' face, whose area ({:.6g} um^2) the "
                                   "[geometry] sets; remove 'area'",
                                   face, mb.area));
            }
            if (!(mb.area > 0)) {
                unusable_.insert(mb.name);
            }
            m_.membranes.push_back(std::move(mb));
            return;
        }
        if (const auto area = get_quantity(t, "area", path, dims::area, false)) {
            mb.area = *area;
            check_positive(t, "area", path, area, dims::area);
        }
        if (reported_under(path + "area")) {
            unusable_.insert(mb.name);
        }
        else if (!t.contains("area")) {
            const auto* inner = m_.find_compartment(mb.inner);
            if (inner != nullptr && inner->surface > 0) {
                mb.area = inner->surface;  // the surface of the inner compartment's geometry
            }
            else if ((inner == nullptr && reported_under(path + "inner")) ||
                     (inner != nullptr && unusable_.contains(inner->name))) {
                // No area to take from an unknown or broken compartment: reported above.
                covered_.insert(named + "area");
                unusable_.insert(mb.name);
            }
            else {
                report(t, path + "area",
                       "missing: give an area (e.g. \"1200 um^2\"), or a radius for the inner compartment");
            }
        }
        m_.membranes.push_back(std::move(mb));
    });
}

// A mechanism parameter's value in canonical units. Membrane parameters per area may also be given per volume of
// the mechanism's reference compartment (x V / A) or for the whole membrane (/ A).
std::optional<double> reader::mechanism_parameter(const toml::node& node, const std::string& key,
                                                  const mechanism_spec& mech, const field_info& field) {
    const auto* impl = find_mechanism(mech.type);
    const membrane_spec* mb = nullptr;
    const compartment_spec* ref = nullptr;
    if (impl != nullptr && impl->info().kind == mechanism_kind::membrane) {
        mb = m_.find_membrane(mech.location);
        if (mb != nullptr) {
            ref = m_.find_compartment(impl->info().reference == side::outer ? mb->outer : mb->inner);
        }
    }
    const auto* s = node.as_string();
    const dimension* alternative = nullptr;
    if (s != nullptr && mb != nullptr && ref != nullptr) {
        try {
            alternative = per_volume_alternative(field, split_quantity(s->get()).unit);
        }
        catch (const unit_error&) {
            // quantity() below reports it with the declared dimension.
        }
    }
    if (alternative == nullptr) {
        return quantity(node, key, *field.dim);
    }
    if (unusable_.contains(mb->name) || unusable_.contains(ref->name) || !(mb->area > 0)) {
        report(node, key,
               fmt::format("'{}' is given per volume of '{}' or for the whole membrane '{}'; it can be converted "
                           "once the problems reported for them are fixed",
                           s->get(), ref->name, mb->name));
        return std::nullopt;
    }
    const double value = to_canonical(s->get(), *alternative);
    return alternative == &dims::flux ? value / mb->area : value * ref->volume / mb->area;
}

// A mechanism table: fixed keys (name, type, membrane/compartment) and the mechanism's parameters.
void reader::read_mechanism_table(const toml::table& t, const std::string& path, const std::string& type_hint,
                                  const std::set<std::string>& fixed_keys) {
    mechanism_spec mech;
    mech.where = where(t);
    mech.type = type_hint.empty() ? get_string(t, "type", path, true).value_or("") : type_hint;
    mech.name = get_string(t, "name", path, false).value_or(mech.type);
    aliases_.emplace_back(path, "mechanisms." + mech.name + ".");
    const auto membrane = get_string(t, "membrane", path, false);
    const auto compartment = get_string(t, "compartment", path, false);
    const auto* impl = find_mechanism(mech.type);
    if (impl == nullptr) {
        // validate() reports the unknown type with the list of known ones; it knows only the table's line, so the
        // type's own line is reported here (the validator's message is then dropped as a repeat).
        if (const auto* type_node = t.get("type"); type_node != nullptr && !mech.type.empty()) {
            std::string known;
            for (const auto* m: all_mechanisms()) {
                known += (known.empty() ? "" : ", ") + std::string(m->info().name);
            }
            report(*type_node, path + "type",
                   fmt::format("unknown mechanism type '{}'; known types: {}", mech.type, known));
        }
        mech.location = membrane.value_or(compartment.value_or(""));
        m_.mechanisms.push_back(std::move(mech));
        return;
    }
    const auto& info = impl->info();
    const bool on_membrane = info.kind == mechanism_kind::membrane;
    if (on_membrane && !membrane) {
        report(t, path + "membrane", fmt::format("'{}' sits on a membrane: add membrane = \"...\"", mech.type));
    }
    if (!on_membrane && !compartment) {
        report(t, path + "compartment", fmt::format("'{}' acts in a compartment: add compartment = \"...\"", mech.type));
    }
    if (on_membrane && compartment) {
        report(*t.get("compartment"), path + "compartment",
               fmt::format("'{}' sits on a membrane; use membrane = \"...\"", mech.type));
    }
    mech.location = on_membrane ? membrane.value_or("") : compartment.value_or("");
    mech.store = get_string(t, "store", path, false).value_or("");
    if (const auto* node = t.get("at")) {
        if (!m_.geometry.spatial()) {
            report(*node, path + "at", "only mechanisms of spatial models are placed at a point: add a [geometry]");
        }
        mech.at = position(*node, path + "at");
    }

    for (const auto& [k, node]: t) {
        const std::string key(k.str());
        if (fixed_keys.contains(key)) {
            continue;
        }
        mech.parameter_where[key] = where(node);
        const int index = info.parameter_index(key);
        if (index < 0) {
            mech.parameters[key] = 0;  // validate() reports it with the list of parameters
            continue;
        }
        if (const auto v = mechanism_parameter(node, path + key, mech, info.parameters[static_cast<std::size_t>(index)])) {
            mech.parameters[key] = *v;
        }
    }
    m_.mechanisms.push_back(std::move(mech));
}

void reader::read_mechanisms(const toml::table& root) {
    each_table(root, "mechanisms", [&](const toml::table& t, const std::string& path) {
        read_mechanism_table(t, path, "", {"name", "type", "membrane", "compartment", "store", "at"});
    });
    each_table(root, "buffers", [&](const toml::table& t, const std::string& path) {
        if (t.contains("type")) {
            report(*t.get("type"), path + "type", "[[buffers]] are always of type 'buffer'; remove 'type'");
        }
        read_mechanism_table(t, path, "buffer", {"name", "compartment", "type", "at"});
    });
    each_table(root, "stimuli", [&](const toml::table& t, const std::string& path) {
        const std::string type = get_string(t, "type", path, false).value_or("pulse_train");
        read_mechanism_table(t, path, type, {"name", "type", "membrane", "compartment", "store", "at"});
    });
}

void reader::read_parameters(const toml::table& root) {
    const auto* node = root.get("parameters");
    if (node == nullptr) {
        return;
    }
    const auto* t = node->as_table();
    if (t == nullptr) {
        report(*node, "parameters", "expected a table: [parameters] with name = \"value unit\"");
        return;
    }
    for (const auto& [k, v]: *t) {
        const std::string name(k.str());
        const std::string key = "parameters." + name;
        std::optional<double> value;
        if (v.is_number()) {
            value = v.value<double>();
        }
        else if (const auto* s = v.as_string()) {
            try {
                value = to_coherent(s->get()).value;
            }
            catch (const unit_error& e) {
                report(v, key, e.what());
            }
        }
        else {
            report(v, key, "expected a number or a quantity string such as \"0.5 s^-1\"");
        }
        if (value) {
            m_.parameters.push_back({name, *value, where(v)});
        }
    }
}

// "2 cyt.a + cyt.b" -> participants. Returns false on a malformed term.
bool reader::parse_side(const std::string& text, std::vector<participant>& out) {
    std::stringstream ss(text);
    std::string term;
    while (std::getline(ss, term, '+')) {
        std::istringstream ts(term);
        std::string first;
        std::string second;
        ts >> first >> second;
        if (first.empty()) {
            continue;
        }
        participant p;
        std::string ref = first;
        if (!second.empty()) {
            try {
                std::size_t used = 0;
                p.stoichiometry = std::stod(first, &used);
                if (used != first.size()) {
                    return false;
                }
            }
            catch (const std::exception&) {
                return false;
            }
            ref = second;
        }
        std::string rest;
        ts >> rest;
        const auto dot = ref.find('.');
        if (!rest.empty() || dot == std::string::npos || dot == 0 || dot + 1 == ref.size()) {
            return false;
        }
        p.compartment = ref.substr(0, dot);
        p.species = ref.substr(dot + 1);
        out.push_back(p);
    }
    return true;
}

void reader::read_reactions(const toml::table& root) {
    each_table(root, "reactions", [&](const toml::table& t, const std::string& path) {
        check_keys(t, path, {"name", "equation", "rate", "amount_rate", "compartment"});
        reaction_spec rx;
        rx.where = where(t);
        rx.name = get_string(t, "name", path, true).value_or("");
        const auto equation = get_string(t, "equation", path, true);
        if (equation) {
            const auto arrow = equation->find("->");
            if (arrow == std::string::npos || !parse_side(equation->substr(0, arrow), rx.reactants) ||
                !parse_side(equation->substr(arrow + 2), rx.products)) {
                report(*t.get("equation"), path + "equation",
                       "expected 'reactants -> products' with terms like '2 cyt.ca' joined by '+', e.g. "
                       "\"cyt.ip3 -> \"");
                rx.reactants.clear();
                rx.products.clear();
            }
        }
        if (rx.reactants.empty() && rx.products.empty() && reported_under(path + "equation")) {
            // "needs at least one reactant" and the compartment taken from the reactants would only repeat it.
            covered_.insert("reactions." + rx.name);
            if (!t.contains("compartment")) {
                covered_.insert("reactions." + rx.name + ".compartment");
            }
        }
        aliases_.emplace_back(path, "reactions." + rx.name + ".");
        const auto rate = get_string(t, "rate", path, false);
        const auto amount_rate = get_string(t, "amount_rate", path, false);
        if (rate && amount_rate) {
            report(t, path + "rate", "give either rate (per volume) or amount_rate, not both");
        }
        else if (rate) {
            rx.rate = *rate;
            rx.rate_per_volume = true;
            rx.compartment = get_string(t, "compartment", path, false).value_or("");
            if (rx.compartment.empty() && !rx.reactants.empty()) {
                rx.compartment = rx.reactants.front().compartment;
            }
            else if (rx.compartment.empty() && !rx.products.empty()) {
                rx.compartment = rx.products.front().compartment;
            }
        }
        else if (amount_rate) {
            rx.rate = *amount_rate;
            rx.rate_per_volume = false;
        }
        else {
            report(t, path + "rate", "missing: rate (uM/ms in the compartment) or amount_rate (zmol/ms)");
        }
        m_.reactions.push_back(std::move(rx));
    });
}

void reader::read_rules(const toml::table& root) {
    each_table(root, "rules", [&](const toml::table& t, const std::string& path) {
        check_keys(t, path, {"variable", "value", "rate"});
        rule_spec r;
        r.where = where(t);
        r.variable = get_string(t, "variable", path, true).value_or("");
        aliases_.emplace_back(path, "rules." + r.variable + ".");
        const auto value = get_string(t, "value", path, false);
        const auto rate = get_string(t, "rate", path, false);
        if (value.has_value() == rate.has_value()) {
            report(t, path + "value", "give exactly one of value (an assignment rule) or rate (a rate rule)");
        }
        if (reported_under(path + "value") || reported_under(path + "rate")) {
            covered_.insert("rules." + r.variable);  // "expected a math expression" would only repeat it
        }
        r.type = rate ? rule_spec::kind::rate : rule_spec::kind::assignment;
        r.expression = rate ? *rate : value.value_or("");
        m_.rules.push_back(std::move(r));
    });
}

// [[events]]: at `time`, set mechanism parameters ("serca.vmax"), concentrations ("ext.ca": a clamped bath's
// value, or a free species' current value) or user parameters.
void reader::read_events(const toml::table& root) {
    each_table(root, "events", [&](const toml::table& t, const std::string& path) {
        check_keys(t, path, {"time", "set"});
        event_spec e;
        e.where = where(t);
        e.time = get_quantity(t, "time", path, dims::time, true).value_or(0.0);
        const auto* set = t.get("set");
        const auto* table = set != nullptr ? set->as_table() : nullptr;
        if (table == nullptr) {
            report(set != nullptr ? *set : static_cast<const toml::node&>(t), path + "set",
                   "expected a table of targets and values, e.g. set = { \"serca.vmax\" = \"0 uM/s\" }");
            m_.events.push_back(std::move(e));
            return;
        }
        for (const auto& [k, node]: *table) {
            const std::string target(k.str());
            const std::string key = path + "set." + target;
            const auto dot = target.find('.');
            std::optional<double> value;
            if (dot == std::string::npos) {
                // A user parameter: any dimension.
                if (const auto* text = node.as_string()) {
                    try {
                        value = to_coherent(text->get()).value;
                    }
                    catch (const unit_error& err) {
                        report(node, key, err.what());
                    }
                }
                else if (node.is_number()) {
                    value = node.value<double>();
                }
            }
            else {
                const std::string owner = target.substr(0, dot);
                const std::string name = target.substr(dot + 1);
                const mechanism_spec* mech = nullptr;
                for (const auto& mm: m_.mechanisms) {
                    mech = mm.name == owner ? &mm : mech;
                }
                const auto* impl = mech != nullptr ? find_mechanism(mech->type) : nullptr;
                if (impl != nullptr) {
                    const int index = impl->info().parameter_index(name);
                    if (index < 0) {
                        report(node, key, fmt::format("'{}' has no parameter '{}'", owner, name));
                        continue;
                    }
                    value = mechanism_parameter(node, key, *mech,
                                                impl->info().parameters[static_cast<std::size_t>(index)]);
                }
                else if (m_.find_compartment(owner) != nullptr) {
                    value = quantity(node, key, dims::concentration);
                }
                else if (mech == nullptr) {
                    report(node, key,
                           fmt::format("'{}' is neither a mechanism nor a compartment; targets are "
                                       "'mechanism.parameter', 'compartment.species' or a user parameter",
                                       owner));
                    continue;
                }
            }
            if (value) {
                e.set.emplace_back(target, *value);
            }
        }
        m_.events.push_back(std::move(e));
    });
}

void reader::read_run(const toml::table& root) {
    const auto* node = root.get("run");
    if (node == nullptr) {
        return;
    }
    const auto* t = node->as_table();
    if (t == nullptr) {
        report(*node, "run", "expected a table [run]");
        return;
    }
    auto& r = m_.run;
    r.where = where(*t);
    check_keys(*t, "run.",
               {"t_end", "rtol", "atol", "max_step", "max_steps", "start", "report", "jacobian", "linear_solver",
                "seed"});
    r.t_end = get_quantity(*t, "t_end", "run.", dims::time, false).value_or(r.t_end);
    r.rtol = get_quantity(*t, "rtol", "run.", dims::dimensionless, false).value_or(r.rtol);
    r.atol = get_quantity(*t, "atol", "run.", dims::concentration, false).value_or(r.atol);
    r.max_step = get_quantity(*t, "max_step", "run.", dims::time, false).value_or(r.max_step);
    if (const auto* steps = t->get("max_steps")) {
        const auto* i = steps->as_integer();
        if (i != nullptr && i->get() > 0) {
            r.max_steps = static_cast<long>(i->get());
        }
        else {
            report(*steps, "run.max_steps", "expected a positive whole number of solver steps (e.g. 1000000)");
        }
    }
    if (const auto* seed = t->get("seed")) {
        const auto* i = seed->as_integer();
        if (i != nullptr && i->get() >= 0) {
            r.seed = static_cast<std::uint64_t>(i->get());
        }
        else {
            report(*seed, "run.seed", "expected a whole number >= 0 (the seed of the stochastic channels' random "
                                      "numbers, e.g. 42)");
        }
    }
    if (const auto start = get_string(*t, "start", "run.", false)) {
        if (*start == "initial") {
            r.start = start_from::initial;
        }
        else if (*start == "steady_state") {
            r.start = start_from::steady_state;
        }
        else {
            report(*t->get("start"), "run.start",
                   fmt::format("expected \"initial\" or \"steady_state\", got \"{}\"", *start));
        }
    }
    if (const auto jac = get_string(*t, "jacobian", "run.", false)) {
        if (*jac == "coloured") {
            r.jacobian = jacobian_method::coloured;
        }
        else if (*jac == "dense") {
            r.jacobian = jacobian_method::dense;
        }
        else {
            report(*t->get("jacobian"), "run.jacobian",
                   fmt::format("expected \"coloured\" or \"dense\", got \"{}\"", *jac));
        }
    }
    if (const auto ls = get_string(*t, "linear_solver", "run.", false)) {
        if (*ls == "automatic") {
            r.linear = linear_solver::automatic;
        }
        else if (*ls == "dense") {
            r.linear = linear_solver::dense;
        }
        else if (*ls == "klu") {
            r.linear = linear_solver::klu;
        }
        else if (*ls == "gmres") {
            r.linear = linear_solver::gmres;
        }
        else if (*ls == "block_tridiagonal") {
            r.linear = linear_solver::block_tridiagonal;
        }
        else {
            report(*t->get("linear_solver"), "run.linear_solver",
                   fmt::format("expected \"automatic\", \"dense\", \"klu\", \"gmres\" or \"block_tridiagonal\", "
                               "got \"{}\"",
                               *ls));
        }
    }
    r.report_compartment = get_string(*t, "report", "run.", false).value_or("");
}

void reader::read_record(const toml::table& root) {
    const auto* node = root.get("record");
    if (node == nullptr) {
        return;
    }
    const auto* t = node->as_table();
    if (t == nullptr) {
        report(*node, "record", "expected a table [record]");
        return;
    }
    m_.record.where = where(*t);
    check_keys(*t, "record.", {"interval", "observables", "fields"});
    if (const auto* f = t->get("fields")) {
        const auto* arr = f->as_array();
        if (!m_.geometry.spatial()) {
            report(*f, "record.fields", "only spatial models have fields: add a [geometry]");
        }
        else if (arr == nullptr) {
            report(*f, "record.fields", "expected an array of names, e.g. [\"cyt.ca\"]");
        }
        else {
            for (const auto& el: *arr) {
                if (const auto* s = el.as_string()) {
                    m_.record.fields.push_back(s->get());
                }
                else {
                    report(el, "record.fields", "expected strings such as \"cyt.ca\"");
                }
            }
        }
    }
    m_.record.interval = get_quantity(*t, "interval", "record.", dims::time, false).value_or(m_.record.interval);
    if (const auto* obs = t->get("observables")) {
        if (const auto* arr = obs->as_array()) {
            for (const auto& el: *arr) {
                if (const auto* s = el.as_string()) {
                    m_.record.observables.push_back(s->get());
                }
                else {
                    report(el, "record.observables", "expected strings such as \"cyt.ca\"");
                }
            }
        }
        else {
            report(*obs, "record.observables", "expected an array of names, e.g. [\"cyt.ca\", \"er.ca\"]");
        }
    }
}

model_spec reader::read(const toml::table& root) {
    m_.source = source_;
    read_header(root);
    read_species(root);
    read_geometry(root);
    read_points(root);
    read_compartments(root);
    read_membranes(root);
    read_mechanisms(root);
    read_parameters(root);
    read_reactions(root);
    read_rules(root);
    read_events(root);
    read_run(root);
    read_record(root);
    return std::move(m_);
}

} // namespace

model_spec parse_model(std::string_view text, const std::string& source_name) {
    // SBML models (a name ending in .xml or .sbml): src/io/sbml.cpp.
    if (is_sbml_path(source_name)) {
        return parse_sbml(text, source_name);
    }
    toml::table root;
    try {
        root = toml::parse(text, source_name);
    }
    catch (const toml::parse_error& e) {
        const auto& s = e.source();
        throw model_error({{{source_name, static_cast<int>(s.begin.line), static_cast<int>(s.begin.column)},
                            "",
                            std::string("TOML syntax error: ") + std::string(e.description())}});
    }
    reader r(source_name);
    model_spec model = r.read(root);
    auto& problems = r.problems();
    // Cross-reference checks run even when the reader found problems, so one pass reports everything; the
    // validator's findings about things the reader already rejected are dropped as duplicates.
    const auto covered = r.covered_keys();
    for (auto& d: validate(model)) {
        if (!covered.contains(d.key)) {
            problems.push_back(std::move(d));
        }
    }
    if (!problems.empty()) {
        throw model_error(std::move(problems));
    }
    return model;
}

std::string read_model_text(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        diagnostic problem;
        problem.where.file = path.string();
        problem.message = "cannot open the model file";
        throw model_error({problem});
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

model_spec read_model_file(const std::filesystem::path& path) { return parse_model(read_model_text(path), path.string()); }

std::string_view default_model_text() { return detail::default_model_toml; }

model_spec default_model() { return parse_model(default_model_text(), "<built-in default model>"); }

} // namespace cadyn
