#pragma once
// grid: a geometry_spec (cadyn/model.hpp) cut into voxels for finite volumes.
//
// Every voxel has a volume and a centre; every pair of voxels that share a face has that face's area and the
// distance between their centres, so the diffusive flux from a to b is D * area / distance * (c_a - c_b) (in
// uM um^3/ms): conservative by construction, whatever the grid's spacing. Boundary faces (the membrane, a
// clamped far boundary) know their voxel, area, the distance from the voxel's centre to the face, and their
// name. Voxel indices run fastest along axis 0 (index = i0 + n0 * (i1 + n1 * i2)).
//
// Coordinates are each geometry's own axes [um]: cable x; shells r; axisymmetric (r, z); box (x, y, z).

#include <array>
#include <cstddef>
#include <string>
#include <vector>

#include <cadyn/model.hpp>

namespace cadyn {

struct grid {
    struct face {
        std::size_t a = 0;
        std::size_t b = 0;
        double area = 0;      // [um^2]
        double distance = 0;  // [um] between the centres of a and b
    };
    struct boundary_face {
        std::size_t voxel = 0;
        double area = 0;      // [um^2]
        double distance = 0;  // [um] from the voxel's centre to the face
        std::string name;     // "outer", "top", "left", "z0", or "lateral" for a cable's side
    };

    std::array<std::size_t, 3> shape{1, 1, 1};   // voxels along each axis
    std::size_t dimensions = 1;                  // axes in use (1, 2 or 3)
    std::array<std::vector<double>, 3> edges;    // cell edges along each axis [um], shape[k] + 1 of them
    std::array<std::vector<double>, 3> centres;  // cell centres along each axis [um], shape[k] of them
    std::vector<double> volume;                  // [um^3] per voxel
    std::vector<face> faces;                     // between voxels, each pair once
    std::vector<boundary_face> boundary;         // every boundary face of the domain, named
    std::string membrane_face;                   // the face name the membrane sits on (resolved default)

    std::size_t size() const { return volume.size(); }
    double total_volume() const;
    // The boundary faces called `name`, in voxel order.
    std::vector<const boundary_face*> faces_named(const std::string& name) const;
    // The voxel containing `point` (the nearest one when the point lies outside).
    std::size_t locate(const std::array<double, 3>& point) const;
    // The coordinates of a voxel's centre.
    std::array<double, 3> centre(std::size_t voxel) const;
};

// Cut a geometry into voxels. Throws model_error (pointing at geometry.where) for a geometry that cannot be
// built: non-positive sizes, zero voxels, a finest spacing that cannot fill the length with the voxels given
// (finest * voxels > length), an unknown face name in membrane_face or clamped_faces.
grid build_grid(const geometry_spec& geometry);

// Exact measures of the continuous geometry (a grid's voxels and faces add up to them): its volume [um^3] and
// the area [um^2] of one of its named faces (0 for an unknown name). In src/model/geometry_measure.cpp.
double geometry_volume(const geometry_spec& geometry);
double geometry_face_area(const geometry_spec& geometry, const std::string& face);
// "cable", "shells", "axisymmetric", "box" ("none" for a point model).
std::string geometry_name(geometry_spec::kind kind);

// The names of the boundary faces of a geometry kind, and the default membrane face.
std::vector<std::string> face_names(geometry_spec::kind kind);
std::string default_membrane_face(geometry_spec::kind kind);

} // namespace cadyn
