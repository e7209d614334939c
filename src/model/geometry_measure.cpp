// Exact volumes and face areas of the continuous geometries (cadyn/geometry.hpp).
#include <cmath>
#include <numbers>

#include <cadyn/geometry.hpp>

namespace cadyn {

double geometry_volume(const geometry_spec& g) {
    constexpr double pi = std::numbers::pi;
    switch (g.type) {
    case geometry_spec::kind::none: return 0;
    case geometry_spec::kind::cable: return pi * g.diameter * g.diameter / 4 * g.length;
    case geometry_spec::kind::shells:
        return g.solid_fraction * 4.0 / 3.0 * pi * (std::pow(g.outer_radius, 3) - std::pow(g.inner_radius, 3));
    case geometry_spec::kind::axisymmetric: return pi * g.radius * g.radius * g.depth;
    case geometry_spec::kind::box: return g.size[0] * g.size[1] * g.size[2];
    }
    return 0;
}

double geometry_face_area(const geometry_spec& g, const std::string& face) {
    constexpr double pi = std::numbers::pi;
    switch (g.type) {
    case geometry_spec::kind::none: return 0;
    case geometry_spec::kind::cable:
        if (face == "lateral") {
            return pi * g.diameter * g.length;
        }
        return face == "left" || face == "right" ? pi * g.diameter * g.diameter / 4 : 0;
    case geometry_spec::kind::shells:
        if (face == "inner") {
            return g.solid_fraction * 4 * pi * g.inner_radius * g.inner_radius;
        }
        return face == "outer" ? g.solid_fraction * 4 * pi * g.outer_radius * g.outer_radius : 0;
    case geometry_spec::kind::axisymmetric:
        if (face == "top" || face == "bottom") {
            return pi * g.radius * g.radius;
        }
        return face == "side" ? 2 * pi * g.radius * g.depth : 0;
    case geometry_spec::kind::box: {
        const auto& s = g.size;
        if (face == "x0" || face == "x1") {
            return s[1] * s[2];
        }
        if (face == "y0" || face == "y1") {
            return s[0] * s[2];
        }
        return face == "z0" || face == "z1" ? s[0] * s[1] : 0;
    }
    }
    return 0;
}

std::string geometry_name(geometry_spec::kind kind) {
    switch (kind) {
    case geometry_spec::kind::none: return "none";
    case geometry_spec::kind::cable: return "cable";
    case geometry_spec::kind::shells: return "shells";
    case geometry_spec::kind::axisymmetric: return "axisymmetric";
    case geometry_spec::kind::box: return "box";
    }
    return "none";
}

} // namespace cadyn
