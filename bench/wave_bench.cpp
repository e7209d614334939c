// Question (issues 5 and 8, spatial): how long does cadyn take, in process, for the 1-D Ca wave of
// models/dendrite_wave.toml (NEURON rxd's calcium-wave model on a 1000 um dendrite, 1000 voxels, 5 s, rtol 1e-6),
// split as NEURON's rxd is timed by bench/peers/wave_rxd.py (setup = building the model and finitialize, solve =
// continuerun)?
//  - bm_wave_setup: read the model file and compile it (voxels, mechanism sites, initial state);
//  - bm_wave_start: the same, then simulate() to t = 1 ns: CVODE, the Jacobian's pattern and colouring, KLU's
//    symbolic analysis and one step (everything rxd's finitialize does, and a step more);
//  - bm_wave_solve: simulate() from t = 0 to 5 s on a compiled model, keeping the four point observables that
//    locate the front; prints the wave speed.
// bench/peers/run_wave.sh puts the numbers next to rxd's and checks that both find the same wave speed.
// CADYN_WAVE_MODEL names another model file (run_wave.sh's 4000-voxel copy).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <cadyn/io/model_file.hpp>
#include <cadyn/simulate.hpp>
#include <cadyn/system.hpp>

namespace {

std::filesystem::path model_path() {
    if (const char* env = std::getenv("CADYN_WAVE_MODEL")) {
        return env;
    }
    // __FILE__ is bench/wave_bench.cpp in the source tree.
    return std::filesystem::path(__FILE__).parent_path().parent_path() / "models" / "dendrite_wave.toml";
}

const std::vector<std::string> probes = {"cyt.ca@x300a", "cyt.ca@x300b", "cyt.ca@x700a", "cyt.ca@x700b"};

// Time [ms] at which c first rises through `threshold`, interpolated between records; negative when it never does.
double crossing(const std::vector<double>& t, const std::vector<double>& a, const std::vector<double>& b,
                double threshold) {
    for (std::size_t i = 1; i < t.size(); ++i) {
        const double c0 = 0.5 * (a[i - 1] + b[i - 1]);
        const double c1 = 0.5 * (a[i] + b[i]);
        if (c0 < threshold && c1 >= threshold) {
            return t[i - 1] + (threshold - c0) / (c1 - c0) * (t[i] - t[i - 1]);
        }
    }
    return -1;
}

void bm_wave_setup(benchmark::State& state) {
    for (auto _: state) {
        auto sys = cadyn::compile(cadyn::read_model_file(model_path()));
        benchmark::DoNotOptimize(sys);
    }
}

void bm_wave_start(benchmark::State& state) {
    cadyn::simulation_options first_step;
    first_step.t_end = 1e-6;  // ms
    for (auto _: state) {
        auto sys = cadyn::compile(cadyn::read_model_file(model_path()));
        cadyn::memory_recorder out(probes);
        benchmark::DoNotOptimize(cadyn::simulate(sys, out, first_step));
    }
}

void bm_wave_solve(benchmark::State& state) {
    auto sys = cadyn::compile(cadyn::read_model_file(model_path()));
    static bool printed = false;
    for (auto _: state) {
        cadyn::memory_recorder out(probes);
        benchmark::DoNotOptimize(cadyn::simulate(sys, out));
        if (!printed) {
            state.PauseTiming();
            // The points straddle 300 and 700 um symmetrically (models/dendrite_wave.toml), so the mean of each
            // pair is the value at the position itself.
            const auto& t = out.times();
            const double t300 = crossing(t, out.column(probes[0]), out.column(probes[1]), 0.5);
            const double t700 = crossing(t, out.column(probes[2]), out.column(probes[3]), 0.5);
            const double speed = t300 >= 0 && t700 > t300 ? 400.0 / (t700 - t300) * 1e3 : 0.0;
            std::printf("cadyn dendrite_wave: t300_ms=%.6f t700_ms=%.6f speed_um_per_s=%.6f records=%zu\n", t300,
                        t700, speed, t.size());
            std::fflush(stdout);
            printed = true;
            state.ResumeTiming();
        }
    }
}

} // namespace

BENCHMARK(bm_wave_setup)->Unit(benchmark::kMillisecond);
BENCHMARK(bm_wave_start)->Unit(benchmark::kMillisecond);
BENCHMARK(bm_wave_solve)->Unit(benchmark::kMillisecond)->Iterations(1);
