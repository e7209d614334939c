// Question (issue 8, point model): how long does cadyn take, in process, for the Li & Rinzel (1994) model at
// IP3 = 0.4 uM over 1000 s with rtol 1e-6 (records every 100 ms, cyt.ca kept), the run its peers repeat in
// bench/peers/ (scipy solve_ivp LSODA/BDF, XPPAUT)? bench/peers/run_peers.sh puts the numbers side by side and
// checks that every tool finds the same oscillation period.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include <cadyn/io/model_file.hpp>
#include <cadyn/simulate.hpp>
#include <cadyn/system.hpp>

namespace {

std::filesystem::path model_path() {
    if (const char* env = std::getenv("CADYN_LI_RINZEL_MODEL")) {
        return env;
    }
    // __FILE__ is bench/li_rinzel_bench.cpp in the source tree.
    return std::filesystem::path(__FILE__).parent_path().parent_path() / "models" / "li_rinzel.toml";
}

cadyn::model_spec li_rinzel_at_0p4() {
    auto model = cadyn::read_model_file(model_path());
    for (auto& c: model.compartments) {
        if (c.name == "cyt") {
            c.initial["ip3"] = 0.4;  // uM
        }
    }
    model.run.t_end = 1e6;  // ms = 1000 s
    model.run.rtol = 1e-6;
    model.record.interval = 100;  // ms
    return model;
}

// Mean interval [s] between upward crossings of the mean over the last 500 s (crossing times interpolated).
double period_s(const std::vector<double>& t_ms, const std::vector<double>& c) {
    const double t_from = t_ms.back() - 5e5;
    double sum = 0;
    std::size_t n = 0;
    for (std::size_t i = 0; i < t_ms.size(); ++i) {
        if (t_ms[i] >= t_from) {
            sum += c[i];
            ++n;
        }
    }
    const double mean = sum / static_cast<double>(n);
    std::vector<double> up;
    for (std::size_t i = 1; i < t_ms.size(); ++i) {
        if (t_ms[i - 1] >= t_from && c[i - 1] < mean && c[i] >= mean) {
            up.push_back(t_ms[i - 1] + (mean - c[i - 1]) / (c[i] - c[i - 1]) * (t_ms[i] - t_ms[i - 1]));
        }
    }
    if (up.size() < 2) {
        return 0;
    }
    return (up.back() - up.front()) / static_cast<double>(up.size() - 1) / 1000.0;
}

void bm_li_rinzel_1000s(benchmark::State& state) {
    auto sys = cadyn::compile(li_rinzel_at_0p4());
    static bool printed = false;
    for (auto _: state) {
        cadyn::memory_recorder out({"cyt.ca"});
        benchmark::DoNotOptimize(cadyn::simulate(sys, out));
        if (!printed) {
            state.PauseTiming();
            std::printf("cadyn li_rinzel ip3=0.4uM: period_s=%.6f records=%zu\n",
                        period_s(out.times(), out.column("cyt.ca")), out.times().size());
            std::fflush(stdout);
            printed = true;
            state.ResumeTiming();
        }
    }
}

} // namespace

BENCHMARK(bm_li_rinzel_1000s)->Unit(benchmark::kMillisecond);
