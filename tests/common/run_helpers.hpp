#pragma once
// Helpers for tests that compile and run models written inline as TOML.

#include <string>

#include <cadyn/io/model_file.hpp>
#include <cadyn/simulate.hpp>
#include <cadyn/system.hpp>

namespace cadyn::testing {

// Parse inline model text (format_version is prepended) and compile it.
inline system compile_text(const std::string& body) {
    return compile(parse_model("format_version = 1\n" + body, "<test>"));
}

} // namespace cadyn::testing
