// compile(): model_spec -> system (state layout + mechanisms bound to sites), and the right-hand side.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>

#include <cadyn/catalogue.hpp>
#include <cadyn/system.hpp>

#include "expr/expression.hpp"

namespace cadyn {

namespace {

// Concentrations of one species in one compartment, over that compartment's sites.
struct field {
    std::string compartment;
    std::string species;
    std::size_t compartment_index = 0;
    bool dynamic = false;     // in y; otherwise a constant of a clamped compartment
    std::size_t offset = 0;   // into y (dynamic) or into impl::clamped (constant)
};

struct compartment_layout {
    std::string name;
    bool clamped = false;
    std::vector<double> volume;  // [um^3] per site
};

constexpr std::size_t no_membrane = static_cast<std::size_t>(-1);

// Where an array of per-instance values lives: field + site of each instance.
struct site_map {
    std::size_t field = 0;
    std::vector<std::size_t> site;
    std::vector<double> inv_volume;  // [1/um^3] per instance (scatter targets only)
};

struct bound_mechanism {
    std::string name;
    const mechanism* impl = nullptr;
    const mechanism_info* info = nullptr;
    std::size_t n = 0;
    std::vector<double> params;                 // [parameter * n + i]
    std::vector<const double*> param_ptr;
    std::vector<site_map> reads;
    std::vector<double> in;                     // gathered concentrations [read * n + i]
    std::vector<const double*> in_ptr;
    std::vector<double> out;                    // kernel outputs [output * n + i]
    std::vector<double*> out_ptr;
    std::vector<site_map> to_inner;             // per output: the compartment it enters (volume: local)
    std::vector<site_map> to_outer;             // per output: the compartment it leaves (membrane only)
    std::size_t state_offset = 0;               // states s at y[state_offset + s * n + i]
    std::vector<const double*> state_ptr;
    std::vector<double*> dstate_ptr;
    std::vector<double> size;                   // area [um^2] or volume [um^3] per instance
    std::size_t membrane = no_membrane;         // index into impl::membranes (membrane mechanisms)
    std::string home;                           // compartment its states belong to
    std::size_t first_channel = 0;              // budget channel of output 0
    std::vector<double> obs;                    // observables [observable * n + i]
    std::vector<double*> obs_ptr;
    std::vector<double> obs_reference;          // values at the start of the run (for relative observables)
};

// The potential of one membrane over its sites [mV], updated every rhs call when it varies in time.
struct membrane_layout {
    const membrane_spec* spec = nullptr;
    std::vector<double> potential;
    std::optional<detail::expression> expr;  // for expression protocols
    bool varies = false;
    std::vector<std::size_t> depends_on;     // states an expression protocol may depend on
};

struct compiled_reaction {
    detail::expression rate;
    std::vector<std::size_t> depends_on;  // indices into y the rate may depend on
    double volume = 1;  // multiplies the rate when it is given per volume
    struct term {
        std::size_t field;
        double coefficient;  // signed stoichiometry / volume of the species' compartment
        double stoichiometry;  // signed
        std::size_t channel;   // budget channel (source) of this species
    };
    std::vector<term> terms;
};

struct compiled_rule {
    detail::expression expr;
    std::size_t target;  // assignment: symbol index; rate: index into y
    std::vector<std::size_t> depends_on;  // indices into y the expression may depend on
    std::size_t channel = static_cast<std::size_t>(-1);  // rate rules on species: budget channel (source)
    double volume = 0;                                    // of the species' compartment [um^3]
};

// One change an event makes: a value at an address inside the system (a parameter array, a clamped
// concentration, a symbol) or in the state vector. `original` restores it before the next run.
struct event_action {
    enum class where { parameter, clamped, state, symbol } target;
    std::size_t mechanism = 0;  // parameter: which bound mechanism
    std::size_t index = 0;      // parameter index, clamped offset, state index or symbol index
    double value = 0;
    double original = 0;
};

struct compiled_event {
    double time;
    std::vector<event_action> actions;
};

enum class observable_kind { field, state, channel, symbol, potential, mechanism, atp };
struct observable_ref {
    observable_kind kind;
    std::size_t index;   // field, state, channel, symbol, membrane or mechanism
    std::size_t sub = 0; // the mechanism's observable
};

} // namespace

struct system::impl {
    model_spec model;
    std::vector<compartment_layout> compartments;
    std::vector<membrane_layout> membranes;
    std::vector<double> zero_potential;  // for volume mechanisms
    std::vector<field> fields;
    std::map<std::pair<std::string, std::string>, std::size_t> field_index;
    std::vector<double> clamped;
    std::vector<bound_mechanism> mechanisms;
    std::vector<std::string> state_names;
    std::size_t n_states = 0;
    std::vector<double> initial;
    std::vector<flux_channel> channels;

    // Expressions read their variables from `symbols` (stable addresses, sized once).
    std::vector<double> symbols;
    std::map<std::string, std::size_t> symbol_index;
    std::vector<std::pair<std::size_t, std::size_t>> field_symbols;   // (field, symbol)
    std::vector<std::pair<std::size_t, std::size_t>> param_states;    // (y index, symbol)
    std::size_t time_symbol = 0;
    std::vector<compiled_rule> assignments;  // in dependency order
    std::vector<compiled_reaction> reactions;
    std::vector<compiled_rule> rate_rules;

    std::vector<observable_info> observables;
    std::vector<observable_ref> observable_refs;
    std::vector<conservation_law> laws;
    std::vector<compiled_event> events;

    // Per-call scratch: current and derivative pointers for each field; a sink for clamped derivatives.
    std::vector<const double*> cur;
    std::vector<double*> dcur;
    std::vector<double> sink;
    std::vector<double> scratch_ydot;
    std::vector<double> scratch_flux;

    explicit impl(model_spec m);
    void layout_fields();
    void bind_mechanisms();
    void compile_expressions();
    void choose_observables();
    void compute_initial();
    void find_conservation_laws();
    void compile_events();
    double& target_of(const event_action& a, double* y);

    std::size_t add_symbol(const std::string& name, double value) {
        const auto [it, fresh] = symbol_index.try_emplace(name, symbols.size());
        if (fresh) {
            symbols.push_back(value);
        }
        return it->second;
    }
    std::vector<detail::expression::binding> bindings() {
        std::vector<detail::expression::binding> out;
        for (const auto& [name, index]: symbol_index) {
            out.push_back({name, &symbols[index]});
        }
        return out;
    }

    void point_at(const double* y, double* ydot);
    void update_membranes();
    double total(const double* y, const std::string& species, const std::string* compartment) const;
    void compute_mechanism_observables(double t, const double* y);
    mechanism_pack pack(bound_mechanism& b, double t, const double* y, double* ydot);
    void update_symbols(double t, const double* y);
    void evaluate(double t, const double* y, double* ydot, double* flux, bool stimuli);
};

system::impl::impl(model_spec m): model(std::move(m)) {
    layout_fields();
    for (const auto& mb: model.membranes) {
        membrane_layout layout;
        layout.spec = &mb;
        layout.potential.assign(1, mb.potential);
        layout.varies = mb.protocol.type != potential_protocol::kind::constant;
        membranes.push_back(std::move(layout));
    }
    bind_mechanisms();
    compile_expressions();
    choose_observables();
    find_conservation_laws();
    compile_events();
    cur.resize(fields.size());
    dcur.resize(fields.size());
    std::size_t max_sites = 1;
    for (const auto& c: compartments) {
        max_sites = std::max(max_sites, c.volume.size());
    }
    sink.resize(max_sites);
    scratch_ydot.resize(n_states);
    scratch_flux.resize(channels.size());
    compute_initial();
}

void system::impl::layout_fields() {
    // Which species live in which compartment: those given a concentration, those a mechanism reads or moves
    // there, those a reaction or rule names.
    std::set<std::pair<std::string, std::string>> present;
    for (const auto& c: model.compartments) {
        for (const auto& [s, v]: c.initial) {
            present.insert({c.name, s});
        }
    }
    for (const auto& mech: model.mechanisms) {
        const auto& info = find_mechanism(mech.type)->info();
        const auto where = [&](side s) { return compartment_on(model, mech, info.kind, s); };
        for (const auto& r: info.reads) {
            present.insert({where(r.where), std::string(r.species)});
        }
        for (const auto& o: info.outputs) {
            present.insert({where(side::inner), std::string(o)});
            if (info.kind == mechanism_kind::membrane) {
                present.insert({where(side::outer), std::string(o)});
            }
        }
    }
    for (const auto& rx: model.reactions) {
        for (const auto* list: {&rx.reactants, &rx.products}) {
            for (const auto& p: *list) {
                present.insert({p.compartment, p.species});
            }
        }
    }
    for (const auto& r: model.rules) {
        const auto dot = r.variable.find('.');
        if (r.type == rule_spec::kind::rate && dot != std::string::npos) {
            present.insert({r.variable.substr(0, dot), r.variable.substr(dot + 1)});
        }
    }

    for (std::size_t ci = 0; ci < model.compartments.size(); ++ci) {
        const auto& c = model.compartments[ci];
        compartments.push_back({c.name, c.clamped, {c.volume}});
        for (const auto& s: model.species) {
            if (!present.contains({c.name, s.name})) {
                continue;
            }
            field f{c.name, s.name, ci, !c.clamped, 0};
            if (f.dynamic) {
                f.offset = n_states;
                n_states += 1;
                state_names.push_back(c.name + "." + s.name);
            }
            else {
                f.offset = clamped.size();
                const auto it = c.initial.find(s.name);
                clamped.push_back(it == c.initial.end() ? 0.0 : it->second);
            }
            field_index[{c.name, s.name}] = fields.size();
            fields.push_back(std::move(f));
        }
    }
}

void system::impl::bind_mechanisms() {
    for (const auto& spec: model.mechanisms) {
        bound_mechanism b;
        b.name = spec.name;
        b.impl = find_mechanism(spec.type);
        b.home = compartment_on(model, spec, b.impl->info().kind, side::inner);
        b.info = &b.impl->info();
        const auto& info = *b.info;
        b.n = 1;  // point model: one instance per mechanism
        for (const auto& f: info.parameters) {
            b.params.push_back(spec.parameters.at(std::string(f.name)));
        }
        const membrane_spec* mb = info.kind == mechanism_kind::membrane ? model.find_membrane(spec.location) : nullptr;
        const auto compartment_of = [&](side s) { return compartment_on(model, spec, info.kind, s); };
        const auto map_to = [&](const std::string& comp, std::string_view species) {
            site_map m;
            m.field = field_index.at({comp, std::string(species)});
            m.site.assign(b.n, 0);
            const auto& layout = compartments[fields[m.field].compartment_index];
            for (std::size_t i = 0; i < b.n; ++i) {
                m.inv_volume.push_back(1.0 / layout.volume[m.site[i]]);
            }
            return m;
        };
        for (const auto& r: info.reads) {
            b.reads.push_back(map_to(compartment_of(r.where), r.species));
        }
        b.first_channel = channels.size();
        for (const auto& o: info.outputs) {
            b.to_inner.push_back(map_to(compartment_of(side::inner), o));
            if (mb != nullptr) {
                b.to_outer.push_back(map_to(compartment_of(side::outer), o));
                channels.push_back({spec.name, spec.type, std::string(o), mb->outer, mb->inner, mb->name,
                                    flux_channel::kind::transfer});
            }
            else {
                channels.push_back({spec.name, spec.type, std::string(o), "", spec.location, "",
                                    flux_channel::kind::conversion});
            }
        }
        if (mb != nullptr) {
            b.size.assign(b.n, mb->area);
            b.membrane = static_cast<std::size_t>(mb - model.membranes.data());
        }
        else {
            b.size.assign(b.n, model.find_compartment(spec.location)->volume);
        }
        zero_potential.resize(std::max(zero_potential.size(), b.n), 0.0);
        b.obs.resize(info.observables.size() * b.n);
        for (std::size_t j = 0; j < info.observables.size(); ++j) {
            b.obs_ptr.push_back(b.obs.data() + j * b.n);
        }
        b.obs_reference.assign(b.obs.size(), 1.0);
        b.state_offset = n_states;
        for (const auto& s: info.states) {
            state_names.push_back(spec.name + "." + std::string(s.name));
        }
        n_states += info.states.size() * b.n;

        b.in.resize(info.reads.size() * b.n);
        b.out.resize(info.outputs.size() * b.n);
        for (std::size_t j = 0; j < info.parameters.size(); ++j) {
            b.param_ptr.push_back(b.params.data() + j * b.n);
        }
        for (std::size_t j = 0; j < info.reads.size(); ++j) {
            b.in_ptr.push_back(b.in.data() + j * b.n);
        }
        for (std::size_t j = 0; j < info.outputs.size(); ++j) {
            b.out_ptr.push_back(b.out.data() + j * b.n);
        }
        b.state_ptr.resize(info.states.size());
        b.dstate_ptr.resize(info.states.size());
        mechanisms.push_back(std::move(b));
    }
}

void system::impl::compile_expressions() {
    std::vector<diagnostic> problems;
    time_symbol = add_symbol("t", 0.0);
    for (std::size_t f = 0; f < fields.size(); ++f) {
        field_symbols.emplace_back(f, add_symbol(fields[f].compartment + "." + fields[f].species, 0.0));
    }
    for (const auto& c: model.compartments) {
        add_symbol(c.name, c.volume);
    }
    for (const auto& p: model.parameters) {
        add_symbol(p.name, p.value);
    }
    for (const auto& r: model.rules) {
        if (r.type == rule_spec::kind::assignment) {
            add_symbol(r.variable, 0.0);
        }
        else if (r.variable.find('.') == std::string::npos) {
            // A parameter driven by a rate rule becomes a state.
            param_states.emplace_back(n_states, symbol_index.at(r.variable));
            state_names.push_back(r.variable);
            n_states += 1;
        }
    }
    // Every symbol exists now; `symbols` will not grow again, so addresses are stable.
    const auto vars = bindings();

    // Which states each symbol depends on (for the Jacobian's sparsity pattern): a species symbol on its state,
    // a parameter state on itself, an assignment variable on whatever its expression depends on.
    std::vector<std::set<std::size_t>> symbol_deps(symbols.size());
    for (const auto& [f, sym]: field_symbols) {
        if (fields[f].dynamic) {
            symbol_deps[sym].insert(fields[f].offset);
        }
    }
    for (const auto& [index, sym]: param_states) {
        symbol_deps[sym].insert(index);
    }
    const auto deps_of = [&](const std::string& text) {
        std::set<std::size_t> deps;
        try {
            for (const auto& name: detail::referenced_names(text)) {
                const auto it = symbol_index.find(name);
                if (it != symbol_index.end()) {
                    deps.insert(symbol_deps[it->second].begin(), symbol_deps[it->second].end());
                }
            }
        }
        catch (const detail::expression_error&) {
            // Reported when the expression is compiled.
        }
        return deps;
    };
    const auto compile = [&](const std::string& text, const source_location& where, const std::string& key,
                             auto&& use) {
        try {
            use(detail::expression(text, vars));
        }
        catch (const detail::expression_error& e) {
            problems.push_back({where, key, e.what()});
        }
    };

    // Assignment rules in dependency order (a rule may use variables assigned by other rules).
    std::vector<const rule_spec*> pending;
    for (const auto& r: model.rules) {
        if (r.type == rule_spec::kind::assignment) {
            pending.push_back(&r);
        }
    }
    std::set<std::string> assigned_later;
    for (const auto* r: pending) {
        assigned_later.insert(r->variable);
    }
    while (!pending.empty()) {
        bool progress = false;
        for (auto it = pending.begin(); it != pending.end();) {
            bool ready = true;
            try {
                for (const auto& name: detail::referenced_names((*it)->expression)) {
                    ready = ready && !(assigned_later.contains(name) && name != (*it)->variable);
                }
            }
            catch (const detail::expression_error&) {
                // Reported when compiled below.
            }
            if (!ready) {
                ++it;
                continue;
            }
            const auto* r = *it;
            compile(r->expression, r->where, "rules." + r->variable, [&](detail::expression e) {
                const auto target = symbol_index.at(r->variable);
                symbol_deps[target] = deps_of(r->expression);
                assignments.push_back({std::move(e), target, {}});
            });
            assigned_later.erase(r->variable);
            it = pending.erase(it);
            progress = true;
        }
        if (!progress) {
            for (const auto* r: pending) {
                problems.push_back({r->where, "rules." + r->variable,
                                    "assignment rules depend on each other in a cycle; break the cycle"});
            }
            break;
        }
    }

    for (auto& mb: membranes) {
        if (mb.spec->protocol.type == potential_protocol::kind::expression) {
            compile(mb.spec->protocol.expression, mb.spec->where, "membranes." + mb.spec->name + ".protocol.value",
                    [&](detail::expression e) {
                        const auto deps = deps_of(mb.spec->protocol.expression);
                        mb.depends_on.assign(deps.begin(), deps.end());
                        mb.expr.emplace(std::move(e));
                    });
        }
    }
    for (const auto& rx: model.reactions) {
        compile(rx.rate, rx.where, "reactions." + rx.name + ".rate", [&](detail::expression e) {
            const auto deps = deps_of(rx.rate);
            compiled_reaction c{std::move(e), {deps.begin(), deps.end()}, 1.0, {}};
            if (rx.rate_per_volume) {
                c.volume = model.find_compartment(rx.compartment)->volume;
            }
            const auto add_terms = [&](const std::vector<participant>& list, double sign) {
                for (const auto& p: list) {
                    const auto fi = field_index.at({p.compartment, p.species});
                    const double volume = compartments[fields[fi].compartment_index].volume[0];
                    c.terms.push_back({fi, sign * p.stoichiometry / volume, sign * p.stoichiometry, channels.size()});
                    channels.push_back({rx.name, "reaction", p.species, "", p.compartment, "",
                                        flux_channel::kind::source});
                }
            };
            add_terms(rx.reactants, -1.0);
            add_terms(rx.products, +1.0);
            reactions.push_back(std::move(c));
        });
    }
    std::size_t next_param_state = 0;
    for (const auto& r: model.rules) {
        if (r.type != rule_spec::kind::rate) {
            continue;
        }
        std::size_t target = 0;
        std::size_t channel = static_cast<std::size_t>(-1);
        double volume = 0;
        const auto dot = r.variable.find('.');
        if (dot == std::string::npos) {
            target = param_states[next_param_state++].first;
        }
        else {
            const auto& f = fields[field_index.at({r.variable.substr(0, dot), r.variable.substr(dot + 1)})];
            target = f.offset;
            volume = compartments[f.compartment_index].volume[0];
            channel = channels.size();
            channels.push_back({r.variable, "rule", f.species, "", f.compartment, "", flux_channel::kind::source});
        }
        compile(r.expression, r.where, "rules." + r.variable, [&](detail::expression e) {
            const auto deps = deps_of(r.expression);
            rate_rules.push_back({std::move(e), target, {deps.begin(), deps.end()}, channel, volume});
        });
    }
    if (!problems.empty()) {
        throw model_error(std::move(problems));
    }
}

void system::impl::choose_observables() {
    std::vector<observable_info> all;
    std::vector<observable_ref> refs;
    for (std::size_t f = 0; f < fields.size(); ++f) {
        all.push_back({fields[f].compartment + "." + fields[f].species, "uM"});
        refs.push_back({observable_kind::field, f});
    }
    for (std::size_t s = 0; s < n_states; ++s) {
        // Mechanism states and parameter states (species states are fields, listed above).
        bool is_field = false;
        for (const auto& f: fields) {
            is_field = is_field || (f.dynamic && f.offset == s);
        }
        if (!is_field) {
            all.push_back({state_names[s], ""});
            refs.push_back({observable_kind::state, s});
        }
    }
    for (std::size_t c = 0; c < channels.size(); ++c) {
        all.push_back({channels[c].mechanism + "." + channels[c].species + "_flux", "amol/s"});
        refs.push_back({observable_kind::channel, c});
    }
    for (std::size_t k = 0; k < mechanisms.size(); ++k) {
        if (mechanisms[k].info->atp_per_flux != 0) {
            all.push_back({mechanisms[k].name + ".atp_rate", "amol/s"});
            refs.push_back({observable_kind::atp, k});
        }
    }
    for (const auto& a: assignments) {
        for (const auto& [name, index]: symbol_index) {
            if (index == a.target) {
                all.push_back({name, ""});
                refs.push_back({observable_kind::symbol, index});
            }
        }
    }
    for (std::size_t m = 0; m < membranes.size(); ++m) {
        all.push_back({membranes[m].spec->name + ".V", "mV"});
        refs.push_back({observable_kind::potential, m});
    }
    for (std::size_t k = 0; k < mechanisms.size(); ++k) {
        const auto& b = mechanisms[k];
        for (std::size_t j = 0; j < b.info->observables.size(); ++j) {
            const auto& o = b.info->observables[j];
            all.push_back({b.name + "." + std::string(o.name), std::string(o.unit)});
            refs.push_back({observable_kind::mechanism, k, j});
        }
    }
    // State units: the dimension each mechanism declares.
    for (const auto& b: mechanisms) {
        for (std::size_t s = 0; s < b.info->states.size(); ++s) {
            const auto name = b.name + "." + std::string(b.info->states[s].name);
            for (auto& o: all) {
                if (o.name == name) {
                    o.unit = std::string(b.info->states[s].dim->canonical);
                }
            }
        }
    }

    if (model.record.observables.empty()) {
        // Default: free concentrations in non-clamped compartments, mechanism states and budget channels.
        for (std::size_t k = 0; k < all.size(); ++k) {
            if (refs[k].kind == observable_kind::field && !fields[refs[k].index].dynamic) {
                continue;
            }
            if (refs[k].kind == observable_kind::potential && !membranes[refs[k].index].varies) {
                continue;  // a constant potential is in the model file, not worth a column
            }
            observables.push_back(all[k]);
            observable_refs.push_back(refs[k]);
        }
        return;
    }
    std::vector<diagnostic> problems;
    for (const auto& wanted: model.record.observables) {
        bool found = false;
        for (std::size_t k = 0; k < all.size() && !found; ++k) {
            if (all[k].name == wanted) {
                observables.push_back(all[k]);
                observable_refs.push_back(refs[k]);
                found = true;
            }
        }
        if (!found) {
            std::string known;
            for (const auto& o: all) {
                known += (known.empty() ? "" : ", ") + o.name;
            }
            problems.push_back({model.record.where, "record.observables",
                                fmt::format("unknown observable '{}'; this model has: {}", wanted, known)});
        }
    }
    if (!problems.empty()) {
        throw model_error(std::move(problems));
    }
}

void system::impl::compile_events() {
    std::vector<diagnostic> problems;
    for (std::size_t k = 0; k < model.events.size(); ++k) {
        const auto& e = model.events[k];
        compiled_event ce{e.time, {}};
        for (const auto& [target, value]: e.set) {
            event_action a{};
            a.value = value;
            const auto dot = target.find('.');
            const std::string owner = target.substr(0, dot == std::string::npos ? target.size() : dot);
            const std::string name = dot == std::string::npos ? "" : target.substr(dot + 1);
            bool found = false;
            for (std::size_t m = 0; m < mechanisms.size() && !found; ++m) {
                if (mechanisms[m].name == owner) {
                    a.target = event_action::where::parameter;
                    a.mechanism = m;
                    a.index = static_cast<std::size_t>(mechanisms[m].info->parameter_index(name));
                    a.original = mechanisms[m].params[a.index * mechanisms[m].n];
                    found = true;
                }
            }
            const auto fi = field_index.find({owner, name});
            if (!found && fi != field_index.end()) {
                const auto& f = fields[fi->second];
                a.target = f.dynamic ? event_action::where::state : event_action::where::clamped;
                a.index = f.offset;
                a.original = f.dynamic ? 0.0 : clamped[f.offset];
                found = true;
            }
            if (!found && dot == std::string::npos) {
                for (const auto& [index, symbol]: param_states) {
                    if (symbol == symbol_index.at(owner)) {
                        a.target = event_action::where::state;
                        a.index = index;
                        found = true;
                    }
                }
                if (!found) {
                    a.target = event_action::where::symbol;
                    a.index = symbol_index.at(owner);
                    a.original = symbols[a.index];
                    found = true;
                }
            }
            if (!found) {
                problems.push_back({e.where, fmt::format("events[{}].set.{}", k, target),
                                    fmt::format("'{}' is not in this model (a species no mechanism, reaction or "
                                                "initial value puts in '{}')",
                                                name, owner)});
                continue;
            }
            ce.actions.push_back(a);
        }
        events.push_back(std::move(ce));
    }
    if (!problems.empty()) {
        throw model_error(std::move(problems));
    }
}

// Where an event action writes: into the system, or into the state vector y.
double& system::impl::target_of(const event_action& a, double* y) {
    switch (a.target) {
    case event_action::where::parameter: return mechanisms[a.mechanism].params[a.index * mechanisms[a.mechanism].n];
    case event_action::where::clamped: return clamped[a.index];
    case event_action::where::state: return y[a.index];
    case event_action::where::symbol: return symbols[a.index];
    }
    throw internal_error("unknown event target");
}

void system::impl::find_conservation_laws() {
    std::set<std::string> open;  // species whose total can change
    for (const auto& ch: channels) {
        for (const auto* side_name: {&ch.from, &ch.to}) {
            const auto* c = model.find_compartment(*side_name);
            if (c != nullptr && c->clamped) {
                open.insert(ch.species);
            }
        }
    }
    for (const auto& rx: model.reactions) {
        for (const auto* list: {&rx.reactants, &rx.products}) {
            for (const auto& p: *list) {
                open.insert(p.species);
            }
        }
    }
    for (const auto& r: model.rules) {
        const auto dot = r.variable.find('.');
        if (r.type == rule_spec::kind::rate && dot != std::string::npos) {
            open.insert(r.variable.substr(dot + 1));
        }
    }
    // A free concentration that nothing writes (no mechanism output, reaction or rate rule: an IP3 level held by
    // the model, a species only read) is its own conservation law; it takes no part in its species' law.
    std::vector<bool> written(fields.size(), false);
    for (const auto& b: mechanisms) {
        for (const auto* maps: {&b.to_inner, &b.to_outer}) {
            for (const auto& m: *maps) {
                written[m.field] = true;
            }
        }
    }
    for (const auto& rx: reactions) {
        for (const auto& term: rx.terms) {
            written[term.field] = true;
        }
    }
    for (const auto& rule: rate_rules) {
        for (std::size_t f = 0; f < fields.size(); ++f) {
            written[f] = written[f] || (fields[f].dynamic && fields[f].offset == rule.target);
        }
    }
    for (std::size_t f = 0; f < fields.size(); ++f) {
        if (fields[f].dynamic && !written[f]) {
            const double volume = compartments[fields[f].compartment_index].volume[0];
            laws.push_back({fields[f].species, {{fields[f].offset, volume}}, fields[f].offset});
        }
    }
    for (const auto& sp: model.species) {
        if (open.contains(sp.name)) {
            continue;
        }
        conservation_law law;
        law.species = sp.name;
        double pivot_volume = 0;
        for (std::size_t fi = 0; fi < fields.size(); ++fi) {
            const auto& f = fields[fi];
            if (f.dynamic && f.species == sp.name && written[fi]) {
                const auto& vol = compartments[f.compartment_index].volume;
                for (std::size_t i = 0; i < vol.size(); ++i) {
                    law.weights.emplace_back(f.offset + i, vol[i]);
                    if (vol[i] > pivot_volume) {
                        pivot_volume = vol[i];
                        law.pivot = f.offset + i;
                    }
                }
            }
        }
        for (const auto& b: mechanisms) {
            for (std::size_t s = 0; s < b.info->states.size(); ++s) {
                const auto& st = b.info->states[s];
                if (st.carries == sp.name) {
                    for (std::size_t i = 0; i < b.n; ++i) {
                        law.weights.emplace_back(b.state_offset + s * b.n + i, st.carried * b.size[i]);
                    }
                }
            }
        }
        if (pivot_volume > 0) {
            laws.push_back(std::move(law));
        }
    }
}

void system::impl::compute_initial() {
    initial.assign(n_states, 0.0);
    for (const auto& f: fields) {
        if (f.dynamic) {
            const auto& init = model.compartments[f.compartment_index].initial;
            const auto it = init.find(f.species);
            initial[f.offset] = it == init.end() ? 0.0 : it->second;
        }
    }
    for (const auto& [index, symbol]: param_states) {
        initial[index] = symbols[symbol];
    }
    point_at(initial.data(), scratch_ydot.data());
    update_symbols(0.0, initial.data());
    update_membranes();
    for (auto& b: mechanisms) {
        const auto p = pack(b, 0.0, initial.data(), scratch_ydot.data());
        std::vector<double*> state(b.info->states.size());
        for (std::size_t s = 0; s < state.size(); ++s) {
            state[s] = initial.data() + b.state_offset + s * b.n;
        }
        b.impl->init(p, state.data());
    }
}

void system::impl::point_at(const double* y, double* ydot) {
    for (std::size_t f = 0; f < fields.size(); ++f) {
        if (fields[f].dynamic) {
            cur[f] = y + fields[f].offset;
            dcur[f] = ydot + fields[f].offset;
        }
        else {
            cur[f] = clamped.data() + fields[f].offset;
            dcur[f] = sink.data();
        }
    }
}

// Free + carried amount of `species` [zmol] in one non-clamped compartment, or in all when compartment is null.
// States of a volume mechanism belong to its compartment, those of a membrane mechanism to its inner one.
double system::impl::total(const double* y, const std::string& species, const std::string* compartment) const {
    double sum = 0;
    for (const auto& f: fields) {
        if (f.dynamic && f.species == species && (compartment == nullptr || f.compartment == *compartment)) {
            const auto& vol = compartments[f.compartment_index].volume;
            for (std::size_t i = 0; i < vol.size(); ++i) {
                sum += y[f.offset + i] * vol[i];
            }
        }
    }
    for (const auto& b: mechanisms) {
        if (compartment != nullptr && b.home != *compartment) {
            continue;
        }
        for (std::size_t s = 0; s < b.info->states.size(); ++s) {
            const auto& st = b.info->states[s];
            if (st.carries == species) {
                for (std::size_t i = 0; i < b.n; ++i) {
                    sum += y[b.state_offset + s * b.n + i] * st.carried * b.size[i];
                }
            }
        }
    }
    return sum;
}

// Gather a mechanism's inputs at (t, y) and point its pack at its arrays; derivatives go to ydot.
mechanism_pack system::impl::pack(bound_mechanism& b, double t, const double* y, double* ydot) {
    for (std::size_t r = 0; r < b.reads.size(); ++r) {
        const double* src = cur[b.reads[r].field];
        const auto& site = b.reads[r].site;
        double* dst = b.in.data() + r * b.n;
        for (std::size_t i = 0; i < b.n; ++i) {
            dst[i] = src[site[i]];
        }
    }
    for (std::size_t s = 0; s < b.info->states.size(); ++s) {
        b.state_ptr[s] = y + b.state_offset + s * b.n;
        b.dstate_ptr[s] = ydot + b.state_offset + s * b.n;
    }
    mechanism_pack p;
    p.n = b.n;
    p.t = t;
    p.temperature = model.temperature;
    p.param = b.param_ptr.data();
    p.conc = b.in_ptr.data();
    p.state = b.state_ptr.data();
    p.dstate = b.dstate_ptr.data();
    p.out = b.out_ptr.data();
    p.size = b.size.data();
    p.potential = b.membrane == no_membrane ? zero_potential.data() : membranes[b.membrane].potential.data();
    return p;
}

// Each mechanism's declared observables at (t, y); assumes point_at, update_symbols and update_membranes ran.
void system::impl::compute_mechanism_observables(double t, const double* y) {
    for (auto& b: mechanisms) {
        if (!b.info->observables.empty()) {
            b.impl->observe(pack(b, t, y, scratch_ydot.data()), b.obs_ptr.data());
        }
    }
}

// Membrane potentials at the time in symbols[time_symbol] (set by update_symbols).
void system::impl::update_membranes() {
    const double t = symbols[time_symbol];
    for (auto& mb: membranes) {
        if (!mb.varies) {
            continue;
        }
        const double v = mb.expr ? mb.expr->eval() : potential_at(mb.spec->protocol, mb.spec->potential, t);
        std::fill(mb.potential.begin(), mb.potential.end(), v);
    }
}

void system::impl::update_symbols(double t, const double* y) {
    symbols[time_symbol] = t;
    for (const auto& [f, s]: field_symbols) {
        symbols[s] = cur[f][0];
    }
    for (const auto& [index, s]: param_states) {
        symbols[s] = y[index];
    }
    for (const auto& a: assignments) {
        symbols[a.target] = a.expr.eval();
    }
}

void system::impl::evaluate(double t, const double* y, double* ydot, double* flux, bool stimuli) {
    point_at(y, ydot);
    std::fill(ydot, ydot + n_states, 0.0);
    update_symbols(t, y);
    update_membranes();
    if (flux != nullptr) {
        std::fill(flux, flux + channels.size(), 0.0);
    }
    for (auto& b: mechanisms) {
        const auto& info = *b.info;
        if (info.is_stimulus && !stimuli) {
            continue;
        }
        const auto p = pack(b, t, y, ydot);
        b.impl->rates(p);

        const bool membrane = info.kind == mechanism_kind::membrane;
        for (std::size_t k = 0; k < info.outputs.size(); ++k) {
            const double* o = b.out.data() + k * b.n;
            const auto& in = b.to_inner[k];
            double* d_in = dcur[in.field];
            double total = 0;
            for (std::size_t i = 0; i < b.n; ++i) {
                // Membrane: amount per time into inner [zmol/ms] / volume -> [uM/ms]. Volume: already [uM/ms].
                d_in[in.site[i]] += membrane ? o[i] * in.inv_volume[i] : o[i];
                total += membrane ? o[i] : o[i] * b.size[i];
            }
            if (membrane) {
                const auto& out = b.to_outer[k];
                double* d_out = dcur[out.field];
                for (std::size_t i = 0; i < b.n; ++i) {
                    d_out[out.site[i]] -= o[i] * out.inv_volume[i];
                }
            }
            if (flux != nullptr) {
                flux[b.first_channel + k] = total;
            }
        }
    }
    for (const auto& rx: reactions) {
        const double extent = rx.rate.eval() * rx.volume;  // [zmol/ms]
        for (const auto& term: rx.terms) {
            dcur[term.field][0] += term.coefficient * extent;
            if (flux != nullptr) {
                flux[term.channel] = term.stoichiometry * extent;
            }
        }
    }
    for (const auto& rule: rate_rules) {
        const double rate = rule.expr.eval();
        ydot[rule.target] += rate;
        if (flux != nullptr && rule.channel != static_cast<std::size_t>(-1)) {
            flux[rule.channel] = rate * rule.volume;
        }
    }
}

system::system(const model_spec& model) {
    model_spec copy = model;
    auto problems = validate(copy);
    if (!problems.empty()) {
        throw model_error(std::move(problems));
    }
    impl_ = std::make_unique<impl>(std::move(copy));
}

system::~system() = default;
system::system(system&&) noexcept = default;
system& system::operator=(system&&) noexcept = default;

const model_spec& system::model() const { return impl_->model; }
std::size_t system::size() const { return impl_->n_states; }
const std::vector<std::string>& system::state_names() const { return impl_->state_names; }
std::vector<double> system::initial_state() const { return impl_->initial; }
const std::vector<flux_channel>& system::flux_channels() const { return impl_->channels; }
const std::vector<observable_info>& system::observables() const { return impl_->observables; }

void system::rhs(double t, const double* y, double* ydot, bool stimuli) {
    impl_->evaluate(t, y, ydot, nullptr, stimuli);
}

void system::rhs(double t, const double* y, double* ydot, double* fluxes, bool stimuli) {
    impl_->evaluate(t, y, ydot, fluxes, stimuli);
}

void system::fluxes(double t, const double* y, double* out, bool stimuli) {
    impl_->evaluate(t, y, impl_->scratch_ydot.data(), out, stimuli);
}

void system::observe(double t, const double* y, double* out) {
    auto& d = *impl_;
    bool need_flux = false;
    for (const auto& r: d.observable_refs) {
        need_flux = need_flux || r.kind == observable_kind::channel || r.kind == observable_kind::atp;
    }
    if (need_flux) {
        d.evaluate(t, y, d.scratch_ydot.data(), d.scratch_flux.data(), true);
    }
    else {
        d.point_at(y, d.scratch_ydot.data());
        d.update_symbols(t, y);
        d.update_membranes();
    }
    d.compute_mechanism_observables(t, y);
    for (std::size_t k = 0; k < d.observable_refs.size(); ++k) {
        const auto& r = d.observable_refs[k];
        switch (r.kind) {
        case observable_kind::field: out[k] = d.cur[r.index][0]; break;
        case observable_kind::state: out[k] = y[r.index]; break;
        case observable_kind::channel: out[k] = d.scratch_flux[r.index]; break;  // zmol/ms == amol/s
        case observable_kind::atp: {
            // ATP hydrolysed per time [amol/s] from the flux of the mechanism's ATP-coupled output.
            const auto& b = d.mechanisms[r.index];
            out[k] = b.info->atp_per_flux * d.scratch_flux[b.first_channel + b.info->atp_output];
            break;
        }
        case observable_kind::symbol: out[k] = d.symbols[r.index]; break;
        case observable_kind::potential: out[k] = d.membranes[r.index].potential[0]; break;
        case observable_kind::mechanism: {
            const auto& b = d.mechanisms[r.index];
            const double v = b.obs[r.sub * b.n];
            const double reference = b.obs_reference[r.sub * b.n];
            if (b.info->observables[r.sub].relative_to_start) {
                // Relative to a start value of zero is undefined: NaN rather than inf.
                out[k] = reference != 0 ? v / reference : std::numeric_limits<double>::quiet_NaN();
            }
            else {
                out[k] = v;
            }
            break;
        }
        }
    }
}

void system::set_reference(const double* y) {
    auto& d = *impl_;
    d.point_at(y, d.scratch_ydot.data());
    d.update_symbols(0.0, y);
    d.update_membranes();
    d.compute_mechanism_observables(0.0, y);
    for (auto& b: d.mechanisms) {
        b.obs_reference = b.obs;
    }
}

double system::total_amount(const double* y, const std::string& species) const {
    return impl_->total(y, species, nullptr);
}

double system::total_amount(const double* y, const std::string& species, const std::string& compartment) const {
    return impl_->total(y, species, &compartment);
}

const std::vector<conservation_law>& system::conservation_laws() const { return impl_->laws; }

std::vector<std::vector<std::size_t>> system::jacobian_pattern(bool with_budget) const {
    const auto& d = *impl_;
    const std::size_t n = d.n_states;
    std::vector<std::set<std::size_t>> rows(n + (with_budget ? d.channels.size() : 0));  // rows[column]
    const auto link = [&](const std::vector<std::size_t>& from, const std::vector<std::size_t>& to) {
        for (const auto c: from) {
            rows[c].insert(to.begin(), to.end());
        }
    };
    // y index of site `site` of field f, if that field is a state.
    const auto state_of = [&](std::size_t f, std::size_t site, std::vector<std::size_t>& out) {
        if (d.fields[f].dynamic) {
            out.push_back(d.fields[f].offset + site);
        }
    };
    for (const auto& b: d.mechanisms) {
        // Instance i's outputs depend only on instance i's inputs (the kernel contract).
        for (std::size_t i = 0; i < b.n; ++i) {
            std::vector<std::size_t> in;
            std::vector<std::size_t> out;
            for (const auto& r: b.reads) {
                state_of(r.field, r.site[i], in);
            }
            for (std::size_t k = 0; k < b.to_inner.size(); ++k) {
                state_of(b.to_inner[k].field, b.to_inner[k].site[i], out);
                if (k < b.to_outer.size()) {
                    state_of(b.to_outer[k].field, b.to_outer[k].site[i], out);
                }
            }
            for (std::size_t s = 0; s < b.info->states.size(); ++s) {
                in.push_back(b.state_offset + s * b.n + i);
                out.push_back(b.state_offset + s * b.n + i);
            }
            if (b.membrane != no_membrane) {
                // The potential, when an expression of parameters driven by rate rules.
                const auto& v = d.membranes[b.membrane].depends_on;
                in.insert(in.end(), v.begin(), v.end());
            }
            if (with_budget) {
                for (std::size_t k = 0; k < b.to_inner.size(); ++k) {
                    out.push_back(n + b.first_channel + k);
                }
            }
            link(in, out);
        }
    }
    for (const auto& rx: d.reactions) {
        std::vector<std::size_t> out;
        for (const auto& term: rx.terms) {
            state_of(term.field, 0, out);
            if (with_budget) {
                out.push_back(n + term.channel);
            }
        }
        link(rx.depends_on, out);
    }
    for (const auto& rule: d.rate_rules) {
        std::vector<std::size_t> out = {rule.target};
        if (with_budget && rule.channel != static_cast<std::size_t>(-1)) {
            out.push_back(n + rule.channel);
        }
        link(rule.depends_on, out);
    }
    std::vector<std::vector<std::size_t>> pattern(rows.size());
    for (std::size_t c = 0; c < rows.size(); ++c) {
        rows[c].insert(c);  // the diagonal: the Newton matrix I - gamma J always has it
        pattern[c].assign(rows[c].begin(), rows[c].end());
    }
    return pattern;
}

double system::concentration(const double* y, const std::string& compartment, const std::string& species) const {
    const auto it = impl_->field_index.find({compartment, species});
    if (it == impl_->field_index.end()) {
        return 0.0;
    }
    const auto& f = impl_->fields[it->second];
    return f.dynamic ? y[f.offset] : impl_->clamped[f.offset];
}

double system::potential(const std::string& membrane, double t, const double* y) {
    auto& d = *impl_;
    for (auto& mb: d.membranes) {
        if (mb.spec->name == membrane) {
            if (mb.varies) {
                d.point_at(y, d.scratch_ydot.data());
                d.update_symbols(t, y);
                d.update_membranes();
            }
            return mb.potential[0];
        }
    }
    throw error(fmt::format("no membrane named '{}'", membrane));
}

long system::state_index(const std::string& compartment, const std::string& species) const {
    const auto it = impl_->field_index.find({compartment, species});
    if (it == impl_->field_index.end() || !impl_->fields[it->second].dynamic) {
        return -1;
    }
    return static_cast<long>(impl_->fields[it->second].offset);
}

void system::apply_events(double t, double* y) {
    auto& d = *impl_;
    for (const auto& e: d.events) {
        if (std::abs(e.time - t) <= 1e-12 * std::max(1.0, e.time)) {
            for (const auto& a: e.actions) {
                if (a.target == event_action::where::parameter) {
                    // Every instance of the mechanism takes the new value.
                    auto& b = d.mechanisms[a.mechanism];
                    std::fill_n(b.params.begin() + static_cast<long>(a.index * b.n), b.n, a.value);
                }
                else {
                    d.target_of(a, y) = a.value;
                }
            }
        }
    }
}

void system::reset_events() {
    auto& d = *impl_;
    // Undo in reverse order, so that a target set by several events ends at its value before the first.
    for (auto e = d.events.rbegin(); e != d.events.rend(); ++e) {
        for (auto a = e->actions.rbegin(); a != e->actions.rend(); ++a) {
            if (a->target == event_action::where::parameter) {
                auto& b = d.mechanisms[a->mechanism];
                std::fill_n(b.params.begin() + static_cast<long>(a->index * b.n), b.n, a->original);
            }
            else if (a->target != event_action::where::state) {
                d.target_of(*a, nullptr) = a->original;
            }
        }
    }
}

std::vector<double> system::breakpoints(double t_end) const {
    std::vector<double> out;
    for (const auto& b: impl_->mechanisms) {
        b.impl->breakpoints(b.param_ptr.data(), b.n, t_end, out);
    }
    for (const auto& mb: impl_->model.membranes) {
        protocol_breakpoints(mb.protocol, t_end, out);
    }
    for (const auto& e: impl_->events) {
        out.push_back(e.time);
    }
    std::erase_if(out, [&](double t) { return !(t > 0 && t < t_end); });
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

bool system::is_nonnegative(std::size_t i) const {
    for (const auto& [index, symbol]: impl_->param_states) {
        if (index == i) {
            return false;
        }
    }
    return true;
}

std::vector<double> system::abs_tolerances() const { return std::vector<double>(impl_->n_states, impl_->model.run.atol); }

system compile(model_spec model) { return system(model); }

} // namespace cadyn
