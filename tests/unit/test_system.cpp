// The compiled system: state layout, conservation laws, and the Jacobian sparsity pattern.
#include <algorithm>
#include <cmath>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cadyn/geometry.hpp>
#include <cadyn/io/model_file.hpp>
#include <cadyn/simulate.hpp>
#include <cadyn/system.hpp>

#include "run_helpers.hpp"

using ::testing::ElementsAre;

namespace {

// A model exercising every kind of coupling: membrane mechanisms across two membranes, a buffer state, a reaction
// across compartments, an assignment rule feeding a rate rule, and a parameter state.
const char* coupled = R"toml(
[[compartments]]
name = "ext"
volume = "1 nL"
clamped = true
concentrations = { ca = "2 mM" }

[[compartments]]
name = "cyt"
volume = "2 pL"
concentrations = { ca = "0.2 uM", ip3 = "0.1 uM" }

[[compartments]]
name = "er"
volume = "0.2 pL"
concentrations = { ca = "300 uM" }

[[membranes]]
name = "pm"
inner = "cyt"
outer = "ext"
area = "800 um^2"

[[membranes]]
name = "erm"
inner = "er"
outer = "cyt"
area = "1000 um^2"

[[mechanisms]]
type = "pmca"
membrane = "pm"

[[mechanisms]]
type = "serca"
membrane = "erm"

[[mechanisms]]
type = "leak"
membrane = "erm"

[[buffers]]
name = "b"
compartment = "cyt"

[parameters]
x = 1
k = "2 s^-1"

[[rules]]
variable = "drive"
value = "x * cyt.ip3"

[[rules]]
variable = "x"
rate = "-k * x"

[[reactions]]
name = "release"
equation = "er.ca -> cyt.ca"
amount_rate = "drive * 1e-3 * (er.ca - cyt.ca)"
)toml";

} // namespace

TEST(system, state_layout_names_every_state) {
    auto sys = cadyn::testing::compile_text(coupled);
    EXPECT_THAT(sys.state_names(), ElementsAre("cyt.ca", "cyt.ip3", "er.ca", "b.bound", "x"));
    EXPECT_EQ(sys.state_index("cyt", "ca"), 0);
    EXPECT_EQ(sys.state_index("ext", "ca"), -1);  // clamped: not a state
}

TEST(system, jacobian_pattern_contains_every_nonzero_derivative) {
    // A dense central-difference Jacobian at several states must have no entry above round-off outside the pattern.
    for (const auto* text: {coupled}) {
        auto sys = cadyn::testing::compile_text(text);
        const auto pattern = sys.jacobian_pattern();
        const std::size_t n = sys.size();
        for (const double scale: {0.5, 1.0, 3.0}) {
            auto y = sys.initial_state();
            for (auto& v: y) {
                v *= scale;
            }
            std::vector<double> fp(n);
            std::vector<double> fm(n);
            for (std::size_t j = 0; j < n; ++j) {
                const std::set<std::size_t> rows(pattern[j].begin(), pattern[j].end());
                EXPECT_TRUE(rows.contains(j)) << "diagonal of column " << j;
                const double h = 1e-6 * std::max(std::abs(y[j]), 1e-3);
                auto yp = y;
                auto ym = y;
                yp[j] += h;
                ym[j] -= h;
                sys.rhs(0.0, yp.data(), fp.data());
                sys.rhs(0.0, ym.data(), fm.data());
                for (std::size_t i = 0; i < n; ++i) {
                    const double dfdy = (fp[i] - fm[i]) / (2 * h);
                    if (!rows.contains(i)) {
                        EXPECT_NEAR(dfdy, 0.0, 1e-9 * (std::abs(fp[i]) + 1e-12) / h)
                            << sys.state_names()[i] << " depends on " << sys.state_names()[j];
                    }
                }
            }
        }
    }
}

TEST(system, jacobian_pattern_is_sparse_where_the_model_is) {
    // cyt.ip3 is touched only by the rule chain: its column reaches the species the reaction moves (through
    // 'drive'), not the buffer.
    auto sys = cadyn::testing::compile_text(coupled);
    const auto pattern = sys.jacobian_pattern();
    EXPECT_THAT(pattern[1], ElementsAre(0, 1, 2));   // d(cyt.ca, cyt.ip3, er.ca)/d(cyt.ip3)
    EXPECT_THAT(pattern[3], ElementsAre(0, 3));      // the buffer state affects cyt.ca and itself
    EXPECT_THAT(pattern[4], ElementsAre(0, 2, 4));   // x feeds the reaction through 'drive', and its own rule
}

TEST(system, conservation_laws_only_for_species_nothing_can_change) {
    // In the coupled model Ca reaches a clamped bath (PMCA) and takes part in a reaction: no law. IP3 is touched
    // by nothing that moves it between compartments or makes it: a law with the cytosol's volume.
    auto sys = cadyn::testing::compile_text(coupled);
    ASSERT_EQ(sys.conservation_laws().size(), 1U);
    const auto& law = sys.conservation_laws().front();
    EXPECT_EQ(law.species, "ip3");
    ASSERT_EQ(law.weights.size(), 1U);
    EXPECT_EQ(law.weights[0].first, 1U);
    EXPECT_DOUBLE_EQ(law.weights[0].second, 2000.0);  // 2 pL = 2000 um^3
}

TEST(system, total_amount_counts_free_and_bound) {
    // Total = sum (free + bound) * volume over non-clamped compartments; the buffer starts in equilibrium,
    // bound = B c / (Kd + c) with the defaults B = 100 uM, Kd = 1 uM.
    auto sys = cadyn::testing::compile_text(coupled);
    const auto y = sys.initial_state();
    const double bound = 100 * 0.2 / (1 + 0.2);
    EXPECT_NEAR(y[3], bound, 1e-12);
    EXPECT_NEAR(sys.total_amount(y.data(), "ca"), (0.2 + bound) * 2000 + 300 * 200, 1e-9);
}

TEST(system, observe_computes_only_the_wanted_observables) {
    // The default observables of the coupled model include budget channels (computed through a right-hand side)
    // and concentrations. Asking for a subset gives the same values for it and NaN for the rest; a recorder that
    // keeps one column sees the values a full observe() gives.
    auto sys = cadyn::testing::compile_text(coupled);
    const auto& obs = sys.observables();
    ASSERT_GE(obs.size(), 4u);
    auto y = sys.initial_state();
    y[0] = 0.7;  // away from rest, so that the channels carry something
    std::vector<double> all(obs.size());
    sys.observe(12.0, y.data(), all.data());
    for (std::size_t skip = 0; skip < obs.size(); ++skip) {
        std::vector<char> wanted(obs.size(), 1);
        wanted[skip] = 0;
        std::vector<double> some(obs.size(), -1.0);
        sys.observe(12.0, y.data(), some.data(), wanted.data());
        for (std::size_t k = 0; k < obs.size(); ++k) {
            if (k == skip) {
                EXPECT_TRUE(std::isnan(some[k])) << obs[k].name;
            }
            else {
                EXPECT_EQ(some[k], all[k]) << obs[k].name << " with " << obs[skip].name << " left out";
            }
        }
    }
    cadyn::memory_recorder one({obs.back().name});
    const auto flags = one.wanted(obs);
    EXPECT_EQ(std::count(flags.begin(), flags.end(), 1), 1);
    EXPECT_EQ(flags.back(), 1);
    cadyn::memory_recorder every;
    const auto all_flags = every.wanted(obs);
    EXPECT_EQ(static_cast<std::size_t>(std::count(all_flags.begin(), all_flags.end(), 1)), obs.size());
}

namespace {

// The diffusion part of dy/dt computed here face by face from the grid (flux g w (c_b - c_a) through each face of
// weight w = area / distance, divided by each side's volume), for y varying from voxel to voxel.
std::vector<double> diffusion_by_faces(const cadyn::grid& g, double diffusion, const std::vector<double>& c) {
    std::vector<double> d(c.size(), 0.0);
    for (const auto& f: g.faces) {
        const double j = diffusion * f.area / f.distance * (c[f.b] - c[f.a]);
        d[f.a] += j / g.volume[f.a];
        d[f.b] -= j / g.volume[f.b];
    }
    return d;
}

} // namespace

TEST(system, diffusion_on_grids_matches_the_sum_over_faces) {
    // A box of unequal but uniform spacings along x, y and z (the structured stencil), the same box with graded
    // spacing along x (the face arrays), a rectangle-like box with one voxel along z, and a cable (face runs):
    // every path gives, to round-off, the divergence summed face by face from the grid.
    for (const char* geometry: {R"(type = "box"
size = ["6 um", "4 um", "3 um"]
voxels = [12, 5, 7])",
                                R"(type = "box"
size = ["6 um", "4 um", "3 um"]
voxels = [12, 5, 7]
finest = ["0.2 um", "0 um", "0 um"])",
                                R"(type = "box"
size = ["6 um", "4 um", "1 um"]
voxels = [9, 1, 1])",
                                R"(type = "box"
size = ["6 um", "4 um", "1 um"]
voxels = [9, 6, 1])",
                                R"(type = "cable"
length = "10 um"
diameter = "1 um"
voxels = 17)"}) {
        SCOPED_TRACE(geometry);
        auto sys = cadyn::testing::compile_text(std::string("[geometry]\n") + geometry + R"(
[[compartments]]
name = "cyt"
diffusion = { ca = "220 um^2/s" }
concentrations = { ca = "100 nM" }
)");
        const auto& g = *sys.mesh();
        std::vector<double> y(sys.size());
        for (std::size_t i = 0; i < y.size(); ++i) {
            y[i] = 0.1 + 0.37 * std::sin(0.7 * static_cast<double>(i)) + 0.01 * static_cast<double>(i % 5);
        }
        std::vector<double> ydot(y.size());
        sys.rhs(0.0, y.data(), ydot.data());
        const auto expected = diffusion_by_faces(g, 0.22, y);  // 220 um^2/s = 0.22 um^2/ms
        double scale = 0;
        for (const double v: expected) {
            scale = std::max(scale, std::abs(v));
        }
        ASSERT_GT(scale, 0);
        for (std::size_t i = 0; i < y.size(); ++i) {
            ASSERT_NEAR(ydot[i], expected[i], 1e-13 * scale) << "voxel " << i;
        }
    }
}

TEST(system, a_diffusing_buffer_on_a_box_gets_binding_and_diffusion_of_both_fields) {
    // Ca (220 um^2/s) and calbindin (40 uM, Kd 0.4 uM, kon 20 /uM/s, 27 um^2/s) on a small box (420 voxels: the
    // stencil) and a larger one (1440 voxels: the stencil fused block by block with the buffer's rates): dy/dt is
    // the binding r = kon c (B - b) - kon Kd b, taken from Ca and given to the bound buffer, plus each field's
    // divergence summed face by face.
    for (const char* voxels: {"[12, 5, 7]", "[16, 10, 9]"}) {
        SCOPED_TRACE(voxels);
        auto sys = cadyn::testing::compile_text(std::string(R"([geometry]
type = "box"
size = ["6 um", "4 um", "3 um"]
voxels = )") + voxels + R"(
[[compartments]]
name = "cyt"
diffusion = { ca = "220 um^2/s" }
concentrations = { ca = "100 nM" }
[[buffers]]
name = "calbindin"
compartment = "cyt"
total = "40 uM"
kd = "0.4 uM"
kon = "20 uM^-1 s^-1"
diffusion = "27 um^2/s"
)");
        const auto& g = *sys.mesh();
        const std::size_t n = g.size();
        ASSERT_EQ(sys.size(), 2 * n);
        const auto ca_at = static_cast<std::size_t>(sys.state_index("cyt", "ca"));
        const std::size_t bound_at = ca_at == 0 ? n : 0;
        std::vector<double> y(sys.size());
        std::vector<double> ca(n), bound(n);
        for (std::size_t i = 0; i < n; ++i) {
            ca[i] = 0.1 + 0.3 * std::sin(0.7 * static_cast<double>(i));
            bound[i] = 10 + 5 * std::cos(0.3 * static_cast<double>(i));
            y[ca_at + i] = ca[i];
            y[bound_at + i] = bound[i];
        }
        std::vector<double> ydot(y.size());
        sys.rhs(0.0, y.data(), ydot.data());
        const auto dca = diffusion_by_faces(g, 0.22, ca);
        const auto db = diffusion_by_faces(g, 0.027, bound);
        for (std::size_t i = 0; i < n; ++i) {
            const double r = 0.02 * ca[i] * (40 - bound[i]) - 0.02 * 0.4 * bound[i];
            ASSERT_NEAR(ydot[ca_at + i], dca[i] - r, 1e-12 * (std::abs(dca[i]) + std::abs(r) + 1)) << "ca, voxel " << i;
            ASSERT_NEAR(ydot[bound_at + i], db[i] + r, 1e-12 * (std::abs(db[i]) + std::abs(r) + 1))
                << "bound, voxel " << i;
        }
    }
}
