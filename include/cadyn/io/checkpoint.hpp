#pragma once
// Checkpoints: what `cadyn run` writes when SIGINT or SIGTERM stops it, and `cadyn run --resume DIR` reads to
// continue the run (docs/robustness.md).
//
// A versioned text file, one key per line. Every number that matters is a C99 hexadecimal float ("0x1.8p+3"), so
// the state is restored bit for bit:
//
//   cadyn-checkpoint 1                     (2 when the run had settings)
//   model_source /abs/path/model.toml      (empty: the built-in default model)
//   model_hash 8c3b5e0f9a1d2c47            (FNV-1a 64 of the model text the run started from)
//   settings pump.vmax=2 uM/s<TAB>...      (version 2 only: `cadyn run --set` values, applied again on resume)
//   t_end 0x1.f4p+9                        [ms]
//   t 0x1.9p+6                             [ms] reached
//   next_record 101
//   next_break 3
//   records 101                            (data rows in traces.csv.partial)
//   y0 N v1 ... vN                         (the start state)
//   y M v1 ... vM                          (states, then integrated budget channels)
//   rest none | rest CONVERGED RESIDUAL METHOD...
//   stats STEPS RHS JACOBIANS ERROR_TEST_FAILURES NONLINEAR_FAILURES RESTARTS
//   end

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <cadyn/simulate.hpp>

namespace cadyn {

inline constexpr int checkpoint_format_version = 2;  // the newest this build writes and reads

struct checkpoint {
    std::string model_source;  // the model file as an absolute path; empty for the built-in default model
    std::string model_hash;    // model_hash() of its text
    simulation_state state;
    std::vector<std::pair<std::string, std::string>> settings;  // KEY, VALUE text of `--set`, in order
};

// A 64-bit FNV-1a hash of a model's text, as 16 hex digits: tells whether the model changed since a checkpoint.
std::string model_hash(std::string_view text);

// Write a checkpoint under PATH.partial and rename it to PATH. Throws output_error.
void write_checkpoint(const std::filesystem::path& path, const checkpoint& c);

// Read a checkpoint. Throws cadyn::error, naming the file and line, for a missing file, another format version,
// or anything malformed or missing.
checkpoint read_checkpoint(const std::filesystem::path& path);

} // namespace cadyn
