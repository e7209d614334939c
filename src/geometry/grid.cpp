// build_grid: a geometry_spec cut into finite-volume voxels (see cadyn/geometry.hpp).
//
// Axes and their coordinates [um]:
//   cable         axis 0: x in [0, length]                       (axes 1, 2 unused)
//   shells        axis 0: r in [inner_radius, outer_radius]      (axes 1, 2 unused)
//   axisymmetric  axis 0: r in [0, radius], axis 1: z in [0, depth]  (axis 2 unused)
//   box           axes 0, 1, 2: x, y, z in [0, size[k]]         (always 3 axes, even with one voxel along one)
// An unused axis has shape 1, edges {0, 0} and centres {0}; locate() ignores it (everything clamps to cell 0)
// and centre() reports 0 for it.
//
// Spacing along an axis is uniform, or, when finest[k] > 0, graded from the axis' lower end: h_j = finest q^j,
// j = 0..n-1, with the growth q >= 1 solved so that the spacings fill the axis exactly (the last edge is set to
// the upper end). Centres are the arithmetic midpoints of their cells, also for r.
//
// Volumes and areas are exact for the discretised shapes: a voxel's faces close it, and the volumes add up to the
// volume of the whole shape (to rounding).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <cadyn/error.hpp>
#include <cadyn/geometry.hpp>

namespace cadyn {

namespace {

using kind = geometry_spec::kind;

constexpr double pi = std::numbers::pi;

// More voxels than this is a typo, not a model (and keeps the voxel count far from overflow).
constexpr double max_voxels = 1e9;

// One axis to cut: [lo, hi] into n cells, finest spacing `finest` (0: uniform).
struct axis_plan {
    double lo = 0;
    double hi = 0;
    std::size_t n = 1;
    double finest = 0;
    std::string what;  // "the length", for messages
};

// (q^m - 1) / (q - 1) with q = 1 + g: the sum of q^j for j < m, accurate for small g.
double geometric_sum(double g, double m) {
    if (g == 0) {
        return m;
    }
    return std::expm1(m * std::log1p(g)) / g;
}

// The growth g = q - 1 >= 0 at which n spacings finest * q^j fill `length`; requires finest * n < length.
double solve_growth(double finest, std::size_t n, double length) {
    const auto m = static_cast<double>(n);
    const double target = length / finest;  // > m
    double lo = 0;
    // q^(n-1) <= sum = target, so q <= target^(1/(n-1)); widen in case rounding left the bound short.
    double hi = std::pow(target, 1.0 / (m - 1)) - 1;
    hi = std::max(hi, std::numeric_limits<double>::min());
    for (int k = 0; k < 2100 && !(geometric_sum(hi, m) >= target); ++k) {
        hi *= 2;
    }
    // Bisection down to adjacent doubles: far below the 1e-14 needed, and cheap (the sum is closed form).
    for (int k = 0; k < 2100; ++k) {
        const double mid = lo + (hi - lo) / 2;
        if (mid <= lo || mid >= hi) {
            break;
        }
        if (geometric_sum(mid, m) < target) {
            lo = mid;
        }
        else {
            hi = mid;
        }
    }
    const double slo = geometric_sum(lo, m);
    const double shi = geometric_sum(hi, m);
    return (target - slo <= shi - target) ? lo : hi;
}

// Edges and centres of one axis (the plan has been checked).
void cut_axis(const axis_plan& p, std::vector<double>& edges, std::vector<double>& centres) {
    const std::size_t n = p.n;
    const double length = p.hi - p.lo;
    edges.resize(n + 1);
    const bool graded = p.finest > 0 && n > 1 && p.finest * static_cast<double>(n) < length * (1 - 1e-12);
    if (graded) {
        const double g = solve_growth(p.finest, n, length);
        for (std::size_t j = 0; j < n; ++j) {
            edges[j] = p.lo + p.finest * geometric_sum(g, static_cast<double>(j));
        }
    }
    else {
        for (std::size_t j = 0; j < n; ++j) {
            edges[j] = p.lo + length * static_cast<double>(j) / static_cast<double>(n);
        }
    }
    edges[0] = p.lo;
    edges[n] = p.hi;
    centres.resize(n);
    for (std::size_t j = 0; j < n; ++j) {
        centres[j] = 0.5 * (edges[j] + edges[j + 1]);
    }
}

// A named boundary: the cells at the low or high end of an axis.
struct named_side {
    const char* name;
    int axis;
    bool high;
};

// The planar/curved sides of each kind, in face_names order (the cable's "lateral" is added separately).
std::vector<named_side> sides_of(kind k) {
    switch (k) {
    case kind::cable:
        return {{"left", 0, false}, {"right", 0, true}};
    case kind::shells:
        return {{"inner", 0, false}, {"outer", 0, true}};
    case kind::axisymmetric:
        return {{"top", 1, false}, {"bottom", 1, true}, {"side", 0, true}};
    case kind::box:
        return {{"x0", 0, false}, {"x1", 0, true}, {"y0", 1, false}, {"y1", 1, true}, {"z0", 2, false}, {"z1", 2, true}};
    case kind::none:
        break;
    }
    return {};
}

// Volumes of cells and areas of the faces between them, per geometry kind.
struct measure {
    kind type = kind::none;
    double section = 0;   // cable: pi d^2 / 4
    double fraction = 1;  // shells: solid fraction
    const std::array<std::vector<double>, 3>* e = nullptr;

    double width(int axis, std::size_t i) const {
        const auto& ed = (*e)[static_cast<std::size_t>(axis)];
        return ed[i + 1] - ed[i];
    }
    // r2^2 - r1^2 and r2^3 - r1^3 of cell i along axis 0, factored to keep thin cells accurate.
    double square_difference(std::size_t i) const {
        const double r1 = (*e)[0][i];
        const double r2 = (*e)[0][i + 1];
        return (r2 - r1) * (r2 + r1);
    }
    double cube_difference(std::size_t i) const {
        const double r1 = (*e)[0][i];
        const double r2 = (*e)[0][i + 1];
        return (r2 - r1) * (r2 * r2 + r2 * r1 + r1 * r1);
    }

    double volume(std::size_t i0, std::size_t i1, std::size_t i2) const {
        switch (type) {
        case kind::cable:
            return section * width(0, i0);
        case kind::shells:
            return fraction * 4.0 / 3.0 * pi * cube_difference(i0);
        case kind::axisymmetric:
            return pi * square_difference(i0) * width(1, i1);
        case kind::box:
            return width(0, i0) * width(1, i1) * width(2, i2);
        case kind::none:
            break;
        }
        return 0;
    }

    // The area of the face normal to `axis` at edge m of that axis, for cells i0, i1, i2 of the other axes.
    double area(int axis, std::size_t m, std::size_t i0, std::size_t i1, std::size_t i2) const {
        switch (type) {
        case kind::cable:
            return section;
        case kind::shells: {
            const double r = (*e)[0][m];
            return fraction * 4 * pi * r * r;
        }
        case kind::axisymmetric:
            if (axis == 0) {
                return 2 * pi * (*e)[0][m] * width(1, i1);
            }
            return pi * square_difference(i0);
        case kind::box:
            if (axis == 0) {
                return width(1, i1) * width(2, i2);
            }
            if (axis == 1) {
                return width(0, i0) * width(2, i2);
            }
            return width(0, i0) * width(1, i1);
        case kind::none:
            break;
        }
        return 0;
    }
};

std::string join_names(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n: names) {
        if (!out.empty()) {
            out += ", ";
        }
        out += "'" + n + "'";
    }
    return out;
}

} // namespace

std::vector<std::string> face_names(geometry_spec::kind k) {
    std::vector<std::string> names;
    for (const named_side& s: sides_of(k)) {
        names.emplace_back(s.name);
    }
    if (k == kind::cable) {
        names.emplace_back("lateral");
    }
    return names;
}

std::string default_membrane_face(geometry_spec::kind k) {
    switch (k) {
    case kind::cable:
        return "lateral";
    case kind::shells:
        return "outer";
    case kind::axisymmetric:
        return "top";
    case kind::box:
        return "z0";
    case kind::none:
        break;
    }
    return {};
}

grid build_grid(const geometry_spec& geometry) {
    std::vector<diagnostic> problems;
    auto report = [&](const std::string& key, std::string message) {
        problems.push_back(diagnostic{geometry.where, key, std::move(message)});
    };
    // A size that must be positive and finite; returns whether it is.
    auto positive = [&](double value, const std::string& key, const char* what) {
        if (value > 0 && std::isfinite(value)) {
            return true;
        }
        report(key, fmt::format("the {} must be a positive length, got {:g} um", what, value));
        return false;
    };

    const kind k = geometry.type;
    std::array<axis_plan, 3> plans;
    std::size_t dimensions = 1;
    bool sizes_ok = true;
    switch (k) {
    case kind::none:
        report("geometry.type", "no geometry to cut into voxels: expected cable, shells, axisymmetric or box");
        throw model_error(std::move(problems));
    case kind::cable: {
        sizes_ok = positive(geometry.length, "geometry.length", "cable length");
        sizes_ok = positive(geometry.diameter, "geometry.diameter", "cable diameter") && sizes_ok;
        plans[0] = {0, geometry.length, geometry.voxels[0], geometry.finest[0], "cable length"};
        break;
    }
    case kind::shells: {
        sizes_ok = positive(geometry.outer_radius, "geometry.outer_radius", "outer radius");
        const double r0 = geometry.inner_radius;
        if (!(r0 >= 0 && std::isfinite(r0))) {
            report("geometry.inner_radius", fmt::format("the inner radius must be 0 or positive, got {:g} um", r0));
            sizes_ok = false;
        }
        else if (sizes_ok && !(r0 < geometry.outer_radius)) {
            report("geometry.inner_radius", fmt::format("the inner radius {:g} um must be less than the outer "
                                                        "radius {:g} um",
                                                        r0, geometry.outer_radius));
            sizes_ok = false;
        }
        const double f = geometry.solid_fraction;
        if (!(f > 0 && f <= 1)) {
            report("geometry.solid_fraction",
                   fmt::format("the solid fraction must be in (0, 1] (1: the whole sphere), got {:g}", f));
        }
        plans[0] = {r0, geometry.outer_radius, geometry.voxels[0], geometry.finest[0],
                    "shell thickness (outer minus inner radius)"};
        break;
    }
    case kind::axisymmetric: {
        sizes_ok = positive(geometry.radius, "geometry.radius", "radius");
        sizes_ok = positive(geometry.depth, "geometry.depth", "depth") && sizes_ok;
        plans[0] = {0, geometry.radius, geometry.voxels[0], geometry.finest[0], "radius"};
        plans[1] = {0, geometry.depth, geometry.voxels[1], geometry.finest[1], "depth"};
        dimensions = 2;
        break;
    }
    case kind::box: {
        static const char* const axis_names[3] = {"box size along x", "box size along y", "box size along z"};
        for (std::size_t a = 0; a < 3; ++a) {
            sizes_ok = positive(geometry.size[a], "geometry.size", axis_names[a]) && sizes_ok;
            plans[a] = {0, geometry.size[a], geometry.voxels[a], geometry.finest[a], axis_names[a]};
        }
        dimensions = 3;
        break;
    }
    }

    static const char* const axis_label[3] = {"axis 0", "axis 1", "axis 2"};
    double total = 1;
    bool voxels_ok = true;
    for (std::size_t a = 0; a < dimensions; ++a) {
        const axis_plan& p = plans[a];
        if (p.n == 0) {
            report("geometry.voxels", fmt::format("expected at least 1 voxel along {} (the {}), got 0",
                                                  axis_label[a], p.what));
            voxels_ok = false;
        }
        total *= static_cast<double>(p.n);
        if (!(p.finest >= 0 && std::isfinite(p.finest))) {
            report("geometry.finest", fmt::format("the finest spacing along {} must be 0 (uniform) or a positive "
                                                  "length, got {:g} um",
                                                  axis_label[a], p.finest));
        }
        else if (sizes_ok && p.n > 0 && p.finest > 0) {
            const double length = p.hi - p.lo;
            if (p.finest * static_cast<double>(p.n) > length * (1 + 1e-12)) {
                report("geometry.finest",
                       fmt::format("finest spacing {:g} um x {} voxels exceeds the {} {:g} um: expected at most "
                                   "{:g} um (equal spacing) or fewer voxels",
                                   p.finest, p.n, p.what, length, length / static_cast<double>(p.n)));
            }
        }
    }
    if (voxels_ok && total > max_voxels) {
        report("geometry.voxels", fmt::format("{:g} voxels in all is more than cadyn handles (at most {:g})", total,
                                              max_voxels));
    }

    const std::vector<std::string> names = face_names(k);
    const std::string membrane = geometry.membrane_face.empty() ? default_membrane_face(k) : geometry.membrane_face;
    const bool membrane_known = std::find(names.begin(), names.end(), membrane) != names.end();
    if (!membrane_known) {
        report("geometry.membrane_face", fmt::format("unknown face '{}' for a {} geometry: expected one of {}",
                                                     membrane, geometry_name(k), join_names(names)));
    }
    for (const std::string& c: geometry.clamped_faces) {
        if (std::find(names.begin(), names.end(), c) == names.end()) {
            report("geometry.clamped_faces", fmt::format("unknown face '{}' for a {} geometry: expected one of {}", c,
                                                         geometry_name(k), join_names(names)));
        }
        else if (membrane_known && c == membrane) {
            report("geometry.clamped_faces",
                   fmt::format("the face '{}' carries the membrane and cannot also be clamped", c));
        }
    }
    if (!problems.empty()) {
        throw model_error(std::move(problems));
    }

    grid g;
    g.dimensions = dimensions;
    g.membrane_face = membrane;
    for (std::size_t a = 0; a < 3; ++a) {
        if (a < dimensions) {
            g.shape[a] = plans[a].n;
            cut_axis(plans[a], g.edges[a], g.centres[a]);
        }
        else {
            g.shape[a] = 1;
            g.edges[a] = {0, 0};
            g.centres[a] = {0};
        }
    }

    measure m;
    m.type = k;
    m.section = pi * geometry.diameter * geometry.diameter / 4;
    m.fraction = geometry.solid_fraction;
    m.e = &g.edges;

    const std::size_t n0 = g.shape[0];
    const std::size_t n1 = g.shape[1];
    const std::size_t n2 = g.shape[2];
    const std::size_t count = n0 * n1 * n2;
    const std::array<std::size_t, 3> stride{1, n0, n0 * n1};

    // Volumes, and the faces towards each voxel's upper neighbours (so the faces come sorted by a, then b).
    g.volume.resize(count);
    std::size_t face_count = 0;
    for (std::size_t a = 0; a < dimensions; ++a) {
        face_count += (g.shape[a] - 1) * (count / g.shape[a]);
    }
    g.faces.reserve(face_count);
    for (std::size_t i2 = 0; i2 < n2; ++i2) {
        for (std::size_t i1 = 0; i1 < n1; ++i1) {
            for (std::size_t i0 = 0; i0 < n0; ++i0) {
                const std::size_t v = i0 + n0 * (i1 + n1 * i2);
                g.volume[v] = m.volume(i0, i1, i2);
                const std::array<std::size_t, 3> idx{i0, i1, i2};
                for (std::size_t a = 0; a < dimensions; ++a) {
                    const std::size_t i = idx[a];
                    if (i + 1 < g.shape[a]) {
                        const double area = m.area(static_cast<int>(a), i + 1, i0, i1, i2);
                        const double distance = g.centres[a][i + 1] - g.centres[a][i];
                        g.faces.push_back(grid::face{v, v + stride[a], area, distance});
                    }
                }
            }
        }
    }

    // Boundary faces, grouped by name in face_names order, each group in voxel order.
    const std::vector<named_side> sides = sides_of(k);
    std::size_t boundary_count = (k == kind::cable) ? count : 0;
    for (const named_side& s: sides) {
        boundary_count += count / g.shape[static_cast<std::size_t>(s.axis)];
    }
    g.boundary.reserve(boundary_count);
    for (const named_side& s: sides) {
        const auto a = static_cast<std::size_t>(s.axis);
        const std::size_t fixed = s.high ? g.shape[a] - 1 : 0;
        const std::size_t edge = s.high ? g.shape[a] : 0;
        std::array<std::size_t, 3> from{0, 0, 0};
        std::array<std::size_t, 3> to{n0, n1, n2};
        from[a] = fixed;
        to[a] = fixed + 1;
        const std::string name = s.name;
        const double distance = std::abs(g.centres[a][fixed] - g.edges[a][edge]);
        for (std::size_t i2 = from[2]; i2 < to[2]; ++i2) {
            for (std::size_t i1 = from[1]; i1 < to[1]; ++i1) {
                for (std::size_t i0 = from[0]; i0 < to[0]; ++i0) {
                    const std::size_t v = i0 + n0 * (i1 + n1 * i2);
                    g.boundary.push_back(grid::boundary_face{v, m.area(s.axis, edge, i0, i1, i2), distance, name});
                }
            }
        }
    }
    if (k == kind::cable) {
        // The side of the cylinder; the distance is the radial half-distance d / 4 (informative only).
        const std::string name = "lateral";
        const double perimeter = pi * geometry.diameter;
        for (std::size_t v = 0; v < count; ++v) {
            g.boundary.push_back(grid::boundary_face{v, perimeter * m.width(0, v), geometry.diameter / 4, name});
        }
    }
    return g;
}

double grid::total_volume() const {
    // Neumaier summation: a million small voxels still add up to the shape's volume.
    double sum = 0;
    double carry = 0;
    for (const double v: volume) {
        const double t = sum + v;
        carry += (std::abs(sum) >= std::abs(v)) ? (sum - t) + v : (v - t) + sum;
        sum = t;
    }
    return sum + carry;
}

std::vector<const grid::boundary_face*> grid::faces_named(const std::string& name) const {
    std::vector<const boundary_face*> out;
    for (const boundary_face& f: boundary) {
        if (f.name == name) {
            out.push_back(&f);
        }
    }
    return out;
}

std::size_t grid::locate(const std::array<double, 3>& point) const {
    std::array<std::size_t, 3> idx{0, 0, 0};
    for (std::size_t a = 0; a < dimensions && a < 3; ++a) {
        const std::vector<double>& e = edges[a];
        if (shape[a] <= 1 || e.size() < 2) {
            continue;
        }
        // The last edge not above the point: cell j holds [e_j, e_{j+1}); the upper end belongs to the last cell.
        const auto it = std::upper_bound(e.begin(), e.end(), point[a]);
        const auto j = static_cast<std::ptrdiff_t>(it - e.begin()) - 1;
        idx[a] = static_cast<std::size_t>(std::clamp<std::ptrdiff_t>(j, 0, static_cast<std::ptrdiff_t>(shape[a]) - 1));
    }
    return idx[0] + shape[0] * (idx[1] + shape[1] * idx[2]);
}

std::array<double, 3> grid::centre(std::size_t voxel) const {
    if (voxel >= size()) {
        throw internal_error(fmt::format("grid::centre: voxel {} of {}", voxel, size()));
    }
    const std::size_t i0 = voxel % shape[0];
    const std::size_t i1 = (voxel / shape[0]) % shape[1];
    const std::size_t i2 = voxel / (shape[0] * shape[1]);
    return {centres[0][i0], centres[1][i1], centres[2][i2]};
}

} // namespace cadyn
