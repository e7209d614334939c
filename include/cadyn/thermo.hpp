#pragma once
// Thermodynamics of ion transport: equilibrium potentials, driving forces, the free energy of moving ions across
// a membrane and of hydrolysing ATP, exchanger reversal potentials and the Goldman-Hodgkin-Katz flux.
//
// Inputs and outputs are in cadyn's canonical units: concentrations [uM], potentials [mV], temperature [K],
// molar free energies [kJ/mol], permeability [um/ms], flux density [zmol/(um^2 ms)], current density
// [pA/um^2]. Constants are CODATA 2018 (cadyn/units.hpp). docs/thermodynamics.md derives every formula and
// states the sign conventions:
//  - a membrane potential V is phi_inside - phi_outside;
//  - a free energy is that of the process as stated (negative: it runs spontaneously);
//  - a flux is positive outward (inside -> outside) unless said otherwise.

namespace cadyn::thermo {

// RT/F [mV] at temperature [K].
double thermal_voltage(double temperature);

// Nernst equilibrium potential E = RT/(zF) ln(c_out/c_in) [mV] of an ion of valence z.
double nernst(int z, double c_in, double c_out, double temperature);

// Electrochemical driving force on the ion at membrane potential V: V - E [mV] (negative: an ion with z > 0 is
// pushed inward), and the free energy of moving one mole of it from outside to inside,
// dG_in = RT ln(c_in/c_out) + z F V = z F (V - E) [kJ/mol].
double driving_force(int z, double c_in, double c_out, double v, double temperature);
double delta_g_inward(int z, double c_in, double c_out, double v, double temperature);

// Free energy of moving n ions of valence z from side "from" to side "to" [kJ/mol of the transport cycle]:
// dG = n (RT ln(c_to/c_from) + z F (phi_to - phi_from)). For SERCA: n = 2, z = 2, cytosol -> ER lumen.
double delta_g_transport(int n, int z, double c_from, double c_to, double phi_from, double phi_to,
                         double temperature);

// Free energy of ATP hydrolysis, dG = dG0' + RT ln([ADP][Pi]/[ATP]) [kJ/mol], concentrations in uM converted
// to M for the standard state; dG0' = -30.5 kJ/mol by default (pH 7, Mg2+ present; Alberty & Goldberg 1992).
inline constexpr double atp_standard_delta_g = -30.5;  // [kJ/mol]
double delta_g_atp(double atp, double adp, double pi, double temperature, double standard = atp_standard_delta_g);

// Reversal potential of an n_na Na : 1 Ca exchanger: E = (n_na E_Na - 2 E_Ca) / (n_na - 2) [mV]; for NCX
// (3:1) E_NCX = 3 E_Na - 2 E_Ca.
double exchanger_reversal(int n_na, double na_in, double na_out, double ca_in, double ca_out, double temperature);

// Goldman-Hodgkin-Katz flux density of an ion of valence z through a membrane of permeability P [um/ms] at V:
// J_out = P z v (c_in - c_out e^{-z v}) / (1 - e^{-z v}), v = V F/(R T); outward positive [zmol/(um^2 ms)] for
// concentrations in uM (uM um/ms = zmol/(um^2 ms)). Continuous at V = 0, where it is P (c_in - c_out).
double ghk_flux(int z, double permeability, double c_in, double c_out, double v, double temperature);

// The electric current density that flux carries, outward positive [pA/um^2]: I = z F J.
double current_density(int z, double flux_density);

} // namespace cadyn::thermo
