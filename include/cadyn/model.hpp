#pragma once
// model_spec: what the user said, validated, in canonical units. Pure data, no solver state.
//
// Readers (the TOML model file, later SBML and Python) produce a model_spec; compile() (cadyn/system.hpp) turns
// it into a system. Every number here is in cadyn's canonical units (cadyn/units.hpp): uM, ms, um, um^2, um^3,
// mV, pA, K. Every element remembers where it was written (source_location) so that later stages can still
// point the user at a file and line.
//
// Vocabulary:
//  - compartment: a well-mixed volume (cytosol, ER lumen, extracellular space). A clamped compartment holds
//    fixed concentrations (a bath): material flows in and out of it without changing it.
//  - membrane: the surface between an inner and an outer compartment, with an area and a potential
//    V = phi_inner - phi_outer. For the plasma membrane inner = cytosol; for an organelle inner = its lumen.
//  - mechanism: an instance of a catalogue entry (cadyn/mechanism.hpp) placed on a membrane (transport) or in a
//    compartment (a reaction such as buffer binding), with its parameters.
//  - reaction / rule: user kinetics written as math expressions (docs/expressions.md).

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <cadyn/error.hpp>
#include <cadyn/mechanism.hpp>

namespace cadyn {

// The model-file format this build reads and writes. Files declare `format_version`; see docs/model-format.md.
inline constexpr int model_format_version = 1;

struct species_spec {
    std::string name;   // "ca", "na", "ip3"
    int charge = 0;     // valence z
    source_location where;
};

struct compartment_spec {
    std::string name;
    double volume = 0;     // [um^3] (spatial models: fraction x the geometry's volume)
    double surface = 0;    // [um^2] from its geometry (sphere, cylinder), 0 when only a volume was given
    bool clamped = false;  // concentrations held fixed
    std::map<std::string, double> initial;  // species -> [uM]
    // Spatial models (model_spec::geometry set): every non-clamped compartment fills `fraction` of each voxel
    // (co-located regions, like NEURON rxd's FractionalVolume: cytosol 0.83 and ER 0.17 share the voxels), and
    // its species diffuse with these coefficients [um^2/ms] (absent: fixed in place).
    double fraction = 1;
    std::map<std::string, double> diffusion;
    // Spatial models: a different initial concentration [uM] of one species in the voxels whose centre lies
    // between `from` and `to` [um] along the geometry's first axis (a puff of IP3 at one end of a dendrite).
    struct patch {
        std::string species;
        double value = 0;
        double from = 0;
        double to = 0;
    };
    std::vector<patch> patches;
    source_location where;
};

// The space a spatial model lives in, discretised into voxels by build_grid() (cadyn/geometry.hpp).
//  - cable: a cylinder of `length` and `diameter` cut into voxels[0] slices along x (a dendrite or axon); the
//    membrane is its lateral surface; faces "left" (x = 0) and "right" (x = length).
//  - shells: concentric spherical shells between inner_radius (may be 0) and outer_radius, voxels[0] of them,
//    over `solid_fraction` of the full sphere (1: a soma; 0.5: the half-space under a membrane patch, radially
//    symmetric around a channel). Faces "inner" and "outer"; the membrane is "outer" by default.
//  - axisymmetric: a cylinder r in [0, radius], z in [0, depth] under a membrane patch at z = 0, voxels[0] rings
//    by voxels[1] layers; a channel sits on the axis. Faces "top" (z = 0, the membrane), "side" (r = radius),
//    "bottom" (z = depth).
//  - box: x, y, z in [0, size[0..2]], voxels[0..2] voxels; faces "x0", "x1", "y0", "y1", "z0" (the membrane by
//    default), "z1".
// Non-uniform grids: with finest[k] > 0 the spacing along axis k grows geometrically from finest[k] at the
// origin side (the inner radius, the axis, the membrane) so that the voxels[k] cells fill the length exactly.
struct geometry_spec {
    enum class kind { none, cable, shells, axisymmetric, box };
    kind type = kind::none;
    double length = 0;         // cable [um]
    double diameter = 0;       // cable [um]
    double inner_radius = 0;   // shells [um]
    double outer_radius = 0;   // shells [um]
    double solid_fraction = 1; // shells: fraction of the full sphere
    double radius = 0;         // axisymmetric [um]
    double depth = 0;          // axisymmetric [um]
    std::array<double, 3> size{0, 0, 0};   // box [um]
    std::array<std::size_t, 3> voxels{1, 1, 1};
    std::array<double, 3> finest{0, 0, 0}; // [um]; 0: uniform
    std::string membrane_face;             // empty: the geometry's default
    std::vector<std::string> clamped_faces;  // held at the initial concentrations (a far boundary, a bath)
    source_location where;

    bool spatial() const { return type != kind::none; }
};

// A named position in a spatial model, for observables ("cyt.ca@sensor"): coordinates in the geometry's own
// axes [um] (cable: x; shells: r; axisymmetric: r, z; box: x, y, z); missing coordinates are 0.
struct point_spec {
    std::string name;
    std::array<double, 3> at{0, 0, 0};
    source_location where;
};

// A membrane potential that changes in time (a voltage clamp or an imposed action-potential train). The membrane
// potential is imposed, not computed: cadyn does not integrate the cable equation.
struct potential_protocol {
    enum class kind { constant, steps, spikes, expression };
    kind type = kind::constant;
    // steps: levels[k] [mV] from the sum of the earlier durations [ms]; after the last duration the last level.
    std::vector<double> levels;
    std::vector<double> durations;
    // spikes: from rest to peak [mV] and back, a Gaussian of full width at half maximum `width` [ms] centred
    // 2 widths after each onset start + k / frequency [ms, 1/ms], k < count.
    double rest = 0;
    double peak = 0;
    double start = 0;
    double frequency = 0;
    double count = 0;
    double width = 1;
    // expression: V [mV] as a math expression of t [ms] and the model's parameters.
    std::string expression;
};

struct membrane_spec {
    std::string name;
    std::string inner;       // compartment name
    std::string outer;       // compartment name
    double area = 0;         // [um^2]
    double potential = 0;    // [mV], phi_inner - phi_outer (when the protocol is constant)
    potential_protocol protocol;
    source_location where;
};

struct mechanism_spec {
    std::string name;      // instance name, unique in the model ("pmca", "calbindin")
    std::string type;      // catalogue entry ("pmca", "buffer", "pulse_train")
    std::string location;  // membrane (for membrane mechanisms) or compartment (volume mechanisms)
    std::string store;     // for mechanisms that sense a store (side::store): the store compartment
    std::map<std::string, double> parameters;  // canonical units; after validation every declared one is present
    std::map<std::string, source_location> parameter_where;  // where each given parameter was written
    // Spatial models: a mechanism placed `at` a point acts only in the voxel (volume) or on the membrane face
    // (membrane) nearest to it (a single channel); otherwise it acts in every voxel or on every membrane face.
    std::optional<std::array<double, 3>> at;
    // Spatial models: the diffusion coefficient [um^2/ms] of a volume mechanism's states (a mobile buffer or dye:
    // the bound form moves with the buffer; free and bound forms are taken to diffuse alike, so the total
    // buffer stays uniform). 0: the mechanism's own `diffusion` parameter if it has one (buffers and dyes do:
    // the model file's `diffusion = "..."`), else fixed in place.
    double diffusion = 0;
    source_location where;
};

// A user parameter usable in expressions (value in canonical units of its declared unit).
struct parameter_spec {
    std::string name;
    double value = 0;
    source_location where;
};

// A species taking part in a reaction: "cyt.ca" with its stoichiometry.
struct participant {
    std::string compartment;
    std::string species;
    double stoichiometry = 1;
};

// A reaction with a user-written rate law. The rate is an expression evaluated in canonical units. When
// rate_per_volume is true the rate is a concentration per time [uM/ms] in `compartment` (the usual form for a
// reaction inside one compartment); otherwise it is an amount per time [zmol/ms] (SBML's kinetic-law form, for
// reactions across compartments).
struct reaction_spec {
    std::string name;
    std::vector<participant> reactants;
    std::vector<participant> products;
    std::string rate;
    bool rate_per_volume = true;
    std::string compartment;  // required when rate_per_volume
    source_location where;
};

// variable = expression (assignment: evaluated before every rate), or d(variable)/dt = expression (rate rule:
// the variable is a species "cyt.ip3" [uM/ms] or a user parameter, which then becomes a state).
struct rule_spec {
    enum class kind { assignment, rate };
    kind type = kind::assignment;
    std::string variable;
    std::string expression;
    source_location where;
};

// At `time`, set values: "mechanism.parameter" (a mechanism's parameter, e.g. block SERCA with serca.vmax = 0),
// "compartment.species" (a clamped bath's concentration, or the current value of a free species), or a user
// parameter. Values are canonical. Applied once when the run reaches `time`; the solver restarts there.
struct event_spec {
    double time = 0;                                    // [ms]
    std::vector<std::pair<std::string, double>> set;    // target -> value
    source_location where;
};

struct record_spec {
    double interval = 1.0;               // [ms] between records
    std::vector<std::string> observables;  // empty: every free species concentration and every mechanism flux
    // Spatial models: fields ("cyt.ca", or a mechanism state "calbindin.bound") written voxel by voxel to
    // fields.h5 at every record.
    std::vector<std::string> fields;
    source_location where;
};

// Where a run starts: the model's initial concentrations, or the resting state (stimuli off, dy/dt = 0).
enum class start_from { initial, steady_state };

// How CVODE's Newton iteration gets its Jacobian: difference quotients over groups of structurally independent
// columns (one rhs evaluation per colour, from system::jacobian_pattern()), or CVODE's own dense difference
// quotients (one rhs evaluation per state; the plain reference path).
enum class jacobian_method { coloured, dense };

// CVODE's (and KINSOL's) linear solver: dense LU, sparse LU (KLU, for spatial models: the Jacobian's pattern
// comes from system::jacobian_pattern()), GMRES preconditioned by the exact Jacobian of each voxel (the
// reactions and the diagonal of diffusion; for large 3-D grids, where the fill-in of a sparse LU grows too
// fast), block-tridiagonal elimination along a chain of voxels (cable and shells grids: every state in a voxel,
// voxels coupled only to their two neighbours; an error on any other model), or automatic (dense up to 200
// states; GMRES for 3-D grids above 1000 states; block tridiagonal where it applies; KLU otherwise).
enum class linear_solver { automatic, dense, klu, gmres, block_tridiagonal };

struct run_spec {
    double t_end = 1000;        // [ms]
    double rtol = 1e-6;         // relative tolerance
    double atol = 1e-9;         // [uM] absolute tolerance on concentrations and states
    double max_step = 0;        // [ms], 0 = unlimited
    long max_steps = 1000000;   // CVODE's internal steps allowed between two output times
    jacobian_method jacobian = jacobian_method::coloured;
    linear_solver linear = linear_solver::automatic;
    start_from start = start_from::initial;
    std::uint64_t seed = 1;     // of the random numbers of stochastic mechanisms (docs/stochastic.md)
    std::string report_compartment;  // compartment whose Ca the summary reports; empty: "cyt", else first free one
    std::string report_species = "ca";
    source_location where;
};

struct model_spec {
    int format_version = model_format_version;
    std::string name;
    std::string description;
    std::string source;            // file it was read from, empty when built in code
    double temperature = 310.15;   // [K]
    std::vector<species_spec> species;
    std::vector<compartment_spec> compartments;
    std::vector<membrane_spec> membranes;
    std::vector<mechanism_spec> mechanisms;
    std::vector<parameter_spec> parameters;
    std::vector<reaction_spec> reactions;
    std::vector<rule_spec> rules;
    std::vector<event_spec> events;
    geometry_spec geometry;           // none: a point model (every compartment well mixed)
    std::vector<point_spec> points;
    run_spec run;
    record_spec record;

    const compartment_spec* find_compartment(const std::string& name) const;
    const membrane_spec* find_membrane(const std::string& name) const;
    const species_spec* find_species(const std::string& name) const;
    const point_spec* find_point(const std::string& name) const;
    const mechanism_spec* find_mechanism_spec(const std::string& name) const;  // by the mechanism's name
    const parameter_spec* find_parameter(const std::string& name) const;       // a user parameter
};

// The compartment a mechanism of this kind placed as `mech` reaches on side `s`: its own compartment (volume
// mechanisms), the inner or outer compartment of its membrane, or its store. Empty when that is not defined.
std::string compartment_on(const model_spec& model, const mechanism_spec& mech, mechanism_kind kind, side s);

// The compartment whose Ca a run's summary reports: run.report, else "cyt" when it is free, else the first
// compartment that is not clamped (empty when every one is).
std::string report_compartment(const model_spec& model);

// The membrane potential [mV] a protocol imposes at time t [ms] (not for kind::expression, which the engine
// evaluates); `constant` is the membrane's fixed potential.
double potential_at(const potential_protocol& protocol, double constant, double t);

// The times in (0, t_end] at which a protocol's potential jumps or a spike begins.
void protocol_breakpoints(const potential_protocol& protocol, double t_end, std::vector<double>& out);

// The valence of a species cadyn knows without being told (ca 2, na 1, k 1, cl -1, mg 2; ip3, atp, adp 0).
// Returns false for an unknown name.
bool known_species_charge(const std::string& name, int& charge);

// Check the cross references and values of a model: unique names, references that resolve, positive volumes
// and areas, parameters known to the mechanism and within its range, expressions that name only defined
// variables. Fills in defaults for omitted mechanism parameters. Returns every problem found (empty when the
// model is valid).
std::vector<diagnostic> validate(model_spec& model);

} // namespace cadyn
