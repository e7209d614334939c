#pragma once
// SBML import and export (libSBML). docs/sbml.md is the reference: what is imported, what is refused and why,
// how SBML's units map onto cadyn's canonical ones, and what can be exported.
//
// Import reads SBML Level 2 and Level 3 (core) ODE models into a model_spec: compartments of constant size,
// species (amounts or concentrations, boundary conditions, constant species), global and local parameters,
// reactions with kinetic laws, assignment and rate rules, initial assignments (evaluated when the model is read),
// function definitions (expanded inline) and events that fire at a fixed time with constant assignments. Anything
// cadyn cannot honour exactly (algebraic rules, delays, events triggered by the state, fast reactions, compartments
// whose size changes, SBML packages such as comp or fbc, ...) is refused with an sbml_unsupported error naming the
// feature and the element, never simulated approximately.
//
// Units. A formula is rewritten so that it is evaluated in the SBML model's own units whatever cadyn's internal
// scaling: every reference to a species, compartment or time divides the cadyn value by its scale factor, and every
// result is multiplied by the factor of what it sets. The factors come from the model's units where they name a
// substance (mole, item), a volume (litre, metre^3) or a time (second), with scale and multiplier: 1 mol = 1e21
// zmol, 1 L = 1e15 um^3, 1 s = 1000 ms (so mol/L = 1e6 uM). Where the model leaves a unit undefined (or it is
// not one of those), its numbers are read as cadyn's canonical units (factor 1: substance zmol, volume um^3,
// concentration uM, time ms). Parameters keep their SBML values: they are never converted.

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <cadyn/model.hpp>

namespace cadyn {

// An SBML model that uses something cadyn cannot simulate faithfully. Each diagnostic names the element and the
// feature ("SBML feature 'delay' is not supported: ..."). A model_error, so the command line exits with status 2.
class sbml_unsupported: public model_error {
public:
    using model_error::model_error;
};

// How an SBML symbol appears in the imported model.
struct sbml_symbol {
    enum class kind { compartment, species, parameter, species_reference, reaction };
    kind type = kind::parameter;
    // The cadyn observable that carries the symbol's value during a run ("comp.S1" for a species, the parameter
    // name for a parameter set by a rule or an event), or empty when the value is constant (then `value`).
    std::string observable;
    double value = 0;  // the initial value in SBML units (a species: its concentration, or its amount when
                       // only_substance)
    // Species: cadyn concentration [uM] = concentration_factor x SBML concentration; cadyn amount [zmol] =
    // amount_factor x SBML amount; the compartment's volume in cadyn [um^3]. Parameters: factor 1.
    double concentration_factor = 1;
    double amount_factor = 1;
    double volume = 1;
    bool only_substance = false;  // hasOnlySubstanceUnits: the symbol means an amount in formulas
    std::string compartment;      // species: the SBML compartment id
};

struct sbml_model {
    model_spec model;
    double time_factor = 1;                       // cadyn ms per SBML time unit
    std::map<std::string, sbml_symbol> symbols;   // by SBML id
    std::vector<std::string> notes;               // what was read but has no effect (constraints, ignored units)

    // The SBML value of symbol `id` from the value of its observable in cadyn's units (species: the concentration
    // or the amount as asked, in the SBML model's units). Throws cadyn::error for an unknown id.
    double to_sbml(const std::string& id, double observed, bool amount) const;
};

// Import an SBML document (text). Throws model_error when the document is not valid SBML, sbml_unsupported for
// what cadyn cannot honour, model_error when the result does not validate.
sbml_model import_sbml(std::string_view text, const std::string& source_name);

// The model only (what `cadyn run` needs).
model_spec parse_sbml(std::string_view text, const std::string& source_name);
model_spec read_sbml_file(const std::filesystem::path& path);

// True when a model file's name ends in .xml or .sbml (any case): read_model_file and parse_model read it as SBML.
bool is_sbml_path(const std::filesystem::path& path);

// Export a model as SBML Level 3 Version 2 in cadyn's units (zmol, um^3, ms: every number is the one cadyn holds).
// Writes compartments (a clamped compartment's species as boundary species), species, parameters, reactions,
// assignment and rate rules and events; catalogue mechanisms become reactions, species and rules with exactly the
// kernel's rate law where cadyn can write it (docs/sbml.md lists which). Throws cadyn::error listing everything
// that cannot be exported exactly (other mechanisms, spatial models, voltage-dependent mechanisms under a potential
// protocol), model_error when the model does not validate.
struct sbml_export {
    std::string text;
    // The SBML id of every cadyn name the export carries: "cyt" and "cyt.ca" (a compartment, a species in it), a
    // parameter, a rule variable, a mechanism parameter ("serca.vmax" is not listed: it becomes "serca_vmax") and a
    // mechanism state ("calbindin.bound").
    std::map<std::string, std::string> ids;
};
sbml_export export_sbml(const model_spec& model);
std::string write_sbml(const model_spec& model);  // the text only

} // namespace cadyn
