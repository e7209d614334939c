#pragma once
// Test harness for one mechanism kernel over n instances.
//
// It owns the structure-of-arrays storage that the engine would own (parameters, concentrations per read,
// states, state derivatives, outputs, size, potential) and builds a mechanism_pack pointing into it, so a test
// can call rates() / init() / breakpoints() on n instances at once, exactly as the engine does.
//
//   mechanism_harness h("pmca", 5);
//   h.param("kd") = {0.1, 0.2, 0.3, 0.4, 0.5};   // defaults come from the catalogue
//   h.conc(0) = {...};
//   h.rates();
//   EXPECT_TRUE(all_near(h.out(0), expected, 1e-14));
//
// Outputs and derivatives are filled with NaN before each rates() call, so an entry the kernel forgets to
// write shows up as a mismatch.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <initializer_list>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include <cadyn/catalogue.hpp>
#include <cadyn/mechanism.hpp>
#include <cadyn/units.hpp>

namespace cadyn::testing_support {

// Formats a double with enough digits to round-trip.
inline std::string round_trip(double x) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", x);
    return buf;
}

// Element-wise |actual - expected| <= rel_tol * max(|actual|, |expected|) + abs_tol. On failure, names the first
// differing index and both values (as Arbor's testing helpers do). Sizes must match.
inline ::testing::AssertionResult all_near(std::span<const double> actual, std::span<const double> expected,
                                           double rel_tol, double abs_tol = 0) {
    if (actual.size() != expected.size()) {
        return ::testing::AssertionFailure()
               << "sizes differ: actual has " << actual.size() << ", expected has " << expected.size();
    }
    for (std::size_t i = 0; i < actual.size(); ++i) {
        const double a = actual[i];
        const double e = expected[i];
        const double tol = rel_tol * std::max(std::abs(a), std::abs(e)) + abs_tol;
        // Written so that NaN in either fails.
        if (!(std::abs(a - e) <= tol) && !(a == e)) {
            return ::testing::AssertionFailure()
                   << "first difference at index " << i << ": actual " << round_trip(a) << ", expected "
                   << round_trip(e) << " (|diff| " << round_trip(std::abs(a - e)) << " > tolerance "
                   << round_trip(tol) << ")";
        }
    }
    return ::testing::AssertionSuccess();
}

// all_near(h.out(0), {1.0, 2.0}, tol): expected values written inline. (Vectors convert to spans already.)
inline ::testing::AssertionResult all_near(std::span<const double> actual, std::initializer_list<double> expected,
                                           double rel_tol, double abs_tol = 0) {
    return all_near(actual, std::span<const double>(expected.begin(), expected.size()), rel_tol, abs_tol);
}

// Checks that hold for every mechanism's metadata table: the mechanism is registered under its name, it is
// documented, each parameter's default parses to the declared dimension and lies within [lower, upper], and
// reads / outputs / states are consistent with the kind.
inline ::testing::AssertionResult metadata_is_consistent(const mechanism& m) {
    const mechanism_info& info = m.info();
    auto fail = [&]() { return ::testing::AssertionFailure() << "mechanism '" << info.name << "': "; };
    if (info.name.empty() || find_mechanism(info.name) != &m) {
        return fail() << "not registered in the catalogue under its own name";
    }
    if (info.summary.empty() || info.equations.empty() || info.citation.empty()) {
        return fail() << "summary, equations and citation must all be given";
    }
    for (std::size_t j = 0; j < info.parameters.size(); ++j) {
        const field_info& f = info.parameters[j];
        if (f.dim == nullptr || f.meaning.empty()) {
            return fail() << "parameter '" << f.name << "' lacks a dimension or meaning";
        }
        if (info.parameter_index(f.name) != static_cast<int>(j)) {
            return fail() << "parameter '" << f.name << "' is not found at its own index (duplicate name?)";
        }
        if (!(f.lower <= f.upper)) {
            return fail() << "parameter '" << f.name << "' has lower > upper";
        }
        double v = 0;
        try {
            v = to_canonical(f.default_text, *f.dim);
        }
        catch (const std::exception& e) {
            return fail() << "default of '" << f.name << "' (\"" << f.default_text << "\") does not parse as "
                          << f.dim->name << ": " << e.what();
        }
        if (v != default_value(f)) {
            return fail() << "default_value('" << f.name << "') disagrees with parsing its text";
        }
        if (!(v >= f.lower && v <= f.upper)) {
            return fail() << "default of '" << f.name << "' = " << round_trip(v) << " lies outside ["
                          << round_trip(f.lower) << ", " << round_trip(f.upper) << "]";
        }
    }
    if (info.outputs.empty()) {
        return fail() << "no outputs";
    }
    for (const species_read& r: info.reads) {
        const bool ok = info.kind == mechanism_kind::membrane ? r.where != side::local : r.where == side::local;
        if (!ok) {
            return fail() << "read of '" << r.species << "' has a side inconsistent with the kind (membrane: inner "
                          << "or outer; volume: local)";
        }
    }
    for (const state_info& s: info.states) {
        if (s.dim == nullptr || s.name.empty()) {
            return fail() << "a state lacks a name or dimension";
        }
        if (!s.carries.empty() && !(s.carried > 0)) {
            return fail() << "state '" << s.name << "' carries '" << s.carries << "' with a non-positive count";
        }
    }
    return ::testing::AssertionSuccess();
}

class mechanism_harness {
public:
    // The catalogue mechanism `name`, n instances, parameters at their defaults, everything else zero
    // (size 1, temperature 310.15 K).
    mechanism_harness(std::string_view name, std::size_t n): mech_(find_mechanism(name)), n_(n) {
        if (mech_ == nullptr) {
            throw std::invalid_argument("no mechanism '" + std::string(name) + "' in the catalogue");
        }
        const mechanism_info& inf = mech_->info();
        for (const field_info& f: inf.parameters) {
            params_.emplace_back(n, default_value(f));
        }
        conc_.assign(inf.reads.size(), std::vector<double>(n, 0.0));
        state_.assign(inf.states.size(), std::vector<double>(n, 0.0));
        dstate_.assign(inf.states.size(), std::vector<double>(n, 0.0));
        out_.assign(inf.outputs.size(), std::vector<double>(n, 0.0));
        size.assign(n, 1.0);
        potential.assign(n, 0.0);
    }

    mechanism_harness(const mechanism_harness&) = delete;
    mechanism_harness& operator=(const mechanism_harness&) = delete;

    const mechanism& mech() const { return *mech_; }
    const mechanism_info& info() const { return mech_->info(); }
    std::size_t n() const { return n_; }

    // A parameter's per-instance values, by name (canonical units). Assign a vector of n values.
    std::vector<double>& param(std::string_view name) {
        const int j = info().parameter_index(name);
        if (j < 0) {
            throw std::invalid_argument("mechanism '" + std::string(info().name) + "' has no parameter '" +
                                        std::string(name) + "'");
        }
        return params_[static_cast<std::size_t>(j)];
    }
    // Set a parameter to the same value for every instance.
    void set_param(std::string_view name, double value) { param(name).assign(n_, value); }

    // Concentrations of read r (in the order of info().reads), or of `species` on `where`.
    std::vector<double>& conc(std::size_t r) { return conc_.at(r); }
    std::vector<double>& conc(std::string_view species, side where) {
        const auto& reads = info().reads;
        for (std::size_t r = 0; r < reads.size(); ++r) {
            if (reads[r].species == species && reads[r].where == where) {
                return conc_[r];
            }
        }
        throw std::invalid_argument("mechanism '" + std::string(info().name) + "' does not read '" +
                                    std::string(species) + "' on that side");
    }

    std::vector<double>& state(std::size_t s) { return state_.at(s); }
    std::span<const double> dstate(std::size_t s) const { return dstate_.at(s); }
    std::span<const double> out(std::size_t k) const { return out_.at(k); }

    // The pack the engine would pass; valid until the harness is resized or destroyed.
    const mechanism_pack& pack() {
        check_sizes();
        param_ptr_.clear();
        for (const auto& v: params_) {
            param_ptr_.push_back(v.data());
        }
        conc_ptr_.clear();
        for (const auto& v: conc_) {
            conc_ptr_.push_back(v.data());
        }
        state_ptr_.clear();
        for (const auto& v: state_) {
            state_ptr_.push_back(v.data());
        }
        dstate_ptr_.clear();
        for (auto& v: dstate_) {
            dstate_ptr_.push_back(v.data());
        }
        out_ptr_.clear();
        for (auto& v: out_) {
            out_ptr_.push_back(v.data());
        }
        pack_.n = n_;
        pack_.t = t;
        pack_.temperature = temperature;
        pack_.param = param_ptr_.data();
        pack_.conc = conc_ptr_.data();
        pack_.state = state_ptr_.data();
        pack_.dstate = dstate_ptr_.data();
        pack_.out = out_ptr_.data();
        pack_.size = size.data();
        pack_.potential = potential.data();
        return pack_;
    }

    // Run the rates kernel; outputs and derivatives are NaN-filled first.
    void rates() {
        constexpr double nan = std::numeric_limits<double>::quiet_NaN();
        for (auto& v: out_) {
            v.assign(n_, nan);
        }
        for (auto& v: dstate_) {
            v.assign(n_, nan);
        }
        const mechanism_pack& p = pack();
        mech_->rates(p);
    }

    // Run the init kernel, writing into the states.
    void init() {
        const mechanism_pack& p = pack();
        std::vector<double*> writable;
        for (auto& v: state_) {
            writable.push_back(v.data());
        }
        mech_->init(p, writable.data());
    }

    // The breakpoints of all n instances up to t_end, in the order the mechanism appends them.
    std::vector<double> breakpoints(double t_end) {
        std::vector<double> result;
        mech_->breakpoints(pack().param, n_, t_end, result);
        return result;
    }

    double t = 0;                   // [ms]
    double temperature = 310.15;    // [K]
    std::vector<double> size;       // [i]: area [um^2] or volume [um^3]
    std::vector<double> potential;  // [i]: [mV]

private:
    // Every per-instance array must hold n values; a test that assigned a wrong-length vector is a test bug.
    void check_sizes() const {
        auto check = [&](const std::vector<double>& v, std::string_view what) {
            if (v.size() != n_) {
                throw std::logic_error("mechanism_harness: " + std::string(what) + " has " + std::to_string(v.size()) +
                                       " values, expected " + std::to_string(n_));
            }
        };
        for (std::size_t j = 0; j < params_.size(); ++j) {
            check(params_[j], info().parameters[j].name);
        }
        for (const auto& v: conc_) {
            check(v, "a concentration array");
        }
        for (const auto& v: state_) {
            check(v, "a state array");
        }
        check(size, "size");
        check(potential, "potential");
    }

    const mechanism* mech_;
    std::size_t n_;
    std::vector<std::vector<double>> params_;
    std::vector<std::vector<double>> conc_;
    std::vector<std::vector<double>> state_;
    std::vector<std::vector<double>> dstate_;
    std::vector<std::vector<double>> out_;
    std::vector<const double*> param_ptr_;
    std::vector<const double*> conc_ptr_;
    std::vector<const double*> state_ptr_;
    std::vector<double*> dstate_ptr_;
    std::vector<double*> out_ptr_;
    mechanism_pack pack_;
};

} // namespace cadyn::testing_support
