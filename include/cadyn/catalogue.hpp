#pragma once
// The catalogue: every mechanism cadyn knows, by name. Registration is one line per mechanism in
// src/mechanisms/registry.cpp.

#include <string_view>
#include <vector>

#include <cadyn/mechanism.hpp>

namespace cadyn {

// The mechanism registered under `name`, or nullptr.
const mechanism* find_mechanism(std::string_view name);

// Every registered mechanism, in registration order.
const std::vector<const mechanism*>& all_mechanisms();

// A parameter's default in canonical units (parsed from field_info::default_text).
double default_value(const field_info& field);

} // namespace cadyn
