// Question: what does one right-hand side (and one coloured Jacobian's worth of them) cost for the default soma
// model, and how does a whole 2 s simulation of it compare? The scale for the expression benchmark.
#include <benchmark/benchmark.h>

#include <cadyn/io/model_file.hpp>
#include <cadyn/simulate.hpp>
#include <cadyn/system.hpp>

namespace {

void bm_rhs_default_model(benchmark::State& state) {
    auto sys = cadyn::compile(cadyn::default_model());
    auto y = sys.initial_state();
    std::vector<double> ydot(y.size());
    for (auto _: state) {
        y[0] += 1e-15;
        sys.rhs(250.0, y.data(), ydot.data());
        benchmark::DoNotOptimize(ydot.data());
    }
}

class null_recorder final: public cadyn::recorder {
public:
    void begin(const std::vector<cadyn::observable_info>&) override {}
    void record(double, std::span<const double> values) override { benchmark::DoNotOptimize(values.data()); }
};

void bm_simulate_default_model(benchmark::State& state) {
    auto sys = cadyn::compile(cadyn::default_model());
    null_recorder out;
    for (auto _: state) {
        benchmark::DoNotOptimize(cadyn::simulate(sys, out));
    }
}

} // namespace

BENCHMARK(bm_rhs_default_model);
BENCHMARK(bm_simulate_default_model)->Unit(benchmark::kMillisecond);
