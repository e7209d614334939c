#pragma once
// The cadyn model file: TOML, versioned (format_version = 1). docs/model-format.md is the reference.
//
// Reading never stops at the first problem: every unknown key, wrong type, bad unit and dangling reference is
// collected with its file, line, column and key, and thrown together as one model_error.

#include <filesystem>
#include <string>
#include <string_view>

#include <cadyn/model.hpp>

namespace cadyn {

// Read and validate a model file. Throws model_error with every problem found (file:line: key: message). A file
// whose name ends in .xml or .sbml is an SBML model (cadyn/io/sbml.hpp, docs/sbml.md).
model_spec read_model_file(const std::filesystem::path& path);

// The text of a model file, as read_model_file reads it. Throws model_error ("cannot open the model file", with the
// file) when it cannot be opened.
std::string read_model_text(const std::filesystem::path& path);

// Parse and validate model text; `source_name` is used in messages (and, ending in .xml or .sbml, makes the text
// SBML).
model_spec parse_model(std::string_view text, const std::string& source_name);

// The built-in default model (models/soma.toml, compiled in): a neuron soma with extracellular space, cytosol and
// ER, PMCA, SERCA, leaks, an endogenous buffer and a 20 Hz train of Ca influx pulses.
std::string_view default_model_text();
model_spec default_model();

} // namespace cadyn
