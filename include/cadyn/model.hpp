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

#include <map>
#include <string>
#include <vector>

#include <cadyn/error.hpp>

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
    double volume = 0;     // [um^3]
    double surface = 0;    // [um^2] from its geometry (sphere, cylinder), 0 when only a volume was given
    bool clamped = false;  // concentrations held fixed
    std::map<std::string, double> initial;  // species -> [uM]
    source_location where;
};

struct membrane_spec {
    std::string name;
    std::string inner;       // compartment name
    std::string outer;       // compartment name
    double area = 0;         // [um^2]
    double potential = 0;    // [mV], phi_inner - phi_outer
    source_location where;
};

struct mechanism_spec {
    std::string name;      // instance name, unique in the model ("pmca", "calbindin")
    std::string type;      // catalogue entry ("pmca", "buffer", "pulse_train")
    std::string location;  // membrane (for membrane mechanisms) or compartment (volume mechanisms)
    std::map<std::string, double> parameters;  // canonical units; after validation every declared one is present
    std::map<std::string, source_location> parameter_where;  // where each given parameter was written
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

struct record_spec {
    double interval = 1.0;               // [ms] between records
    std::vector<std::string> observables;  // empty: every free species concentration and every mechanism flux
    source_location where;
};

// Where a run starts: the model's initial concentrations, or the resting state (stimuli off, dy/dt = 0).
enum class start_from { initial, steady_state };

// How CVODE's Newton iteration gets its Jacobian: difference quotients over groups of structurally independent
// columns (one rhs evaluation per colour, from system::jacobian_pattern()), or CVODE's own dense difference
// quotients (one rhs evaluation per state; the plain reference path).
enum class jacobian_method { coloured, dense };

struct run_spec {
    double t_end = 1000;        // [ms]
    double rtol = 1e-6;         // relative tolerance
    double atol = 1e-9;         // [uM] absolute tolerance on concentrations and states
    double max_step = 0;        // [ms], 0 = unlimited
    jacobian_method jacobian = jacobian_method::coloured;
    start_from start = start_from::initial;
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
    run_spec run;
    record_spec record;

    const compartment_spec* find_compartment(const std::string& name) const;
    const membrane_spec* find_membrane(const std::string& name) const;
    const species_spec* find_species(const std::string& name) const;
};

// The valence of a species cadyn knows without being told (ca 2, na 1, k 1, cl -1, mg 2; ip3, atp, adp 0).
// Returns false for an unknown name.
bool known_species_charge(const std::string& name, int& charge);

// Check the cross references and values of a model: unique names, references that resolve, positive volumes
// and areas, parameters known to the mechanism and within its range, expressions that name only defined
// variables. Fills in defaults for omitted mechanism parameters. Returns every problem found (empty when the
// model is valid).
std::vector<diagnostic> validate(model_spec& model);

} // namespace cadyn
