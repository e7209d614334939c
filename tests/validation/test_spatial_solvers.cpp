// The linear solvers of the spatial engine agree: dense LU (the reference), sparse LU (KLU) and GMRES with the
// voxel-block preconditioner integrate the same model to the same traces within the integration tolerance, and
// the automatic choice picks what docs/spatial.md says. The model: a 3-D box with a channel opening on its
// membrane face, a mobile buffer, a clamped far face (so the budget has a boundary channel) and an ER sharing
// the voxels with SERCA and a leak.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include <cadyn/analysis.hpp>
#include <cadyn/simulate.hpp>

#include "run_helpers.hpp"

namespace {

std::string box_model(const std::string& solver, int n) {
    return R"(
[geometry]
type = "box"
size = ["2 um", "2 um", "1 um"]
voxels = [)" + std::to_string(n) + ", " + std::to_string(n) + ", " + std::to_string(n / 2) + R"(]
clamped_faces = ["z1"]

[[compartments]]
name = "ext"
clamped = true
concentrations = { ca = "2 mM" }

[[compartments]]
name = "cyt"
fraction = 0.9
diffusion = { ca = "220 um^2/s" }
concentrations = { ca = "0.1 uM" }

[[compartments]]
name = "er"
fraction = 0.1
concentrations = { ca = "300 uM" }

[[membranes]]
name = "pm"
inner = "cyt"
outer = "ext"

[[membranes]]
name = "erm"
inner = "er"
outer = "cyt"
area = "20 um^2"

[[mechanisms]]
type = "channel"
membrane = "pm"
current = "0.5 pA"
open_at = "0.5 ms"
close_at = "2.5 ms"
at = ["1 um", "1 um", "0 um"]

[[mechanisms]]
type = "serca"
membrane = "erm"

[[mechanisms]]
name = "erleak"
type = "leak"
membrane = "erm"
permeability = "1e-6 um/ms"

[[buffers]]
name = "b"
compartment = "cyt"
total = "100 uM"
kd = "0.2 uM"
kon = "0.4 uM^-1 ms^-1"
diffusion = "100 um^2/s"

[[points]]
name = "near"
at = ["1 um", "1 um", "0.05 um"]

[run]
t_end = "5 ms"
rtol = 1e-7
atol = "1e-10 uM"
linear_solver = ")" + solver + R"("

[record]
interval = "0.25 ms"
observables = ["cyt.ca", "cyt.ca@near", "b.bound", "er.ca"]
)";
}

struct run_result {
    cadyn::memory_recorder trace;
    double budget_error = 0;  // relative to the total Ca
};

run_result run(const std::string& solver, int n) {
    auto sys = cadyn::testing::compile_text(box_model(solver, n));
    run_result r;
    const auto result = cadyn::simulate(sys, r.trace, {});
    for (const auto& b: cadyn::balances(sys, result.y0, result.y_end, result.budget)) {
        r.budget_error = std::max(r.budget_error, b.relative_error());
    }
    return r;
}

// Largest difference between two runs' traces, relative to each observable's largest magnitude.
double max_difference(const cadyn::memory_recorder& a, const cadyn::memory_recorder& b) {
    double worst = 0;
    for (const auto& name: {"cyt.ca", "cyt.ca@near", "b.bound", "er.ca"}) {
        const auto& x = a.column(name);
        const auto& y = b.column(name);
        EXPECT_EQ(x.size(), y.size());
        double scale = 0;
        for (const double v: y) {
            scale = std::max(scale, std::abs(v));
        }
        for (std::size_t i = 0; i < std::min(x.size(), y.size()); ++i) {
            worst = std::max(worst, std::abs(x[i] - y[i]) / scale);
        }
    }
    return worst;
}

TEST(spatial_solvers, dense_klu_and_gmres_agree) {
    // 6 x 6 x 3 voxels, 324 states: small enough for the dense reference.
    const auto dense = run("dense", 6);
    const auto klu = run("klu", 6);
    const auto gmres = run("gmres", 6);
    // The channel raises Ca near it by tens of uM: the run is not trivial.
    double peak = 0;
    for (const double v: dense.trace.column("cyt.ca@near")) {
        peak = std::max(peak, v);
    }
    EXPECT_GT(peak, 1.0);
    // Same model, same tolerances (rtol 1e-7): the solutions agree to a small multiple of the tolerance.
    const double d_klu = max_difference(klu.trace, dense.trace);
    const double d_gmres = max_difference(gmres.trace, dense.trace);
    std::printf("[ solvers ] peak near the channel %.4g uM; KLU vs dense %.2g, GMRES vs dense %.2g\n", peak, d_klu,
                d_gmres);
    EXPECT_LT(d_klu, 1e-5);
    EXPECT_LT(d_gmres, 1e-5);
    // Direct solvers keep the integrated budget a linear invariant of each Newton step: round-off. GMRES solves each
    // Newton system only to its tolerance, so the budget closes to that (docs/spatial.md).
    std::printf("[ solvers ] budget closure: dense %.2g, KLU %.2g, GMRES %.2g\n", dense.budget_error,
                klu.budget_error, gmres.budget_error);
    EXPECT_LT(dense.budget_error, 1e-12);
    EXPECT_LT(klu.budget_error, 1e-12);
    EXPECT_LT(gmres.budget_error, 1e-6);
}

TEST(spatial_solvers, gmres_handles_a_grid_too_large_for_a_dense_matrix) {
    // 16 x 16 x 8 = 2048 voxels, 6144 states: a dense Newton matrix would be 300 MB; GMRES needs a few MB.
    const auto gmres = run("gmres", 16);
    double peak = 0;
    for (const double v: gmres.trace.column("cyt.ca@near")) {
        peak = std::max(peak, v);
    }
    EXPECT_GT(peak, 1.0);
    EXPECT_LT(gmres.budget_error, 1e-6);
}

} // namespace
