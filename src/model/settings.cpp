// Changing one value of a model by key (include/cadyn/settings.hpp): Python's Model.set() and `cadyn run --set`.
#include <cadyn/settings.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>

#include <fmt/core.h>

#include <cadyn/catalogue.hpp>

namespace cadyn {
namespace {

// One problem with the key the user typed (no file or line).
[[noreturn]] void fail(const std::string& key, const std::string& message) {
    diagnostic d;
    d.key = key;
    d.message = message;
    throw model_error({d});
}

// Convert with the units module; a unit error names the key, as the model reader's messages do.
double quantity(const std::string& text, const dimension& d, const std::string& key) {
    try {
        return to_canonical(text, d);
    }
    catch (const unit_error& e) {
        diagnostic problem;
        problem.key = key;
        problem.message = e.what();
        throw unit_error(problem.to_string());
    }
}

// A whole number written alone (surrounding spaces allowed); nullopt otherwise.
std::optional<long long> whole_number(std::string_view text) {
    while (!text.empty() && text.front() == ' ') {
        text.remove_prefix(1);
    }
    while (!text.empty() && text.back() == ' ') {
        text.remove_suffix(1);
    }
    long long v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
        return std::nullopt;
    }
    return v;
}

std::string list_names(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n: names) {
        out += (out.empty() ? "" : ", ") + n;
    }
    return out;
}

template <class Model>
auto& setting_field(Model& m, std::string_view full) {
    if (full == "run.t_end") {
        return m.run.t_end;
    }
    if (full == "run.rtol") {
        return m.run.rtol;
    }
    if (full == "run.atol") {
        return m.run.atol;
    }
    if (full == "run.max_step") {
        return m.run.max_step;
    }
    if (full == "record.interval") {
        return m.record.interval;
    }
    return m.temperature;
}

// A mechanism parameter from quantity text, as the model reader converts it (src/io/model_file.cpp,
// mechanism_parameter): a membrane parameter per area may also be given per volume of the mechanism's reference
// compartment ("30 uM/s" of the cytosol: x V / A) or for the whole membrane ("5 amol/s": / A).
double mechanism_parameter(const model_spec& m, const mechanism_spec& mech, const field_info& field,
                           const std::string& text, const std::string& key) {
    const auto* impl = find_mechanism(mech.type);
    if (impl != nullptr && impl->info().kind == mechanism_kind::membrane) {
        const auto* mb = m.find_membrane(mech.location);
        const auto* ref = mb == nullptr ? nullptr
                                        : m.find_compartment(impl->info().reference == side::outer ? mb->outer : mb->inner);
        std::string unit;
        try {
            unit = split_quantity(text).unit;
        }
        catch (const unit_error&) {
            // quantity() below reports it with the declared dimension.
        }
        const dimension* alternative = nullptr;
        if (field.dim == &dims::flux_density && has_dimension(unit, dims::concentration_rate)) {
            alternative = &dims::concentration_rate;
        }
        else if (field.dim == &dims::flux_density && has_dimension(unit, dims::flux)) {
            alternative = &dims::flux;
        }
        else if (field.dim == &dims::permeability && has_dimension(unit, dims::rate)) {
            alternative = &dims::rate;
        }
        if (alternative != nullptr && mb != nullptr && ref != nullptr && mb->area > 0) {
            const double value = quantity(text, *alternative, key);
            return alternative == &dims::flux ? value / mb->area : value * ref->volume / mb->area;
        }
    }
    return quantity(text, *field.dim, key);
}

template <class T>
T& by_name(std::vector<T>& list, const std::string& name) {
    return *std::find_if(list.begin(), list.end(), [&name](const T& x) { return x.name == name; });
}

// Sets `key` in `m` (a copy of the caller's model) without validating the whole model.
void set_in(model_spec& m, const std::string& key, const std::string& text, const source_location& where) {
    const auto dot = key.find('.');
    const std::string head = dot == std::string::npos ? key : key.substr(0, dot);
    const std::string tail = dot == std::string::npos ? std::string() : key.substr(dot + 1);
    if (const auto* s = find_model_setting(key)) {
        const std::string_view full = s->key;
        if (full == "run.start") {
            if (text == "initial") {
                m.run.start = start_from::initial;
            }
            else if (text == "steady_state") {
                m.run.start = start_from::steady_state;
            }
            else {
                fail(key, fmt::format("expected \"initial\" or \"steady_state\", got \"{}\"", text));
            }
        }
        else if (full == "run.max_steps") {
            const auto v = whole_number(text);
            if (!v || *v <= 0) {
                fail(key, fmt::format("expected a positive whole number of solver steps (e.g. 1000000), got \"{}\"",
                                      text));
            }
            m.run.max_steps = static_cast<long>(*v);
        }
        else if (full == "run.seed") {
            const auto v = whole_number(text);
            if (!v || *v < 0) {
                fail(key, fmt::format("expected a whole number >= 0 (the seed of the stochastic channels' random "
                                      "numbers), got \"{}\"",
                                      text));
            }
            m.run.seed = static_cast<std::uint64_t>(*v);
        }
        else {
            setting_field(m, full) = quantity(text, *s->dim, key);
        }
    }
    else if (dot != std::string::npos && head == "parameters") {
        if (m.find_parameter(tail) == nullptr) {
            fail(key, fmt::format("the model has no parameter '{}'", tail));
        }
        auto& p = by_name(m.parameters, tail);
        try {
            p.value = to_coherent(text).value;
        }
        catch (const unit_error& e) {
            diagnostic d;
            d.key = key;
            d.message = e.what();
            throw unit_error(d.to_string());
        }
        p.where = where;
    }
    else if (dot != std::string::npos && m.find_mechanism_spec(head) != nullptr) {
        auto& mech = by_name(m.mechanisms, head);
        const auto* impl = find_mechanism(mech.type);
        const int index = impl == nullptr ? -1 : impl->info().parameter_index(tail);
        if (index < 0) {
            std::vector<std::string> names;
            if (impl != nullptr) {
                for (const auto& f: impl->info().parameters) {
                    names.emplace_back(f.name);
                }
            }
            fail(key, fmt::format("'{}' has no parameter '{}'; its parameters are: {}", mech.type, tail,
                                  list_names(names)));
        }
        const auto& field = impl->info().parameters[static_cast<std::size_t>(index)];
        mech.parameters[tail] = mechanism_parameter(m, mech, field, text, key);
        mech.parameter_where[tail] = where;
    }
    else if (dot != std::string::npos && m.find_compartment(head) != nullptr) {
        auto& c = by_name(m.compartments, head);
        if (m.find_species(tail) == nullptr) {
            std::vector<std::string> names;
            for (const auto& sp: m.species) {
                names.push_back(sp.name);
            }
            fail(key, fmt::format("the model has no species '{}'; its species are: {}", tail, list_names(names)));
        }
        const double v = quantity(text, dims::concentration, key);
        if (!(v >= 0)) {
            fail(key, fmt::format("a concentration cannot be negative (got {:g} uM)", v));
        }
        c.initial[tail] = v;
    }
    else if (dot == std::string::npos && m.find_parameter(key) != nullptr) {
        set_in(m, "parameters." + key, text, where);
    }
    else {
        fail(key, fmt::format("nothing in the model is called '{}': {}", key, settable_help(m)));
    }
}

} // namespace

const std::vector<model_setting>& model_settings() {
    static const std::vector<model_setting> list{
        {"run.t_end", &dims::time, "ms"},           {"run.rtol", &dims::dimensionless, "1"},
        {"run.atol", &dims::concentration, "uM"},   {"run.max_step", &dims::time, "ms"},
        {"run.max_steps", nullptr, "1"},            {"run.start", nullptr, ""},
        {"record.interval", &dims::time, "ms"},     {"temperature", &dims::temperature, "K"},
        {"run.seed", nullptr, "1"},
    };
    return list;
}

const model_setting* find_model_setting(std::string_view key) {
    for (const auto& s: model_settings()) {
        const std::string_view full = s.key;
        const auto dot = full.find('.');
        if (key == full || (dot != std::string_view::npos && key == full.substr(dot + 1))) {
            return &s;
        }
    }
    return nullptr;
}

double model_setting_value(const model_spec& m, const model_setting& s) { return setting_field(m, s.key); }

std::string settable_help(const model_spec& m) {
    std::vector<std::string> run_keys;
    for (const auto& s: model_settings()) {
        run_keys.emplace_back(s.key);
    }
    return fmt::format("expected a mechanism parameter (\"{}\"), an initial concentration (\"{}\"), a user parameter "
                       "(parameters.NAME) or one of {}",
                       m.mechanisms.empty() ? "pmca.vmax" : m.mechanisms.front().name + ".PARAMETER",
                       m.compartments.empty() ? "cyt.ca" : m.compartments.front().name + ".SPECIES",
                       list_names(run_keys));
}

double model_number(const model_spec& m, const std::string& key, std::string& unit) {
    const auto dot = key.find('.');
    const std::string head = dot == std::string::npos ? key : key.substr(0, dot);
    const std::string tail = dot == std::string::npos ? std::string() : key.substr(dot + 1);
    if (const auto* s = find_model_setting(key)) {
        const std::string_view full = s->key;
        unit = s->unit;
        if (full == "run.max_steps") {
            return static_cast<double>(m.run.max_steps);
        }
        if (full == "run.seed") {
            return static_cast<double>(m.run.seed);
        }
        if (full == "run.start") {
            fail(key, "is \"initial\" or \"steady_state\", not a number");
        }
        return model_setting_value(m, *s);
    }
    unit.clear();
    if (dot != std::string::npos && head == "parameters") {
        if (const auto* p = m.find_parameter(tail)) {
            return p->value;
        }
        fail(key, fmt::format("the model has no parameter '{}'", tail));
    }
    if (dot != std::string::npos) {
        if (const auto* mech = m.find_mechanism_spec(head)) {
            const auto* impl = find_mechanism(mech->type);
            const int index = impl == nullptr ? -1 : impl->info().parameter_index(tail);
            const auto it = mech->parameters.find(tail);
            if (index >= 0 && it != mech->parameters.end()) {
                unit = impl->info().parameters[static_cast<std::size_t>(index)].dim->canonical;
                return it->second;
            }
            fail(key, fmt::format("'{}' has no parameter '{}'", mech->type, tail));
        }
        if (const auto* c = m.find_compartment(head)) {
            if (m.find_species(tail) == nullptr) {
                fail(key, fmt::format("the model has no species '{}'", tail));
            }
            unit = "uM";
            const auto it = c->initial.find(tail);
            return it == c->initial.end() ? 0.0 : it->second;
        }
    }
    else if (const auto* p = m.find_parameter(key)) {
        return p->value;
    }
    fail(key, fmt::format("nothing in the model is called '{}': {}", key, settable_help(m)));
}

void set_model_value(model_spec& m, const std::string& key, const std::string& text, const source_location& where) {
    model_spec changed = m;
    set_in(changed, key, text, where);
    auto problems = validate(changed);
    if (!problems.empty()) {
        throw model_error(std::move(problems));
    }
    m = std::move(changed);
}

} // namespace cadyn
