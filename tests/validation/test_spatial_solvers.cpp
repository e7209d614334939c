// The linear solvers of the spatial engine agree: dense LU (the reference), sparse LU (KLU) and GMRES with the
// voxel-block preconditioner integrate the same model to the same traces within the integration tolerance, and
// the automatic choice picks what docs/spatial.md says. The model: a 3-D box with a channel opening on its
// membrane face, a mobile buffer, a clamped far face (so the budget has a boundary channel) and an ER sharing
// the voxels with SERCA and a leak. The block-tridiagonal solver (elimination along a chain of voxels) against
// KLU on a cable (the IP3 wave of models/dendrite_wave.toml, shortened, with a buffer, a pump and a clamped end)
// and on spherical shells; and the error for asking for it where the voxels form no chain.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <cadyn/analysis.hpp>
#include <cadyn/error.hpp>
#include <cadyn/simulate.hpp>

#include "run_helpers.hpp"

namespace {

// The cell both solver comparisons use, around a geometry: Ca entering through one channel (`channel`, a TOML
// [[mechanisms]] block), diffusing in a cytosol it shares with an ER (SERCA and a leak), a mobile buffer.
std::string cell_with(const std::string& channel) {
    return R"(
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

)" + channel + R"(
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
)";
}

std::string box_model(const std::string& solver, int n) {
    return R"(
[geometry]
type = "box"
size = ["2 um", "2 um", "1 um"]
voxels = [)" + std::to_string(n) + ", " + std::to_string(n) + ", " + std::to_string(n / 2) + R"(]
clamped_faces = ["z1"]

)" + cell_with(R"(
[[mechanisms]]
type = "channel"
membrane = "pm"
current = "0.5 pA"
open_at = "0.5 ms"
close_at = "2.5 ms"
at = ["1 um", "1 um", "0 um"]

)") + R"(

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

// A model run with the observables named (every one when none is named) and its worst budget error.
run_result run_text(const std::string& text, const std::vector<std::string>& observables = {}) {
    auto sys = cadyn::testing::compile_text(text);
    run_result r{cadyn::memory_recorder(observables), 0.0};
    const auto result = cadyn::simulate(sys, r.trace, {});
    for (const auto& b: cadyn::balances(sys, result.y0, result.y_end, result.budget)) {
        r.budget_error = std::max(r.budget_error, b.relative_error());
    }
    return r;
}

// Largest difference between two runs' traces of the named observables, relative to each one's largest magnitude.
double max_difference(const cadyn::memory_recorder& a, const cadyn::memory_recorder& b,
                      const std::vector<std::string>& names) {
    double worst = 0;
    for (const auto& name: names) {
        const auto& x = a.column(name);
        const auto& y = b.column(name);
        EXPECT_EQ(x.size(), y.size()) << name;
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

run_result run(const std::string& solver, int n) { return run_text(box_model(solver, n)); }

const std::vector<std::string> box_observables = {"cyt.ca", "cyt.ca@near", "b.bound", "er.ca"};

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
    const double d_klu = max_difference(klu.trace, dense.trace, box_observables);
    const double d_gmres = max_difference(gmres.trace, dense.trace, box_observables);
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

// The IP3-triggered wave of models/dendrite_wave.toml on 200 um of dendrite (200 voxels, IP3 raised in the first
// 40 um), with a mobile buffer, a PMCA and a Ca leak through the plasma membrane to a clamped bath, and the far end
// held at rest (boundary channels in the budget): 5 states per voxel, 1000 states. The wave sets off at once and
// passes 20 um at ~90 ms and 60 um at ~230 ms.
std::string cable_model(const std::string& solver) {
    return R"toml(
[geometry]
type = "cable"
length = "200 um"
diameter = "1 um"
voxels = 200
clamped_faces = ["right"]

[[compartments]]
name = "bath"
clamped = true
concentrations = { ca = "2 mM" }

[[compartments]]
name = "cyt"
fraction = 0.83
diffusion = { ca = "80 um^2/s", ip3 = "1415 um^2/s" }
concentrations = { ca = "0.045780995335752445 uM", ip3 = "0.2 uM" }
patches = [{ species = "ip3", value = "2 uM", from = "0 um", to = "40 um" }]

[[compartments]]
name = "er"
fraction = 0.17
diffusion = { ca = "80 um^2/s" }
concentrations = { ca = "9.7764810227725 uM" }

[[membranes]]
name = "pm"
inner = "cyt"
outer = "bath"

[[membranes]]
name = "er_membrane"
inner = "er"
outer = "cyt"
area = "200 um^2"

[[mechanisms]]
name = "ip3r"
type = "ip3r_neymotin"
membrane = "er_membrane"
permeability = "0.15994312295018492 um/ms"
kip3 = "0.13 uM"
kact = "0.4 uM"
kinh = "0.4 uM"
tau = "400 ms"

[[mechanisms]]
name = "serca"
type = "serca"
membrane = "er_membrane"
vmax = "0.003248844684925631 zmol/(um^2 ms)"
kd = "0.1 uM"
hill = 2

[[mechanisms]]
name = "er_leak"
type = "leak"
membrane = "er_membrane"
permeability = "2.9989335553159667e-05 um/ms"

[[mechanisms]]
type = "pmca"
membrane = "pm"
vmax = "2 uM/s"
kd = "0.2 uM"

[[mechanisms]]
name = "pm_leak"
type = "leak"
membrane = "pm"
permeability = "1e-8 um/ms"

[[buffers]]
name = "b"
compartment = "cyt"
total = "10 uM"
kd = "10 uM"
kon = "0.1 uM^-1 ms^-1"
diffusion = "20 um^2/s"

[[points]]
name = "x20"
at = "20.5 um"

[[points]]
name = "x60"
at = "60.5 um"

[run]
t_end = "500 ms"
rtol = 1e-8
atol = "1e-10 uM"
linear_solver = ")toml" + solver + R"toml("

[record]
interval = "10 ms"
observables = ["cyt.ca", "cyt.ca@x20", "cyt.ca@x60", "er.ca", "b.bound"]
)toml";
}

// A channel on the inner face of 100 half-shells (r from 0.25 to 5 um) with a mobile buffer and an ER in every
// shell, the outer face held at rest: 3 states per shell, 300 states.
std::string shells_model(const std::string& solver) {
    return R"toml(
[geometry]
type = "shells"
inner_radius = "0.25 um"
outer_radius = "5 um"
solid_fraction = 0.5
voxels = 100
membrane_face = "inner"
clamped_faces = ["outer"]

)toml" + cell_with(R"(
[[mechanisms]]
type = "channel"
membrane = "pm"
current = "0.2 pA"
open_at = "0.5 ms"
close_at = "3 ms"
at = "0.25 um"

)") + R"toml(

[[points]]
name = "near"
at = "0.3 um"

[run]
t_end = "10 ms"
rtol = 1e-8
atol = "1e-10 uM"
linear_solver = ")toml" + solver + R"toml("

[record]
interval = "0.25 ms"
observables = ["cyt.ca", "cyt.ca@near", "er.ca", "b.bound"]
)toml";
}

TEST(spatial_solvers, block_tridiagonal_and_klu_agree_on_a_cable) {
    const std::vector<std::string> names = {"cyt.ca", "cyt.ca@x20", "cyt.ca@x60", "er.ca", "b.bound"};
    const auto klu = run_text(cable_model("klu"), names);
    const auto chain = run_text(cable_model("block_tridiagonal"), names);
    const auto automatic = run_text(cable_model("automatic"), names);
    // The wave has set off and travelled: Ca at 20 and at 60 um rises well above rest (0.046 uM).
    for (const auto* point: {"cyt.ca@x20", "cyt.ca@x60"}) {
        const auto& c = chain.trace.column(point);
        EXPECT_GT(*std::max_element(c.begin(), c.end()), 0.5) << point;
    }
    // Both solve each Newton system exactly up to round-off, so CVODE takes the same steps and the traces differ by
    // round-off carried through the run: 1e-9 relative at rtol 1e-8, a tenth of the tolerance.
    const double difference = max_difference(chain.trace, klu.trace, names);
    std::printf("[ solvers ] cable: block tridiagonal vs KLU %.2g; budget closure %.2g (KLU %.2g)\n", difference,
                chain.budget_error, klu.budget_error);
    EXPECT_LT(difference, 1e-9);
    // Exact linear solves keep the integrated budget a linear invariant of each Newton step: round-off.
    EXPECT_LT(chain.budget_error, 1e-12);
    EXPECT_LT(klu.budget_error, 1e-12);
    // 1000 states on a chain of voxels: the automatic choice is the block-tridiagonal solver (the same arithmetic,
    // so the same traces to the last bit).
    EXPECT_EQ(max_difference(automatic.trace, chain.trace, names), 0.0);
}

TEST(spatial_solvers, block_tridiagonal_and_klu_agree_on_shells) {
    const std::vector<std::string> names = {"cyt.ca", "cyt.ca@near", "er.ca", "b.bound"};
    const auto klu = run_text(shells_model("klu"), names);
    const auto chain = run_text(shells_model("block_tridiagonal"), names);
    const auto& near = chain.trace.column("cyt.ca@near");
    EXPECT_GT(*std::max_element(near.begin(), near.end()), 0.3);  // the channel's domain (rest: 0.1 uM)
    // As on the cable: the same steps, round-off apart (1e-9 at rtol 1e-8), and budgets closed to round-off.
    const double difference = max_difference(chain.trace, klu.trace, names);
    std::printf("[ solvers ] shells: block tridiagonal vs KLU %.2g; budget closure %.2g (KLU %.2g)\n", difference,
                chain.budget_error, klu.budget_error);
    EXPECT_LT(difference, 1e-9);
    EXPECT_LT(chain.budget_error, 1e-12);
    EXPECT_LT(klu.budget_error, 1e-12);
}

TEST(spatial_solvers, block_tridiagonal_on_a_grid_that_is_no_chain_is_an_error) {
    // An r-z grid couples each voxel to up to four others: asking for the chain solver must fail and say why, not
    // fall back to KLU. Same for the 3-D box.
    auto axisymmetric = cadyn::testing::compile_text(R"(
[geometry]
type = "axisymmetric"
radius = "2 um"
depth = "2 um"
voxels = [12, 12]

[[compartments]]
name = "cyt"
diffusion = { ca = "220 um^2/s" }
concentrations = { ca = "0.1 uM" }

[[buffers]]
name = "b"
compartment = "cyt"
total = "50 uM"
kd = "0.2 uM"
kon = "0.4 uM^-1 ms^-1"
diffusion = "50 um^2/s"

[run]
t_end = "1 ms"
linear_solver = "block_tridiagonal"
)");
    cadyn::memory_recorder out;
    try {
        cadyn::simulate(axisymmetric, out, {});
        ADD_FAILURE() << "no error";
    }
    catch (const cadyn::error& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find("block_tridiagonal"), std::string::npos) << message;
        EXPECT_NE(message.find("axisymmetric"), std::string::npos) << message;
        EXPECT_NE(message.find("form no chain"), std::string::npos) << message;
    }
    auto box = cadyn::testing::compile_text(box_model("block_tridiagonal", 4));
    EXPECT_THROW(cadyn::simulate(box, out, {}), cadyn::error);
}

} // namespace
