#include <cmath>

#include <fmt/format.h>

#include <cadyn/error.hpp>
#include <cadyn/thermo.hpp>
#include <cadyn/units.hpp>

#include "mechanisms/kinetics.hpp"

namespace cadyn::thermo {

namespace {

void require_positive(double c, const char* what) {
    if (!(c > 0) || !std::isfinite(c)) {
        throw error(fmt::format("{} must be a positive concentration, got {} uM", what, c));
    }
}

void require_temperature(double t) {
    if (!(t > 0) || !std::isfinite(t)) {
        throw error(fmt::format("temperature must be above absolute zero, got {} K", t));
    }
}

} // namespace

double thermal_voltage(double temperature) {
    require_temperature(temperature);
    return constants::gas * temperature / constants::faraday * 1e3;  // V -> mV
}

double nernst(int z, double c_in, double c_out, double temperature) {
    if (z == 0) {
        throw error("a neutral species (z = 0) has no equilibrium potential");
    }
    require_positive(c_in, "the inside concentration");
    require_positive(c_out, "the outside concentration");
    return thermal_voltage(temperature) / z * std::log(c_out / c_in);
}

double driving_force(int z, double c_in, double c_out, double v, double temperature) {
    return v - nernst(z, c_in, c_out, temperature);
}

double delta_g_inward(int z, double c_in, double c_out, double v, double temperature) {
    require_positive(c_in, "the inside concentration");
    require_positive(c_out, "the outside concentration");
    require_temperature(temperature);
    // J/mol -> kJ/mol; V in mV -> V.
    return (constants::gas * temperature * std::log(c_in / c_out) + z * constants::faraday * v * 1e-3) * 1e-3;
}

double delta_g_transport(int n, int z, double c_from, double c_to, double phi_from, double phi_to,
                         double temperature) {
    require_positive(c_from, "the concentration on the 'from' side");
    require_positive(c_to, "the concentration on the 'to' side");
    require_temperature(temperature);
    const double per_ion =
        constants::gas * temperature * std::log(c_to / c_from) + z * constants::faraday * (phi_to - phi_from) * 1e-3;
    return n * per_ion * 1e-3;
}

double delta_g_atp(double atp, double adp, double pi, double temperature, double standard) {
    require_positive(atp, "[ATP]");
    require_positive(adp, "[ADP]");
    require_positive(pi, "[Pi]");
    require_temperature(temperature);
    // Standard state 1 M: uM -> M for each concentration.
    const double q = (adp * 1e-6) * (pi * 1e-6) / (atp * 1e-6);
    return standard + constants::gas * temperature * std::log(q) * 1e-3;
}

double exchanger_reversal(int n_na, double na_in, double na_out, double ca_in, double ca_out, double temperature) {
    if (n_na == 2) {
        throw error("a 2 Na : 1 Ca exchanger is electroneutral and has no reversal potential");
    }
    // Zero free energy of the cycle n Na in + 1 Ca out: n (RT ln(na_in/na_out) + F V) + RT ln(ca_out/ca_in) - 2 F V = 0
    // -> V (n - 2) F = n F E_Na - 2 F E_Ca.
    const double e_na = nernst(1, na_in, na_out, temperature);
    const double e_ca = nernst(2, ca_in, ca_out, temperature);
    return (n_na * e_na - 2 * e_ca) / (n_na - 2);
}

double ghk_flux(int z, double permeability, double c_in, double c_out, double v, double temperature) {
    require_temperature(temperature);
    // Outward flux = - inward flux (mechanisms/kinetics.hpp); u = z V F / (R T).
    return -permeability * mechanisms::ghk_inward(c_out, c_in, mechanisms::reduced_potential(z, v, temperature));
}

double current_density(int z, double flux_density) {
    // zmol/(um^2 ms) -> pA/um^2: 1 zmol/ms carries z F 1e-21 mol / 1e-3 s = z / zmol_per_ms_per_pA pA.
    return z * flux_density / constants::zmol_per_ms_per_pA;
}

} // namespace cadyn::thermo
