#pragma once
// Changing one value of a model by key, with its unit: what Python's Model.set() and `cadyn run --set KEY=VALUE`
// do (docs/sweeps.md).
//
// Keys:
//   MECHANISM.PARAMETER   a mechanism parameter ("pump.vmax"), in any unit of its dimension; a membrane capacity
//                         may also be given per volume ("30 uM/s") or for the whole membrane ("5 amol/s"), as in a
//                         model file
//   COMPARTMENT.SPECIES   an initial concentration ("cyt.ca"; of a clamped compartment: its fixed concentration)
//   parameters.NAME, NAME a user parameter of the model's [parameters]
//   run.t_end, run.rtol, run.atol, run.max_step, run.max_steps, run.start, run.seed (each also without "run."),
//   record.interval, temperature

#include <string>
#include <string_view>
#include <vector>

#include <cadyn/error.hpp>
#include <cadyn/model.hpp>
#include <cadyn/units.hpp>

namespace cadyn {

// A run or record setting that set_model_value() knows besides parameters and concentrations.
struct model_setting {
    const char* key;       // "run.t_end"
    const dimension* dim;  // nullptr: not a quantity (run.max_steps, run.start, run.seed)
    const char* unit;      // its canonical unit ("ms"; "" for run.start)
};
const std::vector<model_setting>& model_settings();

// The setting `key` names, with or without its "run." / "record." prefix; nullptr for none.
const model_setting* find_model_setting(std::string_view key);

// The value of a quantity setting (one whose dim is not nullptr), in its canonical unit.
double model_setting_value(const model_spec& m, const model_setting& s);

// What a key may name, for messages ("expected a mechanism parameter ("pump.PARAMETER"), ...").
std::string settable_help(const model_spec& m);

// Sets `key` to the value written in `text`: quantity text ("0.2 uM", "37 degC"; a plain number for a
// dimensionless value), a whole number for run.seed (>= 0) and run.max_steps (> 0), "initial" or "steady_state" for
// run.start. Then validates the model as the model reader does. Throws model_error (unknown key, a value out of
// range, a model that is no longer valid) or unit_error (a wrong or unknown unit), each naming the key; `m` is
// unchanged then. `where` is what later messages give as the origin of a changed parameter.
void set_model_value(model_spec& m, const std::string& key, const std::string& text, const source_location& where);

// The number `key` names (a key of set_model_value other than run.start), in canonical units; `unit` gets that
// unit ("" for a user parameter, whose unit the model does not keep). Throws model_error naming the key when the
// model has nothing by that name or the key is run.start.
double model_number(const model_spec& m, const std::string& key, std::string& unit);

} // namespace cadyn
