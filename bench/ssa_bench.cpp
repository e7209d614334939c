// Question (issue 8, the SSA event kernel): what does one stochastic transition cost in the hybrid engine
// (docs/stochastic.md), and how does that grow with the number of stochastic clusters?
//  - bm_ssa_fire/K: system::fire() alone on a cable of K voxels, each with its own ip3r_cluster of 20 channels:
//    gather one instance's inputs, its six propensities, pick the transition, move one channel, restart its clock.
//  - bm_puffs: models/ip3r_puffs.toml (one cluster of 20 channels in the Li-Rinzel cell, 300 s): a whole hybrid
//    run, where each event also stops CVODE at the clock's root and restarts its BDF history.
//  - bm_cluster_cable/K: 10 s of the cable with a cluster per voxel (K root functions, events everywhere).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include <fmt/format.h>

#include <cadyn/io/model_file.hpp>
#include <cadyn/simulate.hpp>
#include <cadyn/system.hpp>

namespace {

std::string cable_model(long voxels, const std::string& t_end) {
    return fmt::format(R"(format_version = 1
name = "cluster cable"
[geometry]
type = "cable"
length = "{} um"
diameter = "1 um"
voxels = {}
[[compartments]]
name = "cyt"
fraction = 0.83
diffusion = {{ ca = "80 um^2/s" }}
concentrations = {{ ca = "0.1 uM", ip3 = "0.3 uM" }}
[[compartments]]
name = "er"
fraction = 0.17
diffusion = {{ ca = "80 um^2/s" }}
concentrations = {{ ca = "10 uM" }}
[[membranes]]
name = "erm"
inner = "er"
outer = "cyt"
area = "{} um^2"
[[mechanisms]]
name = "cluster"
type = "ip3r_cluster"
membrane = "erm"
permeability = "6 s^-1"
channels = 20
[[mechanisms]]
name = "pump"
type = "serca"
membrane = "erm"
vmax = "0.9 uM/s"
kd = "0.1 uM"
hill = 2
[[mechanisms]]
name = "leak"
type = "leak"
membrane = "erm"
permeability = "0.11 s^-1"
[run]
t_end = "{}"
[record]
interval = "100 ms"
observables = ["cyt.ca"]
)",
                       voxels, voxels, 1.7 * static_cast<double>(voxels), t_end);
}

void bm_ssa_fire(benchmark::State& state) {
    auto sys = cadyn::compile(cadyn::parse_model(cable_model(state.range(0), "1 s"), "<bench>"));
    auto y = sys.initial_state();
    const auto k_max = sys.stochastic_instances();
    std::uint64_t lcg = 12345;
    std::size_t k = 0;
    for (auto _: state) {
        lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
        const double u = static_cast<double>(lcg >> 11) * 0x1.0p-53;
        benchmark::DoNotOptimize(sys.fire(k, 0.0, y.data(), u));
        k = k + 1 == k_max ? 0 : k + 1;
    }
    state.SetItemsProcessed(state.iterations());
}

// Whole runs of sys; counters: the transitions of a run and the time per transition.
void run_counting_events(benchmark::State& state, cadyn::system& sys) {
    long events = 0;
    for (auto _: state) {
        cadyn::memory_recorder out({"cyt.ca"});
        events = cadyn::simulate(sys, out).stats.stochastic_events;
    }
    state.counters["events"] = static_cast<double>(events);
    state.counters["per_event"] = benchmark::Counter(static_cast<double>(events) * static_cast<double>(state.iterations()),
                                                     benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void bm_puffs(benchmark::State& state) {
    const auto path = std::filesystem::path(__FILE__).parent_path().parent_path() / "models" / "ip3r_puffs.toml";
    auto sys = cadyn::compile(cadyn::read_model_file(path));
    run_counting_events(state, sys);
}

void bm_cluster_cable(benchmark::State& state) {
    auto sys = cadyn::compile(cadyn::parse_model(cable_model(state.range(0), "10 s"), "<bench>"));
    run_counting_events(state, sys);
}

} // namespace

BENCHMARK(bm_ssa_fire)->Arg(1)->Arg(100)->Arg(10000);
BENCHMARK(bm_puffs)->Unit(benchmark::kMillisecond);
BENCHMARK(bm_cluster_cable)->Arg(10)->Arg(100)->Unit(benchmark::kMillisecond);
