// compile(): model_spec -> system (state layout + mechanisms bound to sites), and the right-hand side.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>

#include <cadyn/catalogue.hpp>
#include <cadyn/geometry.hpp>
#include <cadyn/system.hpp>

#include "expr/expression.hpp"
#include "util/clones.hpp"

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
    bool spatial = false;        // one site per voxel of the grid
    double fraction = 1;         // of each voxel
    std::vector<double> volume;  // [um^3] per site
    std::vector<double> inv_volume;
};

// Diffusion of one block of sites (a species in a spatial compartment, or a diffusing mechanism state) over the
// grid's faces: the flux from a to b is D * fraction * area / distance * (y_a - y_b) [zmol/ms].
struct diffuser {
    std::size_t offset = 0;                 // y index of voxel 0
    std::size_t compartment = 0;
    double scale = 0;                       // D * fraction [um^2/ms]
    double carried = 1;                     // amount of `species` per unit of the state
    std::string species;                    // for budgets (empty: carries nothing)
    std::vector<double> boundary_value;     // per clamped boundary face: the value held there
    std::size_t channel = static_cast<std::size_t>(-1);  // budget channel of the clamped faces
    std::size_t site_base = 0;              // flux site of clamped face 0
    bool uniform_volume = false;            // every voxel of the compartment has the volume 1/inv_volume
    double inv_volume = 0;
    bool stencil = false;                   // diffuses by the grid's stencil (system::impl::stencil), not faces
    // The mechanism whose state this is (its rates() assigns the state's derivative, so the diffusion is added
    // after it), or npos for a species (mechanisms add to it: the stencil may write its derivative first).
    std::size_t mechanism = static_cast<std::size_t>(-1);
};

constexpr std::size_t no_membrane = static_cast<std::size_t>(-1);

// Where an array of per-instance values lives: field + site of each instance.
struct site_map {
    std::size_t field = 0;
    std::vector<std::size_t> site;
    std::vector<double> inv_volume;  // [1/um^3] per instance (scatter targets only)
    // Instance i at site i (a volume mechanism in every voxel of its compartment): the rhs reads and adds in place,
    // without the indices. Same values, same order of operations: the results do not change by a bit.
    bool identity = false;
};

// Instances per call of rates() in a mechanism with more (bound_mechanism::chunk_params).
constexpr std::size_t rhs_chunk = 1024;

struct bound_mechanism {
    std::string name;
    const mechanism* impl = nullptr;
    const mechanism_info* info = nullptr;
    std::size_t n = 0;
    std::vector<double> params;                 // [parameter * n + i]; every instance has the same values
    std::vector<const double*> param_ptr;
    // More than rhs_chunk instances: rates() runs rhs_chunk instances at a time, reading its parameters from
    // chunk_params (rhs_chunk copies of each, which stay in cache) instead of params (n copies, which stream from
    // memory on a large grid). Each instance's values are the same, so its results are too, to the bit.
    std::vector<double> chunk_params;           // [parameter * rhs_chunk + i]
    std::vector<const double*> chunk_param_ptr;
    std::vector<const double*> chunk_conc;      // pack()'s pointers, moved to the chunk
    std::vector<const double*> chunk_state;
    std::vector<double*> chunk_dstate;
    std::vector<double*> chunk_out;
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
    std::size_t site_base = 0;                  // flux site of (output 0, instance 0): output k, instance i at +k n+i
    std::vector<double> obs;                    // observables [observable * n + i]
    std::vector<double*> obs_ptr;
    std::vector<double> obs_reference;          // values at the start of the run (for relative observables)
    std::vector<std::size_t> voxel;             // per instance: its voxel (spatial sites only)
    // Stochastic mechanisms (info->transitions not empty): propensities [transition * n + i] [1/ms] and, for one
    // instance at a time (system::fire), its inputs gathered into scalars.
    std::vector<double> prop;
    std::vector<double*> prop_ptr;
    std::size_t first_stochastic = 0;           // index of instance 0 among the system's stochastic instances
    std::vector<const double*> one_param;
    std::vector<double> one_conc;
    std::vector<const double*> one_conc_ptr;
    std::vector<const double*> one_state;
    std::vector<double> one_prop;
    std::vector<double*> one_prop_ptr;
};

// The potential of one membrane over its sites [mV], updated every rhs call when it varies in time.
// Sites: one in a point model; in a spatial model, every voxel when both sides are spatial (co-located regions,
// the area shared in proportion to volume), or every face of the geometry's membrane face when one side is a
// clamped bath.
struct membrane_layout {
    const membrane_spec* spec = nullptr;
    std::vector<std::size_t> voxel;  // per site
    std::vector<double> area;        // [um^2] per site
    std::vector<double> potential;
    std::optional<detail::expression> expr;  // for expression protocols
    bool varies = false;
    std::vector<std::size_t> depends_on;     // states an expression protocol may depend on
};

struct compiled_reaction {
    detail::expression rate;
    std::vector<std::size_t> depends_on;  // indices into y the rate may depend on
    double volume = 1;  // multiplies the rate when it is given per volume
    // Spatial: evaluated in every voxel, with the rate per volume of `compartment`'s site.
    bool spatial = false;
    std::size_t compartment = 0;
    std::vector<std::size_t> spatial_deps;  // spatial fields the rate depends on (same voxel)
    struct term {
        std::size_t field;
        double coefficient;  // signed stoichiometry / volume of the species' compartment
        double stoichiometry;  // signed
        std::size_t channel;   // budget channel (source) of this species
        std::size_t site_base = 0;  // flux site (spatial: of voxel 0)
    };
    std::vector<term> terms;
};

struct compiled_rule {
    detail::expression expr;
    std::size_t target;  // assignment: symbol index; rate: index into y
    std::vector<std::size_t> depends_on;  // indices into y the expression may depend on
    std::size_t channel = static_cast<std::size_t>(-1);  // rate rules on species: budget channel (source)
    double volume = 0;                                    // of the species' compartment [um^3]
    bool spatial = false;                                 // rate rule on a spatial species: every voxel
    std::size_t field = 0;                                // its field
    std::vector<std::size_t> spatial_deps;
    std::size_t site_base = 0;                            // flux site (spatial: of voxel 0)
};

// One change an event makes: a value at an address inside the system (a parameter array, a clamped
// concentration, a symbol) or in the state vector. `original` restores it before the next run.
struct event_action {
    enum class where { parameter, clamped, state, symbol } target;
    std::size_t mechanism = 0;  // parameter: which bound mechanism
    std::size_t index = 0;      // parameter index, clamped offset, state index or symbol index
    std::size_t count = 1;      // states: how many consecutive ones (every voxel of a spatial field)
    double value = 0;
    double original = 0;
};

struct compiled_event {
    double time;
    std::vector<event_action> actions;
};

enum class observable_kind { field, state, channel, symbol, potential, mechanism, atp, mechanism_state, value };
struct observable_ref {
    observable_kind kind;
    std::size_t index;   // field, state, channel, symbol, membrane or mechanism
    std::size_t sub = 0; // the mechanism's observable or state
    std::size_t site = 0;  // value: the site of a field (index) or y index (sub = 1: index is into y)
};

} // namespace

struct system::impl {
    model_spec model;
    std::optional<grid> mesh;
    // Runs of consecutive faces (in face order): face first + i joins voxels a + i and a + offset + i, i < length.
    // A cable's or a chain of shells' faces are one run, each row of a 2-D grid's x faces one. Used instead of the
    // face arrays when the runs are long (face_runs is empty otherwise): the same operations in the same order,
    // without reading two indices per face (nor a weight per face where the run's faces share one).
    struct face_run {
        std::size_t a = 0;
        std::size_t offset = 0;
        std::size_t length = 0;
        std::size_t first = 0;
        bool same_w = true;
    };
    std::vector<face_run> face_runs;
    // A grid whose faces along each axis share one weight (a cable or box of equal voxels): diffusers of uniform
    // volume use a 3- or 7-point stencil over the voxels instead of the face runs or arrays (no indices or weights
    // read, a species' ydot written before anything adds to it). The same fluxes; each voxel's terms added in
    // another order, so the results differ from the face loop's in the last bits only.
    struct grid_stencil {
        bool active = false;
        std::array<std::size_t, 3> shape{1, 1, 1};
        std::array<double, 3> w{0, 0, 0};  // area / distance of every face along each axis [um]
    };
    grid_stencil stencil;
    std::vector<std::size_t> face_diffusers;  // the diffusers that use the face runs or arrays
    // Ranges of ydot that an evaluation writes before anything adds to them, sorted: those of species diffusing by
    // the stencil (owner npos), and the states of fused mechanisms (owner k: when mechanism k is evaluated fused,
    // its rates() assigns them). start_derivatives() zeroes the rest.
    struct written_range {
        std::size_t lo;
        std::size_t hi;
        std::size_t owner;
    };
    std::vector<written_range> written_first;
    // Volume mechanisms in every voxel that evaluate_fused() runs block by block with the stencil (per mechanism:
    // fused[k]; this call: fused_now[k], with its pack).
    std::vector<char> fused;
    std::vector<char> fused_now;
    std::vector<mechanism_pack> fused_packs;
    bool fused_any = false;
    std::vector<double> fused_out;  // [output * rhs_chunk + i]: a fused mechanism's outputs for one chunk
    // Internal faces, structure of arrays; 32-bit voxel indices (half the bytes of the face loop's index streams:
    // a box's faces are read through them on every rhs call; no grid that fits in memory has 2^32 voxels).
    std::vector<std::uint32_t> face_a;
    std::vector<std::uint32_t> face_b;
    std::vector<double> face_w;        // area / distance [um]
    std::vector<std::size_t> clamped_voxel;  // clamped boundary faces
    std::vector<double> clamped_w;
    std::vector<diffuser> diffusers;
    std::vector<std::size_t> spatial_fields;  // dynamic fields with one site per voxel
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
    std::vector<observable_info> field_list;   // spatial fields
    std::vector<std::size_t> field_offsets;    // their y index of voxel 0
    std::vector<std::size_t> symbol_of_field;  // per field: its expression symbol
    bool any_expressions = false;
    std::vector<conservation_law> laws;
    std::vector<compiled_event> events;

    // Per-call scratch: current and derivative pointers for each field; a sink for clamped derivatives.
    std::vector<const double*> cur;
    std::vector<double*> dcur;
    std::vector<double> sink;
    std::vector<double> scratch_ydot;
    std::vector<double> scratch_flux;
    std::size_t stochastic_instances = 0;  // instances of mechanisms with stochastic transitions, over all of them
    // Budget channels resolved into contributions that each depend on one site's states (see
    // system::flux_site_channels); site_out receives them during an evaluation that asks for them.
    std::vector<std::size_t> site_channel;
    double* site_out = nullptr;

    explicit impl(model_spec m);
    void layout_fields();
    void layout_membranes();
    void bind_mechanisms();
    void setup_diffusion();
    void compile_expressions();
    void choose_observables();
    void compute_initial();
    void find_conservation_laws();
    void layout_flux_sites();
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
    void diffuse(const double* y, double* ydot, double* flux) const;
    void start_derivatives(const double* y, double* ydot) const;
    void stencil_rows(const double* y, double* ydot, std::size_t row_begin, std::size_t row_end,
                      std::size_t owner) const;
    void evaluate_fused(double t, const double* y, double* ydot, double* flux);
    void evaluate_spatial(double* ydot, double* flux);
    double mean(const compartment_layout& c, const double* values) const;
    double total(const double* y, const std::string& species, const std::string* compartment) const;
    void compute_mechanism_observables(double t, const double* y);
    mechanism_pack pack(bound_mechanism& b, double t, const double* y, double* ydot);
    void update_symbols(double t, const double* y);
    void evaluate(double t, const double* y, double* ydot, double* flux, bool stimuli);
    bool chunk_parameters(bound_mechanism& b);
    static mechanism_pack chunk_pack(bound_mechanism& b, const mechanism_pack& p);
    static void point_chunk(bound_mechanism& b, const mechanism_pack& p, mechanism_pack& q, std::size_t lo,
                            std::size_t n);
};

system::impl::impl(model_spec m): model(std::move(m)) {
    if (model.geometry.spatial()) {
        mesh = build_grid(model.geometry);
    }
    layout_fields();
    layout_membranes();
    bind_mechanisms();
    setup_diffusion();
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
    layout_flux_sites();
}

// Number the contributions to every budget channel: mechanism outputs per instance, clamped faces per diffuser,
// reaction terms and rate rules (per voxel when spatial).
void system::impl::layout_flux_sites() {
    const auto add = [&](std::size_t channel, std::size_t count) {
        const std::size_t base = site_channel.size();
        site_channel.insert(site_channel.end(), count, channel);
        return base;
    };
    const std::size_t voxels = mesh ? mesh->size() : 1;
    for (auto& b: mechanisms) {
        b.site_base = site_channel.size();
        for (std::size_t k = 0; k < b.info->outputs.size(); ++k) {
            add(b.first_channel + k, b.n);
        }
    }
    for (auto& d: diffusers) {
        if (d.channel != static_cast<std::size_t>(-1)) {
            d.site_base = add(d.channel, clamped_voxel.size());
        }
    }
    for (auto& rx: reactions) {
        for (auto& term: rx.terms) {
            term.site_base = add(term.channel, rx.spatial ? voxels : 1);
        }
    }
    for (auto& rule: rate_rules) {
        if (rule.channel != static_cast<std::size_t>(-1)) {
            rule.site_base = add(rule.channel, rule.spatial ? voxels : 1);
        }
    }
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
        compartment_layout layout{c.name, c.clamped, mesh && !c.clamped, c.fraction, {c.volume}, {}};
        if (layout.spatial) {
            layout.volume.resize(mesh->size());
            for (std::size_t i = 0; i < mesh->size(); ++i) {
                layout.volume[i] = c.fraction * mesh->volume[i];
            }
        }
        for (const double v: layout.volume) {
            layout.inv_volume.push_back(1.0 / v);
        }
        const std::size_t sites = layout.volume.size();
        compartments.push_back(std::move(layout));
        for (const auto& s: model.species) {
            if (!present.contains({c.name, s.name})) {
                continue;
            }
            field f{c.name, s.name, ci, !c.clamped, 0};
            if (f.dynamic) {
                f.offset = n_states;
                n_states += sites;
                if (sites == 1) {
                    state_names.push_back(c.name + "." + s.name);
                }
                else {
                    spatial_fields.push_back(fields.size());
                    for (std::size_t i = 0; i < sites; ++i) {
                        state_names.push_back(fmt::format("{}.{}[{}]", c.name, s.name, i));
                    }
                }
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

void system::impl::layout_membranes() {
    for (const auto& mb: model.membranes) {
        membrane_layout layout;
        layout.spec = &mb;
        layout.varies = mb.protocol.type != potential_protocol::kind::constant;
        const auto* inner = model.find_compartment(mb.inner);
        const auto* outer = model.find_compartment(mb.outer);
        const bool in_spatial = mesh && !inner->clamped;
        const bool out_spatial = mesh && !outer->clamped;
        if (in_spatial && out_spatial) {
            const double total = mesh->total_volume();
            for (std::size_t i = 0; i < mesh->size(); ++i) {
                layout.voxel.push_back(i);
                layout.area.push_back(mb.area * mesh->volume[i] / total);
            }
        }
        else if (in_spatial || out_spatial) {
            for (const auto* f: mesh->faces_named(mesh->membrane_face)) {
                layout.voxel.push_back(f->voxel);
                layout.area.push_back(f->area);
            }
        }
        else {
            layout.voxel.push_back(0);
            layout.area.push_back(mb.area);
        }
        layout.potential.assign(layout.voxel.size(), mb.potential);
        membranes.push_back(std::move(layout));
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
        const membrane_spec* mb = info.kind == mechanism_kind::membrane ? model.find_membrane(spec.location) : nullptr;
        // Instances: one per site of its membrane or compartment, or the one nearest to `at`.
        std::vector<std::size_t> voxel;  // per instance (0 for a point model)
        std::vector<double> size;        // area or volume per instance
        if (mb != nullptr) {
            const auto& layout = membranes[static_cast<std::size_t>(mb - model.membranes.data())];
            voxel = layout.voxel;
            size = layout.area;
        }
        else {
            const auto& layout = compartments[static_cast<std::size_t>(model.find_compartment(spec.location) -
                                                                        model.compartments.data())];
            for (std::size_t i = 0; i < layout.volume.size(); ++i) {
                voxel.push_back(layout.spatial ? i : 0);
            }
            size = layout.volume;
        }
        if (spec.at && mesh && voxel.size() > 1) {
            const auto target = mesh->locate(*spec.at);
            const auto c = mesh->centre(target);
            std::size_t best = 0;
            double best_d = std::numeric_limits<double>::infinity();
            for (std::size_t i = 0; i < voxel.size(); ++i) {
                const auto v = mesh->centre(voxel[i]);
                const double d = std::hypot(v[0] - c[0], v[1] - c[1], v[2] - c[2]);
                if (d < best_d) {
                    best_d = d;
                    best = i;
                }
            }
            voxel = {voxel[best]};
            size = {size[best]};
        }
        b.n = voxel.size();
        const bool spatial_sites = mesh && (mb != nullptr || compartments[static_cast<std::size_t>(
                                                                 model.find_compartment(spec.location) -
                                                                 model.compartments.data())].spatial);
        b.voxel = spatial_sites ? voxel : std::vector<std::size_t>(b.n, static_cast<std::size_t>(-1));
        for (const auto& f: info.parameters) {
            b.params.insert(b.params.end(), b.n, spec.parameters.at(std::string(f.name)));
        }
        const auto compartment_of = [&](side s) { return compartment_on(model, spec, info.kind, s); };
        const auto map_to = [&](const std::string& comp, std::string_view species) {
            site_map m;
            m.field = field_index.at({comp, std::string(species)});
            const auto& layout = compartments[fields[m.field].compartment_index];
            m.identity = true;
            for (std::size_t i = 0; i < b.n; ++i) {
                m.site.push_back(layout.spatial ? voxel[i] : 0);
                m.inv_volume.push_back(layout.inv_volume[m.site[i]]);
                m.identity = m.identity && m.site[i] == i;
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
        b.size = size;
        if (mb != nullptr) {
            b.membrane = static_cast<std::size_t>(mb - model.membranes.data());
        }
        zero_potential.resize(std::max(zero_potential.size(), b.n), 0.0);
        b.obs.resize(info.observables.size() * b.n);
        for (std::size_t j = 0; j < info.observables.size(); ++j) {
            b.obs_ptr.push_back(b.obs.data() + j * b.n);
        }
        b.obs_reference.assign(b.obs.size(), 1.0);
        b.state_offset = n_states;
        for (const auto& s: info.states) {
            if (b.n == 1) {
                state_names.push_back(spec.name + "." + std::string(s.name));
            }
            else {
                for (std::size_t i = 0; i < b.n; ++i) {
                    state_names.push_back(fmt::format("{}.{}[{}]", spec.name, s.name, i));
                }
            }
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
        if (!info.transitions.empty()) {
            if (info.states.empty() || info.states.back().name != "clock") {
                throw internal_error(fmt::format("mechanism '{}' has stochastic transitions but no clock state",
                                                 info.name));
            }
            b.prop.resize(info.transitions.size() * b.n);
            for (std::size_t j = 0; j < info.transitions.size(); ++j) {
                b.prop_ptr.push_back(b.prop.data() + j * b.n);
            }
            b.first_stochastic = stochastic_instances;
            stochastic_instances += b.n;
            b.one_param.resize(info.parameters.size());
            b.one_conc.resize(info.reads.size());
            for (std::size_t j = 0; j < info.reads.size(); ++j) {
                b.one_conc_ptr.push_back(&b.one_conc[j]);
            }
            b.one_state.resize(info.states.size());
            b.one_prop.resize(info.transitions.size());
            for (std::size_t j = 0; j < info.transitions.size(); ++j) {
                b.one_prop_ptr.push_back(&b.one_prop[j]);
            }
        }
        if (b.n > rhs_chunk) {
            b.chunk_params.resize(info.parameters.size() * rhs_chunk);
            for (std::size_t j = 0; j < info.parameters.size(); ++j) {
                b.chunk_param_ptr.push_back(b.chunk_params.data() + j * rhs_chunk);
            }
            b.chunk_conc.resize(info.reads.size());
            b.chunk_state.resize(info.states.size());
            b.chunk_dstate.resize(info.states.size());
            b.chunk_out.resize(info.outputs.size());
        }
        mechanisms.push_back(std::move(b));
    }
}

void system::impl::setup_diffusion() {
    if (!mesh) {
        return;
    }
    if (mesh->size() > std::numeric_limits<std::uint32_t>::max()) {
        throw error(fmt::format("a grid of {} voxels is more than cadyn can index (2^32 - 1)", mesh->size()));
    }
    face_a.reserve(mesh->faces.size());
    face_b.reserve(mesh->faces.size());
    face_w.reserve(mesh->faces.size());
    for (const auto& f: mesh->faces) {
        face_a.push_back(static_cast<std::uint32_t>(f.a));
        face_b.push_back(static_cast<std::uint32_t>(f.b));
        face_w.push_back(f.area / f.distance);
    }
    for (std::size_t k = 0; k < face_a.size(); ++k) {
        auto* last = face_runs.empty() ? nullptr : &face_runs.back();
        if (last != nullptr && face_a[k] == last->a + last->length && face_b[k] - face_a[k] == last->offset) {
            last->same_w = last->same_w && face_w[k] == face_w[last->first];
            ++last->length;
        }
        else {
            face_runs.push_back({face_a[k], std::size_t{face_b[k]} - face_a[k], 1, k, true});
        }
    }
    // Runs of fewer than 16 faces on average (a 3-D grid lists each voxel's x, y and z faces in turn), or a face
    // from a voxel to one before it (no grid builds one; a run's offset is unsigned): the face arrays.
    const bool forward = std::equal(face_a.begin(), face_a.end(), face_b.begin(), std::less<>());
    if (!forward || face_runs.size() * 16 > face_a.size()) {
        face_runs.clear();
    }
    // The stencil: the faces must be exactly those build_grid makes (each voxel's upper neighbour along each axis,
    // voxels in x-fastest order) and each axis's faces must share one weight.
    if (mesh->dimensions >= 1) {
        const auto& shape = mesh->shape;
        const std::array<std::size_t, 3> stride{1, shape[0], shape[0] * shape[1]};
        std::array<double, 3> w{-1, -1, -1};
        std::size_t k = 0;
        bool ok = true;
        for (std::size_t i2 = 0; i2 < shape[2] && ok; ++i2) {
            for (std::size_t i1 = 0; i1 < shape[1] && ok; ++i1) {
                for (std::size_t i0 = 0; i0 < shape[0] && ok; ++i0) {
                    const std::size_t v = i0 + shape[0] * (i1 + shape[1] * i2);
                    const std::array<std::size_t, 3> idx{i0, i1, i2};
                    for (std::size_t a = 0; a < mesh->dimensions && ok; ++a) {
                        if (idx[a] + 1 >= shape[a]) {
                            continue;
                        }
                        // Weights equal to round-off (cell edges i * h are not exact multiples).
                        ok = k < face_a.size() && face_a[k] == v && face_b[k] == v + stride[a] &&
                             (w[a] < 0 || std::abs(face_w[k] - w[a]) <= 1e-12 * w[a]);
                        w[a] = ok ? face_w[k] : w[a];
                        ++k;
                    }
                }
            }
        }
        if (ok && k == face_a.size()) {
            stencil.active = true;
            stencil.shape = shape;
            for (std::size_t a = 0; a < 3; ++a) {
                stencil.w[a] = w[a] < 0 ? 0.0 : w[a];
            }
        }
    }
    for (const auto& name: model.geometry.clamped_faces) {
        for (const auto* f: mesh->faces_named(name)) {
            clamped_voxel.push_back(f->voxel);
            clamped_w.push_back(f->area / f->distance);
        }
    }
    for (const auto fi: spatial_fields) {
        const auto& f = fields[fi];
        const auto& spec = model.compartments[f.compartment_index];
        const auto it = spec.diffusion.find(f.species);
        if (it != spec.diffusion.end() && it->second > 0) {
            diffusers.push_back({f.offset, f.compartment_index, it->second * spec.fraction, 1.0, f.species, {}});
        }
    }
    for (std::size_t k = 0; k < mechanisms.size(); ++k) {
        const auto& b = mechanisms[k];
        const auto& spec = model.mechanisms[k];
        // The instance's diffusion coefficient: set in code, or the mechanism's own `diffusion` parameter
        // (buffers, dyes).
        double diffusion = spec.diffusion;
        if (const int p = b.info->parameter_index("diffusion"); p >= 0 && diffusion <= 0) {
            diffusion = b.params[static_cast<std::size_t>(p) * b.n];
        }
        if (diffusion <= 0 || b.info->kind != mechanism_kind::volume || b.n != mesh->size()) {
            continue;
        }
        const auto ci = static_cast<std::size_t>(model.find_compartment(spec.location) - model.compartments.data());
        for (std::size_t s = 0; s < b.info->states.size(); ++s) {
            const auto& st = b.info->states[s];
            diffusers.push_back({b.state_offset + s * b.n, ci, diffusion * compartments[ci].fraction,
                                 st.carried, std::string(st.carries), {}});
            diffusers.back().mechanism = k;
        }
    }
    for (auto& d: diffusers) {
        const auto& iv = compartments[d.compartment].inv_volume;
        d.uniform_volume =
            !iv.empty() && std::adjacent_find(iv.begin(), iv.end(), std::not_equal_to<>()) == iv.end();
        d.inv_volume = iv.empty() ? 0.0 : iv.front();
    }
    for (std::size_t k = 0; k < diffusers.size(); ++k) {
        auto& d = diffusers[k];
        // The stencil takes one volume for every voxel: equal to round-off.
        const auto& iv = compartments[d.compartment].inv_volume;
        d.stencil = stencil.active && !iv.empty() &&
                    std::all_of(iv.begin(), iv.end(),
                                [&](double x) { return std::abs(x - iv.front()) <= 1e-12 * iv.front(); });
        if (!d.stencil) {
            face_diffusers.push_back(k);
        }
    }
    bool species_stencil = false;
    for (const auto& d: diffusers) {
        if (d.stencil && d.mechanism == static_cast<std::size_t>(-1)) {
            written_first.push_back({d.offset, d.offset + mesh->size(), static_cast<std::size_t>(-1)});
            species_stencil = true;
        }
    }
    // Fusing needs the stencil, a grid larger than one chunk, and a volume mechanism whose every read and output is
    // its own voxel (identity maps) and whose parameters may be chunked.
    fused.assign(mechanisms.size(), 0);
    fused_now.assign(mechanisms.size(), 0);
    fused_packs.assign(mechanisms.size(), mechanism_pack{});
    for (std::size_t k = 0; k < mechanisms.size() && species_stencil; ++k) {
        const auto& b = mechanisms[k];
        const auto identity = [](const site_map& m) { return m.identity; };
        fused[k] = b.info->kind == mechanism_kind::volume && b.n == mesh->size() && b.n > rhs_chunk &&
                           !b.chunk_params.empty() && b.prop.empty() &&
                           std::all_of(b.reads.begin(), b.reads.end(), identity) &&
                           std::all_of(b.to_inner.begin(), b.to_inner.end(), identity)
                       ? 1
                       : 0;
        fused_any = fused_any || fused[k] != 0;
        if (fused[k] != 0) {
            fused_out.resize(std::max(fused_out.size(), b.info->outputs.size() * rhs_chunk));
        }
        if (fused[k] != 0 && !b.info->states.empty()) {
            written_first.push_back({b.state_offset, b.state_offset + b.info->states.size() * b.n, k});
        }
    }
    std::sort(written_first.begin(), written_first.end(),
              [](const written_range& a, const written_range& b) { return a.lo < b.lo; });
    if (clamped_voxel.empty()) {
        return;
    }
    // What crosses a clamped face enters or leaves the domain: one budget channel per compartment and species.
    for (auto& d: diffusers) {
        if (d.species.empty()) {
            continue;
        }
        const auto& comp = compartments[d.compartment].name;
        for (std::size_t c = 0; c < channels.size(); ++c) {
            if (channels[c].type == "boundary" && channels[c].to == comp && channels[c].species == d.species) {
                d.channel = c;
            }
        }
        if (d.channel == static_cast<std::size_t>(-1)) {
            d.channel = channels.size();
            channels.push_back({comp + ".boundary", "boundary", d.species, "", comp, "", flux_channel::kind::source});
        }
    }
}

namespace {

// One diffuser over one run of faces (system::impl::face_run), from its first face and voxel: face i joins voxels i
// and offset + i with weight w[i] (w[0] for all when SameW), 1/volume iv[i] (iv[0] for all when SameV). The
// operations of the face loop in diffuse(), in its order.
template <bool SameW, bool SameV>
void diffuse_run(std::size_t length, std::size_t offset, double g, const double* w, const double* c, double* dc,
                 const double* iv) {
    const double* cb = c + offset;
    double* db = dc + offset;
    const double* ib = iv + offset;
    const double gw0 = g * w[0];
    const double iv0 = iv[0];
    for (std::size_t i = 0; i < length; ++i) {
        const double j = (SameW ? gw0 : g * w[i]) * (c[i] - cb[i]);
        dc[i] -= j * (SameV ? iv0 : iv[i]);
        db[i] += j * (SameV ? iv0 : ib[i]);
    }
}

// dc = (Add: dc +) the net diffusive inflow over each voxel of a structured grid, divided by its volume:
// gw[a] = g w_a / V for the faces along axis a. A missing neighbour (the domain's edge) reads the voxel itself: no
// flux. Written first for a species (evaluate() adds the mechanisms' rates after, and zeroes only the other
// states), added after its mechanism's rates() for a mechanism's state.
template <bool Add>
[[gnu::always_inline]] inline void diffuse_stencil(const std::array<std::size_t, 3>& shape,
                                                   const std::array<double, 3>& gw, const double* __restrict c,
                                                   double* __restrict dc, std::size_t row_begin,
                                                   std::size_t row_end) {
    const auto put = [](double& target, double value) { target = Add ? target + value : value; };
    const std::size_t n0 = shape[0];
    const std::size_t n1 = shape[1];
    const std::size_t n2 = shape[2];
    const std::size_t s1 = n0;
    const std::size_t s2 = n0 * n1;
    const double wx = gw[0];
    const double wy = gw[1];
    const double wz = gw[2];
    // Rows along x, numbered i1 + n1 i2: those in [row_begin, row_end).
    for (std::size_t rw = row_begin; rw < row_end; ++rw) {
        const std::size_t i1 = rw % n1;
        const std::size_t i2 = rw / n1;
        const double* r = c + n0 * rw;
        const double* ym = i1 > 0 ? r - s1 : r;
        const double* yp = i1 + 1 < n1 ? r + s1 : r;
        const double* zm = i2 > 0 ? r - s2 : r;
        const double* zp = i2 + 1 < n2 ? r + s2 : r;
        double* d = dc + n0 * rw;
        const auto yz = [&](std::size_t x) {
            return wy * ((ym[x] - r[x]) + (yp[x] - r[x])) + wz * ((zm[x] - r[x]) + (zp[x] - r[x]));
        };
        if (n0 == 1) {
            put(d[0], yz(0));
            continue;
        }
        put(d[0], wx * (r[1] - r[0]) + yz(0));
        for (std::size_t x = 1; x + 1 < n0; ++x) {
            put(d[x], wx * ((r[x - 1] - r[x]) + (r[x + 1] - r[x])) + wy * ((ym[x] - r[x]) + (yp[x] - r[x])) +
                          wz * ((zm[x] - r[x]) + (zp[x] - r[x])));
        }
        put(d[n0 - 1], wx * (r[n0 - 2] - r[n0 - 1]) + yz(n0 - 1));
    }
}

// The stencil compiled for AVX2 as well as the baseline, picked at run time (target_clones; a template cannot be
// multiversioned by clang, hence one function for each kind of write).
CADYN_AVX2_CLONES void stencil_write(
    const std::array<std::size_t, 3>& shape, const std::array<double, 3>& gw, const double* c, double* dc,
    std::size_t row_begin, std::size_t row_end) {
    diffuse_stencil<false>(shape, gw, c, dc, row_begin, row_end);
}
CADYN_AVX2_CLONES void stencil_add(
    const std::array<std::size_t, 3>& shape, const std::array<double, 3>& gw, const double* c, double* dc,
    std::size_t row_begin, std::size_t row_end) {
    diffuse_stencil<true>(shape, gw, c, dc, row_begin, row_end);
}

} // namespace

// The first terms of every derivative: the stencil's diffusion for the fields that use it, zero for the rest.
void system::impl::start_derivatives(const double* y, double* ydot) const {
    if (written_first.empty()) {
        std::fill(ydot, ydot + n_states, 0.0);  // point models, grids without a stencil
        return;
    }
    std::size_t from = 0;
    for (const auto& w: written_first) {
        if (w.owner != static_cast<std::size_t>(-1) && fused_now[w.owner] == 0) {
            continue;  // not evaluated fused this time: zeroed like any state
        }
        std::fill(ydot + from, ydot + std::max(from, w.lo), 0.0);
        from = std::max(from, w.hi);
    }
    std::fill(ydot + from, ydot + n_states, 0.0);
    if (!fused_any) {
        stencil_rows(y, ydot, 0, stencil.shape[1] * stencil.shape[2], static_cast<std::size_t>(-1));
    }
}

// The stencil over rows [row_begin, row_end) for the diffusers of `owner`'s states (npos: of species, written).
void system::impl::stencil_rows(const double* y, double* ydot, std::size_t row_begin, std::size_t row_end,
                                std::size_t owner) const {
    for (const auto& d: diffusers) {
        if (d.stencil && d.mechanism == owner) {
            const double g = d.scale * d.inv_volume;
            const std::array<double, 3> gw{g * stencil.w[0], g * stencil.w[1], g * stencil.w[2]};
            if (owner == static_cast<std::size_t>(-1)) {
                stencil_write(stencil.shape, gw, y + d.offset, ydot + d.offset, row_begin, row_end);
            }
            else {
                stencil_add(stencil.shape, gw, y + d.offset, ydot + d.offset, row_begin, row_end);
            }
        }
    }
}

// The stencil and the fused volume mechanisms (impl::fused) over the grid one block of rows at a time: a block's
// y and ydot, written by the stencil, are still in cache when its mechanisms read and add to them (on a 100^3 box
// that saves the buffer's second pass over memory).
void system::impl::evaluate_fused(double t, const double* y, double* ydot, double* flux) {
    for (std::size_t k = 0; k < mechanisms.size(); ++k) {
        if (fused_now[k]) {
            fused_packs[k] = pack(mechanisms[k], t, y, ydot);
        }
    }
    const std::size_t n0 = stencil.shape[0];
    const std::size_t rows = stencil.shape[1] * stencil.shape[2];
    const std::size_t rows_per_block = std::max<std::size_t>(1, rhs_chunk / n0);
    for (std::size_t r0 = 0; r0 < rows; r0 += rows_per_block) {
        const std::size_t r1 = std::min(rows, r0 + rows_per_block);
        stencil_rows(y, ydot, r0, r1, static_cast<std::size_t>(-1));
        for (std::size_t k = 0; k < mechanisms.size(); ++k) {
            if (!fused_now[k]) {
                continue;
            }
            auto& b = mechanisms[k];
            const auto& p = fused_packs[k];
            mechanism_pack q = chunk_pack(b, p);
            for (std::size_t lo = r0 * n0; lo < r1 * n0; lo += rhs_chunk) {
                const std::size_t hi = std::min(r1 * n0, lo + rhs_chunk);
                point_chunk(b, p, q, lo, hi - lo);
                // The outputs go to a block-sized scratch (in cache), not the n-long b.out: a 1e6-voxel grid would
                // otherwise write and read back 8 MB per output and call.
                for (std::size_t j = 0; j < b.chunk_out.size(); ++j) {
                    b.chunk_out[j] = fused_out.data() + j * rhs_chunk;
                }
                b.impl->rates(q);
                // A volume mechanism in every voxel, instance i at site i: add its rates [uM/ms] in place.
                for (std::size_t out = 0; out < b.info->outputs.size(); ++out) {
                    const double* o = fused_out.data() + out * rhs_chunk;  // instance i at o[i - lo]
                    double* d_in = dcur[b.to_inner[out].field] + lo;
                    const double* size = b.size.data() + lo;
                    const std::size_t m = hi - lo;
                    for (std::size_t i = 0; i < m; ++i) {
                        d_in[i] += o[i];
                    }
                    if (flux != nullptr) {
                        double total = 0;
                        for (std::size_t i = 0; i < m; ++i) {
                            total += o[i] * size[i];
                        }
                        flux[b.first_channel + out] += total;
                    }
                    if (site_out != nullptr) {
                        double* site = site_out + b.site_base + out * b.n + lo;
                        for (std::size_t i = 0; i < m; ++i) {
                            site[i] = o[i] * size[i];
                        }
                    }
                }
            }
            stencil_rows(y, ydot, r0, r1, k);  // its diffusing states, after rates() assigned their derivatives
        }
    }
}

// Diffusion between voxels (but for the stencil's, start_derivatives) and through clamped faces: ydot += the
// divergence of the fluxes; budget channels of the clamped faces += what enters the domain [zmol/ms].
void system::impl::diffuse(const double* y, double* ydot, double* flux) const {
    const std::size_t nf = face_a.size();
    const std::size_t nb = clamped_voxel.size();
    // Every diffuser uses the same faces: one pass over the face arrays serves up to `batch` diffusers (for Ca and
    // one mobile buffer on 1e6 voxels, 12-14 % less time per rhs: bench/kernels_bench.cpp). Each diffuser's
    // derivatives are summed in the same order as in a pass of its own, so the result is the same to the bit.
    constexpr std::size_t batch = 4;
    struct stream {
        const double* c;
        double* dc;
        const double* iv;
        double g;
    };
    for (std::size_t k = 0; k < mechanisms.size() && stencil.active; ++k) {
        if (!(fused_any && fused_now[k])) {
            stencil_rows(y, ydot, 0, stencil.shape[1] * stencil.shape[2], k);
        }
    }
    const std::size_t n_face = face_diffusers.size();
    for (std::size_t first = 0; first < n_face; first += batch) {
        const std::size_t nd = std::min(batch, n_face - first);
        std::array<stream, batch> s{};
        for (std::size_t q = 0; q < nd; ++q) {
            const auto& d = diffusers[face_diffusers[first + q]];
            s[q] = {y + d.offset, ydot + d.offset, compartments[d.compartment].inv_volume.data(), d.scale};
        }
        if (!face_runs.empty()) {
            for (std::size_t q = 0; q < nd; ++q) {
                const stream& f = s[q];
                const bool same_v = diffusers[face_diffusers[first + q]].uniform_volume;
                for (const auto& run: face_runs) {
                    const auto pass = run.same_w ? (same_v ? diffuse_run<true, true> : diffuse_run<true, false>)
                                                 : (same_v ? diffuse_run<false, true> : diffuse_run<false, false>);
                    pass(run.length, run.offset, f.g, face_w.data() + run.first, f.c + run.a, f.dc + run.a,
                         f.iv + run.a);
                }
            }
            continue;
        }
        for (std::size_t k = 0; k < nf; ++k) {
            const std::size_t a = face_a[k];
            const std::size_t b = face_b[k];
            const double w = face_w[k];
            for (std::size_t q = 0; q < nd; ++q) {
                const stream& f = s[q];
                const double j = f.g * w * (f.c[a] - f.c[b]);
                f.dc[a] -= j * f.iv[a];
                f.dc[b] += j * f.iv[b];
            }
        }
    }
    for (const auto& d: diffusers) {
        const double* c = y + d.offset;
        double* dc = ydot + d.offset;
        const double* iv = compartments[d.compartment].inv_volume.data();
        const double g = d.scale;
        double entering = 0;
        for (std::size_t k = 0; k < nb; ++k) {
            const std::size_t v = clamped_voxel[k];
            const double j = g * clamped_w[k] * (c[v] - d.boundary_value[k]);
            dc[v] -= j * iv[v];
            entering -= j;
            if (site_out != nullptr && d.channel != static_cast<std::size_t>(-1)) {
                site_out[d.site_base + k] = -j * d.carried;
            }
        }
        if (flux != nullptr && d.channel != static_cast<std::size_t>(-1)) {
            flux[d.channel] += entering * d.carried;
        }
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
    symbol_of_field.assign(fields.size(), 0);
    for (const auto& [f, sym]: field_symbols) {
        symbol_of_field[f] = sym;
    }

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
                assignments.push_back({std::move(e), target, {}, static_cast<std::size_t>(-1), 0, false, 0, {}});
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
    // In a spatial model an expression's reference to a spatial species means its value in the voxel at hand
    // (reactions, rate rules on spatial species: evaluated voxel by voxel) or its volume average (elsewhere).
    std::map<std::size_t, std::size_t> spatial_offset;  // y index of voxel 0 -> field
    for (const auto f: spatial_fields) {
        spatial_offset[fields[f].offset] = f;
    }
    const auto split = [&](const std::set<std::size_t>& deps, std::vector<std::size_t>& global,
                           std::vector<std::size_t>& spatial) {
        for (const auto d: deps) {
            const auto it = spatial_offset.find(d);
            if (it != spatial_offset.end()) {
                spatial.push_back(it->second);
            }
            else {
                global.push_back(d);
            }
        }
    };
    const auto no_spatial = [&](const std::set<std::size_t>& deps, const source_location& where, const std::string& key) {
        for (const auto d: deps) {
            if (spatial_offset.contains(d)) {
                problems.push_back({where, key,
                                    fmt::format("'{}' varies from voxel to voxel; here only values the whole cell "
                                                "shares can be used (parameters, time, bath concentrations)",
                                                fields[spatial_offset.at(d)].compartment + "." +
                                                    fields[spatial_offset.at(d)].species)});
                return;
            }
        }
    };
    for (auto& mb: membranes) {
        if (mb.spec->protocol.type == potential_protocol::kind::expression && mesh) {
            no_spatial(deps_of(mb.spec->protocol.expression), mb.spec->where,
                       "membranes." + mb.spec->name + ".protocol.value");
        }
    }
    for (const auto& rx: model.reactions) {
        compile(rx.rate, rx.where, "reactions." + rx.name + ".rate", [&](detail::expression e) {
            const auto deps = deps_of(rx.rate);
            compiled_reaction c{std::move(e), {}, 1.0, false, 0, {}, {}};
            bool spatial = false;
            for (const auto* list: {&rx.reactants, &rx.products}) {
                for (const auto& p: *list) {
                    const auto* comp = model.find_compartment(p.compartment);
                    spatial = spatial || (mesh && !comp->clamped);
                }
            }
            if (spatial) {
                const auto* comp = rx.rate_per_volume ? model.find_compartment(rx.compartment) : nullptr;
                if (comp == nullptr || comp->clamped) {
                    problems.push_back({rx.where, "reactions." + rx.name + ".rate",
                                        "in a spatial model a reaction's rate is a concentration per time in one of "
                                        "the spatial compartments (give compartment = \"...\")"});
                    return;
                }
                c.spatial = true;
                c.compartment = static_cast<std::size_t>(comp - model.compartments.data());
                split(deps, c.depends_on, c.spatial_deps);
            }
            else {
                c.depends_on.assign(deps.begin(), deps.end());
            }
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
        std::size_t field_of = 0;
        if (dot == std::string::npos) {
            target = param_states[next_param_state++].first;
        }
        else {
            field_of = field_index.at({r.variable.substr(0, dot), r.variable.substr(dot + 1)});
            const auto& f = fields[field_of];
            target = f.offset;
            volume = compartments[f.compartment_index].volume[0];
            channel = channels.size();
            channels.push_back({r.variable, "rule", f.species, "", f.compartment, "", flux_channel::kind::source});
        }
        const bool spatial = dot != std::string::npos && spatial_offset.contains(target);
        compile(r.expression, r.where, "rules." + r.variable, [&](detail::expression e) {
            const auto deps = deps_of(r.expression);
            compiled_rule rule{std::move(e), target, {}, channel, volume, spatial, field_of, {}};
            if (spatial) {
                split(deps, rule.depends_on, rule.spatial_deps);
            }
            else {
                if (mesh) {
                    no_spatial(deps, r.where, "rules." + r.variable);
                }
                rule.depends_on.assign(deps.begin(), deps.end());
            }
            rate_rules.push_back(std::move(rule));
        });
    }
    any_expressions = !assignments.empty() || !reactions.empty() || !rate_rules.empty();
    for (const auto& mb: membranes) {
        any_expressions = any_expressions || mb.expr.has_value();
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
    // Mechanism states (averaged over their instances, weighted by size) and parameter states, in state order.
    for (std::size_t k = 0; k < mechanisms.size(); ++k) {
        for (std::size_t s = 0; s < mechanisms[k].info->states.size(); ++s) {
            if (!mechanisms[k].prop.empty() && s + 1 == mechanisms[k].info->states.size()) {
                continue;  // a stochastic mechanism's clock: the engine's, not the cell's
            }
            all.push_back({mechanisms[k].name + "." + std::string(mechanisms[k].info->states[s].name), ""});
            refs.push_back({observable_kind::mechanism_state, k, s});
        }
    }
    for (const auto& [index, symbol]: param_states) {
        all.push_back({state_names[index], ""});
        refs.push_back({observable_kind::state, index});
    }
    // "uptake.ca_flux"; a reaction moving one species between compartments has a channel in each, named
    // "uptake.er.ca_flux" and "uptake.cyt.ca_flux" (names must be unique: they are columns and HDF5 datasets).
    std::map<std::string, int> uses;
    for (const auto& ch: channels) {
        ++uses[ch.mechanism + "." + ch.species + "_flux"];
    }
    for (std::size_t c = 0; c < channels.size(); ++c) {
        const auto& ch = channels[c];
        const std::string plain = ch.mechanism + "." + ch.species + "_flux";
        all.push_back({uses[plain] > 1 ? ch.mechanism + "." + ch.to + "." + ch.species + "_flux" : plain, "amol/s"});
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
    // Values at named points: every spatial field and every state of a mechanism present in every voxel.
    for (const auto& point: model.points) {
        if (!mesh) {
            break;
        }
        const auto v = mesh->locate(point.at);
        for (const auto f: spatial_fields) {
            all.push_back({fields[f].compartment + "." + fields[f].species + "@" + point.name, "uM"});
            refs.push_back({observable_kind::value, fields[f].offset + v});
        }
        for (const auto& b: mechanisms) {
            if (b.n != mesh->size()) {
                continue;
            }
            for (std::size_t s = 0; s < b.info->states.size(); ++s) {
                all.push_back({b.name + "." + std::string(b.info->states[s].name) + "@" + point.name,
                               std::string(b.info->states[s].dim->canonical)});
                refs.push_back({observable_kind::value, b.state_offset + s * b.n + v});
            }
        }
    }
    // Fields for HDF5 output: spatial species and the states of mechanisms present in every voxel.
    if (mesh) {
        for (const auto f: spatial_fields) {
            field_list.push_back({fields[f].compartment + "." + fields[f].species, "uM"});
            field_offsets.push_back(fields[f].offset);
        }
        for (const auto& b: mechanisms) {
            if (b.n == mesh->size()) {
                for (std::size_t s = 0; s < b.info->states.size(); ++s) {
                    field_list.push_back({b.name + "." + std::string(b.info->states[s].name),
                                          std::string(b.info->states[s].dim->canonical)});
                    field_offsets.push_back(b.state_offset + s * b.n);
                }
            }
        }
        std::vector<diagnostic> problems;
        for (const auto& wanted: model.record.fields) {
            const auto it = std::find_if(field_list.begin(), field_list.end(),
                                         [&](const observable_info& o) { return o.name == wanted; });
            if (it == field_list.end()) {
                std::string known;
                for (const auto& o: field_list) {
                    known += (known.empty() ? "" : ", ") + o.name;
                }
                problems.push_back({model.record.where, "record.fields",
                                    fmt::format("unknown field '{}'; this model's fields are: {}", wanted, known)});
            }
        }
        if (!problems.empty()) {
            throw model_error(std::move(problems));
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
                a.count = f.dynamic ? compartments[f.compartment_index].volume.size() : 1;
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
    for (const auto& ch: channels) {
        if (ch.type == "boundary") {
            open.insert(ch.species);  // a clamped face of the domain
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
    for (const auto& d: diffusers) {
        for (std::size_t f = 0; f < fields.size(); ++f) {
            written[f] = written[f] || (fields[f].dynamic && fields[f].offset == d.offset);
        }
    }
    for (std::size_t f = 0; f < fields.size(); ++f) {
        if (fields[f].dynamic && !written[f]) {
            const auto& vol = compartments[fields[f].compartment_index].volume;
            for (std::size_t i = 0; i < vol.size(); ++i) {
                laws.push_back({fields[f].species, {{fields[f].offset + i, vol[i]}}, fields[f].offset + i});
            }
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
            const auto& spec = model.compartments[f.compartment_index];
            const auto it = spec.initial.find(f.species);
            const std::size_t sites = compartments[f.compartment_index].volume.size();
            std::fill_n(initial.begin() + static_cast<long>(f.offset), sites, it == spec.initial.end() ? 0.0 : it->second);
            for (const auto& patch: spec.patches) {
                if (patch.species != f.species || !mesh) {
                    continue;
                }
                for (std::size_t i = 0; i < sites; ++i) {
                    const double x = mesh->centre(i)[0];
                    if (x >= patch.from && x <= patch.to) {
                        initial[f.offset + i] = patch.value;
                    }
                }
            }
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
    for (auto& d: diffusers) {
        d.boundary_value.clear();
        for (const auto v: clamped_voxel) {
            d.boundary_value.push_back(initial[d.offset + v]);
        }
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
        if (b.reads[r].identity) {
            b.in_ptr[r] = src;  // the kernel reads the field itself
            continue;
        }
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

// Volume-weighted average of a value over a compartment's sites.
double system::impl::mean(const compartment_layout& c, const double* values) const {
    if (c.volume.size() == 1) {
        return values[0];
    }
    double sum = 0;
    double volume = 0;
    for (std::size_t i = 0; i < c.volume.size(); ++i) {
        sum += c.volume[i] * values[i];
        volume += c.volume[i];
    }
    return sum / volume;
}

void system::impl::update_symbols(double t, const double* y) {
    symbols[time_symbol] = t;
    if (!any_expressions && mesh) {
        return;  // nothing reads the symbols; spare the averages
    }
    for (const auto& [f, s]: field_symbols) {
        symbols[s] = mesh ? mean(compartments[fields[f].compartment_index], cur[f]) : cur[f][0];
    }
    for (const auto& [index, s]: param_states) {
        symbols[s] = y[index];
    }
    for (const auto& a: assignments) {
        symbols[a.target] = a.expr.eval();
    }
}

// A pack like p that reads its parameters from b.chunk_params and its arrays through b's chunk pointers (set by
// point_chunk; the output pointers b.chunk_out by the caller).
mechanism_pack system::impl::chunk_pack(bound_mechanism& b, const mechanism_pack& p) {
    mechanism_pack q = p;
    q.param = b.chunk_param_ptr.data();
    q.conc = b.chunk_conc.data();
    q.state = b.chunk_state.data();
    q.dstate = b.chunk_dstate.data();
    q.out = b.chunk_out.data();
    return q;
}

// Point q (from chunk_pack) at the n instances of p from lo.
void system::impl::point_chunk(bound_mechanism& b, const mechanism_pack& p, mechanism_pack& q, std::size_t lo,
                               std::size_t n) {
    q.n = n;
    for (std::size_t j = 0; j < b.chunk_conc.size(); ++j) {
        b.chunk_conc[j] = p.conc[j] + lo;
    }
    for (std::size_t j = 0; j < b.chunk_state.size(); ++j) {
        b.chunk_state[j] = p.state[j] + lo;
        b.chunk_dstate[j] = p.dstate[j] + lo;
    }
    q.size = p.size + lo;
    q.potential = p.potential + lo;
}

// Bring b.chunk_params up to date with b.params (events change parameters between calls). False, and rates() must
// run over all instances from b.params, if an instance's parameters differ from the first's (nothing in the engine
// sets them per instance; the first and last are compared).
bool system::impl::chunk_parameters(bound_mechanism& b) {
    for (std::size_t j = 0; j < b.param_ptr.size(); ++j) {
        const double value = b.params[j * b.n];
        if (std::memcmp(&b.params[j * b.n + b.n - 1], &value, sizeof value) != 0) {
            return false;
        }
        double* copy = b.chunk_params.data() + j * rhs_chunk;
        if (std::memcmp(copy, &value, sizeof value) != 0) {
            std::fill(copy, copy + rhs_chunk, value);
        }
    }
    return true;
}

void system::impl::evaluate(double t, const double* y, double* ydot, double* flux, bool stimuli) {
    point_at(y, ydot);
    for (std::size_t k = 0; k < mechanisms.size() && fused_any; ++k) {
        auto& b = mechanisms[k];
        fused_now[k] = fused[k] && !(b.info->is_stimulus && !stimuli) && chunk_parameters(b) ? 1 : 0;
    }
    start_derivatives(y, ydot);
    update_symbols(t, y);
    update_membranes();
    if (flux != nullptr) {
        std::fill(flux, flux + channels.size(), 0.0);
    }
    if (fused_any) {
        evaluate_fused(t, y, ydot, flux);
    }
    for (auto& b: mechanisms) {
        const auto& info = *b.info;
        if ((info.is_stimulus && !stimuli) || (fused_any && fused_now[static_cast<std::size_t>(&b - mechanisms.data())])) {
            continue;
        }
        const auto p = pack(b, t, y, ydot);
        if (b.chunk_params.empty() || !chunk_parameters(b)) {
            b.impl->rates(p);
        }
        else {
            mechanism_pack q = chunk_pack(b, p);
            for (std::size_t lo = 0; lo < b.n; lo += rhs_chunk) {
                point_chunk(b, p, q, lo, std::min(rhs_chunk, b.n - lo));
                for (std::size_t j = 0; j < b.chunk_out.size(); ++j) {
                    b.chunk_out[j] = p.out[j] + lo;
                }
                b.impl->rates(q);
            }
        }
        if (!b.prop.empty()) {
            // The clock of each instance runs at its total propensity (the hybrid stochastic engine fires a
            // transition when it reaches its threshold).
            b.impl->propensities(p, b.prop_ptr.data());
            double* clock = b.dstate_ptr.back();
            std::fill(clock, clock + b.n, 0.0);
            for (const double* a: b.prop_ptr) {
                for (std::size_t i = 0; i < b.n; ++i) {
                    clock[i] += a[i];
                }
            }
        }

        const bool membrane = info.kind == mechanism_kind::membrane;
        for (std::size_t k = 0; k < info.outputs.size(); ++k) {
            const double* o = b.out.data() + k * b.n;
            const auto& in = b.to_inner[k];
            double* d_in = dcur[in.field];
            // Membrane: amount per time into inner [zmol/ms] / volume -> [uM/ms]. Volume: already [uM/ms].
            if (membrane && in.identity) {
                for (std::size_t i = 0; i < b.n; ++i) {
                    d_in[i] += o[i] * in.inv_volume[i];
                }
            }
            else if (membrane) {
                for (std::size_t i = 0; i < b.n; ++i) {
                    d_in[in.site[i]] += o[i] * in.inv_volume[i];
                }
            }
            else if (in.identity) {
                for (std::size_t i = 0; i < b.n; ++i) {
                    d_in[i] += o[i];
                }
            }
            else {
                for (std::size_t i = 0; i < b.n; ++i) {
                    d_in[in.site[i]] += o[i];
                }
            }
            if (membrane) {
                const auto& out = b.to_outer[k];
                double* d_out = dcur[out.field];
                for (std::size_t i = 0; i < b.n; ++i) {
                    d_out[out.site[i]] -= o[i] * out.inv_volume[i];
                }
            }
            if (flux != nullptr) {
                // The budget channel's rate [zmol/ms]; only when asked for (a serial sum over every instance).
                double total = 0;
                for (std::size_t i = 0; i < b.n; ++i) {
                    total += membrane ? o[i] : o[i] * b.size[i];
                }
                flux[b.first_channel + k] = total;
            }
            if (site_out != nullptr) {
                double* site = site_out + b.site_base + k * b.n;
                for (std::size_t i = 0; i < b.n; ++i) {
                    site[i] = membrane ? o[i] : o[i] * b.size[i];
                }
            }
        }
    }
    if (!diffusers.empty()) {
        diffuse(y, ydot, flux);
    }
    bool spatial_expressions = false;
    for (const auto& rx: reactions) {
        if (rx.spatial) {
            spatial_expressions = true;
            continue;
        }
        const double extent = rx.rate.eval() * rx.volume;  // [zmol/ms]
        for (const auto& term: rx.terms) {
            dcur[term.field][0] += term.coefficient * extent;
            if (flux != nullptr) {
                flux[term.channel] = term.stoichiometry * extent;
            }
            if (site_out != nullptr) {
                site_out[term.site_base] = term.stoichiometry * extent;
            }
        }
    }
    for (const auto& rule: rate_rules) {
        if (rule.spatial) {
            spatial_expressions = true;
            continue;
        }
        const double rate = rule.expr.eval();
        ydot[rule.target] += rate;
        if (flux != nullptr && rule.channel != static_cast<std::size_t>(-1)) {
            flux[rule.channel] = rate * rule.volume;
        }
        if (site_out != nullptr && rule.channel != static_cast<std::size_t>(-1)) {
            site_out[rule.site_base] = rate * rule.volume;
        }
    }
    if (spatial_expressions) {
        evaluate_spatial(ydot, flux);
        update_symbols(t, y);  // back to the whole-cell values
    }
}

// Reactions and rate rules of spatial species, voxel by voxel: the symbols of spatial species take each voxel's
// values in turn, assignment rules are re-evaluated there, then the rates.
void system::impl::evaluate_spatial(double* ydot, double* flux) {
    const std::size_t n = mesh->size();
    for (std::size_t i = 0; i < n; ++i) {
        for (const auto f: spatial_fields) {
            symbols[symbol_of_field[f]] = cur[f][i];
        }
        for (const auto& a: assignments) {
            symbols[a.target] = a.expr.eval();
        }
        for (const auto& rx: reactions) {
            if (!rx.spatial) {
                continue;
            }
            const double extent = rx.rate.eval() * compartments[rx.compartment].volume[i];  // [zmol/ms]
            for (const auto& term: rx.terms) {
                const auto& c = compartments[fields[term.field].compartment_index];
                const std::size_t site = c.spatial ? i : 0;
                dcur[term.field][site] += term.stoichiometry * extent * c.inv_volume[site];
                if (flux != nullptr) {
                    flux[term.channel] += term.stoichiometry * extent;
                }
                if (site_out != nullptr) {
                    site_out[term.site_base + i] = term.stoichiometry * extent;
                }
            }
        }
        for (const auto& rule: rate_rules) {
            if (!rule.spatial) {
                continue;
            }
            const double rate = rule.expr.eval();
            ydot[rule.target + i] += rate;
            if (flux != nullptr && rule.channel != static_cast<std::size_t>(-1)) {
                flux[rule.channel] += rate * compartments[fields[rule.field].compartment_index].volume[i];
            }
            if (site_out != nullptr && rule.channel != static_cast<std::size_t>(-1)) {
                site_out[rule.site_base + i] = rate * compartments[fields[rule.field].compartment_index].volume[i];
            }
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

void system::observe(double t, const double* y, double* out, const char* wanted) {
    auto& d = *impl_;
    bool need_flux = false;
    bool need_mechanisms = false;
    for (std::size_t k = 0; k < d.observable_refs.size(); ++k) {
        if (wanted != nullptr && wanted[k] == 0) {
            continue;
        }
        const auto kind = d.observable_refs[k].kind;
        need_flux = need_flux || kind == observable_kind::channel || kind == observable_kind::atp;
        need_mechanisms = need_mechanisms || kind == observable_kind::mechanism;
    }
    if (need_flux) {
        d.evaluate(t, y, d.scratch_ydot.data(), d.scratch_flux.data(), true);
    }
    else {
        d.point_at(y, d.scratch_ydot.data());
        d.update_symbols(t, y);
        d.update_membranes();
    }
    if (need_mechanisms) {
        d.compute_mechanism_observables(t, y);
    }
    for (std::size_t k = 0; k < d.observable_refs.size(); ++k) {
        const auto& r = d.observable_refs[k];
        if (wanted != nullptr && wanted[k] == 0) {
            out[k] = std::numeric_limits<double>::quiet_NaN();
            continue;
        }
        switch (r.kind) {
        case observable_kind::field:
            out[k] = d.mean(d.compartments[d.fields[r.index].compartment_index], d.cur[r.index]);
            break;
        case observable_kind::value: out[k] = y[r.index]; break;
        case observable_kind::mechanism_state: {
            const auto& b = d.mechanisms[r.index];
            double sum = 0;
            double size = 0;
            for (std::size_t i = 0; i < b.n; ++i) {
                sum += b.size[i] * y[b.state_offset + r.sub * b.n + i];
                size += b.size[i];
            }
            out[k] = b.n == 1 ? y[b.state_offset + r.sub] : sum / size;
            break;
        }
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
            // Over several instances: the size-weighted averages (a dye's whole-cell F over whole-cell F0).
            const auto& b = d.mechanisms[r.index];
            double v = 0;
            double reference = 0;
            double size = 0;
            for (std::size_t i = 0; i < b.n; ++i) {
                v += b.size[i] * b.obs[r.sub * b.n + i];
                reference += b.size[i] * b.obs_reference[r.sub * b.n + i];
                size += b.size[i];
            }
            if (b.n == 1) {
                v = b.obs[r.sub];
                reference = b.obs_reference[r.sub];
            }
            else {
                v /= size;
                reference /= size;
            }
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
    // With the budget: columns n + c are the integrated channels (nothing depends on them); rows n + nq + s are
    // the flux sites (flux_site_channels()).
    const std::size_t nq = with_budget ? d.channels.size() : 0;
    const std::size_t sites = n + nq;
    std::vector<std::set<std::size_t>> rows(n + nq);  // rows[column]
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
                    out.push_back(sites + b.site_base + k * b.n + i);
                }
            }
            link(in, out);
        }
    }
    // Spatial expressions: voxel i's rates depend on voxel i's values of the spatial species they name.
    const std::size_t voxels = d.mesh ? d.mesh->size() : 1;
    const auto site_of = [&](std::size_t f, std::size_t i) {
        return d.compartments[d.fields[f].compartment_index].spatial ? i : 0;
    };
    for (const auto& rx: d.reactions) {
        for (std::size_t i = 0; i < (rx.spatial ? voxels : 1); ++i) {
            std::vector<std::size_t> out;
            for (const auto& term: rx.terms) {
                state_of(term.field, rx.spatial ? site_of(term.field, i) : 0, out);
                if (with_budget) {
                    out.push_back(sites + term.site_base + i);
                }
            }
            std::vector<std::size_t> in = rx.depends_on;
            for (const auto f: rx.spatial_deps) {
                in.push_back(d.fields[f].offset + i);
            }
            link(in, out);
        }
    }
    for (const auto& rule: d.rate_rules) {
        for (std::size_t i = 0; i < (rule.spatial ? voxels : 1); ++i) {
            std::vector<std::size_t> out = {rule.target + i};
            if (with_budget && rule.channel != static_cast<std::size_t>(-1)) {
                out.push_back(sites + rule.site_base + i);
            }
            std::vector<std::size_t> in = rule.depends_on;
            for (const auto f: rule.spatial_deps) {
                in.push_back(d.fields[f].offset + i);
            }
            link(in, out);
        }
    }
    for (const auto& df: d.diffusers) {
        for (std::size_t k = 0; k < d.face_a.size(); ++k) {
            rows[df.offset + d.face_a[k]].insert(df.offset + d.face_b[k]);
            rows[df.offset + d.face_b[k]].insert(df.offset + d.face_a[k]);
        }
        if (with_budget && df.channel != static_cast<std::size_t>(-1)) {
            for (std::size_t k = 0; k < d.clamped_voxel.size(); ++k) {
                rows[df.offset + d.clamped_voxel[k]].insert(sites + df.site_base + k);
            }
        }
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
    return f.dynamic ? impl_->mean(impl_->compartments[f.compartment_index], y + f.offset) : impl_->clamped[f.offset];
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
                else if (a.target == event_action::where::state) {
                    std::fill_n(y + a.index, a.count, a.value);  // every voxel of a spatial species
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

const std::vector<std::size_t>& system::flux_site_channels() const { return impl_->site_channel; }

void system::rhs(double t, const double* y, double* ydot, double* fluxes, double* sites, bool stimuli) {
    impl_->site_out = sites;
    try {
        impl_->evaluate(t, y, ydot, fluxes, stimuli);
    }
    catch (...) {
        impl_->site_out = nullptr;
        throw;
    }
    impl_->site_out = nullptr;
}

std::vector<std::size_t> system::state_voxels() const {
    const auto& d = *impl_;
    std::vector<std::size_t> out(d.n_states, static_cast<std::size_t>(-1));
    for (const auto f: d.spatial_fields) {
        for (std::size_t i = 0; i < d.mesh->size(); ++i) {
            out[d.fields[f].offset + i] = i;
        }
    }
    for (const auto& b: d.mechanisms) {
        for (std::size_t s = 0; s < b.info->states.size(); ++s) {
            for (std::size_t i = 0; i < b.n; ++i) {
                out[b.state_offset + s * b.n + i] = b.voxel[i];
            }
        }
    }
    return out;
}

const grid* system::mesh() const { return impl_->mesh ? &*impl_->mesh : nullptr; }
const std::vector<observable_info>& system::fields() const { return impl_->field_list; }
std::size_t system::stochastic_instances() const { return impl_->stochastic_instances; }

std::size_t system::clock_index(std::size_t k) const {
    for (const auto& b: impl_->mechanisms) {
        if (!b.prop.empty() && k >= b.first_stochastic && k < b.first_stochastic + b.n) {
            return b.state_offset + (b.info->states.size() - 1) * b.n + (k - b.first_stochastic);
        }
    }
    throw internal_error(fmt::format("clock_index: no stochastic instance {}", k));
}

long system::fire(std::size_t k, double t, double* y, double u) {
    auto& d = *impl_;
    for (auto& b: d.mechanisms) {
        if (b.prop.empty() || k < b.first_stochastic || k >= b.first_stochastic + b.n) {
            continue;
        }
        const std::size_t i = k - b.first_stochastic;
        const auto& info = *b.info;
        // Instance i's inputs at (t, y), as a pack of one instance.
        d.point_at(y, d.scratch_ydot.data());
        d.update_symbols(t, y);
        d.update_membranes();
        for (std::size_t r = 0; r < b.reads.size(); ++r) {
            const auto& map = b.reads[r];
            b.one_conc[r] = d.cur[map.field][map.identity ? i : map.site[i]];
        }
        for (std::size_t j = 0; j < b.param_ptr.size(); ++j) {
            b.one_param[j] = b.param_ptr[j] + i;
        }
        for (std::size_t s = 0; s < info.states.size(); ++s) {
            b.one_state[s] = y + b.state_offset + s * b.n + i;
        }
        mechanism_pack p;
        p.n = 1;
        p.t = t;
        p.temperature = d.model.temperature;
        p.param = b.one_param.data();
        p.conc = b.one_conc_ptr.data();
        p.state = b.one_state.data();
        p.size = b.size.data() + i;
        p.potential = (b.membrane == no_membrane ? d.zero_potential.data() : d.membranes[b.membrane].potential.data()) + i;
        b.impl->propensities(p, b.one_prop_ptr.data());
        double total = 0;
        for (const double a: b.one_prop) {
            total += std::max(a, 0.0);
        }
        long chosen = -1;
        if (total > 0) {
            // The transition whose share of the total propensity contains u.
            const double target = u * total;
            double sum = 0;
            for (std::size_t j = 0; j < b.one_prop.size(); ++j) {
                if (b.one_prop[j] <= 0) {
                    continue;
                }
                chosen = static_cast<long>(j);
                sum += b.one_prop[j];
                if (target < sum) {
                    break;
                }
            }
        }
        if (chosen >= 0) {
            const auto& tr = info.transitions[static_cast<std::size_t>(chosen)];
            y[b.state_offset + tr.from * b.n + i] -= 1;
            y[b.state_offset + tr.to * b.n + i] += 1;
            // Counts (every state but the clock) stay whole numbers: the integrator may have added round-off.
            for (std::size_t s = 0; s + 1 < info.states.size(); ++s) {
                double& v = y[b.state_offset + s * b.n + i];
                v = std::max(std::round(v), 0.0);
            }
        }
        y[b.state_offset + (info.states.size() - 1) * b.n + i] = 0;  // the clock starts again
        return chosen;
    }
    throw internal_error(fmt::format("fire: no stochastic instance {}", k));
}

std::size_t system::field_offset(std::size_t k) const { return impl_->field_offsets.at(k); }

std::vector<double> system::abs_tolerances() const {
    std::vector<double> tolerances(impl_->n_states, impl_->model.run.atol);
    // A stochastic instance's clock is dimensionless and fires at an Exp(1) threshold: an absolute error of 1e-6
    // moves its transition by a millionth of a mean waiting time (the concentrations' atol, 1e-10 uM, would make
    // the steps after each transition, when the clock is near 0, as small as a concentration of 1e-10 uM needs).
    for (const auto& b: impl_->mechanisms) {
        if (!b.prop.empty()) {
            const std::size_t clock = b.state_offset + (b.info->states.size() - 1) * b.n;
            std::fill_n(tolerances.begin() + static_cast<long>(clock), b.n, std::max(impl_->model.run.atol, 1e-6));
        }
    }
    return tolerances;
}

system compile(model_spec model) { return system(model); }

} // namespace cadyn
