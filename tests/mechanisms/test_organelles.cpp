// Organelle mechanisms: the mitochondrial uniporter (mcu), the mitochondrial Na/Ca exchanger (nclx) and
// store-operated entry (soce), each against its closed form and against published or analytic behaviour.
//
// mcu   J_in = P A c^n/(K^n + c^n) * u (c_cyt e^-u - c_mito) / (1 - e^-u),  u = 2FV/RT  (GHK; Hodgkin & Katz 1949)
// nclx  J_in = -vmax A exp(-b F (V - V0)/RT) (Na/(K_Na + Na))^n Ca_m/(K_Ca + Ca_m)    (Cortassa et al. 2003)
// soce  ds/dt = (K^n/(K^n + c_er^n) - s)/tau,  J_in = P A s * GHK(c_out, c_in, V)    (Luik et al. 2008)
//
// Closed forms here are written in the textbook arrangement (1 - e^-u in the denominator), not the one the
// kernels use, so that an algebra slip in either shows.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cadyn/analysis.hpp>
#include <cadyn/catalogue.hpp>
#include <cadyn/error.hpp>
#include <cadyn/simulate.hpp>
#include <cadyn/units.hpp>

#include "mechanism_harness.hpp"
#include "run_helpers.hpp"

namespace cadyn {
namespace {

using testing_support::all_near;
using testing_support::mechanism_harness;
using testing_support::metadata_is_consistent;

constexpr double body_temperature = 310.15;  // [K], the harness default

// F/RT in 1/mV.
double f_rt(double temperature = body_temperature) {
    return constants::faraday / (constants::gas * temperature) * 1e-3;
}

// GHK flux into the inner side per unit permeability for Ca (z = 2) at V [mV] (V != 0).
double ghk_textbook(double c_out, double c_in, double v) {
    const double u = 2 * f_rt() * v;
    return u * (c_out * std::exp(-u) - c_in) / (1 - std::exp(-u));
}

double hill_fn(double c, double k, double n) { return std::pow(c, n) / (std::pow(k, n) + std::pow(c, n)); }

double param_default(const mechanism_info& info, std::string_view name) {
    const int j = info.parameter_index(name);
    EXPECT_GE(j, 0) << name;
    return default_value(info.parameters[static_cast<std::size_t>(j)]);
}

// ============================================================================================== mcu

TEST(mcu, metadata) {
    const mechanism* m = find_mechanism("mcu");
    ASSERT_NE(m, nullptr);
    EXPECT_TRUE(metadata_is_consistent(*m));
    const mechanism_info& info = m->info();
    EXPECT_EQ(info.kind, mechanism_kind::membrane);
    EXPECT_FALSE(info.is_stimulus);
    // The substrate side (cytosol = outer) is read first, then the matrix; per-volume capacities refer to the
    // cytosol.
    EXPECT_EQ(info.reference, side::outer);
    ASSERT_EQ(info.reads.size(), 2u);
    EXPECT_EQ(info.reads[0].species, "ca");
    EXPECT_EQ(info.reads[0].where, side::outer);
    EXPECT_EQ(info.reads[1].species, "ca");
    EXPECT_EQ(info.reads[1].where, side::inner);
    ASSERT_EQ(info.outputs.size(), 1u);
    EXPECT_EQ(info.outputs[0], "ca");
    EXPECT_TRUE(info.states.empty());
    // Low affinity (K ~10 uM) and cooperative (Hill ~2): Gunter & Pfeiffer (1990).
    EXPECT_DOUBLE_EQ(param_default(info, "k_act"), 10.0);
    EXPECT_DOUBLE_EQ(param_default(info, "hill"), 2.0);
    EXPECT_GT(param_default(info, "permeability"), 0.0);
}

TEST(mcu, ghk_times_hill_over_five_instances) {
    mechanism_harness h("mcu", 5);
    h.param("permeability") = {0.01, 0.002, 0.05, 1e-3, 0.02};
    h.param("k_act") = {10.0, 20.0, 5.0, 15.0, 1.0};
    h.param("hill") = {2.0, 2.6, 1.0, 3.0, 0.5};
    h.size = {2500.0, 10.0, 300.0, 1.0, 7e3};
    h.potential = {-180.0, -150.0, -60.0, 25.0, -5.0};
    h.conc("ca", side::outer) = {0.1, 12.0, 3.0, 40.0, 0.5};
    h.conc("ca", side::inner) = {0.2, 5.0, 800.0, 1.0, 0.5};
    h.rates();
    std::vector<double> expected(5);
    for (std::size_t i = 0; i < 5; ++i) {
        const double c_out = h.conc(0)[i];
        expected[i] = h.param("permeability")[i] * h.size[i] * hill_fn(c_out, h.param("k_act")[i], h.param("hill")[i]) *
                      ghk_textbook(c_out, h.conc(1)[i], h.potential[i]);
    }
    EXPECT_TRUE(all_near(h.out(0), expected, 1e-12));
}

TEST(mcu, temperature_enters_through_f_over_rt) {
    // At 20 degC the same V gives u = 2FV/RT larger by 310.15/293.15.
    mechanism_harness h("mcu", 1);
    h.temperature = 293.15;
    h.potential = {-160.0};
    h.conc(0) = {20.0};
    h.conc(1) = {0.0};
    h.rates();
    const double u = 2 * f_rt(293.15) * -160.0;
    const double expected = 0.01 * hill_fn(20.0, 10.0, 2.0) * u * 20.0 * std::exp(-u) / (1 - std::exp(-u));
    EXPECT_TRUE(all_near(h.out(0), {expected}, 1e-12));
}

// Relative areas for a neuronal soma of radius 10 um: plasma membrane 4 pi r^2 = 1257 um^2. Mitochondria fill
// ~5-10 % of a soma, and with their cristae the inner membrane area is comparable to or several times the plasma
// membrane's: we check 1x, 2x and 5x. PMCA at its defaults (20 pmol/cm^2/s, K 0.2 uM, Hill 1).
const double soma_pm_area = 4 * std::numbers::pi * 10.0 * 10.0;

double pmca_efflux(double c, double area) {
    mechanism_harness pmca("pmca", 1);
    pmca.size = {area};
    pmca.conc(0) = {c};
    pmca.rates();
    return -pmca.out(0)[0];
}

double mcu_uptake(double c_cyt, double c_mito, double v, double area) {
    mechanism_harness h("mcu", 1);
    h.size = {area};
    h.potential = {v};
    h.conc("ca", side::outer) = {c_cyt};
    h.conc("ca", side::inner) = {c_mito};
    h.rates();
    return h.out(0)[0];
}

TEST(mcu, negligible_next_to_pmca_at_rest) {
    // Seed (calcium-homeostasis.md): "The MCU has a low affinity, so it's mostly inactive at rest". At 0.1 uM
    // cytosolic and matrix Ca, the uniporter's uptake is < 5 % of PMCA's extrusion.
    const double pmca = pmca_efflux(0.1, soma_pm_area);
    for (const double ratio: {1.0, 2.0, 5.0}) {
        for (const double v: {-150.0, -180.0}) {
            const double mcu = mcu_uptake(0.1, 0.1, v, ratio * soma_pm_area);
            EXPECT_GT(mcu, 0.0);
            EXPECT_LT(mcu / pmca, 0.05) << "area ratio " << ratio << ", V " << v;
        }
    }
}

TEST(mcu, dominates_pmca_in_large_global_events) {
    // Seed: "during large global events it helps buffer potentially toxic levels of cytosolic calcium". At 10 uM
    // and above, uptake exceeds PMCA extrusion for every realistic area ratio and potential.
    for (const double c: {10.0, 20.0, 50.0}) {
        const double pmca = pmca_efflux(c, soma_pm_area);
        for (const double ratio: {1.0, 2.0, 5.0}) {
            for (const double v: {-150.0, -180.0}) {
                EXPECT_GT(mcu_uptake(c, 0.1, v, ratio * soma_pm_area), pmca)
                    << "c " << c << " uM, area ratio " << ratio << ", V " << v;
            }
        }
    }
    // The crossover stated in the parameter's meaning: ~5 uM with twice the PM area.
    EXPECT_GT(mcu_uptake(5.0, 0.1, -150.0, 2 * soma_pm_area), pmca_efflux(5.0, soma_pm_area));
    EXPECT_LT(mcu_uptake(3.0, 0.1, -180.0, 2 * soma_pm_area), pmca_efflux(3.0, soma_pm_area));
}

TEST(mcu, gradient_only_at_zero_potential) {
    // V = 0: electrodiffusion reduces to Fick's law, J = P A gate (c_cyt - c_mito), either way.
    mechanism_harness h("mcu", 3);
    h.potential = {0.0, 0.0, 0.0};
    h.conc("ca", side::outer) = {15.0, 15.0, 15.0};
    h.conc("ca", side::inner) = {5.0, 15.0, 40.0};
    h.rates();
    const double gate = hill_fn(15.0, 10.0, 2.0);
    EXPECT_TRUE(all_near(h.out(0), {0.01 * gate * 10.0, 0.0, 0.01 * gate * -25.0}, 1e-14));
}

TEST(mcu, uptake_is_driven_by_the_potential) {
    // Empty matrix: J(V) / J(0) = u / (1 - e^u) with u = 2FV/RT, 13.47 at -180 mV and 310.15 K (analytic).
    const double j0 = mcu_uptake(10.0, 0.0, 0.0, 1.0);
    const double j180 = mcu_uptake(10.0, 0.0, -180.0, 1.0);
    const double u = 2 * f_rt() * -180.0;
    EXPECT_NEAR(j180 / j0, u / std::expm1(u), 1e-12 * 13.5);
    EXPECT_GT(j180 / j0, 13.0);
    // Monotone: the more negative the matrix, the larger the uptake.
    double previous = -std::numeric_limits<double>::infinity();
    for (double v = 40; v >= -200; v -= 20) {
        const double j = mcu_uptake(10.0, 2.0, v, 1.0);
        EXPECT_GT(j, previous) << "V " << v;
        previous = j;
    }
}

TEST(mcu, reverses_only_above_the_nernst_potential) {
    // E_Ca across the inner membrane (matrix minus cytosol) = (RT/2F) ln(c_cyt/c_mito). Below it the net flux is
    // uptake, above it release; at E it vanishes (to rounding, relative to the one-way flux P A gate |u| c_cyt).
    for (const auto& [c_cyt, c_mito]: {std::pair{1.0, 1000.0}, std::pair{20.0, 20.0}, std::pair{5.0, 0.5}}) {
        const double e_ca = std::log(c_cyt / c_mito) / (2 * f_rt());
        const double one_way = mcu_uptake(c_cyt, 0.0, e_ca, 1.0);
        EXPECT_NEAR(mcu_uptake(c_cyt, c_mito, e_ca, 1.0), 0.0, 1e-12 * one_way) << "E " << e_ca;
        EXPECT_GT(mcu_uptake(c_cyt, c_mito, e_ca - 0.1, 1.0), 0.0) << "E " << e_ca;
        EXPECT_LT(mcu_uptake(c_cyt, c_mito, e_ca + 0.1, 1.0), 0.0) << "E " << e_ca;
        EXPECT_GT(mcu_uptake(c_cyt, c_mito, e_ca - 50, 1.0), 0.0) << "E " << e_ca;
        EXPECT_LT(mcu_uptake(c_cyt, c_mito, e_ca + 50, 1.0), 0.0) << "E " << e_ca;
    }
    // 1 uM outside, 1 mM in the matrix: E = -92.3 mV at 37 degC, still far above -180 mV: uptake continues.
    EXPECT_NEAR(std::log(1e-3) / (2 * f_rt()), -92.3, 0.05);
}

TEST(mcu, negative_concentrations_count_as_zero) {
    mechanism_harness h("mcu", 2);
    h.potential = {-180.0, -180.0};
    h.conc("ca", side::outer) = {-1e-9, 10.0};
    h.conc("ca", side::inner) = {0.0, -1e-9};
    h.rates();
    EXPECT_EQ(h.out(0)[0], 0.0);
    EXPECT_NEAR(h.out(0)[1], mcu_uptake(10.0, 0.0, -180.0, 1.0), 1e-15 * h.out(0)[1]);
}

// ============================================================================================== nclx

TEST(nclx, metadata) {
    const mechanism* m = find_mechanism("nclx");
    ASSERT_NE(m, nullptr);
    EXPECT_TRUE(metadata_is_consistent(*m));
    const mechanism_info& info = m->info();
    EXPECT_EQ(info.kind, mechanism_kind::membrane);
    ASSERT_EQ(info.reads.size(), 2u);
    EXPECT_EQ(info.reads[0].species, "ca");  // the substrate, matrix Ca, first
    EXPECT_EQ(info.reads[0].where, side::inner);
    EXPECT_EQ(info.reads[1].species, "na");
    EXPECT_EQ(info.reads[1].where, side::outer);
    ASSERT_EQ(info.outputs.size(), 1u);
    EXPECT_EQ(info.outputs[0], "ca");
    EXPECT_TRUE(info.states.empty());
    // Cortassa et al. (2003) Biophys J 84:2734-2755: K_Na 9.4 mM, K_Ca 0.375 uM, n 3, b 0.5, dPsi0 91 mV.
    EXPECT_DOUBLE_EQ(param_default(info, "k_na"), 9400.0);
    EXPECT_DOUBLE_EQ(param_default(info, "k_ca"), 0.375);
    EXPECT_DOUBLE_EQ(param_default(info, "hill_na"), 3.0);
    EXPECT_DOUBLE_EQ(param_default(info, "b"), 0.5);
    EXPECT_DOUBLE_EQ(param_default(info, "v0"), -91.0);
}

TEST(nclx, cortassa_equation_over_five_instances) {
    mechanism_harness h("nclx", 5);
    h.param("vmax") = {0.01, 0.1, 0.003, 1.0, 0.05};
    h.param("k_ca") = {0.375, 1.0, 5.0, 0.1, 2.0};
    h.param("k_na") = {9400.0, 5000.0, 20000.0, 8000.0, 12000.0};
    h.param("hill_na") = {3.0, 2.0, 3.0, 1.0, 2.5};
    h.param("b") = {0.5, 0.3, 0.0, 1.0, 0.5};
    h.param("v0") = {-91.0, -100.0, 0.0, -50.0, -91.0};
    h.size = {2500.0, 10.0, 1.0, 300.0, 7e3};
    h.potential = {-180.0, -150.0, -160.0, 0.0, -91.0};
    h.conc("ca", side::inner) = {0.1, 3.0, 50.0, 0.05, 10.0};
    h.conc("na", side::outer) = {10000.0, 5000.0, 15000.0, 1000.0, 0.5};
    h.rates();
    std::vector<double> expected(5);
    for (std::size_t i = 0; i < 5; ++i) {
        const double na = h.conc(1)[i];
        const double ca = h.conc(0)[i];
        // Cortassa's dPsi = -V (cytosol minus matrix): exp(b F (dPsi - dPsi0)/RT).
        const double dpsi = -h.potential[i];
        const double dpsi0 = -h.param("v0")[i];
        expected[i] = -h.param("vmax")[i] * h.size[i] * std::exp(h.param("b")[i] * f_rt() * (dpsi - dpsi0)) /
                      (std::pow(1 + h.param("k_na")[i] / na, h.param("hill_na")[i]) * (1 + h.param("k_ca")[i] / ca));
    }
    EXPECT_TRUE(all_near(h.out(0), expected, 1e-12));
}

TEST(nclx, efflux_saturates_in_matrix_ca_with_k) {
    // Michaelis-Menten in matrix Ca: half of the saturated efflux at K_Ca, 10/11 of it at 10 K_Ca, monotone.
    mechanism_harness h("nclx", 6);
    h.potential.assign(6, -160.0);
    h.conc("na", side::outer).assign(6, 10000.0);
    const double k = 0.375;
    h.conc("ca", side::inner) = {0.1 * k, k, 2 * k, 10 * k, 100 * k, 1e9 * k};
    h.rates();
    const double saturated = h.out(0)[5];
    EXPECT_LT(saturated, 0.0);  // efflux from the matrix
    EXPECT_NEAR(h.out(0)[1] / saturated, 0.5, 1e-9);
    EXPECT_NEAR(h.out(0)[3] / saturated, 10.0 / 11.0, 1e-9);
    EXPECT_NEAR(h.out(0)[0] / saturated, 0.1 / 1.1, 1e-9);
    for (std::size_t i = 1; i < 6; ++i) {
        EXPECT_LT(h.out(0)[i], h.out(0)[i - 1]) << i;
    }
}

TEST(nclx, no_efflux_without_sodium) {
    mechanism_harness h("nclx", 3);
    h.potential.assign(3, -180.0);
    h.conc("ca", side::inner) = {1.0, 100.0, 5.0};
    h.conc("na", side::outer) = {0.0, 0.0, -1e-9};
    h.rates();
    EXPECT_TRUE(all_near(h.out(0), {0.0, 0.0, 0.0}, 0.0));
    // Na dependence: (Na/(K_Na + Na))^3, the 3 Na : 1 Ca stoichiometry; doubling Na from K_Na/2 to K_Na gives
    // (1/2)^3 / (1/3)^3 = 27/8.
    mechanism_harness g("nclx", 2);
    g.potential.assign(2, -180.0);
    g.conc("ca", side::inner) = {1.0, 1.0};
    g.conc("na", side::outer) = {4700.0, 9400.0};
    g.rates();
    EXPECT_NEAR(g.out(0)[1] / g.out(0)[0], 27.0 / 8.0, 1e-12);
}

TEST(nclx, electrogenic_efflux_grows_with_matrix_negativity) {
    // One net charge enters the matrix per cycle: 30 mV more negative multiplies efflux by exp(b F 30 mV / RT).
    mechanism_harness h("nclx", 2);
    h.potential = {-150.0, -180.0};
    h.conc("ca", side::inner) = {2.0, 2.0};
    h.conc("na", side::outer) = {10000.0, 10000.0};
    h.rates();
    EXPECT_NEAR(h.out(0)[1] / h.out(0)[0], std::exp(0.5 * f_rt() * 30.0), 1e-12);
}

// A soma (radius 10 um) with mitochondria: 300 um^3 of matrix (~7 % of the soma) behind 2x the plasma-membrane
// area of inner membrane at -180 mV, a strong matrix buffer (mM of binding sites, standing in for the
// Ca-phosphate that buffers the matrix), a cytosolic buffer, PMCA, a leak balancing it at 0.1 uM, and a
// 500 ms, 500 pA Ca load.
std::string soma_with_mitochondria() {
    return fmt::format(R"(
[[compartments]]
name = "bath"
volume = "1 nL"
clamped = true
concentrations = {{ ca = "2 mM" }}

[[compartments]]
name = "cyt"
radius = "10 um"
concentrations = {{ ca = "0.1 uM", na = "10 mM" }}

[[compartments]]
name = "mito"
volume = "300 um^3"
concentrations = {{ ca = "0.1 uM" }}

[[membranes]]
name = "pm"
inner = "cyt"
outer = "bath"
potential = "-70 mV"

[[membranes]]
name = "imm"
inner = "mito"
outer = "cyt"
area = "{imm} um^2"
potential = "-180 mV"

[[mechanisms]]
type = "pmca"
membrane = "pm"

[[mechanisms]]
type = "leak"
membrane = "pm"
permeability = "3.33e-5 um/ms"

[[mechanisms]]
type = "mcu"
membrane = "imm"

[[mechanisms]]
type = "nclx"
membrane = "imm"

[[buffers]]
name = "cbuf"
compartment = "cyt"
total = "200 uM"
kd = "10 uM"

[[buffers]]
name = "mbuf"
compartment = "mito"
total = "20 mM"
kd = "10 uM"

[[stimuli]]
name = "load"
membrane = "pm"
amplitude = "500 pA"
start = "1 s"
duration = "500 ms"
frequency = "1 Hz"
count = 1

[run]
t_end = "60 s"
start = "steady_state"

[record]
interval = "100 ms"
)",
                       fmt::arg("imm", 2 * soma_pm_area));
}

TEST(nclx, mitochondria_take_up_a_large_load_and_release_it_slowly) {
    // Seed: mitochondria take up Ca during large global events (MCU) and release it afterwards through the
    // Na/Ca exchanger, slowly (Cortassa 2003's NCLX is ~20x slower than the uniporter at full drive), so the
    // cytosol shows a small plateau above rest while the matrix empties.
    auto sys = cadyn::testing::compile_text(soma_with_mitochondria());
    memory_recorder rec;
    simulate(sys, rec);
    const auto& t = rec.times();
    const auto& c_cyt = rec.column("cyt.ca");
    const auto& c_mito = rec.column("mito.ca");
    const auto& bound = rec.column("mbuf.bound");
    std::vector<double> matrix_total(t.size());
    for (std::size_t k = 0; k < t.size(); ++k) {
        matrix_total[k] = c_mito[k] + bound[k];
    }
    const double rest_total = matrix_total.front();
    const double rest_cyt = c_cyt.front();
    EXPECT_NEAR(rest_cyt, 0.1, 0.01);

    const auto peak_it = std::max_element(matrix_total.begin(), matrix_total.end());
    const auto peak_k = static_cast<std::size_t>(peak_it - matrix_total.begin());
    const double excess = *peak_it - rest_total;
    // Uptake during the load (1.0-1.5 s) and for as long as the cytosol stays at micromolar levels after it: the
    // matrix peaks within 1.5 s of the end of the load, with most of the load inside.
    const double load = 500 * constants::zmol_per_ms_per_pA / 2 * 500;  // [zmol]
    EXPECT_GE(t[peak_k], 1500.0 - 1e-9);
    EXPECT_LE(t[peak_k], 3000.0);
    EXPECT_GT(excess * 300.0, 0.5 * load) << "matrix took up " << excess * 300.0 << " of " << load << " zmol";
    EXPECT_GT(*std::max_element(c_cyt.begin(), c_cyt.end()), 5.0);  // a large global event

    // Slow release: after the peak the matrix total falls monotonically, and takes > 10 s (20x the load) to lose
    // half of the excess, but does empty: < 30 % of the excess is left after 60 s. The fastest release is > 20x
    // slower than the fastest uptake.
    double half_time = -1;
    double fastest_release = 0;  // [uM/ms]
    for (std::size_t k = peak_k + 1; k < t.size(); ++k) {
        EXPECT_LE(matrix_total[k], matrix_total[k - 1] * (1 + 1e-9)) << "t " << t[k];
        fastest_release = std::max(fastest_release, (matrix_total[k - 1] - matrix_total[k]) / (t[k] - t[k - 1]));
        if (half_time < 0 && matrix_total[k] - rest_total < 0.5 * excess) {
            half_time = t[k] - t[peak_k];
        }
    }
    double fastest_uptake = 0;
    for (std::size_t k = 1; k <= peak_k; ++k) {
        fastest_uptake = std::max(fastest_uptake, (matrix_total[k] - matrix_total[k - 1]) / (t[k] - t[k - 1]));
    }
    EXPECT_GT(half_time, 10000.0);
    EXPECT_LT(matrix_total.back() - rest_total, 0.3 * excess);
    EXPECT_GT(fastest_release, 0.0);
    EXPECT_GT(fastest_uptake, 20 * fastest_release);
    // The released Ca holds the cytosol above rest while PMCA extrudes it: a plateau, far below the peak.
    const std::size_t k20 = static_cast<std::size_t>(std::find_if(t.begin(), t.end(), [](double x) { return x >= 20000; }) -
                                                     t.begin());
    ASSERT_LT(k20, t.size());
    EXPECT_GT(c_cyt[k20], 1.1 * rest_cyt);
    EXPECT_LT(c_cyt[k20], 1.0);
}

// ============================================================================================== soce

TEST(soce, metadata) {
    const mechanism* m = find_mechanism("soce");
    ASSERT_NE(m, nullptr);
    EXPECT_TRUE(metadata_is_consistent(*m));
    const mechanism_info& info = m->info();
    EXPECT_EQ(info.kind, mechanism_kind::membrane);
    ASSERT_EQ(info.reads.size(), 3u);
    EXPECT_EQ(info.reads[0].species, "ca");
    EXPECT_EQ(info.reads[0].where, side::outer);  // the Ca source first
    EXPECT_EQ(info.reads[1].species, "ca");
    EXPECT_EQ(info.reads[1].where, side::inner);
    EXPECT_EQ(info.reads[2].species, "ca");
    EXPECT_EQ(info.reads[2].where, side::store);
    ASSERT_EQ(info.outputs.size(), 1u);
    EXPECT_EQ(info.outputs[0], "ca");
    ASSERT_EQ(info.states.size(), 1u);
    EXPECT_TRUE(info.states[0].carries.empty());
    ASSERT_EQ(info.observables.size(), 1u);
    EXPECT_EQ(info.observables[0].name, "stim_activation");
    // Luik et al. (2008): K ~0.2 mM, Hill ~4; tens of seconds of delay (Wu et al. 2006).
    EXPECT_DOUBLE_EQ(param_default(info, "k_stim"), 200.0);
    EXPECT_DOUBLE_EQ(param_default(info, "hill"), 4.0);
    EXPECT_DOUBLE_EQ(param_default(info, "tau"), 20000.0);
}

TEST(soce, kernel_over_four_instances) {
    mechanism_harness h("soce", 4);
    h.param("permeability") = {1e-6, 5e-6, 2e-7, 1e-5};
    h.param("k_stim") = {200.0, 400.0, 100.0, 300.0};
    h.param("hill") = {4.0, 2.0, 1.0, 6.0};
    h.param("tau") = {20000.0, 5000.0, 100.0, 60000.0};
    h.size = {500.0, 1.0, 1257.0, 30.0};
    h.potential = {-70.0, -100.0, 30.0, -40.0};
    h.conc("ca", side::outer) = {2000.0, 10000.0, 1500.0, 2000.0};
    h.conc("ca", side::inner) = {0.1, 0.5, 2.0, 100.0};
    h.conc("ca", side::store) = {800.0, 100.0, 250.0, 0.0};
    h.state(0) = {0.1, 0.9, 0.5, 0.0};
    h.rates();
    std::vector<double> ds(4);
    std::vector<double> j(4);
    for (std::size_t i = 0; i < 4; ++i) {
        const double k = h.param("k_stim")[i];
        const double n = h.param("hill")[i];
        const double c_er = h.conc(2)[i];
        const double s_inf = 1 - hill_fn(c_er, k, n);
        ds[i] = (s_inf - h.state(0)[i]) / h.param("tau")[i];
        j[i] = h.param("permeability")[i] * h.size[i] * h.state(0)[i] *
               ghk_textbook(h.conc(0)[i], h.conc(1)[i], h.potential[i]);
    }
    EXPECT_TRUE(all_near(h.dstate(0), ds, 1e-12));
    EXPECT_TRUE(all_near(h.out(0), j, 1e-12));
    // Inward at every potential below the (very positive) Ca reversal potential, none without activation.
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_GT(h.out(0)[i], 0.0) << i;
    }
    EXPECT_EQ(h.out(0)[3], 0.0);
}

TEST(soce, stim_is_half_maximal_at_k_with_hill_slope_n) {
    // s_inf = K^n/(K^n + c^n): exactly 1/2 at c = K; log(s/(1-s)) = n log K - n log c, a straight line of slope -n
    // in log c (analytic). init() sets s = s_inf(c_er).
    mechanism_harness h("soce", 4);
    h.param("k_stim") = {200.0, 350.0, 100.0, 500.0};
    h.param("hill") = {4.0, 2.0, 1.0, 6.5};
    h.conc("ca", side::store) = h.param("k_stim");
    h.init();
    EXPECT_TRUE(all_near(h.state(0), {0.5, 0.5, 0.5, 0.5}, 1e-15));

    const auto logit_at = [&](double factor) {
        for (std::size_t i = 0; i < 4; ++i) {
            h.conc(2)[i] = h.param("k_stim")[i] * factor;
        }
        h.init();
        std::vector<double> l(4);
        for (std::size_t i = 0; i < 4; ++i) {
            l[i] = std::log(h.state(0)[i] / (1 - h.state(0)[i]));
        }
        return l;
    };
    const std::vector<double> lo = logit_at(0.5);
    const std::vector<double> hi = logit_at(2.0);
    std::vector<double> slope(4);
    for (std::size_t i = 0; i < 4; ++i) {
        slope[i] = (hi[i] - lo[i]) / std::log(4.0);
    }
    EXPECT_TRUE(all_near(slope, {-4.0, -2.0, -1.0, -6.5}, 1e-9));
}

TEST(soce, stim_is_dormant_in_a_full_store_and_active_in_a_depleted_one) {
    // Seed: full ER ~0.8 mM (STIM dormant), depleted ~0.1 mM (STIM active). With the defaults (K 0.2 mM, n 4):
    // s_inf(0.8 mM) = 1/257, s_inf(0.1 mM) = 16/17.
    mechanism_harness h("soce", 3);
    h.conc("ca", side::store) = {800.0, 100.0, 0.0};
    h.init();
    EXPECT_TRUE(all_near(h.state(0), {1.0 / 257.0, 16.0 / 17.0, 1.0}, 1e-14));
    EXPECT_LT(h.state(0)[0], 0.01);
    EXPECT_GT(h.state(0)[1], 0.9);
}

TEST(soce, observable_is_the_activation_state) {
    mechanism_harness h("soce", 3);
    h.state(0) = {0.0, 0.25, 1.0};
    std::vector<double> obs(3, -1.0);
    double* out[] = {obs.data()};
    h.mech().observe(h.pack(), out);
    EXPECT_TRUE(all_near(obs, {0.0, 0.25, 1.0}, 0.0));
}

// A cell whose ER is drained by a brief, huge pulse from ER to a clamped sink: the store then holds its new level
// exactly (nothing else touches it), so STIM relaxes as an exact exponential.
std::string stepped_store(double c_before, double c_after, double volume_er, double step_at, double step_width) {
    // The pulse moves (c_before - c_after) * V_er out of the ER in step_width: I = -2 F J.
    const double amount = (c_before - c_after) * volume_er;                                    // [zmol]
    const double current = -amount / step_width * 2 / constants::zmol_per_ms_per_pA;           // [pA]
    return fmt::format(R"(
[[compartments]]
name = "bath"
volume = "1 nL"
clamped = true
concentrations = {{ ca = "2 mM" }}

[[compartments]]
name = "sink"
volume = "1 nL"
clamped = true
concentrations = {{ ca = "0 uM" }}

[[compartments]]
name = "cyt"
volume = "1 pL"
concentrations = {{ ca = "0.1 uM" }}

[[compartments]]
name = "er"
volume = "{ver} um^3"
concentrations = {{ ca = "{c0} uM" }}

[[membranes]]
name = "pm"
inner = "cyt"
outer = "bath"
area = "500 um^2"
potential = "-70 mV"

[[membranes]]
name = "drain"
inner = "er"
outer = "sink"
area = "100 um^2"

[[mechanisms]]
type = "soce"
membrane = "pm"
store = "er"

[[mechanisms]]
type = "pmca"
membrane = "pm"

[[stimuli]]
name = "deplete"
membrane = "drain"
amplitude = "{i:.17g} pA"
start = "{t0} ms"
duration = "{d} ms"
count = 1

[run]
t_end = "120 s"
rtol = 1e-10
atol = "1e-12 uM"

[record]
interval = "500 ms"
)",
                       fmt::arg("ver", volume_er), fmt::arg("c0", c_before), fmt::arg("i", current),
                       fmt::arg("t0", step_at), fmt::arg("d", step_width));
}

TEST(soce, activation_follows_the_store_with_delay_tau) {
    // After a step of ER Ca from 800 to 100 uM at t1, s(t) = s_inf(100) + (s_inf(800) - s_inf(100)) e^{-(t-t1)/tau}
    // (linear first-order relaxation, analytic). The step lasts 0.01 ms, so it moves s by < 1e-6 before t1.
    constexpr double step_at = 1000;
    constexpr double width = 0.01;
    auto sys = cadyn::testing::compile_text(stepped_store(800, 100, 100, step_at, width));
    memory_recorder rec;
    simulate(sys, rec);
    const auto& t = rec.times();
    const auto& s = rec.column("soce.s");
    const auto& obs = rec.column("soce.stim_activation");
    const auto& c_er = rec.column("er.ca");
    const double s_full = 1.0 / 257.0;
    const double s_empty = 16.0 / 17.0;
    const double tau = 20000;
    const double t1 = step_at + width / 2;
    std::vector<double> tt;
    std::vector<double> ss;
    for (std::size_t k = 0; k < t.size(); ++k) {
        EXPECT_EQ(obs[k], s[k]);
        if (t[k] <= step_at) {
            EXPECT_NEAR(s[k], s_full, 1e-9) << "t " << t[k];  // init: in equilibrium with the full store
            EXPECT_NEAR(c_er[k], 800, 1e-6);
            continue;
        }
        EXPECT_NEAR(c_er[k], 100, 1e-6) << "t " << t[k];
        const double expected = s_empty + (s_full - s_empty) * std::exp(-(t[k] - t1) / tau);
        EXPECT_NEAR(s[k], expected, 2e-6) << "t " << t[k];
        tt.push_back(t[k]);
        ss.push_back(s[k]);
    }
    // And a free exponential fit recovers tau and the new level.
    const auto fit = fit_exponential(tt, ss);
    ASSERT_TRUE(fit.has_value());
    EXPECT_NEAR(fit->tau, tau, 1e-4 * tau);
    EXPECT_NEAR(fit->baseline, s_empty, 1e-5);
    // The comparison covered the whole relaxation (119 s = 6 tau of records after the step).
    EXPECT_GT(tt.size(), 200u);
}

TEST(soce, clamped_store_holds_activation_and_flux_follows_ghk) {
    // A clamped ER at 150 uM: s stays at s_inf(150) = 0.2^4/(0.2^4 + 0.15^4), and the recorded flux is
    // P A s GHK(c_out, c_in, V) at every record.
    auto sys = cadyn::testing::compile_text(R"(
[[compartments]]
name = "bath"
volume = "1 nL"
clamped = true
concentrations = { ca = "2 mM" }

[[compartments]]
name = "er"
volume = "100 um^3"
clamped = true
concentrations = { ca = "150 uM" }

[[compartments]]
name = "cyt"
volume = "1 pL"
concentrations = { ca = "0.1 uM" }

[[membranes]]
name = "pm"
inner = "cyt"
outer = "bath"
area = "500 um^2"
potential = "-70 mV"

[[mechanisms]]
type = "soce"
membrane = "pm"
store = "er"

[run]
t_end = "10 s"

[record]
interval = "1 s"
)");
    memory_recorder rec;
    simulate(sys, rec);
    const double s_inf = std::pow(200.0, 4) / (std::pow(200.0, 4) + std::pow(150.0, 4));
    const auto& s = rec.column("soce.s");
    const auto& c = rec.column("cyt.ca");
    const auto& flux = rec.column("soce.ca_flux");  // [amol/s] = [zmol/ms]
    for (std::size_t k = 0; k < s.size(); ++k) {
        EXPECT_NEAR(s[k], s_inf, 1e-12);
        EXPECT_NEAR(flux[k], 1e-6 * 500 * s_inf * ghk_textbook(2000, c[k], -70), 1e-9 * flux[k]);
    }
    // The Ca entering accumulates in the cytosol (nothing removes it): ~4 uM/s.
    EXPECT_GT(c.back(), c.front() + 1.0);
}

TEST(soce, needs_a_store) {
    EXPECT_THROW(cadyn::testing::compile_text(R"(
[[compartments]]
name = "bath"
volume = "1 nL"
clamped = true
concentrations = { ca = "2 mM" }

[[compartments]]
name = "cyt"
volume = "1 pL"
concentrations = { ca = "0.1 uM" }

[[membranes]]
name = "pm"
inner = "cyt"
outer = "bath"
area = "500 um^2"

[[mechanisms]]
type = "soce"
membrane = "pm"
)"),
                 model_error);
}

} // namespace
} // namespace cadyn
