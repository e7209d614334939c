// Question: is muparser's bytecode fast enough for user rate laws, or do we need an LLVM JIT as libRoadRunner
// uses? Measures one evaluation of typical rate laws with muparser against the same law compiled by the C++
// compiler (the best a JIT could reach) and against one whole rhs evaluation of the default model.
#include <cmath>

#include <benchmark/benchmark.h>

#include "expr/expression.hpp"

namespace {

struct variables {
    double c = 0.3;
    double er = 400;
    double ip3 = 0.4;
    double k = 0.5;
    double vmax = 0.9;
    double kd = 0.1;
};

// Li-Rinzel-like release: a cubic product of saturating terms times a gradient.
const char* release_law = "vmax * (ip3 / (ip3 + 0.13))^3 * (c / (c + 0.08))^3 * (er - c)";
const char* hill_law = "vmax * hill(c, kd, 2)";
const char* linear_law = "k * c";

void bm_muparser(benchmark::State& state, const char* text) {
    variables v;
    cadyn::detail::expression e(text, {{"c", &v.c}, {"er", &v.er}, {"ip3", &v.ip3}, {"k", &v.k},
                                       {"vmax", &v.vmax}, {"kd", &v.kd}});
    for (auto _: state) {
        v.c += 1e-12;
        benchmark::DoNotOptimize(e.eval());
    }
}

void bm_native_release(benchmark::State& state) {
    variables v;
    for (auto _: state) {
        v.c += 1e-12;
        benchmark::DoNotOptimize(v);
        const double a = v.ip3 / (v.ip3 + 0.13);
        const double b = v.c / (v.c + 0.08);
        benchmark::DoNotOptimize(v.vmax * a * a * a * b * b * b * (v.er - v.c));
    }
}

void bm_native_hill(benchmark::State& state) {
    variables v;
    for (auto _: state) {
        v.c += 1e-12;
        benchmark::DoNotOptimize(v);
        benchmark::DoNotOptimize(v.vmax * v.c * v.c / (v.kd * v.kd + v.c * v.c));
    }
}

void bm_native_linear(benchmark::State& state) {
    variables v;
    for (auto _: state) {
        v.c += 1e-12;
        benchmark::DoNotOptimize(v);
        benchmark::DoNotOptimize(v.k * v.c);
    }
}

} // namespace

BENCHMARK_CAPTURE(bm_muparser, release, release_law);
BENCHMARK(bm_native_release);
BENCHMARK_CAPTURE(bm_muparser, hill, hill_law);
BENCHMARK(bm_native_hill);
BENCHMARK_CAPTURE(bm_muparser, linear, linear_law);
BENCHMARK(bm_native_linear);
