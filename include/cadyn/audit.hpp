#pragma once
// The thermodynamic audit: run a model and hold every membrane mechanism to the second law at every record.
//
// For a mechanism moving species k into its inner compartment at rate J_k [zmol/ms], the rate at which it
// raises the free energy of the ions is
//     P = sum_k J_k (mu_inner,k - mu_outer,k),   mu = RT ln c + z F phi.
// A passive mechanism (leak, channel) and an exchanger must have P <= 0: nothing moves uphill without a power
// source. An ATP pump may have P > 0, but no more than what its ATP turnover supplies: P <= r_ATP |dG_ATP|.
// Mechanisms marked energy_source::external (stimuli, transporters coupled to untracked species) are skipped
// and listed. docs/thermodynamics.md has the derivation.

#include <string>
#include <vector>

#include <cadyn/simulate.hpp>

namespace cadyn {

struct audit_options {
    double atp_free_energy = 50.0;  // |dG_ATP| [kJ/mol] available per ATP (the seed's ~50 kJ/mol)
    double tolerance = 1e-6;        // relative to the mechanism's gross power sum_k |J_k dmu_k|
};

struct audit_finding {
    std::string mechanism;
    std::string type;
    double t = 0;        // [ms] first time the violation was seen
    double power = 0;    // free-energy rate P [fW] (zmol/ms x kJ/mol = 1e-15 J/s)
    double limit = 0;    // what it may be at most [fW]
    std::string message;
    int count = 0;       // records at which it was violated
};

struct audit_report {
    std::vector<audit_finding> findings;  // one per offending mechanism
    std::vector<std::string> skipped;     // mechanisms not audited, with the reason
    std::vector<std::string> audited;     // mechanisms audited
    long checks = 0;                      // mechanism x record evaluations
    bool passed() const { return findings.empty(); }
};

// Run `sys` (as simulate() does, with `options`) and audit every record. Throws what simulate() throws.
audit_report audit(system& sys, const audit_options& audit = {}, const simulation_options& options = {});

} // namespace cadyn
