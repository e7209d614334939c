// build_grid against the analytic measures of the shapes it cuts: a cylinder (volume pi d^2/4 L, side pi d L), a
// sphere or a part of one between two radii (f 4/3 pi (R^3 - r0^3), surface f 4 pi R^2), a cylinder cut in r
// and z (pi R^2 depth; top pi R^2, side 2 pi R depth) and a box. Volumes and areas must agree to 1e-12 relative
// on uniform and graded grids alike, because the finite-volume scheme is conservative only if they do.
#include <chrono>
#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <cadyn/error.hpp>
#include <cadyn/geometry.hpp>

namespace cadyn {
namespace {

constexpr double pi = std::numbers::pi;

geometry_spec cable(double length, double diameter, std::size_t n, double finest = 0) {
    geometry_spec g;
    g.type = geometry_spec::kind::cable;
    g.length = length;
    g.diameter = diameter;
    g.voxels = {n, 1, 1};
    g.finest = {finest, 0, 0};
    return g;
}

geometry_spec shells(double r0, double r, double fraction, std::size_t n, double finest = 0) {
    geometry_spec g;
    g.type = geometry_spec::kind::shells;
    g.inner_radius = r0;
    g.outer_radius = r;
    g.solid_fraction = fraction;
    g.voxels = {n, 1, 1};
    g.finest = {finest, 0, 0};
    return g;
}

geometry_spec disc(double radius, double depth, std::size_t nr, std::size_t nz, double fr = 0, double fz = 0) {
    geometry_spec g;
    g.type = geometry_spec::kind::axisymmetric;
    g.radius = radius;
    g.depth = depth;
    g.voxels = {nr, nz, 1};
    g.finest = {fr, fz, 0};
    return g;
}

geometry_spec box(std::array<double, 3> size, std::array<std::size_t, 3> n, std::array<double, 3> finest = {}) {
    geometry_spec g;
    g.type = geometry_spec::kind::box;
    g.size = size;
    g.voxels = n;
    g.finest = finest;
    return g;
}

double area_of(const grid& g, const std::string& name) {
    double sum = 0;
    for (const auto* f: g.faces_named(name)) {
        sum += f->area;
    }
    return sum;
}

void expect_rel(double actual, double expected, double rel, const std::string& what) {
    EXPECT_NEAR(actual, expected, rel * std::abs(expected)) << what;
}

// Every voxel's faces close it: along each axis the areas entering and leaving differ only by the curvature
// the shape has (checked here for the box, whose cells are flat: opposite faces of equal area).
void expect_box_faces_closed(const grid& g) {
    std::vector<double> net(g.size() * 3, 0.0);
    for (const auto& f: g.faces) {
        const std::size_t axis = f.b - f.a == 1 ? 0 : (f.b - f.a == g.shape[0] ? 1 : 2);
        net[f.a * 3 + axis] += f.area;
        net[f.b * 3 + axis] -= f.area;
    }
    const char* lo[3] = {"x0", "y0", "z0"};
    const char* hi[3] = {"x1", "y1", "z1"};
    for (std::size_t axis = 0; axis < 3; ++axis) {
        for (const auto* f: g.faces_named(lo[axis])) {
            net[f->voxel * 3 + axis] -= f->area;
        }
        for (const auto* f: g.faces_named(hi[axis])) {
            net[f->voxel * 3 + axis] += f->area;
        }
    }
    for (double v: net) {
        EXPECT_NEAR(v, 0.0, 1e-12);
    }
}

TEST(grid, volumes_and_surfaces_match_the_shapes) {
    for (const double finest: {0.0, 0.01}) {
        SCOPED_TRACE(::testing::Message() << "finest = " << finest);
        const grid c = build_grid(cable(10, 2, 50, finest));
        EXPECT_EQ(c.dimensions, 1U);
        EXPECT_EQ(c.size(), 50U);
        EXPECT_EQ(c.faces.size(), 49U);
        expect_rel(c.total_volume(), pi * 10, 1e-12, "cable volume");
        expect_rel(area_of(c, "lateral"), pi * 2 * 10, 1e-12, "cable lateral");
        expect_rel(area_of(c, "left"), pi, 1e-12, "cable left");
        expect_rel(area_of(c, "right"), pi, 1e-12, "cable right");
        EXPECT_EQ(c.membrane_face, "lateral");

        const grid s = build_grid(shells(0, 5, 1, 40, finest));
        expect_rel(s.total_volume(), 4.0 / 3.0 * pi * 125, 1e-12, "sphere volume");
        expect_rel(area_of(s, "outer"), 4 * pi * 25, 1e-12, "sphere surface");
        ASSERT_EQ(s.faces_named("inner").size(), 1U);
        EXPECT_EQ(s.faces_named("inner")[0]->area, 0.0);
        EXPECT_EQ(s.membrane_face, "outer");

        const grid h = build_grid(shells(2, 5, 0.5, 30, finest));
        expect_rel(h.total_volume(), 0.5 * 4.0 / 3.0 * pi * (125 - 8), 1e-12, "hemispherical shell volume");
        expect_rel(area_of(h, "outer"), 0.5 * 4 * pi * 25, 1e-12, "hemisphere outer");
        expect_rel(area_of(h, "inner"), 0.5 * 4 * pi * 4, 1e-12, "hemisphere inner");

        const grid a = build_grid(disc(5, 3, 20, 15, finest, finest));
        EXPECT_EQ(a.dimensions, 2U);
        EXPECT_EQ(a.size(), 300U);
        EXPECT_EQ(a.faces.size(), 19U * 15 + 20U * 14);
        expect_rel(a.total_volume(), pi * 25 * 3, 1e-12, "r-z cylinder volume");
        expect_rel(area_of(a, "top"), pi * 25, 1e-12, "top");
        expect_rel(area_of(a, "bottom"), pi * 25, 1e-12, "bottom");
        expect_rel(area_of(a, "side"), 2 * pi * 5 * 3, 1e-12, "side");
        EXPECT_EQ(a.membrane_face, "top");

        const grid b = build_grid(box({2, 3, 4}, {6, 7, 8}, {finest, finest, finest}));
        EXPECT_EQ(b.dimensions, 3U);
        EXPECT_EQ(b.faces.size(), 5U * 7 * 8 + 6U * 6 * 8 + 6U * 7 * 7);
        expect_rel(b.total_volume(), 24, 1e-12, "box volume");
        expect_rel(area_of(b, "x0"), 12, 1e-12, "x0");
        expect_rel(area_of(b, "x1"), 12, 1e-12, "x1");
        expect_rel(area_of(b, "y0"), 8, 1e-12, "y0");
        expect_rel(area_of(b, "y1"), 8, 1e-12, "y1");
        expect_rel(area_of(b, "z0"), 6, 1e-12, "z0");
        expect_rel(area_of(b, "z1"), 6, 1e-12, "z1");
        EXPECT_EQ(b.membrane_face, "z0");
        expect_box_faces_closed(b);
    }
}

TEST(grid, graded_spacing_grows_geometrically_and_fills_the_length) {
    for (const std::size_t n: {2U, 10U, 200U}) {
        SCOPED_TRACE(::testing::Message() << n << " voxels");
        const double finest = 0.2 / static_cast<double>(n);
        const grid g = build_grid(shells(1, 3, 1, n, finest));
        const auto& e = g.edges[0];
        ASSERT_EQ(e.size(), n + 1);
        EXPECT_EQ(e.front(), 1.0);
        EXPECT_EQ(e.back(), 3.0);
        EXPECT_NEAR(e[1] - e[0], finest, 1e-12 * finest);
        const double q = (e[2] - e[1]) / (e[1] - e[0]);
        EXPECT_GT(q, 1.0);
        for (std::size_t j = 1; j + 1 < n; ++j) {
            EXPECT_NEAR((e[j + 1] - e[j]) / (e[j] - e[j - 1]), q, 1e-9) << j;
        }
        for (std::size_t j = 0; j < n; ++j) {
            EXPECT_EQ(g.centres[0][j], 0.5 * (e[j] + e[j + 1]));
        }
    }
    // finest * n == length is the uniform grid.
    const grid u = build_grid(cable(1, 1, 10, 0.1));
    for (std::size_t j = 0; j < 10; ++j) {
        EXPECT_NEAR(u.edges[0][j + 1] - u.edges[0][j], 0.1, 1e-15);
    }
}

TEST(grid, linear_profile_carries_the_same_flux_through_every_face) {
    // c = x on a graded cable: area / distance * (c_a - c_b) = -pi d^2/4 for every internal face.
    const grid g = build_grid(cable(20, 0.5, 64, 0.05));
    const double section = pi * 0.25 / 4;
    ASSERT_EQ(g.faces.size(), 63U);
    for (const auto& f: g.faces) {
        EXPECT_EQ(f.b, f.a + 1);
        const double flux = f.area / f.distance * (g.centre(f.a)[0] - g.centre(f.b)[0]);
        EXPECT_NEAR(flux, -section, 1e-12 * section);
    }
    // The boundary distances reach from the end centres to the ends.
    EXPECT_NEAR(g.faces_named("left")[0]->distance, g.centres[0].front(), 1e-15);
    EXPECT_NEAR(g.faces_named("right")[0]->distance, 20 - g.centres[0].back(), 1e-12);
    EXPECT_EQ(g.faces_named("lateral").size(), 64U);
    EXPECT_EQ(g.faces_named("lateral")[3]->distance, 0.5 / 4);
}

TEST(grid, locate_finds_centres_and_clamps_outside_points) {
    const grid b = build_grid(box({2, 3, 4}, {4, 5, 6}, {0.1, 0, 0.2}));
    for (std::size_t v = 0; v < b.size(); ++v) {
        EXPECT_EQ(b.locate(b.centre(v)), v);
    }
    EXPECT_EQ(b.locate({-1, -1, -1}), 0U);
    EXPECT_EQ(b.locate({9, 9, 9}), b.size() - 1);
    const std::size_t k = b.locate({0, 0, 2}) / 20;  // the layer holding z = 2
    EXPECT_LE(b.edges[2][k], 2.0);
    EXPECT_GT(b.edges[2][k + 1], 2.0);
    EXPECT_EQ(b.locate({9, -1, 2}), 3 + 20 * k);

    const grid a = build_grid(disc(5, 3, 10, 6));
    for (std::size_t v = 0; v < a.size(); ++v) {
        EXPECT_EQ(a.locate(a.centre(v)), v);
    }
    EXPECT_EQ(a.locate({100, -5, 0}), 9U);
    EXPECT_EQ(a.centre(9)[2], 0.0);

    const grid s = build_grid(shells(1, 2, 1, 8));
    EXPECT_EQ(s.locate({0.5, 0, 0}), 0U);
    EXPECT_EQ(s.locate({1.99, 0, 0}), 7U);
    EXPECT_EQ(s.locate({7, 0, 0}), 7U);
    EXPECT_EQ(s.shape[1], 1U);
    EXPECT_EQ(s.edges[1].size(), 2U);
    EXPECT_EQ(s.centres[2].size(), 1U);
}

TEST(grid, face_names_and_membrane_choice) {
    EXPECT_EQ(face_names(geometry_spec::kind::cable), (std::vector<std::string>{"left", "right", "lateral"}));
    EXPECT_EQ(face_names(geometry_spec::kind::shells), (std::vector<std::string>{"inner", "outer"}));
    EXPECT_EQ(face_names(geometry_spec::kind::axisymmetric), (std::vector<std::string>{"top", "bottom", "side"}));
    EXPECT_EQ(face_names(geometry_spec::kind::box).size(), 6U);
    EXPECT_TRUE(face_names(geometry_spec::kind::none).empty());
    geometry_spec g = disc(5, 3, 4, 4);
    g.membrane_face = "side";
    g.clamped_faces = {"bottom"};
    EXPECT_EQ(build_grid(g).membrane_face, "side");
}

// The keys of the problems a geometry is rejected with (empty if it builds).
std::vector<std::string> rejected(const geometry_spec& g) {
    try {
        build_grid(g);
    }
    catch (const model_error& e) {
        std::vector<std::string> keys;
        for (const auto& p: e.problems()) {
            EXPECT_EQ(p.where.line, 7) << p.key;
            EXPECT_FALSE(p.message.empty());
            keys.push_back(p.key);
        }
        return keys;
    }
    return {};
}

TEST(grid, invalid_geometries_are_model_errors) {
    using keys = std::vector<std::string>;
    auto at = [](geometry_spec g) {
        g.where.line = 7;
        return g;
    };
    EXPECT_EQ(rejected(at(geometry_spec{})), keys{"geometry.type"});
    EXPECT_EQ(rejected(at(cable(0, 1, 10))), keys{"geometry.length"});
    EXPECT_EQ(rejected(at(cable(1, -1, 10))), keys{"geometry.diameter"});
    EXPECT_EQ(rejected(at(cable(1, 1, 0))), keys{"geometry.voxels"});
    EXPECT_EQ(rejected(at(cable(1, 1, 10, 0.2))), keys{"geometry.finest"});
    EXPECT_EQ(rejected(at(cable(1, 1, 10, -0.01))), keys{"geometry.finest"});
    EXPECT_EQ(rejected(at(shells(3, 2, 1, 4))), keys{"geometry.inner_radius"});
    EXPECT_EQ(rejected(at(shells(0, 2, 0, 4))), keys{"geometry.solid_fraction"});
    EXPECT_EQ(rejected(at(shells(0, 2, 1.5, 4))), keys{"geometry.solid_fraction"});
    EXPECT_EQ(rejected(at(disc(0, 1, 4, 4))), keys{"geometry.radius"});
    EXPECT_EQ(rejected(at(disc(1, 1, 4, 0))), keys{"geometry.voxels"});
    EXPECT_EQ(rejected(at(box({1, 0, 1}, {2, 2, 2}))), keys{"geometry.size"});
    EXPECT_EQ(rejected(at(box({1, 1, 1}, {2, 2, 2}, {0, 0, 0.6}))), keys{"geometry.finest"});

    geometry_spec g = at(cable(1, 1, 10));
    g.membrane_face = "outer";
    EXPECT_EQ(rejected(g), keys{"geometry.membrane_face"});
    g.membrane_face.clear();
    g.clamped_faces = {"right", "top", "lateral"};
    EXPECT_EQ(rejected(g), (keys{"geometry.clamped_faces", "geometry.clamped_faces"}));

    try {
        build_grid(cable(1, 1, 10, 0.2));
        FAIL() << "no model_error";
    }
    catch (const model_error& e) {
        EXPECT_NE(std::string(e.what()).find("finest spacing 0.2 um x 10 voxels exceeds the cable length 1 um"),
                  std::string::npos)
            << e.what();
    }
}

TEST(grid, a_million_voxels_build_quickly) {
    const auto start = std::chrono::steady_clock::now();
    const grid g = build_grid(box({10, 10, 10}, {100, 100, 100}, {0.05, 0, 0}));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(g.size(), 1000000U);
    EXPECT_EQ(g.faces.size(), 3U * 99 * 100 * 100);
    EXPECT_EQ(g.boundary.size(), 6U * 100 * 100);
    expect_rel(g.total_volume(), 1000, 1e-12, "volume");
    EXPECT_LT(seconds, 2.0);  // well under a second in RelWithDebInfo; generous for loaded machines
}

} // namespace
} // namespace cadyn
