#pragma once
// Quantities with units, at the boundary only.
//
// Everything a user types carries a unit ("1.5 mM", "220 um^2/s", "37 degC"). Strings are parsed with
// UDUNITS-2 (extended with the molar, M = mol/L), checked against the dimension that the receiving parameter
// declares, and converted to cadyn's one canonical system. Inside the engine every number is a plain double in
// canonical units; kernels never see a unit.
//
// The canonical system (docs/units.md has the full table):
//
//   quantity            canonical unit     note
//   concentration       uM                 1 uM = 1e-6 mol/L
//   time                ms
//   length              um
//   area                um^2
//   volume              um^3               1 um^3 = 1 fL; so uM * um^3 = 1e-21 mol = 1 zmol
//   amount              zmol               1 zmol = 1e-21 mol = 602.2 ions
//   potential           mV
//   current             pA
//   temperature         K                  "37 degC" -> 310.15
//   molar energy        kJ/mol             = aJ/zmol
//
// The canonical units are coherent: they are all products of powers of um, ms, ng, pA, zmol and K (so uM =
// zmol/um^3, mV = ng um^2 ms^-3 pA^-1, kJ/mol = aJ/zmol). A user's expression that combines canonical values is
// therefore itself in canonical units, whatever dimensions it mixes.
//
// A dimension is named by its canonical unit: a value is of dimension D when UDUNITS can convert its unit to
// D.canonical. The dimension table below is the one list that parameter declarations refer to.

#include <string>
#include <string_view>
#include <vector>

namespace cadyn {

struct dimension {
    std::string_view name;       // human name used in messages: "concentration"
    std::string_view canonical;  // UDUNITS spelling of the canonical unit: "uM"
    std::string_view example;    // an example a user could type: "0.2 uM"
};

namespace dims {
inline constexpr dimension dimensionless{"dimensionless number", "1", "2.5"};
inline constexpr dimension concentration{"concentration", "uM", "0.2 uM"};
inline constexpr dimension time{"time", "ms", "10 ms"};
inline constexpr dimension rate{"rate (1/time)", "1/ms", "5 s^-1"};
inline constexpr dimension length{"length", "um", "10 um"};
inline constexpr dimension area{"area", "um^2", "1200 um^2"};
inline constexpr dimension volume{"volume", "um^3", "1 pL"};
inline constexpr dimension amount{"amount of substance", "zmol", "1 amol"};
inline constexpr dimension potential{"electric potential", "mV", "-70 mV"};
inline constexpr dimension current{"electric current", "pA", "0.3 pA"};
inline constexpr dimension temperature{"temperature", "K", "37 degC"};
inline constexpr dimension concentration_rate{"concentration per time", "uM/ms", "2 uM/s"};
inline constexpr dimension second_order_rate{"second-order rate constant (1/(concentration time))",
                                             "1/(uM ms)", "0.1 uM^-1 s^-1"};
inline constexpr dimension diffusivity{"diffusion coefficient", "um^2/ms", "220 um^2/s"};
inline constexpr dimension flux{"amount per time", "zmol/ms", "5 amol/s"};
inline constexpr dimension flux_density{"amount per area per time", "zmol/(um^2 ms)", "2 pmol/cm^2/s"};
inline constexpr dimension permeability{"permeability (length per time)", "um/ms", "1e-6 cm/s"};
inline constexpr dimension molar_energy{"molar energy", "kJ/mol", "50 kJ/mol"};

// Every dimension above, for lookups by name and for "you gave a potential" messages.
const std::vector<const dimension*>& all();
} // namespace dims

// A number with its unit text, split but not converted: "1.5 mM" -> {1.5, "mM"}.
struct quantity_text {
    double value = 0;
    std::string unit;  // empty for a bare number
};

// Split a quantity string into number and unit. Throws unit_error when the text does not start with a finite
// number ("abc", "", "nan uM").
quantity_text split_quantity(std::string_view text);

// Parse "1.5 mM" and convert it to the canonical unit of `expected` (here 1500). Throws unit_error, naming the
// text, when the text is not a number followed by a known unit, when the unit has another dimension ("'3 mV' is
// an electric potential; expected a concentration, e.g. '0.2 uM'"), or when the result is not finite. A bare
// number is accepted only for dims::dimensionless.
double to_canonical(std::string_view text, const dimension& expected);

// A value of any dimension in the coherent canonical system: a named dimension's canonical unit when it is one
// of dims::all() ("2 s^-1" -> 0.002 "1/ms"), otherwise a product of um, ms, ng, pA, zmol, K ("2 mV/ms" -> 2
// "um^2 ng ms^-4 pA^-1"). For user parameters, whose dimension nothing declares.
struct coherent_quantity {
    double value = 0;
    std::string unit;
};
coherent_quantity to_coherent(std::string_view text);

// Convert a value from one unit to another: convert(1, "mM", "uM") == 1000. Throws unit_error when either unit
// is unknown or they are not convertible.
double convert(double value, std::string_view from_unit, std::string_view to_unit);

// True when `unit` is a known unit of dimension `d`.
bool has_dimension(std::string_view unit, const dimension& d);

// The known dimension of `unit` ("mV" -> &dims::potential), or nullptr when it is none of dims::all().
const dimension* dimension_of(std::string_view unit);

// Which UDUNITS-2 unit database this process reads units with. cadyn first reads only the SI part of the installed
// database (its prefixes, base, derived and accepted units, plus the molar and degC: about 1 ms) and reads the
// whole database (about 5 ms more) the first time a unit is not in that part, or at once when UDUNITS2_XML_PATH
// names a database. Every unit UDUNITS-2 knows is accepted either way; only the time differs.
enum class unit_database { none, subset, full };
unit_database loaded_unit_database();

// Physical constants (CODATA 2018, exact SI values), in SI units.
namespace constants {
inline constexpr double faraday = 96485.33212;        // C/mol
inline constexpr double gas = 8.314462618;            // J/(mol K)
inline constexpr double avogadro = 6.02214076e23;     // 1/mol
inline constexpr double zero_celsius = 273.15;        // K
// Flux of a current carried by an ion of valence z, in canonical units: I [pA] / (z F) = J [zmol/ms].
// 1 pA = 1e-12 C/s; / F -> 1.0364e-17 mol/s = 1.0364e-20 mol/ms = 10.364 zmol/ms.
inline constexpr double zmol_per_ms_per_pA = 1e-12 / faraday * 1e-3 / 1e-21;
} // namespace constants

} // namespace cadyn
