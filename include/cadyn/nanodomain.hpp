#pragma once
// The steady-state Ca nanodomain around one open channel: analytic approximations and the numeric profile.
//
// A channel on a planar membrane lets a Ca current i into the cytosol. Seen from the cytosol it is a point source
// of sigma = i / (2 F) [zmol/ms] on the boundary of a half-space, so at steady state the flux sigma spreads over
// hemispheres of area 2 pi r^2 (not the 4 pi r^2 of a source in free space). Around it, Ca diffuses (D_ca) and
// binds 1:1 to buffers B_j (total B_j, Kd K_j, kon_j, koff_j = kon_j K_j, diffusion D_j; free and bound forms
// diffuse alike, so each total stays uniform). Far away everything rests at the bulk concentration c_inf. The
// steady state solves, for r > 0 (half-space, reflecting membrane):
//
//   D_ca lap c - sum_j R_j = 0,   D_j lap [CaB_j] + R_j = 0,   R_j = kon_j c (B_j - [CaB_j]) - koff_j [CaB_j]
//   -2 pi r^2 D_ca dc/dr -> sigma as r -> 0,   c -> c_inf, [CaB_j] -> B_j c_inf / (K_j + c_inf) as r -> oo
//
// Write A = sigma / (2 pi) [zmol/ms]; in canonical units A / (D r) is a concentration (zmol/um^3 = uM). The
// approximations (docs/nanodomain.md has the derivations):
//
//  - free diffusion (no buffer):  c = c_inf + A / (D_ca r).
//  - excess buffer approximation, EBA (Neher 1986 Exp Brain Res Ser 14:80; Smith, Wagner & Keizer 1996 Biophys J
//    70:2527): the free buffer stays at its bulk value, so R_j = kon_j B_j,free (c - c_inf) and
//      c = c_inf + A / (D_ca r) exp(-r / lambda),   1 / lambda^2 = sum_j kon_j B_j,free / D_ca
//    with B_j,free = B_j K_j / (K_j + c_inf).
//  - linearized buffer approximation, LIN (Naraghi & Neher 1997 J Neurosci 17:6961; Neher 1998 Cell Calcium
//    24:345): the equations linearised around the resting state and solved exactly (see linearize()):
//      c = c_inf + A / (D_ca r) [w_far + sum_m w_m exp(-r / lambda_m)],   w_far + sum_m w_m = 1
//    one length lambda_m per mobile buffer (the eigenvalues of a small matrix; for one buffer
//    1 / lambda^2 = kon B_free / D_ca + kon (c_inf + K) / D_B and w = 1 - w_far), and far away the effective
//    diffusion of the buffered Ca, w_far = D_ca / (D_ca + sum_j kappa_j D_j), kappa_j = B_j K_j / (K_j + c_inf)^2.
//  - rapid buffer approximation, RBA (Wagner & Keizer 1994 Biophys J 67:447; Smith 1996 Biophys J 71:3064):
//    binding in local equilibrium, [CaB_j] = B_j c / (K_j + c); adding the equations, the combination
//      D_ca c + sum_j D_j [CaB_j](c) = D_ca c_inf + sum_j D_j [CaB_j](c_inf) + A / r
//    holds exactly, and is solved for c: the root of a quadratic for one buffer (Smith 1996), a monotone scalar
//    equation for several.
//
// A buffer that does not diffuse (D = 0) binds nothing at steady state (it fills up to equilibrium with the local
// Ca and then neither takes nor gives): every form, the numeric one included, ignores it.
//
// The numeric profile solves the full nonlinear equations on a graded radial grid of half-shells between the
// channel mouth and a clamped outer radius (find_steady_state, KINSOL with KLU), with cadyn's own mechanisms: a
// `channel` on the membrane of the innermost shell, one mobile `buffer` per buffer.
//
// Units: canonical throughout (pA, uM, um, um^2/ms, 1/(uM ms)).

#include <cstddef>
#include <string>
#include <vector>

#include <cadyn/model.hpp>

namespace cadyn::nanodomain {

struct buffer {
    std::string name;
    double total = 0;      // [uM]
    double kd = 1;         // [uM]
    double kon = 0;        // [1/(uM ms)]
    double diffusion = 0;  // [um^2/ms]
};

struct source {
    double current = 0.2;   // [pA] Ca current into the cytosol
    double bulk = 0.1;      // [uM] c_inf, the resting Ca far away
    double d_ca = 0.22;     // [um^2/ms] free Ca diffusion
    std::vector<buffer> buffers;
};

// sigma = i / (2 F) [zmol/ms] for a Ca current i [pA].
double flux(double current);

// A = sigma / (2 pi) [zmol/ms]: c - c_inf = A / (D r) without buffers.
double amplitude(const source& s);

// A buffer in equilibrium with Ca c [uM]: bound B c / (K + c), free B K / (K + c) [uM], and its capacity
// kappa = d[CaB]/dc = B K / (K + c)^2.
struct equilibrium {
    double bound = 0;
    double free = 0;
    double capacity = 0;
};
equilibrium at_rest(const buffer& b, double c);

// The buffers that take part at steady state (diffusion > 0, total > 0, kon > 0).
std::vector<buffer> mobile(const source& s);

// c(r) [uM] at distance r [um] from the channel.
double free_diffusion(const source& s, double r);
// Free diffusion in a half-shell held at c_inf at radius `outer` (what the numeric grid solves without buffers):
// c = c_inf + A / D_ca (1 / r - 1 / outer).
double free_diffusion_clamped(const source& s, double r, double outer);
double excess_buffer(const source& s, double r);
double linearized(const source& s, double r);
double rapid_buffer(const source& s, double r);

// The EBA length lambda [um]: infinite without mobile buffers.
double excess_buffer_length(const source& s);

// The linearised solution's shape: c = c_inf + A / (D_ca r) [far + sum_m weights[m] exp(-r / lengths[m])].
struct linear_solution {
    double far = 1;                 // D_ca / (D_ca + sum_j kappa_j D_j)
    std::vector<double> lengths;    // [um], one per mobile buffer, ascending
    std::vector<double> weights;    // >= 0, far + sum = 1
};
linear_solution linearize(const source& s);

// Every analytic form at once.
struct analytic_point {
    double r = 0;  // [um]
    double free = 0;
    double linearized = 0;
    double excess = 0;
    double rapid = 0;
};
std::vector<analytic_point> analytic_profile(const source& s, const std::vector<double>& r);

// r from `from` to `to` [um], `n` points spaced evenly in log r (for plots).
std::vector<double> log_spaced(double from, double to, std::size_t n);

// The numeric grid: half-shells (solid_fraction 0.5) from the channel mouth to a clamped outer radius, `voxels`
// of them, spacing growing geometrically from `finest` at the mouth.
struct grid_options {
    double mouth = 0.002;   // [um] inner radius: the channel mouth, where the membrane (and the channel) is
    double domain = 5;      // [um] outer radius, held at the bulk concentrations
    std::size_t voxels = 300;
    double finest = 0.0005; // [um]
};

// The spatial model: compartment "cyt" (Ca diffusing), clamped "ext" (2 mM Ca), membrane "pm" on the mouth with
// a "channel" mechanism, one mobile "buffer" mechanism per buffer (named after it), everything at the bulk
// concentration and the buffers in equilibrium with it; run.linear = klu.
model_spec numeric_model(const source& s, const grid_options& g);

struct numeric_profile {
    std::vector<double> r;  // [um] voxel centres
    std::vector<double> c;  // [uM] free Ca in each voxel
    bool converged = false;
    std::string method;     // how find_steady_state got there
    double residual = 0;
    double bulk = 0;        // [uM] c_inf, for interpolation

    // c at distance r [um]: (c - c_inf) r interpolated linearly between the two voxel centres around r (exact
    // for free diffusion in a clamped shell, where (c - c_inf) r is linear in r); the nearest centre outside them.
    double at(double r) const;
};

// Compile numeric_model(s, g) and solve its steady state. Throws cadyn::error when the spatial engine cannot
// compile it, solver_error when the solve fails.
numeric_profile solve_numeric(const source& s, const grid_options& g);

} // namespace cadyn::nanodomain
