// Fuzz target: the model reader and the compiler. Every input is read as a model file; when it is accepted it is
// compiled, and the compiled system is evaluated once at its initial state (the right-hand side with its budget
// channels, and the observables), which exercises every mechanism's gather, kernel and scatter on whatever sizes
// and parameters the input managed to get through validation. No integration: a fuzz input must run in
// milliseconds.
//
// Allowed outcomes: success, or a cadyn::error (model_error with at least one problem: a rejection that names
// nothing would leave the user with no message). Anything else is a finding (finding.hpp).
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <cadyn/error.hpp>
#include <cadyn/io/model_file.hpp>
#include <cadyn/system.hpp>

#include "finding.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using cadyn::fuzz::finding;
    const std::string text(reinterpret_cast<const char*>(data), size);

    cadyn::fuzz::expect_only_user_errors("parse_model/compile", [&] {
        try {
            auto sys = cadyn::compile(cadyn::parse_model(text, "fuzz.toml"));
            auto y = sys.initial_state();
            if (y.size() != sys.size()) {
                finding("initial_state() has " + std::to_string(y.size()) + " values for " +
                        std::to_string(sys.size()) + " states");
            }
            std::vector<double> ydot(y.size());
            std::vector<double> fluxes(sys.flux_channels().size());
            std::vector<double> observed(sys.observables().size());
            sys.rhs(0.0, y.data(), ydot.data(), fluxes.data(), true);
            sys.set_reference(y.data());
            sys.observe(0.0, y.data(), observed.data());
        }
        catch (const cadyn::model_error& e) {
            if (e.problems().empty()) {
                finding("model_error without a single problem");
            }
            throw;
        }
    });
    return 0;
}
