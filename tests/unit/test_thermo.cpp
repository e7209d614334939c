// Thermodynamics against the seed's numbers (shared/seed/calcium-homeostasis.md) and the textbook formulas
// (Hille, Ion Channels of Excitable Membranes, 3rd ed., ch. 14; Nelson & Cox, Lehninger ch. 13 for ATP).
#include <array>
#include <cmath>
#include <cstdio>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cadyn/error.hpp>
#include <cadyn/thermo.hpp>
#include <cadyn/units.hpp>

#include "cli_helpers.hpp"

namespace th = cadyn::thermo;
using ::testing::HasSubstr;

namespace {
constexpr double body = 310.15;  // 37 degC [K]
}

TEST(thermo, thermal_voltage_at_37_degC) {
    // RT/F = 8.314462618 J/(mol K) * 310.15 K / 96485.33212 C/mol = 26.727 mV.
    EXPECT_NEAR(th::thermal_voltage(body), 26.727, 5e-4);
}

TEST(thermo, seed_calcium_equilibrium_potential_is_about_plus_128_mV) {
    // Seed: 1.5 mM outside, 100 nM inside -> E_Ca "around +128 mV". RT/(2F) ln(15000) = 13.3636 mV * 9.6158.
    const double e = th::nernst(2, 0.1, 1500, body);
    EXPECT_NEAR(e, 8.314462618 * body / (2 * 96485.33212) * 1e3 * std::log(15000.0), 1e-9);
    EXPECT_NEAR(e, 128.5, 0.1);
    // At rest (-70 mV) the driving force pushes Ca in: V - E ~ -198.5 mV, dG_in = 2F(V - E) < 0.
    EXPECT_NEAR(th::driving_force(2, 0.1, 1500, -70, body), -70 - e, 1e-12);
    EXPECT_NEAR(th::delta_g_inward(2, 0.1, 1500, -70, body), 2 * 96485.33212 * (-70 - e) * 1e-6, 1e-9);
}

TEST(thermo, serca_work_matches_atp_energy_as_in_the_seed) {
    // Seed: pumping 2 Ca into a full ER costs ~48 kJ/mol; ATP gives ~50 kJ/mol. With cytosol 100 nM and ER 1 mM
    // (the seed's ER range is ~0.5-1 mM) at 37 degC and no potential: 2 RT ln(1e4) = 47.50 kJ/mol.
    const double work = th::delta_g_transport(2, 2, 0.1, 1000, 0, 0, body);
    EXPECT_NEAR(work, 2 * 8.314462618 * body * std::log(1e4) * 1e-3, 1e-9);
    EXPECT_NEAR(work, 48, 1.0);
    // ATP at 5 mM ATP, 0.5 mM ADP, 5 mM Pi: -30.5 + RT ln(5e-4 * 5e-3 / 5e-3) = -50.10 kJ/mol.
    const double atp = th::delta_g_atp(5000, 500, 5000, body);
    EXPECT_NEAR(atp, -30.5 + 8.314462618e-3 * body * std::log(5e-4), 1e-9);
    EXPECT_NEAR(atp, -50, 0.5);
    EXPECT_LT(work, -atp);  // just enough energy, with little to spare
    EXPECT_LT(-atp - work, 5.0);
    // A slight lumen-positive potential (electrical repulsion) adds 2 F dphi: +10 mV -> +1.93 kJ/mol.
    EXPECT_NEAR(th::delta_g_transport(2, 2, 0.1, 1000, 0, 10, body) - work, 2 * 2 * 96485.33212 * 0.010 * 1e-3, 1e-9);
}

TEST(thermo, ncx_reversal_is_three_e_na_minus_two_e_ca) {
    // 145/10 mM Na, 1.5 mM/100 nM Ca at 37 degC: E_Na = +71.5 mV, E_Ca = +128.5 mV, E_NCX = -42.6 mV.
    const double e_na = th::nernst(1, 10000, 145000, body);
    const double e_ca = th::nernst(2, 0.1, 1500, body);
    const double e = th::exchanger_reversal(3, 10000, 145000, 0.1, 1500, body);
    EXPECT_NEAR(e, 3 * e_na - 2 * e_ca, 1e-9);
    EXPECT_NEAR(e, -42.6, 0.1);
    // At E_NCX the free energy of one cycle (3 Na in, 1 Ca out) is zero.
    const double cycle = 3 * th::delta_g_inward(1, 10000, 145000, e, body) - th::delta_g_inward(2, 0.1, 1500, e, body);
    EXPECT_NEAR(cycle, 0.0, 1e-9);
    EXPECT_THROW(th::exchanger_reversal(2, 10000, 145000, 0.1, 1500, body), cadyn::error);
}

TEST(thermo, ghk_flux_vanishes_at_the_nernst_potential_and_is_continuous_at_zero) {
    const double p = 1e-5;  // [um/ms]
    const double e = th::nernst(2, 0.1, 1500, body);
    EXPECT_NEAR(th::ghk_flux(2, p, 0.1, 1500, e, body), 0.0, 1e-12 * p * 1500);
    // V = 0: Fick's law, P (c_in - c_out); and no jump across it.
    EXPECT_NEAR(th::ghk_flux(2, p, 0.1, 1500, 0, body), p * (0.1 - 1500), 1e-15);
    // The series used for |zv| < 1e-6 joins the exact expression without a jump: just below and just above the
    // switch (V = 1e-6 RT/(zF)) the two agree to the series' O(u^2) truncation.
    const double v_switch = 1e-6 * th::thermal_voltage(body) / 2;
    EXPECT_NEAR(th::ghk_flux(2, p, 0.1, 1500, v_switch * (1 - 1e-6), body),
                th::ghk_flux(2, p, 0.1, 1500, v_switch * (1 + 1e-6), body), 1e-10 * p * 1500);
    // Strongly negative V: only influx survives, J_out -> -P z |v| c_out.
    const double u = 2 * 200 / th::thermal_voltage(body);
    EXPECT_NEAR(th::ghk_flux(2, p, 0.1, 1500, -200, body), -p * u * 1500, 1e-6 * p * u * 1500);
    // Current density: z F J; 1 zmol/(um^2 ms) of Ca carries 2 / 10.364 pA/um^2.
    EXPECT_NEAR(th::current_density(2, 1.0), 2 / cadyn::constants::zmol_per_ms_per_pA, 1e-12);
}

TEST(thermo, bad_inputs_are_errors) {
    EXPECT_THROW(th::nernst(0, 1, 2, body), cadyn::error);
    EXPECT_THROW(th::nernst(2, 0, 2, body), cadyn::error);
    EXPECT_THROW(th::nernst(2, 1, 2, 0), cadyn::error);
    EXPECT_THROW(th::delta_g_atp(5000, -1, 5000, body), cadyn::error);
}

using cadyn::testing::run_command;

TEST(thermo_cli, nernst_prints_the_seed_value) {
    const auto r = run_command("thermo nernst --ion ca --in 100nM --out 1.5mM --temp 37degC");
    EXPECT_EQ(r.status, 0);
    EXPECT_THAT(r.output, HasSubstr("+128.5 mV"));
    const auto j = run_command("thermo nernst --ion ca --in 100nM --out 1.5mM --json");
    const auto at = j.output.find("\"E_mV\": ");
    ASSERT_NE(at, std::string::npos) << j.output;
    EXPECT_NEAR(std::stod(j.output.substr(at + 8)), 128.5, 0.05);
}

TEST(thermo_cli, every_subcommand_answers) {
    EXPECT_THAT(run_command("thermo drive --in 100nM --out 1.5mM --v -70mV").output, HasSubstr("-198.5 mV"));
    EXPECT_THAT(run_command("thermo transport --n 2 --from 100nM --to 1mM --supply '50 kJ/mol'").output,
                HasSubstr("+47.50 kJ/mol"));
    EXPECT_THAT(run_command("thermo atp --atp 5mM --adp 0.5mM --pi 5mM").output, HasSubstr("-50.10 kJ/mol"));
    EXPECT_THAT(run_command("thermo ncx --na-in 10mM --na-out 145mM --ca-in 100nM --ca-out 1.5mM").output,
                HasSubstr("E_NCX = -42.6 mV"));
    EXPECT_THAT(run_command("thermo ghk --permeability '1e-6 cm/s' --in 100nM --out 1.5mM --v -70mV --json").output,
                HasSubstr("flux_density"));
}

TEST(thermo_cli, wrong_units_exit_2) {
    const auto r = run_command("thermo nernst --in 3mV --out 1mM");
    EXPECT_EQ(r.status, 2);
    EXPECT_THAT(r.output, HasSubstr("is an electric potential; expected a concentration"));
    EXPECT_EQ(run_command("thermo nernst --ion xx --in 1uM --out 1mM").status, 2);
    EXPECT_EQ(run_command("thermo nernst --in 1uM").status, 2);  // missing --out
}
