#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <map>
#include <set>

#include <fmt/format.h>

#include <cadyn/catalogue.hpp>
#include <cadyn/model.hpp>

#include "expr/expression.hpp"

namespace cadyn {

namespace {
template <typename T>
const T* find_by_name(const std::vector<T>& list, const std::string& name) {
    for (const auto& item: list) {
        if (item.name == name) {
            return &item;
        }
    }
    return nullptr;
}
} // namespace

const compartment_spec* model_spec::find_compartment(const std::string& n) const {
    return find_by_name(compartments, n);
}
const membrane_spec* model_spec::find_membrane(const std::string& n) const { return find_by_name(membranes, n); }
const species_spec* model_spec::find_species(const std::string& n) const { return find_by_name(species, n); }
const point_spec* model_spec::find_point(const std::string& n) const { return find_by_name(points, n); }
const mechanism_spec* model_spec::find_mechanism_spec(const std::string& n) const {
    return find_by_name(mechanisms, n);
}
const parameter_spec* model_spec::find_parameter(const std::string& n) const { return find_by_name(parameters, n); }

std::string report_compartment(const model_spec& model) {
    if (!model.run.report_compartment.empty()) {
        return model.run.report_compartment;
    }
    const auto* cyt = model.find_compartment("cyt");
    if (cyt != nullptr && !cyt->clamped) {
        return "cyt";
    }
    for (const auto& c: model.compartments) {
        if (!c.clamped) {
            return c.name;
        }
    }
    return {};
}

std::string compartment_on(const model_spec& model, const mechanism_spec& mech, mechanism_kind kind, side s) {
    if (s == side::store) {
        return mech.store;
    }
    if (kind == mechanism_kind::volume) {
        return mech.location;
    }
    const auto* mb = model.find_membrane(mech.location);
    if (mb == nullptr) {
        return {};
    }
    return s == side::outer ? mb->outer : mb->inner;
}

double potential_at(const potential_protocol& protocol, double constant, double t) {
    switch (protocol.type) {
    case potential_protocol::kind::constant:
    case potential_protocol::kind::expression: return constant;
    case potential_protocol::kind::steps: {
        double edge = 0;
        for (std::size_t k = 0; k < protocol.levels.size(); ++k) {
            edge += k < protocol.durations.size() ? protocol.durations[k] : std::numeric_limits<double>::infinity();
            if (t < edge) {
                return protocol.levels[k];
            }
        }
        return protocol.levels.empty() ? constant : protocol.levels.back();
    }
    case potential_protocol::kind::spikes: {
        // Gaussian spikes of full width at half maximum w, centred 2 w after each onset; only spikes within
        // 10 w of t contribute more than 1e-30 of their height.
        const double w = protocol.width;
        const double period = protocol.frequency > 0 ? 1.0 / protocol.frequency : 0.0;
        double v = protocol.rest;
        const double first = period > 0 ? std::max(0.0, std::floor((t - protocol.start - 12 * w) / period)) : 0.0;
        for (double k = first; k < protocol.count; ++k) {
            const double centre = protocol.start + k * period + 2 * w;
            if (centre > t + 10 * w) {
                break;
            }
            const double x = (t - centre) / w;
            v += (protocol.peak - protocol.rest) * std::exp(-4 * std::numbers::ln2 * x * x);
            if (period <= 0) {
                break;
            }
        }
        return v;
    }
    }
    return constant;
}

void protocol_breakpoints(const potential_protocol& protocol, double t_end, std::vector<double>& out) {
    if (protocol.type == potential_protocol::kind::steps) {
        double edge = 0;
        for (std::size_t k = 0; k + 1 < protocol.levels.size() && k < protocol.durations.size(); ++k) {
            edge += protocol.durations[k];
            if (edge > 0 && edge <= t_end) {
                out.push_back(edge);
            }
        }
    }
    else if (protocol.type == potential_protocol::kind::spikes) {
        const double period = protocol.frequency > 0 ? 1.0 / protocol.frequency : 0.0;
        for (double k = 0; k < protocol.count; ++k) {
            const double onset = protocol.start + k * period;
            if (onset > t_end || (k > 0 && period <= 0)) {
                break;
            }
            if (onset > 0) {
                out.push_back(onset);
            }
        }
    }
}

bool known_species_charge(const std::string& name, int& charge) {
    static const std::map<std::string, int> known = {
        {"ca", 2}, {"na", 1}, {"k", 1}, {"cl", -1}, {"mg", 2}, {"ip3", 0}, {"atp", 0}, {"adp", 0}, {"pi", 0},
    };
    const auto it = known.find(name);
    if (it == known.end()) {
        return false;
    }
    charge = it->second;
    return true;
}

namespace {

class validator {
public:
    explicit validator(model_spec& m): m_(m) {}

    std::vector<diagnostic> run() {
        check_header();
        check_species();
        check_compartments();
        check_membranes();
        check_mechanisms();
        check_parameters_and_rules();
        check_events();
        check_run();
        return std::move(problems_);
    }

private:
    model_spec& m_;
    std::vector<diagnostic> problems_;
    std::set<std::string> names_;  // every top-level name: compartments, membranes, mechanisms, parameters

    void report(const source_location& where, std::string key, std::string message) {
        problems_.push_back({where, std::move(key), std::move(message)});
    }

    void claim_name(const std::string& name, const source_location& where, const std::string& key) {
        if (name.empty()) {
            report(where, key, "a name is required");
            return;
        }
        if (!names_.insert(name).second) {
            report(where, key,
                   fmt::format("the name '{}' is used twice; compartments, membranes, mechanisms and parameters "
                               "need distinct names",
                               name));
        }
    }

    // Make sure species `name` exists, declaring a known ion on first use.
    bool ensure_species(const std::string& name, const source_location& where, const std::string& key) {
        if (m_.find_species(name) != nullptr) {
            return true;
        }
        int charge = 0;
        if (known_species_charge(name, charge)) {
            m_.species.push_back({name, charge, where});
            return true;
        }
        report(where, key, fmt::format("unknown species '{}': declare it in [species] with its charge", name));
        return false;
    }

    void check_header() {
        if (m_.format_version != model_format_version) {
            report({m_.source, 0, 0}, "format_version",
                   fmt::format("unsupported format_version {}; this cadyn reads version {}", m_.format_version,
                               model_format_version));
        }
        if (!(m_.temperature > 0) || !std::isfinite(m_.temperature)) {
            report({m_.source, 0, 0}, "temperature", "expected a temperature above absolute zero");
        }
    }

    void check_species() {
        std::set<std::string> seen;
        for (const auto& s: m_.species) {
            if (!seen.insert(s.name).second) {
                report(s.where, "species." + s.name, "species declared twice");
            }
        }
    }

    void check_compartments() {
        for (const auto& c: m_.compartments) {
            const std::string key = "compartments." + c.name;
            claim_name(c.name, c.where, key);
            if (!(c.volume > 0) || !std::isfinite(c.volume)) {
                report(c.where, key + ".volume", fmt::format("expected a positive volume, got {:g} um^3", c.volume));
            }
            for (const auto& [species, value]: c.initial) {
                ensure_species(species, c.where, key + ".concentrations." + species);
                if (!(value >= 0) || !std::isfinite(value)) {
                    report(c.where, key + ".concentrations." + species,
                           fmt::format("expected a non-negative concentration, got {:g} uM", value));
                }
            }
            for (const auto& [species, d]: c.diffusion) {
                ensure_species(species, c.where, key + ".diffusion." + species);
                if (c.clamped) {
                    report(c.where, key + ".diffusion." + species,
                           "a clamped compartment is a bath held constant: nothing diffuses in it");
                }
            }
            for (const auto& patch: c.patches) {
                ensure_species(patch.species, c.where, key + ".patches." + patch.species);
            }
        }
        // Co-located regions share each voxel: their fractions cannot add up to more than the voxel.
        if (m_.geometry.spatial()) {
            double total = 0;
            std::string names;
            for (const auto& c: m_.compartments) {
                if (!c.clamped) {
                    total += c.fraction;
                    names += (names.empty() ? "" : " + ") + fmt::format("{} {:g}", c.name, c.fraction);
                }
            }
            if (total > 1 + 1e-12) {
                report(m_.geometry.where, "compartments",
                       fmt::format("the compartments sharing the voxels fill more than all of them: {} = {:g} > 1; "
                                   "set each one's fraction",
                                   names, total));
            }
        }
    }

    void check_membranes() {
        for (const auto& mb: m_.membranes) {
            const std::string key = "membranes." + mb.name;
            claim_name(mb.name, mb.where, key);
            for (const auto* side_name: {&mb.inner, &mb.outer}) {
                if (m_.find_compartment(*side_name) == nullptr) {
                    report(mb.where, key + (side_name == &mb.inner ? ".inner" : ".outer"),
                           fmt::format("no compartment named '{}'", *side_name));
                }
            }
            if (mb.inner == mb.outer) {
                report(mb.where, key, "inner and outer must be different compartments");
            }
            if (!(mb.area > 0) || !std::isfinite(mb.area)) {
                report(mb.where, key + ".area", fmt::format("expected a positive area, got {:g} um^2", mb.area));
            }
            if (!std::isfinite(mb.potential)) {
                report(mb.where, key + ".potential", "expected a finite potential");
            }
            const auto& pr = mb.protocol;
            if (pr.type == potential_protocol::kind::steps) {
                if (pr.levels.empty() || pr.durations.size() + 1 < pr.levels.size()) {
                    report(mb.where, key + ".protocol",
                           "a steps protocol needs levels and a duration for every level but the last");
                }
                for (const double d: pr.durations) {
                    if (!(d > 0)) {
                        report(mb.where, key + ".protocol.durations", "durations must be positive");
                    }
                }
            }
            if (pr.type == potential_protocol::kind::spikes &&
                (!(pr.width > 0) || !(pr.count >= 0) || !(pr.frequency >= 0) || !(pr.start >= 0))) {
                report(mb.where, key + ".protocol",
                       "a spikes protocol needs a positive width and a non-negative start, frequency and count");
            }
        }
    }


    void check_mechanisms() {
        for (auto& mech: m_.mechanisms) {
            const std::string key = "mechanisms." + mech.name;
            claim_name(mech.name, mech.where, key);
            const auto* impl = find_mechanism(mech.type);
            if (impl == nullptr) {
                std::string known;
                for (const auto* m: all_mechanisms()) {
                    known += (known.empty() ? "" : ", ") + std::string(m->info().name);
                }
                report(mech.where, key + ".type",
                       fmt::format("unknown mechanism type '{}'; known types: {}", mech.type, known));
                continue;
            }
            const auto& info = impl->info();
            if (info.kind == mechanism_kind::membrane && m_.find_membrane(mech.location) == nullptr) {
                report(mech.where, key + ".membrane",
                       fmt::format("'{}' is a membrane mechanism; expected the name of a membrane, got '{}'",
                                   mech.type, mech.location));
                continue;
            }
            if (info.kind == mechanism_kind::volume && m_.find_compartment(mech.location) == nullptr) {
                report(mech.where, key + ".compartment",
                       fmt::format("'{}' acts inside a compartment; expected the name of a compartment, got '{}'",
                                   mech.type, mech.location));
                continue;
            }
            for (const auto& [pname, value]: mech.parameters) {
                const int index = info.parameter_index(pname);
                const auto it = mech.parameter_where.find(pname);
                const source_location where = it != mech.parameter_where.end() ? it->second : mech.where;
                if (index < 0) {
                    std::string known;
                    for (const auto& f: info.parameters) {
                        known += (known.empty() ? "" : ", ") + std::string(f.name);
                    }
                    report(where, key + "." + pname,
                           fmt::format("'{}' has no parameter '{}'; its parameters are: {}", mech.type, pname, known));
                    continue;
                }
                const auto& field = info.parameters[static_cast<std::size_t>(index)];
                if (!(value >= field.lower && value <= field.upper)) {
                    // Dimensionless values have no unit to print ("1" would read as a second number).
                    const std::string unit =
                        field.dim == &dims::dimensionless ? "" : " " + std::string(field.dim->canonical);
                    report(where, key + "." + pname,
                           fmt::format("{:g}{} is out of range: expected a value in [{:g}, {:g}]{}", value, unit,
                                       field.lower, field.upper, unit));
                }
            }
            for (const auto& field: info.parameters) {
                mech.parameters.try_emplace(std::string(field.name), default_value(field));
            }
            for (const auto& read: info.reads) {
                const std::string species(read.species);
                ensure_species(species, mech.where, key);
                if (read.where == side::store && m_.find_compartment(mech.store) == nullptr) {
                    report(mech.where, key + ".store",
                           fmt::format("'{}' senses a store: add store = \"...\" naming a compartment{}", mech.type,
                                       mech.store.empty() ? "" : fmt::format(" ('{}' is none)", mech.store)));
                    continue;
                }
                const auto* comp = m_.find_compartment(compartment_on(m_, mech, info.kind, read.where));
                if (comp != nullptr && comp->clamped && !comp->initial.contains(species)) {
                    report(mech.where, key,
                           fmt::format("'{}' reads {} in the clamped compartment '{}', which gives no concentration "
                                       "for it",
                                       mech.type, species, comp->name));
                }
            }
            for (const auto& out: info.outputs) {
                ensure_species(std::string(out), mech.where, key);
            }
        }
    }

    // Names usable in expressions: "compartment.species", compartment names (volumes), parameters, rule
    // variables, t.
    void check_parameters_and_rules() {
        std::set<std::string> known = {"t"};
        for (const auto& p: m_.parameters) {
            claim_name(p.name, p.where, "parameters." + p.name);
            known.insert(p.name);
            if (!std::isfinite(p.value)) {
                report(p.where, "parameters." + p.name, "expected a finite value");
            }
        }
        for (const auto& c: m_.compartments) {
            known.insert(c.name);
            for (const auto& s: m_.species) {
                known.insert(c.name + "." + s.name);
            }
        }
        for (const auto& r: m_.rules) {
            if (r.type == rule_spec::kind::assignment) {
                if (known.contains(r.variable) && m_.find_compartment(r.variable) == nullptr &&
                    r.variable.find('.') != std::string::npos) {
                    report(r.where, "rules." + r.variable,
                           "assignment rules to species concentrations are not supported; use a rate rule or a "
                           "reaction");
                }
                known.insert(r.variable);
            }
        }
        const auto check_expr = [&](const std::string& text, const source_location& where, const std::string& key) {
            if (text.empty()) {
                report(where, key, "expected a math expression");
                return;
            }
            try {
                for (const auto& name: detail::referenced_names(text)) {
                    if (!known.contains(name)) {
                        report(where, key,
                               fmt::format("unknown name '{}' in '{}'; expressions may use compartment.species, "
                                           "compartment volumes, parameters, rule variables and t",
                                           name, text));
                    }
                }
            }
            catch (const detail::expression_error& e) {
                report(where, key, e.what());
            }
        };
        for (const auto& r: m_.rules) {
            const std::string key = "rules." + r.variable;
            if (r.type == rule_spec::kind::rate) {
                const auto dot = r.variable.find('.');
                const bool is_param = find_by_name(m_.parameters, r.variable) != nullptr;
                bool is_species = false;
                if (dot != std::string::npos) {
                    const auto* c = m_.find_compartment(r.variable.substr(0, dot));
                    is_species = c != nullptr && !c->clamped && m_.find_species(r.variable.substr(dot + 1)) != nullptr;
                }
                if (!is_param && !is_species) {
                    report(r.where, key,
                           fmt::format("a rate rule needs a species in a non-clamped compartment "
                                       "('compartment.species') or a parameter; '{}' is neither",
                                       r.variable));
                }
            }
            check_expr(r.expression, r.where, key);
        }
        for (const auto& mb: m_.membranes) {
            if (mb.protocol.type == potential_protocol::kind::expression) {
                check_expr(mb.protocol.expression, mb.where, "membranes." + mb.name + ".protocol.value");
            }
        }
        for (const auto& rx: m_.reactions) {
            const std::string key = "reactions." + rx.name;
            if (rx.reactants.empty() && rx.products.empty()) {
                report(rx.where, key, "a reaction needs at least one reactant or product");
            }
            for (const auto* list: {&rx.reactants, &rx.products}) {
                for (const auto& p: *list) {
                    const auto* c = m_.find_compartment(p.compartment);
                    if (c == nullptr) {
                        report(rx.where, key, fmt::format("no compartment named '{}'", p.compartment));
                    }
                    ensure_species(p.species, rx.where, key);
                    if (!(p.stoichiometry > 0)) {
                        report(rx.where, key, "stoichiometries must be positive");
                    }
                }
            }
            if (rx.rate_per_volume && m_.find_compartment(rx.compartment) == nullptr) {
                report(rx.where, key + ".compartment",
                       fmt::format("a rate given per volume needs the compartment it refers to; no compartment "
                                   "named '{}'",
                                   rx.compartment));
            }
            check_expr(rx.rate, rx.where, key + ".rate");
        }
    }

    void check_events() {
        for (std::size_t k = 0; k < m_.events.size(); ++k) {
            const auto& e = m_.events[k];
            const std::string key = fmt::format("events[{}]", k);
            if (!(e.time > 0) || !std::isfinite(e.time)) {
                report(e.where, key + ".time", "expected a positive time (events happen during the run)");
            }
            for (const auto& [target, value]: e.set) {
                const auto dot = target.find('.');
                if (dot == std::string::npos) {
                    if (std::none_of(m_.parameters.begin(), m_.parameters.end(),
                                     // Captured by name: clang < 16 cannot capture a structured binding.
                                     [&name = target](const parameter_spec& p) { return p.name == name; })) {
                        report(e.where, key + ".set." + target, fmt::format("no user parameter named '{}'", target));
                    }
                    continue;
                }
                const auto* c = m_.find_compartment(target.substr(0, dot));
                if (c != nullptr && m_.find_species(target.substr(dot + 1)) == nullptr) {
                    report(e.where, key + ".set." + target,
                           fmt::format("unknown species '{}'", target.substr(dot + 1)));
                }
                if (c != nullptr && !(value >= 0)) {
                    report(e.where, key + ".set." + target, "expected a non-negative concentration");
                }
            }
        }
    }

    void check_run() {
        const auto& r = m_.run;
        if (!(r.t_end > 0) || !std::isfinite(r.t_end)) {
            report(r.where, "run.t_end", "expected a positive duration");
        }
        if (!(r.rtol > 0 && r.rtol < 1)) {
            report(r.where, "run.rtol", "expected a relative tolerance between 0 and 1 (e.g. 1e-6)");
        }
        if (!(r.atol > 0)) {
            report(r.where, "run.atol", "expected a positive absolute tolerance (e.g. '1e-9 uM')");
        }
        if (!(r.max_step >= 0)) {
            report(r.where, "run.max_step", "expected a non-negative time");
        }
        if (!(m_.record.interval > 0)) {
            report(m_.record.where, "record.interval", "expected a positive time between records");
        }
        if (!r.report_compartment.empty()) {
            const auto* c = m_.find_compartment(r.report_compartment);
            if (c == nullptr || c->clamped) {
                report(r.where, "run.report",
                       fmt::format("expected a non-clamped compartment to report on, got '{}'", r.report_compartment));
            }
        }
        bool any_free = false;
        for (const auto& c: m_.compartments) {
            any_free = any_free || !c.clamped;
        }
        if (!any_free && problems_.empty()) {
            report({m_.source, 0, 0}, "compartments", "the model needs at least one compartment that is not clamped");
        }
    }
};

} // namespace

std::vector<diagnostic> validate(model_spec& model) { return validator(model).run(); }

} // namespace cadyn
