#pragma once
// The mechanism interface: a metadata table plus kernels that work over spans of sites.
//
// A mechanism is one kind of process (a pump, a leak, a buffer, a stimulus). Its *type* (mechanism_info) lists
// its parameters with dimensions, defaults, ranges, meanings and the paper they come from; the species it reads;
// what it moves or produces; and its own state variables. Documentation, `cadyn mechanisms`, model validation
// and (later) the Python bindings are all generated from that table.
//
// Its *kernels* compute over n instances at once from a mechanism_pack of structure-of-arrays pointers, so the
// same code serves one compartment (n = 1) and a million voxels. The engine owns every array: kernels never
// allocate, never keep pointers between calls, and see only canonical units (uM, ms, um^2, um^3, mV, K).
//
// Two kinds:
//  - membrane: placed on a membrane. Instance i has an area and a potential and reads concentrations on the
//    inner and outer side. For each transported species k it writes out[k][i], the amount per time entering the
//    inner compartment [zmol/ms] (negative: leaving it). The engine divides by each side's volume, so mass is
//    conserved by construction.
//  - volume: placed in a compartment. For each produced species k it writes out[k][i], a concentration rate
//    [uM/ms] in that compartment, and for each state s the derivative dstate[s][i].
//
// Adding a mechanism: one file in src/mechanisms/, one line in src/mechanisms/registry.cpp, one test in
// tests/mechanisms/.

#include <cstddef>
#include <string_view>
#include <vector>

#include <cadyn/units.hpp>

namespace cadyn {

enum class mechanism_kind { membrane, volume };

// Where a mechanism reads a concentration: the inner or outer compartment of its membrane, its own compartment
// (volume mechanisms: local), or a store compartment named by the model (a plasma-membrane channel gated by the
// filling of the ER, as in store-operated entry: `store = "er"`).
enum class side { inner, outer, local, store };

struct field_info {
    std::string_view name;          // "kd"
    const dimension* dim;           // &dims::concentration
    std::string_view default_text;  // "0.2 uM" (parsed with the units module)
    double lower;                   // inclusive bounds, canonical units
    double upper;
    std::string_view meaning;       // one line
};

struct species_read {
    std::string_view species;
    side where;
};

struct state_info {
    std::string_view name;          // "bound"
    const dimension* dim;           // &dims::concentration
    std::string_view meaning;
    std::string_view carries;       // species this state contains, for totals and budgets ("ca"); empty: none
    double carried = 0;             // how many of `carries` one unit of state holds
};

// A stochastic transition of a mechanism whose states count channels (the hybrid stochastic engine,
// docs/stochastic.md): one channel of an instance moves from state `from` to state `to` (indices into states).
// Such a mechanism declares, as its last state, a "clock": the engine sets its derivative to the instance's total
// propensity and fires a transition when it reaches an exponentially distributed threshold.
struct transition_info {
    std::size_t from;
    std::size_t to;
    std::string_view meaning;       // "an h gate opens (Ca leaves the inactivating site)"
};

// How a membrane mechanism is powered; the thermodynamic audit (cadyn/audit.hpp) holds each to the second law.
enum class energy_source {
    passive,   // moves each species down its own electrochemical gradient (leaks, channels)
    coupled,   // exchanges species: the whole cycle runs down the sum of their gradients (exchangers)
    atp,       // an ATP-driven pump: per ATP it can do at most |dG_ATP| of work
    external,  // imposed by the modeller (stimuli), or coupled to something the model does not track: not audited
};

// A quantity a mechanism computes for recording (a dye's fluorescence), from its inputs and states.
struct observable_decl {
    std::string_view name;       // "F_F0"
    std::string_view unit;       // "" for dimensionless
    std::string_view meaning;
    bool relative_to_start = false;  // recorded divided by its value at the start of the run (F/F0)
};

struct mechanism_info {
    std::string_view name;          // catalogue key: "pmca"
    mechanism_kind kind;
    std::string_view summary;       // one line
    std::string_view equations;     // plain-text equations, for docs and `cadyn mechanisms`
    std::string_view citation;      // the paper the form and defaults come from
    std::vector<field_info> parameters = {};
    std::vector<species_read> reads = {};
    std::vector<std::string_view> outputs = {};  // species moved (membrane) or produced (volume)
    // The compartment that a membrane capacity given per volume refers to ("100 uM/s" of the cytosol for a pump,
    // "6 s^-1" of the ER for a release channel): the model reader converts such values to per-area ones with its
    // volume and the membrane area.
    side reference = side::inner;
    std::vector<state_info> states = {};
    energy_source energy = energy_source::passive;  // membrane mechanisms
    // ATP hydrolysed per unit of the flux of output `atp_output` into the inner compartment: PMCA -1 (one ATP per
    // Ca leaving the cytosol), SERCA +1/2 (two Ca into the store per ATP), NCX +1/3 on Na (the Na/K pump spends
    // one ATP to remove the 3 Na the exchanger let in). 0: no ATP.
    double atp_per_flux = 0;
    std::size_t atp_output = 0;
    bool is_stimulus = false;       // imposed from outside; switched off when the resting state is computed
    std::vector<observable_decl> observables = {};
    // Stochastic transitions between count states (empty: a deterministic mechanism).
    std::vector<transition_info> transitions = {};

    // Index of a parameter by name, or -1.
    int parameter_index(std::string_view name) const;
};

// The arrays a kernel works on. Index [j][i]: j the entry in the info table, i the instance (0..n-1).
struct mechanism_pack {
    std::size_t n = 0;
    double t = 0;                            // [ms]
    double temperature = 310.15;             // [K]
    const double* const* param = nullptr;    // [parameter][i], canonical units
    const double* const* conc = nullptr;     // [read][i] [uM]
    const double* const* state = nullptr;    // [state][i]
    double* const* dstate = nullptr;         // [state][i] per ms
    double* const* out = nullptr;            // [output][i]: [zmol/ms] into inner (membrane) or [uM/ms] (volume)
    const double* size = nullptr;            // [i]: area [um^2] (membrane) or volume [um^3] (volume)
    const double* potential = nullptr;       // [i]: [mV] inner minus outer (membrane only)
};

class mechanism {
public:
    virtual ~mechanism() = default;
    virtual const mechanism_info& info() const = 0;

    // Write out[k][i] for every output and dstate[s][i] for every state. Must not allocate. Instance i's outputs
    // may depend only on instance i's inputs (the engine derives the Jacobian's sparsity from this).
    virtual void rates(const mechanism_pack& p) const = 0;

    // Set the initial state from the concentrations in p (p.state points at writable storage). The default
    // leaves the states at zero.
    virtual void init(const mechanism_pack& p, double* const* state) const;

    // Write out[k][i] for every declared observable k. Needs only p.param, p.conc, p.state, p.size, p.potential.
    virtual void observe(const mechanism_pack& p, double* const* out) const;

    // Stochastic mechanisms: write a[j][i], the propensity [1/ms] of transition j in instance i (the rate at which
    // one of its channels makes that move). Reads the same inputs as rates(); must not allocate.
    virtual void propensities(const mechanism_pack& p, double* const* a) const;

    // Append the times in (0, t_end] at which rates jump (pulse edges), so the solver can stop there.
    virtual void breakpoints(const double* const* param, std::size_t n, double t_end,
                             std::vector<double>& out) const;
};

} // namespace cadyn
