#pragma once
// Rate laws shared by several mechanisms. Inline, branch-light, and safe for the small negative concentrations
// an implicit solver may try.

#include <algorithm>
#include <array>
#include <cmath>

#include <span>
#include <string_view>

#include <fmt/format.h>

#include <cadyn/error.hpp>
#include <cadyn/units.hpp>

namespace cadyn::mechanisms {

// Hill activation c^n / (K^n + c^n) in [0, 1); a negative c counts as 0.
inline double hill(double c, double k, double n) {
    const double x = std::max(c, 0.0);
    // The common integer coefficients without pow (two pow calls cost ~20 ns; kernels run over every voxel).
    if (n == 1.0) {
        return x / (k + x);
    }
    if (n == 2.0) {
        return x * x / (k * k + x * x);
    }
    const double cn = std::pow(x, n);
    return cn / (std::pow(k, n) + cn);
}

// The Bernoulli function B(u) = u / (e^u - 1), B(0) = 1: the rectification factor of electrodiffusion. expm1
// keeps it accurate near 0 and it saturates cleanly (B -> 0 for u -> +inf, B -> -u for u -> -inf).
inline double bernoulli(double u) { return u == 0.0 ? 1.0 : u / std::expm1(u); }

// u = z F V / (R T) for V in mV at temperature [K].
inline double reduced_potential(double z, double v_mv, double temperature) {
    return z * constants::faraday * v_mv * 1e-3 / (constants::gas * temperature);
}

// Goldman-Hodgkin-Katz electrodiffusion (Goldman 1943 J Gen Physiol 27:37-60; Hodgkin & Katz 1949 J Physiol
// 108:37-77): the flux into the inner side per permeability and area [uM um/ms per um/ms], with u = z F V/(R T)
// and V = phi_inner - phi_outer,
//     g(u) = u (c_out - c_in e^u) / (e^u - 1) = c_out B(u) - c_in B(-u).
// Zero at the Nernst potential, Fick's c_out - c_in at V = 0; neither form overflows. Negative concentrations
// (a Newton iterate) count as zero.
inline double ghk_inward(double c_out, double c_in, double u) {
    return std::max(c_out, 0.0) * bernoulli(u) - std::max(c_in, 0.0) * bernoulli(-u);
}

// Stochastic channel clusters (docs/stochastic.md): the number of channels as a whole number, or an error naming
// the mechanism.
inline double whole_channels(std::string_view mechanism, double channels) {
    if (channels != std::round(channels)) {
        throw error(fmt::format("{}: channels = {} is not a whole number of channels", mechanism, channels));
    }
    return channels;
}

// Whole numbers of channels in each state k, state[k][i], that add up to `channels`: the expected counts rounded
// down, then the channels left over to the largest remainders (at most 4 states).
inline void place_channels(std::span<const double> expected, double channels, double* const* state, std::size_t i) {
    std::array<double, 4> count{};
    double placed = 0;
    for (std::size_t k = 0; k < expected.size(); ++k) {
        count[k] = std::floor(expected[k]);
        placed += count[k];
    }
    while (placed < channels) {
        std::size_t best = 0;
        for (std::size_t k = 1; k < expected.size(); ++k) {
            if (expected[k] - count[k] > expected[best] - count[best]) {
                best = k;
            }
        }
        count[best] += 1;
        placed += 1;
    }
    for (std::size_t k = 0; k < expected.size(); ++k) {
        state[k][i] = count[k];
    }
}

} // namespace cadyn::mechanisms
