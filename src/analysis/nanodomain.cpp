// The steady-state Ca nanodomain around one open channel: the analytic approximations and the numeric profile.
// include/cadyn/nanodomain.hpp states the problem and each approximation; docs/nanodomain.md derives them.
#include <cadyn/nanodomain.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <cadyn/error.hpp>
#include <cadyn/geometry.hpp>
#include <cadyn/simulate.hpp>
#include <cadyn/system.hpp>
#include <cadyn/units.hpp>

namespace cadyn::nanodomain {

namespace {

constexpr double inf = std::numeric_limits<double>::infinity();
constexpr double pi = std::numbers::pi;

// Eigenvalues and orthonormal eigenvectors of a small symmetric matrix (cyclic Jacobi rotations). a is n x n,
// row-major, and is destroyed; on return values[m] is an eigenvalue and column m of vectors (row-major n x n)
// its eigenvector.
void symmetric_eigen(std::vector<double>& a, std::size_t n, std::vector<double>& values, std::vector<double>& vectors) {
    vectors.assign(n * n, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
        vectors[i * n + i] = 1;
    }
    for (int sweep = 0; sweep < 100; ++sweep) {
        double off = 0;
        double scale = 0;
        for (std::size_t i = 0; i < n; ++i) {
            scale += a[i * n + i] * a[i * n + i];
            for (std::size_t j = i + 1; j < n; ++j) {
                off += a[i * n + j] * a[i * n + j];
            }
        }
        if (off <= 1e-30 * scale) {
            break;
        }
        for (std::size_t p = 0; p < n; ++p) {
            for (std::size_t q = p + 1; q < n; ++q) {
                const double apq = a[p * n + q];
                if (apq == 0) {
                    continue;
                }
                // The rotation that zeroes a[p][q] (Golub & Van Loan, Matrix Computations, sec. 8.5).
                const double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
                const double t = (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1));
                const double c = 1 / std::sqrt(t * t + 1);
                const double s = t * c;
                for (std::size_t k = 0; k < n; ++k) {
                    const double akp = a[k * n + p];
                    const double akq = a[k * n + q];
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for (std::size_t k = 0; k < n; ++k) {
                    const double apk = a[p * n + k];
                    const double aqk = a[q * n + k];
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for (std::size_t k = 0; k < n; ++k) {
                    const double vkp = vectors[k * n + p];
                    const double vkq = vectors[k * n + q];
                    vectors[k * n + p] = c * vkp - s * vkq;
                    vectors[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    values.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        values[i] = a[i * n + i];
    }
}

// The positive root c of D_ca c + D_b B c / (K + c) = phi (one buffer), written without cancellation (Smith 1996):
// D_ca c^2 + (D_ca K + D_b B - phi) c - phi K = 0.
double rapid_one(double d_ca, const buffer& b, double phi) {
    const double beta = d_ca * b.kd + b.diffusion * b.total - phi;
    const double root = std::sqrt(beta * beta + 4 * d_ca * phi * b.kd);
    return beta >= 0 ? 2 * phi * b.kd / (beta + root) : (root - beta) / (2 * d_ca);
}

} // namespace

double flux(double current) { return current * constants::zmol_per_ms_per_pA / 2; }

double amplitude(const source& s) { return flux(s.current) / (2 * pi); }

equilibrium at_rest(const buffer& b, double c) {
    equilibrium e;
    e.bound = b.total * c / (b.kd + c);
    e.free = b.total * b.kd / (b.kd + c);
    e.capacity = b.total * b.kd / ((b.kd + c) * (b.kd + c));
    return e;
}

std::vector<buffer> mobile(const source& s) {
    std::vector<buffer> out;
    for (const auto& b: s.buffers) {
        if (b.diffusion > 0 && b.total > 0 && b.kon > 0) {
            out.push_back(b);
        }
    }
    return out;
}

double free_diffusion(const source& s, double r) { return s.bulk + amplitude(s) / (s.d_ca * r); }

double free_diffusion_clamped(const source& s, double r, double outer) {
    return s.bulk + amplitude(s) / s.d_ca * (1 / r - 1 / outer);
}

// EBA: with the free buffer held at B_free = B K / (K + c_inf) and the bound one at its resting value, each
// reaction is R_j = kon_j B_j,free c - koff_j [CaB_j]_inf = kon_j B_j,free (c - c_inf) (koff [CaB]_inf =
// kon B_free c_inf at rest), so u = c - c_inf solves D_ca lap u = sum_j kon_j B_j,free u: the screened Poisson
// equation, u = A exp(-r / lambda) / (D_ca r), 1 / lambda^2 = sum_j kon_j B_j,free / D_ca (Neher 1986; Smith,
// Wagner & Keizer 1996, their EBA for several buffers).
double excess_buffer_length(const source& s) {
    double k2 = 0;
    for (const auto& b: mobile(s)) {
        k2 += b.kon * at_rest(b, s.bulk).free / s.d_ca;
    }
    return k2 > 0 ? 1 / std::sqrt(k2) : inf;
}

double excess_buffer(const source& s, double r) {
    const double lambda = excess_buffer_length(s);
    return s.bulk + amplitude(s) / (s.d_ca * r) * std::exp(-r / lambda);
}

// LIN: linearise around the resting state, u = c - c_inf, v_j = [CaB_j] - [CaB_j]_inf (the free buffer moves by
// -v_j, the total being uniform): R_j = kon_j B_j,free u - kon_j (c_inf + K_j) v_j = D_ca a_j u - D_j d_j v_j with
// a_j = kon_j B_j,free / D_ca and d_j = kon_j (c_inf + K_j) / D_j. Then
//   D_ca lap u = sum_j R_j,   D_j lap v_j = -R_j.
// Their sum w = D_ca u + sum_j D_j v_j is harmonic, w = A / r (all the current enters as free Ca). With
// x_j = D_j v_j and u = (w - sum_k x_k) / D_ca:  lap x - M x = -a w,  M = diag(d) + a 1^T.
// M is similar to the symmetric S = diag(d) + sqrt(a) sqrt(a)^T (M = T S T^-1, T = diag(sqrt(a))), so its
// eigenvalues mu_m^2 are real and positive. The solution regular at r = 0 (no buffer enters through the channel)
// is x = (A / r) sum_m c_m e_m (1 - exp(-mu_m r)) with sum_m c_m e_m = M^-1 a; with e_m = T q_m (q_m the
// orthonormal eigenvectors of S), c_m = (q_m . sqrt(a)) / mu_m^2, and
//   D_ca u r / A = 1 - sum_m w_m (1 - exp(-mu_m r)),   w_m = (q_m . sqrt(a))^2 / mu_m^2.
// By Sherman-Morrison, sum_m w_m = s / (1 + s) with s = sum_j a_j / d_j = sum_j kappa_j D_j / D_ca, so far from
// the source u = A / ((D_ca + sum_j kappa_j D_j) r): Ca moves with the effective diffusion of buffered Ca. For one
// buffer this is the closed form of Naraghi & Neher (1997): u = A / (D_ca r) [(1 - w) + w exp(-r / lambda)],
// 1 / lambda^2 = a + d, w = a / (a + d). D_j -> oo gives the EBA (w -> 1, 1 / lambda^2 -> a).
linear_solution linearize(const source& s) {
    const auto buffers = mobile(s);
    const std::size_t n = buffers.size();
    linear_solution out;
    if (n == 0) {
        return out;
    }
    std::vector<double> root_a(n);
    std::vector<double> sym(n * n, 0.0);
    for (std::size_t j = 0; j < n; ++j) {
        const auto& b = buffers[j];
        const double a = b.kon * at_rest(b, s.bulk).free / s.d_ca;
        const double d = b.kon * (s.bulk + b.kd) / b.diffusion;
        root_a[j] = std::sqrt(a);
        sym[j * n + j] = d;
    }
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
            sym[i * n + j] += root_a[i] * root_a[j];
        }
    }
    std::vector<double> mu2;
    std::vector<double> q;
    symmetric_eigen(sym, n, mu2, q);
    std::vector<std::pair<double, double>> modes;  // (length, weight)
    for (std::size_t m = 0; m < n; ++m) {
        double dot = 0;
        for (std::size_t j = 0; j < n; ++j) {
            dot += q[j * n + m] * root_a[j];
        }
        const double w = dot * dot / mu2[m];
        modes.emplace_back(1 / std::sqrt(mu2[m]), w);
    }
    std::sort(modes.begin(), modes.end());
    for (const auto& [length, weight]: modes) {
        out.lengths.push_back(length);
        out.weights.push_back(weight);
    }
    // The far weight from its closed form (not 1 - total), so that it stays accurate when it is tiny.
    double s_sum = 0;
    for (const auto& b: buffers) {
        s_sum += at_rest(b, s.bulk).capacity * b.diffusion / s.d_ca;
    }
    out.far = 1 / (1 + s_sum);
    return out;
}

double linearized(const source& s, double r) {
    const auto lin = linearize(s);
    double shape = lin.far;
    for (std::size_t m = 0; m < lin.lengths.size(); ++m) {
        shape += lin.weights[m] * std::exp(-r / lin.lengths[m]);
    }
    return s.bulk + amplitude(s) / (s.d_ca * r) * shape;
}

// RBA: with [CaB_j] = B_j c / (K_j + c) everywhere, adding the Ca and buffer equations removes the reactions:
// lap (D_ca c + sum_j D_j [CaB_j]) = 0, so D_ca c + sum_j D_j [CaB_j](c) = phi(r) = D_ca c_inf + sum_j D_j
// [CaB_j](c_inf) + A / r (the flux condition at the source fixes the 1/r term; Wagner & Keizer 1994, Smith 1996).
// The left side grows monotonically with c from 0, so it has one root in [0, phi / D_ca].
double rapid_buffer(const source& s, double r) {
    const auto buffers = mobile(s);
    double phi = s.d_ca * s.bulk + amplitude(s) / r;
    for (const auto& b: buffers) {
        phi += b.diffusion * at_rest(b, s.bulk).bound;
    }
    if (!(phi > 0)) {
        return 0;  // an outward current larger than the bulk can supply: no non-negative steady state
    }
    if (buffers.empty()) {
        return phi / s.d_ca;
    }
    if (buffers.size() == 1) {
        return rapid_one(s.d_ca, buffers[0], phi);
    }
    const auto f = [&](double c) {
        double v = s.d_ca * c - phi;
        double dv = s.d_ca;
        for (const auto& b: buffers) {
            v += b.diffusion * b.total * c / (b.kd + c);
            dv += b.diffusion * b.total * b.kd / ((b.kd + c) * (b.kd + c));
        }
        return std::pair{v, dv};
    };
    // Newton, kept inside a shrinking bracket (bisection when a step would leave it).
    double lo = 0;
    double hi = phi / s.d_ca;
    double c = std::min(hi, rapid_one(s.d_ca, buffers[0], phi));
    for (int k = 0; k < 200; ++k) {
        const auto [v, dv] = f(c);
        if (v == 0) {
            return c;
        }
        (v > 0 ? hi : lo) = c;
        double next = c - v / dv;
        if (!(next > lo && next < hi)) {
            next = 0.5 * (lo + hi);
        }
        if (std::abs(next - c) <= 1e-15 * std::max(c, 1e-300)) {
            return next;
        }
        c = next;
    }
    return c;
}

std::vector<analytic_point> analytic_profile(const source& s, const std::vector<double>& r) {
    std::vector<analytic_point> out;
    out.reserve(r.size());
    for (const double x: r) {
        out.push_back({x, free_diffusion(s, x), linearized(s, x), excess_buffer(s, x), rapid_buffer(s, x)});
    }
    return out;
}

std::vector<double> log_spaced(double from, double to, std::size_t n) {
    std::vector<double> out;
    if (n == 0) {
        return out;
    }
    if (n == 1) {
        return {from};
    }
    const double step = std::log(to / from) / static_cast<double>(n - 1);
    for (std::size_t k = 0; k < n; ++k) {
        out.push_back(from * std::exp(step * static_cast<double>(k)));
    }
    out.back() = to;
    return out;
}

model_spec numeric_model(const source& s, const grid_options& g) {
    model_spec m;
    m.name = "nanodomain";
    m.description = "steady state around one open Ca channel on a planar membrane (cadyn nanodomain)";
    m.temperature = 295.15;
    m.species.push_back({"ca", 2, {}});

    auto& geo = m.geometry;
    geo.type = geometry_spec::kind::shells;
    geo.inner_radius = g.mouth;
    geo.outer_radius = g.domain;
    geo.solid_fraction = 0.5;
    geo.voxels = {g.voxels, 1, 1};
    geo.finest = {g.finest, 0, 0};
    geo.membrane_face = "inner";
    geo.clamped_faces = {"outer"};

    compartment_spec cyt;
    cyt.name = "cyt";
    cyt.volume = 0.5 * 4.0 / 3.0 * pi * (std::pow(g.domain, 3) - std::pow(g.mouth, 3));
    cyt.surface = 0.5 * 4 * pi * g.mouth * g.mouth;
    cyt.initial["ca"] = s.bulk;
    cyt.fraction = 1;
    cyt.diffusion["ca"] = s.d_ca;
    m.compartments.push_back(cyt);

    compartment_spec ext;
    ext.name = "ext";
    ext.volume = 1e6;
    ext.clamped = true;
    ext.initial["ca"] = 2000;
    m.compartments.push_back(ext);

    membrane_spec pm;
    pm.name = "pm";
    pm.inner = "cyt";
    pm.outer = "ext";
    pm.area = cyt.surface;
    m.membranes.push_back(pm);

    mechanism_spec channel;
    channel.name = "channel";
    channel.type = "channel";
    channel.location = "pm";
    channel.parameters["current"] = s.current;
    channel.at = std::array<double, 3>{0, 0, 0};
    m.mechanisms.push_back(channel);

    for (const auto& b: s.buffers) {
        mechanism_spec mech;
        mech.name = b.name;
        mech.type = "buffer";
        mech.location = "cyt";
        mech.parameters["total"] = b.total;
        mech.parameters["kd"] = b.kd;
        mech.parameters["kon"] = b.kon;
        mech.parameters["diffusion"] = b.diffusion;
        mech.diffusion = b.diffusion;
        m.mechanisms.push_back(mech);
    }

    m.run.linear = linear_solver::klu;
    m.run.start = start_from::steady_state;
    m.run.t_end = 1;
    m.record.observables = {"cyt.ca"};
    return m;
}

double numeric_profile::at(double x) const {
    if (r.empty()) {
        return std::numeric_limits<double>::quiet_NaN();
    }
    if (x <= r.front()) {
        return c.front();
    }
    if (x >= r.back()) {
        return c.back();
    }
    const auto hi = static_cast<std::size_t>(std::upper_bound(r.begin(), r.end(), x) - r.begin());
    const std::size_t lo = hi - 1;
    const double f = (x - r[lo]) / (r[hi] - r[lo]);
    const double ur = (1 - f) * (c[lo] - bulk) * r[lo] + f * (c[hi] - bulk) * r[hi];
    return bulk + ur / x;
}

numeric_profile solve_numeric(const source& s, const grid_options& g) {
    if (!(g.mouth > 0) || !(g.domain > g.mouth) || g.voxels < 2 || !(g.finest > 0)) {
        throw error(fmt::format("the nanodomain grid needs 0 < mouth < domain, at least 2 voxels and a positive "
                                "finest spacing (got mouth {:g} um, domain {:g} um, {} voxels, finest {:g} um)",
                                g.mouth, g.domain, g.voxels, g.finest));
    }
    system sys = compile(numeric_model(s, g));
    const grid* cells = sys.mesh();
    if (cells == nullptr) {
        throw internal_error("nanodomain: the spatial model compiled without a grid");
    }
    const std::size_t n = cells->size();
    // The field of each quantity: n consecutive states from its offset (cadyn/system.hpp).
    const auto field = [&](const std::string& name) -> std::optional<std::size_t> {
        const auto& fields = sys.fields();
        for (std::size_t k = 0; k < fields.size(); ++k) {
            if (fields[k].name == name) {
                return sys.field_offset(k);
            }
        }
        return std::nullopt;
    };
    const auto ca = field("cyt.ca");
    if (!ca || *ca + n > sys.size()) {
        throw internal_error("nanodomain: the compiled model has no cyt.ca field of one value per voxel");
    }
    const std::size_t base = *ca;

    // Start Newton near the answer: Ca from the rapid-buffer form in the clamped shell (exact without buffers,
    // close near the source for fast ones: the RBA at the distance r' with 1 / r' = 1 / r - 1 / R, see
    // test_nanodomain_numeric), each buffer in local equilibrium with it.
    std::vector<double> guess = sys.initial_state();
    std::vector<double> start(n);
    for (std::size_t i = 0; i < n; ++i) {
        const double r = cells->centre(i)[0];
        start[i] = r < g.domain ? rapid_buffer(s, 1 / (1 / r - 1 / g.domain)) : s.bulk;
        guess[base + i] = start[i];
    }
    for (const auto& b: s.buffers) {
        if (const auto bound = field(b.name + ".bound"); bound && *bound + n <= guess.size()) {
            for (std::size_t i = 0; i < n; ++i) {
                guess[*bound + i] = at_rest(b, start[i]).bound;
            }
        }
    }

    const steady_state rest = find_steady_state(sys, guess);
    numeric_profile out;
    out.converged = rest.converged;
    out.method = rest.method;
    out.residual = rest.residual;
    out.bulk = s.bulk;
    out.r.resize(n);
    out.c.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        out.r[i] = cells->centre(i)[0];
        out.c[i] = rest.y[base + i];
    }
    return out;
}

} // namespace cadyn::nanodomain
