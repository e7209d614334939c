#pragma once
// Helpers for tests that compile and run models written inline as TOML.

#include <optional>
#include <string>
#include <vector>

#include <cadyn/io/model_file.hpp>
#include <cadyn/simulate.hpp>
#include <cadyn/system.hpp>

namespace cadyn::testing {

// Parse inline model text (format_version is prepended) and compile it, optionally with another Jacobian method.
inline system compile_text(const std::string& body, std::optional<jacobian_method> jacobian = std::nullopt) {
    auto model = parse_model("format_version = 1\n" + body, "<test>");
    if (jacobian) {
        model.run.jacobian = *jacobian;
    }
    return compile(std::move(model));
}

// Every solver path, for value-parameterised tests that must hold on each (the dense path is the reference).
inline const std::vector<jacobian_method>& every_jacobian() {
    static const std::vector<jacobian_method> all = {jacobian_method::coloured, jacobian_method::dense};
    return all;
}

inline std::string jacobian_name(jacobian_method j) { return j == jacobian_method::coloured ? "coloured" : "dense"; }

} // namespace cadyn::testing
