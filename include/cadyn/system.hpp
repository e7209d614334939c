#pragma once
// system: a compiled model, ready for a solver.
//
// compile() binds every mechanism of a model_spec to its sites and lays out the state vector:
//
//   y = [ free concentrations: one block per (compartment, species) that is not clamped, one value per site ]
//       [ mechanism states: one block per (mechanism, state), one value per instance                       ]
//       [ user parameters driven by rate rules                                                              ]
//
// A site is one well-mixed volume element; in a point model every compartment is one site. Clamped
// compartments are not in y: their concentrations are constants and whatever flows into them is discarded.
//
// rhs() evaluates dy/dt; it allocates nothing (all scratch arrays are sized at compile time) and is therefore not
// thread-safe on one system: give each thread its own. Membrane fluxes are amounts per time divided by each
// side's volume, so the total amount of every species (free + carried by states, times volume, summed over
// non-clamped compartments, plus what crossed into clamped ones) is conserved by construction.

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <cadyn/model.hpp>

namespace cadyn {

struct grid;

// What a recorded column is.
struct observable_info {
    std::string name;  // "cyt.ca", "calbindin.bound", "pmca.ca_flux", "pm.V", "fluo4.F_F0", or a user variable
    std::string unit;  // canonical unit
};

// One channel of the budget: an amount of `species` per time [zmol/ms] that one process moves or makes.
//  - transfer: a membrane mechanism moving the species from `from` (the membrane's outer compartment) into `to`
//    (its inner one); negative when it goes the other way;
//  - conversion: a volume mechanism turning free into bound species inside `to` (buffering): the total in `to`,
//    which counts what mechanism states carry, does not change;
//  - source: a reaction or a rate rule making (or, negative, consuming) the species in `to`.
// So for every compartment c and species s: d(total of s in c)/dt = sum of transfers into c - transfers out of c
// + sources in c. Budgets integrate each channel over a run.
struct flux_channel {
    enum class kind { transfer, conversion, source };
    std::string mechanism;  // instance, reaction or rule name
    std::string type;       // catalogue type, "reaction" or "rule"
    std::string species;
    std::string from;
    std::string to;
    std::string membrane;   // transfers only
    kind role = kind::transfer;
};

// A linear invariant of the dynamics: sum_i weight_i * y_i is constant. cadyn finds one for every species whose
// total amount nothing can change (no path to a clamped compartment, no user reaction or rule touches it): the
// weights are volumes (free concentrations) and carried amounts (mechanism states), so the sum is in zmol.
struct conservation_law {
    std::string species;
    std::vector<std::pair<std::size_t, double>> weights;  // (index into y, weight [um^3])
    std::size_t pivot = 0;                                // the state whose equation the law replaces in Newton
};

class system {
public:
    explicit system(const model_spec& model);
    ~system();
    system(system&&) noexcept;
    system& operator=(system&&) noexcept;
    system(const system&) = delete;
    system& operator=(const system&) = delete;

    const model_spec& model() const;

    // Number of ODE states and their names ("cyt.ca", "calbindin.bound").
    std::size_t size() const;
    const std::vector<std::string>& state_names() const;

    // The initial state: the model's initial concentrations, mechanism states initialised by each mechanism.
    std::vector<double> initial_state() const;

    // dy/dt at time t [ms]. With stimuli = false every mechanism marked is_stimulus is skipped (the resting cell).
    void rhs(double t, const double* y, double* ydot, bool stimuli = true);

    // Budget channels and their current rates [zmol/ms] at (t, y), in the order of flux_channels().
    const std::vector<flux_channel>& flux_channels() const;
    void fluxes(double t, const double* y, double* out, bool stimuli = true);

    // dy/dt and the budget channel rates at once (both at the same state, one evaluation).
    void rhs(double t, const double* y, double* ydot, double* fluxes, bool stimuli);

    // Flux sites: every budget channel's rate is a sum of contributions that each depend on the states of one site
    // only (one instance of a mechanism, one clamped face, one voxel of a reaction); flux_site_channels()[s] is
    // the channel of contribution s, and this rhs() also writes every contribution [zmol/ms] into sites. The
    // solver differentiates the integrated budget by site, so that a channel summed over a million voxels does
    // not couple every column of the Jacobian.
    const std::vector<std::size_t>& flux_site_channels() const;
    void rhs(double t, const double* y, double* ydot, double* fluxes, double* sites, bool stimuli);

    // Observables: the default set (every free concentration, every mechanism state, every budget channel) or
    // the model's record list. observe() writes their values at (t, y) into out, in canonical units. With
    // `wanted` (one flag per observable) it computes only the flagged ones and writes NaN for the others: a
    // budget-channel observable costs a whole right-hand side, a mechanism observable its mechanism's observe().
    const std::vector<observable_info>& observables() const;
    void observe(double t, const double* y, double* out, const char* wanted = nullptr);

    // Take y as the start of a run: observables declared relative_to_start (a dye's F/F0) are divided by their
    // value here. simulate() calls it with the state the run starts from.
    void set_reference(const double* y);

    // Total amount of a species [zmol] in the non-clamped compartments (or in one of them): free + carried by
    // mechanism states (a volume mechanism's states belong to its compartment).
    double total_amount(const double* y, const std::string& species) const;
    double total_amount(const double* y, const std::string& species, const std::string& compartment) const;

    // Conservation laws that hold by construction (see conservation_law). The steady-state solver uses them to
    // make the Newton system non-singular.
    const std::vector<conservation_law>& conservation_laws() const;

    // The sparsity pattern of the Jacobian d(dy/dt)/dy: for each column j the rows i whose derivative may depend
    // on y_j (always including i = j). Built from what each mechanism reads and writes and what each expression
    // names, so the solver can evaluate a difference-quotient Jacobian with one rhs call per colour of columns.
    // With with_budget, the pattern of the system extended by one integrated budget channel per flux_channel
    // (rows size() + c): which states each channel's rate depends on.
    std::vector<std::vector<std::size_t>> jacobian_pattern(bool with_budget = false) const;

    // The concentration [uM] of `species` in `compartment` in state y: a state, a clamped constant, or 0 when the
    // species is not there.
    double concentration(const double* y, const std::string& compartment, const std::string& species) const;

    // The potential [mV] of a membrane at time t in state y (constant, protocol, or expression).
    double potential(const std::string& membrane, double t, const double* y);

    // Index into y of the free concentration of `species` in `compartment`, or -1 (clamped or absent).
    long state_index(const std::string& compartment, const std::string& species) const;

    // Apply the model's events scheduled at time t (changing parameters and clamped concentrations inside the
    // system, or free values in y); reset_events() restores what events changed, before a new run.
    void apply_events(double t, double* y);
    void reset_events();

    // The sorted times in (0, t_end] at which some stimulus, protocol or event is discontinuous.
    std::vector<double> breakpoints(double t_end) const;

    // Whether state i is a concentration or a mechanism state, which cannot be negative (user parameters driven
    // by rate rules can).
    bool is_nonnegative(std::size_t i) const;

    // Absolute tolerance for each state (the model's atol scaled to each state's unit).
    std::vector<double> abs_tolerances() const;

    // Stochastic mechanisms (mechanism_info::transitions; docs/stochastic.md). Their instances are numbered over
    // the whole system; instance k has a clock, y[clock_index(k)], whose derivative is its total propensity.
    // fire() moves one channel of instance k by the transition that u (uniform in [0, 1)) picks with
    // probability a_j / sum(a) at (t, y), rounds its counts to whole numbers, sets its clock to 0 and returns
    // the transition's index (-1 when every propensity is zero: only the clock is reset).
    std::size_t stochastic_instances() const;
    std::size_t clock_index(std::size_t k) const;
    long fire(std::size_t k, double t, double* y, double u);

    // Spatial models. mesh(): the voxels (null for a point model). In a spatial model every non-clamped
    // compartment has one site per voxel: the concentrations of a species are grid.size() consecutive states
    // from state_index(), and observables name volume averages ("cyt.ca"), values at named points
    // ("cyt.ca@sensor") and mechanism states averaged over their instances.
    const grid* mesh() const;
    // Every field that can be written voxel by voxel: spatial species ("cyt.ca") and the states of volume
    // mechanisms present in every voxel ("calbindin.bound"), in canonical units.
    const std::vector<observable_info>& fields() const;
    // The y index of voxel 0 of field k (its values are the grid.size() states from there).
    std::size_t field_offset(std::size_t k) const;
    // The voxel each state belongs to (a spatial species' value there, a state of a mechanism instance there), or
    // size_t(-1) for states of no voxel (point models, user parameters driven by rate rules).
    std::vector<std::size_t> state_voxels() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

// Validate and compile. Throws model_error listing every problem when the model is invalid.
system compile(model_spec model);

} // namespace cadyn
