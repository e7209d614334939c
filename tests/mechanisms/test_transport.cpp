// Transport mechanisms against their closed forms and against thermodynamics:
//
//  - ncx: Luo & Rudy (1994) Circ Res 74:1071-1096 Na/Ca exchanger (3 Na : 1 Ca). It must stop exactly at
//    E_NCX = 3 E_Na - 2 E_Ca (the free energy of a cycle is F (V - E_NCX)) and move 3 Na per Ca.
//  - pmca_cam: PMCA with slow Ca-calmodulin activation, da/dt = (a_inf(c) - a) / tau_a (Caride et al. 2007,
//    J Biol Chem 282:25640-25648): exponential relaxation, and extrusion "memory" after a Ca load.
//  - serca_reversible: 2 Ca per ATP; must stop exactly where 2 RT ln(c_er/c) + 2 F V = |dG_ATP|.
//  - ghk_leak: Goldman (1943) J Gen Physiol 27:37-60 / Hodgkin & Katz (1949) J Physiol 108:37-77 flux; zero at
//    the Nernst potential, Fick's law at V = 0.
//
// Nernst potentials and ATP limits are computed here from their textbook formulas, independently of the kernels.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cadyn/catalogue.hpp>
#include <cadyn/simulate.hpp>
#include <cadyn/units.hpp>

#include "mechanism_harness.hpp"
#include "run_helpers.hpp"

namespace cadyn {
namespace {

using testing_support::all_near;
using testing_support::mechanism_harness;
using testing_support::metadata_is_consistent;

constexpr double body_temperature = 310.15;  // [K], 37 degC

double default_of(const mechanism_info& info, std::string_view name) {
    const int j = info.parameter_index(name);
    EXPECT_GE(j, 0) << name;
    return default_value(info.parameters[static_cast<std::size_t>(std::max(j, 0))]);
}

// F / (R T) [1/mV].
double f_over_rt(double temperature) { return constants::faraday / (constants::gas * temperature) * 1e-3; }

// Nernst potential E = RT/(zF) ln(c_out/c_in) [mV].
double nernst(double z, double c_out, double c_in, double temperature) {
    return std::log(c_out / c_in) / (z * f_over_rt(temperature));
}

// Linear interpolation of the time at which `y` first crosses `level` after index `from`, going in direction
// `down` (true: from above to below). Returns the interpolated value of `other` there, or NaN.
double value_at_crossing(const std::vector<double>& y, const std::vector<double>& other, double level, bool down,
                         std::size_t from, std::size_t* where = nullptr) {
    for (std::size_t k = std::max<std::size_t>(from, 1); k < y.size(); ++k) {
        const bool crossed = down ? (y[k - 1] > level && y[k] <= level) : (y[k - 1] < level && y[k] >= level);
        if (crossed) {
            const double s = (level - y[k - 1]) / (y[k] - y[k - 1]);
            if (where != nullptr) {
                *where = k;
            }
            return other[k - 1] + s * (other[k] - other[k - 1]);
        }
    }
    return std::nan("");
}

// ---------------------------------------------------------------------------------------------------------------
// ncx

// Luo & Rudy (1994) I_NaCa written out in the paper's form (outward current positive), as the Ca flux into the
// cell: an outward exchanger current is the reverse mode (3 Na out, 1 Ca in).
double luo_rudy_ca_in(double vmax, double area, double km_na, double km_ca, double k_sat, double eta, double v_mv,
                      double temperature, double ca_i, double ca_o, double na_i, double na_o) {
    const double v = v_mv * f_over_rt(temperature);
    const double num =
        std::exp(eta * v) * std::pow(na_i, 3) * ca_o - std::exp((eta - 1) * v) * std::pow(na_o, 3) * ca_i;
    const double den =
        (std::pow(km_na, 3) + std::pow(na_o, 3)) * (km_ca + ca_o) * (1 + k_sat * std::exp((eta - 1) * v));
    return vmax * area * num / den;
}

// The exchanger's reversal potential E_NCX = 3 E_Na - 2 E_Ca [mV].
double e_ncx(double ca_i, double ca_o, double na_i, double na_o, double temperature) {
    return 3 * nernst(1, na_o, na_i, temperature) - 2 * nernst(2, ca_o, ca_i, temperature);
}

std::vector<double> ncx_current(mechanism_harness& h) {
    std::vector<double> current(h.n());
    double* out[] = {current.data()};
    h.mech().observe(h.pack(), out);
    return current;
}

TEST(ncx, metadata) {
    const mechanism* m = find_mechanism("ncx");
    ASSERT_NE(m, nullptr);
    EXPECT_TRUE(metadata_is_consistent(*m));
    const mechanism_info& info = m->info();
    EXPECT_EQ(info.kind, mechanism_kind::membrane);
    EXPECT_FALSE(info.is_stimulus);
    ASSERT_EQ(info.reads.size(), 4u);
    // "uM/s" capacities are converted with the cytosol's volume (the reference compartment).
    EXPECT_EQ(info.reference, side::inner);
    EXPECT_EQ(info.reads[0].species, "ca");
    EXPECT_EQ(info.reads[0].where, side::inner);
    EXPECT_EQ(info.reads[1].species, "ca");
    EXPECT_EQ(info.reads[1].where, side::outer);
    EXPECT_EQ(info.reads[2].species, "na");
    EXPECT_EQ(info.reads[2].where, side::inner);
    EXPECT_EQ(info.reads[3].species, "na");
    EXPECT_EQ(info.reads[3].where, side::outer);
    ASSERT_EQ(info.outputs.size(), 2u);
    EXPECT_EQ(info.outputs[0], "ca");
    EXPECT_EQ(info.outputs[1], "na");
    EXPECT_TRUE(info.states.empty());
    ASSERT_EQ(info.observables.size(), 1u);
    EXPECT_EQ(info.observables[0].name, "current");
    EXPECT_EQ(info.observables[0].unit, "pA");
    // Luo & Rudy (1994) constants.
    EXPECT_DOUBLE_EQ(default_of(info, "km_na"), 87500.0);
    EXPECT_DOUBLE_EQ(default_of(info, "km_ca"), 1380.0);
    EXPECT_DOUBLE_EQ(default_of(info, "k_sat"), 0.1);
    EXPECT_DOUBLE_EQ(default_of(info, "eta"), 0.35);
    // k_NaCa = 2000 uA/uF with 1 uF/cm^2: 2 mA/cm^2 / F [mol/(cm^2 s)] -> zmol/(um^2 ms); the text is rounded to
    // four digits.
    const double k_naca = 2e-3 / constants::faraday * 1e21 / 1e8 / 1e3;
    EXPECT_NEAR(default_of(info, "vmax"), k_naca, 1e-3 * k_naca);
}

TEST(ncx, luo_rudy_equation_over_five_instances) {
    mechanism_harness h("ncx", 5);
    h.param("vmax") = {207.0, 50.0, 1.0, 400.0, 0.3};
    h.param("km_na") = {87500.0, 50000.0, 120000.0, 87500.0, 20000.0};
    h.param("km_ca") = {1380.0, 500.0, 2000.0, 1380.0, 100.0};
    h.param("k_sat") = {0.1, 0.0, 0.3, 1.0, 0.05};
    h.param("eta") = {0.35, 0.5, 0.0, 1.0, 0.2};
    h.size = {1257.0, 10.0, 3.5, 500.0, 1e4};
    h.potential = {-70.0, 0.0, 30.0, -120.0, 60.0};
    h.conc("ca", side::inner) = {0.1, 3.0, 0.5, 20.0, 0.05};
    h.conc("ca", side::outer) = {1500.0, 2000.0, 1000.0, 1800.0, 500.0};
    h.conc("na", side::inner) = {10000.0, 5000.0, 20000.0, 12000.0, 8000.0};
    h.conc("na", side::outer) = {145000.0, 140000.0, 100000.0, 150000.0, 130000.0};
    for (const double temperature: {body_temperature, 295.15}) {
        h.temperature = temperature;
        h.rates();
        std::vector<double> expected(5);
        for (std::size_t i = 0; i < 5; ++i) {
            expected[i] = luo_rudy_ca_in(h.param("vmax")[i], h.size[i], h.param("km_na")[i], h.param("km_ca")[i],
                                         h.param("k_sat")[i], h.param("eta")[i], h.potential[i], temperature,
                                         h.conc(0)[i], h.conc(1)[i], h.conc(2)[i], h.conc(3)[i]);
        }
        EXPECT_TRUE(all_near(h.out(0), expected, 1e-12)) << "T = " << temperature;
        // Forward mode (Ca export) at rest, reverse mode at +60 mV.
        EXPECT_LT(h.out(0)[0], 0.0);
        EXPECT_GT(h.out(0)[4], 0.0);
    }
}

// The kernel reuses the exponentials of the last site when the potential and eta repeat (a membrane held at one
// potential): sites that share one of the two but not the other, next to each other, each follow the equation.
TEST(ncx, sites_sharing_a_potential_or_an_eta_each_follow_the_equation) {
    mechanism_harness h("ncx", 6);
    h.param("eta") = {0.35, 0.5, 0.5, 0.5, 0.35, 0.35};
    h.potential = {-70.0, -70.0, -70.0, 30.0, 30.0, -70.0};
    h.conc("ca", side::inner).assign(6, 0.1);
    h.conc("ca", side::outer).assign(6, 1500.0);
    h.conc("na", side::inner).assign(6, 10000.0);
    h.conc("na", side::outer).assign(6, 145000.0);
    h.rates();
    std::vector<double> expected(6);
    for (std::size_t i = 0; i < 6; ++i) {
        expected[i] = luo_rudy_ca_in(h.param("vmax")[i], h.size[i], h.param("km_na")[i], h.param("km_ca")[i],
                                     h.param("k_sat")[i], h.param("eta")[i], h.potential[i], h.temperature,
                                     h.conc(0)[i], h.conc(1)[i], h.conc(2)[i], h.conc(3)[i]);
    }
    EXPECT_TRUE(all_near(h.out(0), expected, 1e-12));
    EXPECT_NE(h.out(0)[0], h.out(0)[1]);  // same potential, another eta
    EXPECT_NE(h.out(0)[3], h.out(0)[4]);  // same potential (+30 mV), another eta
}

TEST(ncx, stoichiometry_three_na_per_ca_and_current) {
    mechanism_harness h("ncx", 4);
    h.size = {1257.0, 10.0, 3.5, 500.0};
    h.potential = {-70.0, -20.0, 40.0, -150.0};
    h.conc("ca", side::inner) = {0.1, 3.0, 0.5, 20.0};
    h.conc("ca", side::outer) = {1500.0, 2000.0, 1000.0, 1800.0};
    h.conc("na", side::inner) = {10000.0, 5000.0, 20000.0, 12000.0};
    h.conc("na", side::outer) = {145000.0, 140000.0, 100000.0, 150000.0};
    h.rates();
    const std::vector<double> current = ncx_current(h);
    for (std::size_t i = 0; i < 4; ++i) {
        // Exactly 3 Na the other way per Ca (the factor 3 is exact in floating point).
        EXPECT_EQ(h.out(1)[i], -3.0 * h.out(0)[i]) << "instance " << i;
        // Net charge into the cell: 3 (+1) Na in and 1 (+2) Ca out per forward cycle = +1 per Ca exported.
        const double charge_in = h.out(1)[i] + 2.0 * h.out(0)[i];  // [zmol/ms of elementary charge]
        EXPECT_NEAR(current[i], charge_in / constants::zmol_per_ms_per_pA, 1e-12 * std::abs(current[i]));
        // Inward current exactly when the exchanger exports Ca.
        EXPECT_EQ(current[i] > 0, h.out(0)[i] < 0) << "instance " << i;
    }
}

TEST(ncx, zero_flux_at_e_ncx_forward_below_reverse_above) {
    // Thermodynamics: a cycle (1 Ca out, 3 Na in) has dG = F (V - E_NCX). The flux must vanish at E_NCX from the
    // Nernst potentials (within 0.01 mV), export Ca below and import it above, for any eta and temperature.
    const std::vector<double> ca_i = {0.1, 3.0, 0.5, 20.0, 0.05};
    const std::vector<double> ca_o = {1500.0, 2000.0, 1000.0, 1800.0, 500.0};
    const std::vector<double> na_i = {10000.0, 5000.0, 20000.0, 12000.0, 8000.0};
    const std::vector<double> na_o = {145000.0, 140000.0, 100000.0, 150000.0, 130000.0};
    for (const double temperature: {body_temperature, 295.15}) {
        mechanism_harness h("ncx", 5);
        h.temperature = temperature;
        h.param("eta") = {0.35, 0.5, 0.0, 1.0, 0.2};
        h.param("k_sat") = {0.1, 0.0, 0.3, 1.0, 0.05};
        h.size = {1257.0, 10.0, 3.5, 500.0, 1e4};
        h.conc(0) = ca_i;
        h.conc(1) = ca_o;
        h.conc(2) = na_i;
        h.conc(3) = na_o;
        std::vector<double> e(5);
        std::vector<double> scale(5);  // one of the two opposing terms: what "zero" is relative to
        for (std::size_t i = 0; i < 5; ++i) {
            e[i] = e_ncx(ca_i[i], ca_o[i], na_i[i], na_o[i], temperature);
            const double vmax = h.param("vmax")[i];
            scale[i] = std::abs(luo_rudy_ca_in(vmax, h.size[i], h.param("km_na")[i], h.param("km_ca")[i],
                                               h.param("k_sat")[i], h.param("eta")[i], e[i], temperature, 0.0,
                                               ca_o[i], na_i[i], na_o[i]));
        }
        h.potential = e;
        h.rates();
        for (std::size_t i = 0; i < 5; ++i) {
            EXPECT_NEAR(h.out(0)[i], 0.0, 1e-12 * scale[i]) << "instance " << i << ", E_NCX = " << e[i] << " mV";
        }
        for (std::size_t i = 0; i < 5; ++i) {
            h.potential[i] = e[i] - 0.01;
        }
        h.rates();
        for (std::size_t i = 0; i < 5; ++i) {
            EXPECT_LT(h.out(0)[i], 0.0) << "forward (Ca export) 0.01 mV below E_NCX, instance " << i;
        }
        for (std::size_t i = 0; i < 5; ++i) {
            h.potential[i] = e[i] + 0.01;
        }
        h.rates();
        for (std::size_t i = 0; i < 5; ++i) {
            EXPECT_GT(h.out(0)[i], 0.0) << "reverse (Ca import) 0.01 mV above E_NCX, instance " << i;
        }
    }
    // The textbook neuron (Ca 0.1 uM / 1.5 mM, Na 10 / 145 mM, 37 degC), by hand with RT/F = 26.727 mV:
    // E_Na = 26.727 ln 14.5 = +71.47 mV, E_Ca = 13.364 ln 15000 = +128.50 mV, E_NCX = 214.42 - 257.00 = -42.6 mV:
    // the exchanger exports Ca at the resting -70 mV.
    EXPECT_NEAR(e_ncx(0.1, 1500.0, 10000.0, 145000.0, body_temperature), -42.6, 0.1);
}

TEST(ncx, division_of_labour_with_default_pmca) {
    // The seed's picture: PMCA (K0.5 0.2 uM) dominates at rest, NCX (linear in c, high capacity) in the
    // micromolar range. With both at their defaults on one membrane (-70 mV, Na 10/145 mM, Ca_o 1.5 mM) NCX
    // removes less than PMCA at 0.1 and 0.5 uM, more at 1 uM, and more than twice as much at 2 uM (by hand from
    // the two rate laws: 0.20x, 0.68x, 1.21x, 2.26x).
    const std::vector<double> c = {0.1, 0.5, 1.0, 2.0};
    mechanism_harness ncx("ncx", 4);
    mechanism_harness pmca("pmca", 4);
    ncx.potential.assign(4, -70.0);
    ncx.conc(0) = c;
    ncx.conc(1).assign(4, 1500.0);
    ncx.conc(2).assign(4, 10000.0);
    ncx.conc(3).assign(4, 145000.0);
    pmca.conc(0) = c;
    ncx.rates();
    pmca.rates();
    EXPECT_LT(ncx.out(0)[0], 0.0);
    EXPECT_LT(-ncx.out(0)[0], -pmca.out(0)[0]);
    EXPECT_LT(-ncx.out(0)[1], -pmca.out(0)[1]);
    EXPECT_GT(-ncx.out(0)[2], -pmca.out(0)[2]);
    EXPECT_GT(-ncx.out(0)[3], 2.0 * -pmca.out(0)[3]);
    EXPECT_LT(-ncx.out(0)[3], 2.5 * -pmca.out(0)[3]);
}

TEST(ncx, soma_load_removal_and_equilibrium_at_e_ncx) {
    // A 10 um soma with NCX only, loaded to 3 uM, at -70 mV: Na 10 mM inside (free, barely changes), 145 mM and
    // Ca 1.5 mM outside (clamped). Validation:
    //  (1) low affinity: the extrusion flux at 3 uM is more than 10x that at 0.1 uM (the LR94 flux is linear in
    //      c_in, and at 0.1 uM the cell is only ~28 mV from E_NCX);
    //  (2) 3 Na enter per Ca removed (no buffers: d[Na]_i = -3 d[Ca]_i, to solver accuracy);
    //  (3) the cell settles where E_NCX = V, i.e. c_in = c_out exp(-(3 E_Na - V) F/RT) (analytic, with the final
    //      Na_i), to 1e-4.
    auto sys = testing::compile_text(R"(
[[compartments]]
name = "ext"
volume = "1 nL"
clamped = true
concentrations = { ca = "1.5 mM", na = "145 mM" }

[[compartments]]
name = "cyt"
radius = "10 um"
concentrations = { ca = "3 uM", na = "10 mM" }

[[membranes]]
name = "pm"
inner = "cyt"
outer = "ext"
potential = "-70 mV"

[[mechanisms]]
type = "ncx"
membrane = "pm"

[run]
t_end = "1 s"
rtol = 1e-10
atol = "1e-12 uM"

[record]
interval = "0.1 ms"
observables = ["cyt.ca", "cyt.na", "ncx.ca_flux", "ncx.na_flux", "ncx.current"]
)");
    memory_recorder rec;
    simulate(sys, rec);
    const auto& c = rec.column("cyt.ca");
    const auto& na = rec.column("cyt.na");
    const auto& flux = rec.column("ncx.ca_flux");
    ASSERT_GT(c.size(), 10u);
    EXPECT_LT(flux.front(), 0.0);
    const double flux_at_low = value_at_crossing(c, flux, 0.1, true, 0);
    ASSERT_TRUE(std::isfinite(flux_at_low)) << "Ca never fell below 0.1 uM; final " << c.back();
    EXPECT_GT(flux.front() / flux_at_low, 10.0) << "J(3 uM) = " << flux.front() << ", J(0.1 uM) = " << flux_at_low;

    const double d_ca = c.back() - c.front();
    const double d_na = na.back() - na.front();
    EXPECT_NEAR(d_na, -3.0 * d_ca, 1e-4 * std::abs(d_na));

    const double v = -70.0;
    const double e_na = nernst(1, 145000.0, na.back(), body_temperature);
    const double c_eq = 1500.0 * std::exp(-(3 * e_na - v) * f_over_rt(body_temperature));
    EXPECT_NEAR(c.back(), c_eq, 1e-4 * c_eq);
    EXPECT_NEAR(e_ncx(c.back(), 1500.0, na.back(), 145000.0, body_temperature), v, 0.01);
    // And the current stops there too.
    const double current_scale = std::abs(rec.column("ncx.current").front());
    EXPECT_LT(std::abs(rec.column("ncx.current").back()), 1e-3 * current_scale);
}

// ---------------------------------------------------------------------------------------------------------------
// pmca_cam

double hill_of(double c, double k, double n) { return std::pow(c, n) / (std::pow(k, n) + std::pow(c, n)); }

void setup_pmca_cam_five(mechanism_harness& h) {
    h.param("vmax") = {0.2, 0.05, 1.0, 0.3, 0.01};
    h.param("kd") = {0.2, 0.1, 0.5, 1.0, 0.05};
    h.param("hill") = {1.0, 2.0, 1.5, 4.0, 0.5};
    h.param("f_basal") = {0.1, 0.0, 1.0, 0.3, 0.5};
    h.param("kd_cam") = {0.5, 0.3, 1.0, 0.2, 2.0};
    h.param("hill_cam") = {2.0, 1.0, 4.0, 1.5, 3.0};
    h.param("tau_a") = {3e4, 2e4, 6e4, 100.0, 1.0};
    h.size = {100.0, 1200.0, 3.5, 50.0, 1e4};
    h.conc(0) = {0.05, 0.3, 0.5, 2.0, 10.0};
}

TEST(pmca_cam, metadata) {
    const mechanism* m = find_mechanism("pmca_cam");
    ASSERT_NE(m, nullptr);
    EXPECT_TRUE(metadata_is_consistent(*m));
    const mechanism_info& info = m->info();
    EXPECT_EQ(info.kind, mechanism_kind::membrane);
    EXPECT_FALSE(info.is_stimulus);
    ASSERT_EQ(info.reads.size(), 1u);
    EXPECT_EQ(info.reads[0].species, "ca");
    EXPECT_EQ(info.reads[0].where, side::inner);
    ASSERT_EQ(info.outputs.size(), 1u);
    EXPECT_EQ(info.outputs[0], "ca");
    ASSERT_EQ(info.states.size(), 1u);
    EXPECT_EQ(info.states[0].name, "a");
    EXPECT_EQ(info.states[0].dim, &dims::dimensionless);
    EXPECT_TRUE(info.states[0].carries.empty());  // an activation fraction holds no Ca
    EXPECT_DOUBLE_EQ(default_of(info, "kd"), 0.2);       // seed / Brini & Carafoli 2009
    EXPECT_DOUBLE_EQ(default_of(info, "kd_cam"), 0.5);
    const double tau = default_of(info, "tau_a");
    EXPECT_GE(tau, 2e4);  // Caride et al. 2007: PMCA4b activation takes tens of seconds
    EXPECT_LE(tau, 6e4);
}

TEST(pmca_cam, equations_over_five_instances) {
    mechanism_harness h("pmca_cam", 5);
    setup_pmca_cam_five(h);
    h.state(0) = {0.0, 0.25, 0.5, 1.0, 0.9};
    h.rates();
    std::vector<double> j(5);
    std::vector<double> da(5);
    for (std::size_t i = 0; i < 5; ++i) {
        const double f = h.param("f_basal")[i];
        const double a = h.state(0)[i];
        const double c = h.conc(0)[i];
        j[i] = -h.param("vmax")[i] * h.size[i] * (f + (1 - f) * a) * hill_of(c, h.param("kd")[i], h.param("hill")[i]);
        da[i] = (hill_of(c, h.param("kd_cam")[i], h.param("hill_cam")[i]) - a) / h.param("tau_a")[i];
    }
    EXPECT_TRUE(all_near(h.out(0), j, 1e-14));
    EXPECT_TRUE(all_near(h.dstate(0), da, 1e-14));
}

TEST(pmca_cam, init_at_steady_activation_and_no_flux_without_ca) {
    mechanism_harness h("pmca_cam", 5);
    setup_pmca_cam_five(h);
    h.init();
    std::vector<double> a_inf(5);
    for (std::size_t i = 0; i < 5; ++i) {
        a_inf[i] = hill_of(h.conc(0)[i], h.param("kd_cam")[i], h.param("hill_cam")[i]);
    }
    EXPECT_TRUE(all_near(h.state(0), a_inf, 1e-15));
    h.rates();
    for (std::size_t i = 0; i < 5; ++i) {
        EXPECT_NEAR(h.dstate(0)[i], 0.0, 1e-15) << "instance " << i;
        EXPECT_LT(h.out(0)[i], 0.0) << "instance " << i;
    }
    // No Ca (or a slightly negative Newton iterate): no flux, no activation, nothing NaN.
    h.conc(0) = {0.0, -1e-9, 0.0, -1e-12, 0.0};
    h.init();
    h.rates();
    for (std::size_t i = 0; i < 5; ++i) {
        EXPECT_EQ(h.state(0)[i], 0.0);
        EXPECT_EQ(h.out(0)[i], 0.0);
        EXPECT_EQ(h.dstate(0)[i], 0.0);
    }
}

TEST(pmca_cam, activation_relaxes_exponentially_after_a_ca_step) {
    // Ca steps from c0 to c1 and is then held: a(t) = a_inf(c1) + (a_inf(c0) - a_inf(c1)) exp(-t / tau_a)
    // exactly. Integrate the kernel's da/dt with classical Runge-Kutta (tau/2000 steps: error ~1e-13) and compare
    // at t = tau, 2 tau, 3 tau within 1e-9. Rising (c1 > c0) and falling steps, different tau.
    mechanism_harness h("pmca_cam", 3);
    h.param("tau_a") = {3e4, 2e4, 5e3};
    const std::vector<double> c0 = {0.1, 0.1, 2.0};
    const std::vector<double> c1 = {1.0, 5.0, 0.1};
    h.conc(0) = c0;
    h.init();
    const std::vector<double> a0 = h.state(0);
    h.conc(0) = c1;
    std::vector<double> a_end(3);
    for (std::size_t i = 0; i < 3; ++i) {
        a_end[i] = hill_of(c1[i], h.param("kd_cam")[i], h.param("hill_cam")[i]);
    }
    auto derivative = [&](const std::vector<double>& a) {
        h.state(0) = a;
        h.rates();
        return std::vector<double>(h.dstate(0).begin(), h.dstate(0).end());
    };
    const int steps_per_tau = 2000;
    std::vector<double> a = a0;
    for (int k = 1; k <= 3 * steps_per_tau; ++k) {
        // Each instance has its own tau: step each by its own dt = tau_i / steps_per_tau via scaled derivatives.
        std::vector<double> dt(3);
        for (std::size_t i = 0; i < 3; ++i) {
            dt[i] = h.param("tau_a")[i] / steps_per_tau;
        }
        auto add = [&](const std::vector<double>& base, const std::vector<double>& d, double f) {
            std::vector<double> r(3);
            for (std::size_t i = 0; i < 3; ++i) {
                r[i] = base[i] + f * dt[i] * d[i];
            }
            return r;
        };
        const auto k1 = derivative(a);
        const auto k2 = derivative(add(a, k1, 0.5));
        const auto k3 = derivative(add(a, k2, 0.5));
        const auto k4 = derivative(add(a, k3, 1.0));
        for (std::size_t i = 0; i < 3; ++i) {
            a[i] += dt[i] / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
        }
        if (k % steps_per_tau == 0) {
            const double t_over_tau = static_cast<double>(k / steps_per_tau);
            std::vector<double> expected(3);
            for (std::size_t i = 0; i < 3; ++i) {
                expected[i] = a_end[i] + (a0[i] - a_end[i]) * std::exp(-t_over_tau);
            }
            EXPECT_TRUE(all_near(a, expected, 0, 1e-9)) << "t = " << t_over_tau << " tau";
        }
    }
}

TEST(pmca_cam, extrusion_memory_after_a_ca_load) {
    // PMCA memory (Caride et al. 2007: slow CaM activation of PMCA4b). A 10 um soma at rest (pmca_cam + a linear
    // leak from 1.5 mM outside) receives a 60 s Ca influx of 20 zmol/ms. Ca jumps within ~0.1 s, long before
    // the activation a (tau_a = 30 s) can follow, and falls again after the influx stops while a is still
    // raised. At the same Ca level the extrusion flux must therefore be larger on the way down than on the way
    // up; the ratio is the activity ratio (f + (1 - f) a_down) / (f + (1 - f) a_up), checked against the
    // recorded a, and must be well above 1.
    const double influx = 20.0;                                            // [zmol/ms]
    const double amplitude = 2 * influx / constants::zmol_per_ms_per_pA;  // [pA] of Ca current
    auto sys = testing::compile_text(fmt::format(R"(
[[compartments]]
name = "ext"
volume = "1 nL"
clamped = true
concentrations = {{ ca = "1.5 mM" }}

[[compartments]]
name = "cyt"
radius = "10 um"
concentrations = {{ ca = "0.1 uM" }}

[[membranes]]
name = "pm"
inner = "cyt"
outer = "ext"

[[mechanisms]]
type = "pmca_cam"
membrane = "pm"

[[mechanisms]]
type = "leak"
membrane = "pm"
permeability = "6e-6 um/ms"

[[stimuli]]
name = "load"
membrane = "pm"
amplitude = "{} pA"
start = "5 s"
duration = "60 s"
frequency = "0 Hz"
count = 1

[run]
t_end = "120 s"
start = "steady_state"
rtol = 1e-8
atol = "1e-12 uM"

[record]
interval = "5 ms"
observables = ["cyt.ca", "pmca_cam.a", "pmca_cam.ca_flux"]
)",
                                                 amplitude));
    memory_recorder rec;
    simulate(sys, rec);
    const auto& t = rec.times();
    const auto& c = rec.column("cyt.ca");
    const auto& a = rec.column("pmca_cam.a");
    const auto& j = rec.column("pmca_cam.ca_flux");
    const double c_rest = c.front();
    std::size_t end_of_load = 0;
    while (end_of_load < t.size() && t[end_of_load] < 65e3) {
        ++end_of_load;
    }
    ASSERT_LT(end_of_load, t.size());
    const double c_loaded = c[end_of_load - 1];
    ASSERT_GT(c_loaded, 1.5 * c_rest);
    // A level crossed on the way up (right after onset) and on the way down (after the influx ends).
    const double level = 0.5 * (c_rest + c_loaded);
    std::size_t up = 0;
    const double j_up = value_at_crossing(c, j, level, false, 0, &up);
    const double a_up = value_at_crossing(c, a, level, false, 0);
    const double j_down = value_at_crossing(c, j, level, true, end_of_load);
    const double a_down = value_at_crossing(c, a, level, true, end_of_load);
    ASSERT_TRUE(std::isfinite(j_up) && std::isfinite(j_down)) << "level " << level << " uM not crossed both ways";
    EXPECT_LT(t[up], 6e3);  // the rise is fast compared with tau_a
    EXPECT_LT(j_down, 0.0);
    const double f = 0.1;  // default f_basal
    const double activity_ratio = (f + (1 - f) * a_down) / (f + (1 - f) * a_up);
    EXPECT_NEAR(j_down / j_up, activity_ratio, 0.01 * activity_ratio);
    EXPECT_GT(j_down / j_up, 1.5) << "at " << level << " uM: up " << j_up << ", down " << j_down
                                   << " amol/s (a " << a_up << " -> " << a_down << ")";
}

// ---------------------------------------------------------------------------------------------------------------
// serca_reversible

// rho = exp((|dG_ATP| - 2 F V) / (2 R T)): the largest c_er / c that ATP can sustain; dG in kJ/mol, V in mV.
double atp_ratio_limit(double dg_atp_kj, double v_mv, double temperature) {
    return std::exp((dg_atp_kj * 1e3 - 2 * constants::faraday * v_mv * 1e-3) / (2 * constants::gas * temperature));
}

// Work of moving 2 Ca from c (cytosol) into the lumen at c_er with the lumen at V [mV] relative to the cytosol,
// in kJ/mol.
double transport_work(double c, double c_er, double v_mv, double temperature) {
    return (2 * constants::gas * temperature * std::log(c_er / c) + 2 * constants::faraday * v_mv * 1e-3) * 1e-3;
}

TEST(serca_reversible, metadata) {
    const mechanism* m = find_mechanism("serca_reversible");
    ASSERT_NE(m, nullptr);
    EXPECT_TRUE(metadata_is_consistent(*m));
    const mechanism_info& info = m->info();
    EXPECT_EQ(info.kind, mechanism_kind::membrane);
    ASSERT_EQ(info.reads.size(), 2u);
    // Cytosol (outer, where the substrate comes from) first: "uM/s" capacities refer to the cytosol.
    EXPECT_EQ(info.reads[0].species, "ca");
    EXPECT_EQ(info.reads[0].where, side::outer);
    EXPECT_EQ(info.reads[1].species, "ca");
    EXPECT_EQ(info.reads[1].where, side::inner);
    ASSERT_EQ(info.outputs.size(), 1u);
    EXPECT_EQ(info.outputs[0], "ca");
    EXPECT_TRUE(info.states.empty());
    EXPECT_DOUBLE_EQ(default_of(info, "kd"), 0.2);
    EXPECT_DOUBLE_EQ(default_of(info, "delta_g_atp"), 50.0);  // seed: ~50 kJ/mol from one ATP
    const auto& dg = info.parameters[static_cast<std::size_t>(info.parameter_index("delta_g_atp"))];
    EXPECT_EQ(dg.dim, &dims::molar_energy);
}

TEST(serca_reversible, equation_over_five_instances) {
    mechanism_harness h("serca_reversible", 5);
    h.param("vmax") = {0.1, 0.05, 1.0, 0.3, 0.01};
    h.param("kd") = {0.2, 0.1, 0.5, 1.0, 0.05};
    h.param("delta_g_atp") = {50.0, 45.0, 60.0, 30.0, 55.0};
    h.size = {100.0, 1200.0, 3.5, 50.0, 1e4};
    h.potential = {0.0, 10.0, -20.0, 5.0, 0.0};
    h.conc("ca", side::outer) = {0.1, 0.3, 0.05, 2.0, 10.0};
    h.conc("ca", side::inner) = {500.0, 2000.0, 100.0, 5000.0, 0.0};
    for (const double temperature: {body_temperature, 295.15}) {
        h.temperature = temperature;
        h.rates();
        std::vector<double> expected(5);
        for (std::size_t i = 0; i < 5; ++i) {
            const double rho = atp_ratio_limit(h.param("delta_g_atp")[i], h.potential[i], temperature);
            const double x = std::pow(h.conc(0)[i] / h.param("kd")[i], 2);
            const double y = std::pow(h.conc(1)[i] / (h.param("kd")[i] * rho), 2);
            expected[i] = h.param("vmax")[i] * h.size[i] * (x - y) / (1 + x + y);
        }
        EXPECT_TRUE(all_near(h.out(0), expected, 1e-12)) << "T = " << temperature;
    }
}

TEST(serca_reversible, zero_flux_at_the_atp_limit_forward_below_reverse_above) {
    // Second law: the pump stops exactly where the transport work 2 RT ln(c_er/c) + 2 F V equals |dG_ATP|.
    mechanism_harness h("serca_reversible", 4);
    h.param("delta_g_atp") = {50.0, 45.0, 60.0, 30.0};
    h.param("kd") = {0.2, 0.1, 0.5, 1.0};
    h.size = {100.0, 1200.0, 3.5, 50.0};
    h.potential = {0.0, 10.0, -20.0, 5.0};
    const std::vector<double> c = {0.1, 0.3, 0.05, 2.0};
    h.conc(0) = c;
    std::vector<double> rho(4);
    std::vector<double> forward_term(4);
    for (std::size_t i = 0; i < 4; ++i) {
        rho[i] = atp_ratio_limit(h.param("delta_g_atp")[i], h.potential[i], body_temperature);
        const double x = std::pow(c[i] / h.param("kd")[i], 2);
        forward_term[i] = h.param("vmax")[i] * h.size[i] * x / (1 + 2 * x);
        h.conc(1)[i] = rho[i] * c[i];
    }
    h.rates();
    for (std::size_t i = 0; i < 4; ++i) {
        EXPECT_NEAR(h.out(0)[i], 0.0, 1e-12 * forward_term[i]) << "instance " << i << ", rho = " << rho[i];
        EXPECT_NEAR(transport_work(c[i], h.conc(1)[i], h.potential[i], body_temperature),
                    h.param("delta_g_atp")[i], 1e-9);
    }
    // In potential: the lumen potential at which the pump stops, and 0.01 mV either side.
    for (std::size_t i = 0; i < 4; ++i) {
        h.conc(1)[i] = 0.5 * rho[i] * c[i];
    }
    std::vector<double> v_stop(4);
    for (std::size_t i = 0; i < 4; ++i) {
        // 2 RT ln(c_er/c) + 2 F V = |dG_ATP|  ->  V = (|dG_ATP| - 2 RT ln(c_er/c)) / (2 F)
        v_stop[i] = (h.param("delta_g_atp")[i] * 1e3 -
                     2 * constants::gas * body_temperature * std::log(h.conc(1)[i] / c[i])) /
                    (2 * constants::faraday) * 1e3;
    }
    for (const double offset: {-0.01, 0.01}) {
        for (std::size_t i = 0; i < 4; ++i) {
            h.potential[i] = v_stop[i] + offset;
        }
        h.rates();
        for (std::size_t i = 0; i < 4; ++i) {
            if (offset < 0) {
                EXPECT_GT(h.out(0)[i], 0.0) << "forward 0.01 mV below V_stop = " << v_stop[i] << ", instance " << i;
            }
            else {
                EXPECT_LT(h.out(0)[i], 0.0) << "reverse 0.01 mV above V_stop = " << v_stop[i] << ", instance " << i;
            }
        }
    }
}

TEST(serca_reversible, seed_numbers_limit_and_work) {
    // Seed: |dG_ATP| = 50 kJ/mol, 37 degC, V = 0. rho = exp(50000 / (2 * 8.314 * 310.15)) ~ 1.6e4, so at 0.1 uM
    // cytosolic Ca the ER cannot exceed ~1.6 mM.
    const double rho = atp_ratio_limit(50.0, 0.0, body_temperature);
    EXPECT_NEAR(rho, 1.6e4, 0.05e4);
    const double c_er_max = 0.1 * rho;
    EXPECT_NEAR(c_er_max, 1600.0, 50.0);

    // Work to pump 2 Ca from 0.1 uM into a 0.5 mM ER: 2 RT ln(5000) = 43.9 kJ/mol; with the lumen 20 mV positive
    // the electrical part adds 2 F (20 mV) = 3.9 kJ/mol, total ~47.8 (the seed's "about 48 kJ/mol"): both below
    // 50 kJ/mol, so the pump runs forward. With only 45 kJ/mol from ATP, the 47.8 kJ/mol case must reverse.
    EXPECT_NEAR(transport_work(0.1, 500.0, 0.0, body_temperature), 43.9, 0.05);
    EXPECT_NEAR(transport_work(0.1, 500.0, 20.0, body_temperature), 47.8, 0.05);

    mechanism_harness h("serca_reversible", 6);
    h.conc(0).assign(6, 0.1);
    h.conc(1) = {500.0, 500.0, 500.0, 0.99 * c_er_max, c_er_max, 1.01 * c_er_max};
    h.potential = {0.0, 20.0, 20.0, 0.0, 0.0, 0.0};
    h.param("delta_g_atp") = {50.0, 50.0, 45.0, 50.0, 50.0, 50.0};
    h.rates();
    EXPECT_GT(h.out(0)[0], 0.0);
    EXPECT_GT(h.out(0)[1], 0.0);
    EXPECT_LT(h.out(0)[2], 0.0);
    EXPECT_GT(h.out(0)[3], 0.0);
    EXPECT_NEAR(h.out(0)[4], 0.0, 1e-12 * h.out(0)[3]);
    EXPECT_LT(h.out(0)[5], 0.0);
}

class serca_reversible_closed_cell: public ::testing::TestWithParam<double> {};

TEST_P(serca_reversible_closed_cell, er_cytosol_ratio_approaches_rho) {
    // Cytosol + ER, SERCA only, no leak, no other path: the pump loads the ER until c_er / c = rho (here with
    // c_er ~1.1 mM, c ~0.07 uM), to 1e-5, for V_er = 0 and a lumen-positive potential that lowers rho.
    const double v_er = GetParam();
    auto sys = testing::compile_text(fmt::format(R"(
[[compartments]]
name = "cyt"
volume = "1000 um^3"
concentrations = {{ ca = "100 uM" }}

[[compartments]]
name = "er"
volume = "100 um^3"
concentrations = {{ ca = "100 uM" }}

[[membranes]]
name = "erm"
inner = "er"
outer = "cyt"
area = "1000 um^2"
potential = "{} mV"

[[mechanisms]]
type = "serca_reversible"
membrane = "erm"

[run]
t_end = "3 s"
rtol = 1e-11
atol = "1e-14 uM"

[record]
interval = "10 ms"
)",
                                                 v_er));
    memory_recorder rec;
    simulate(sys, rec);
    const double c = rec.column("cyt.ca").back();
    const double c_er = rec.column("er.ca").back();
    const double rho = atp_ratio_limit(50.0, v_er, body_temperature);
    EXPECT_NEAR(c_er / c, rho, 1e-5 * rho) << "c = " << c << " uM, c_er = " << c_er << " uM";
    // Mass balance: 1000 um^3 * 100 uM + 100 um^3 * 100 uM = 1.1e5 zmol.
    EXPECT_NEAR(1000 * c + 100 * c_er, 1.1e5, 1e-6 * 1.1e5);
}

INSTANTIATE_TEST_SUITE_P(serca_reversible, serca_reversible_closed_cell, ::testing::Values(0.0, 10.0),
                         [](const auto& param) { return fmt::format("v_er_{}_mV", static_cast<int>(param.param)); });

// ---------------------------------------------------------------------------------------------------------------
// ghk_leak

// Goldman-Hodgkin-Katz flux into the cell, written directly: P A u (c_out - c_in e^u) / (e^u - 1), V != 0; in
// long double to serve as a reference for the kernel's expm1 forms.
double ghk_reference(double perm, double area, double v_mv, double temperature, double c_in, double c_out) {
    const long double u = 2.0L * v_mv * f_over_rt(temperature);
    const long double j = perm * area * u * (c_out - c_in * std::exp(u)) / std::expm1(u);
    return static_cast<double>(j);
}

TEST(ghk_leak, metadata) {
    const mechanism* m = find_mechanism("ghk_leak");
    ASSERT_NE(m, nullptr);
    EXPECT_TRUE(metadata_is_consistent(*m));
    const mechanism_info& info = m->info();
    EXPECT_EQ(info.kind, mechanism_kind::membrane);
    ASSERT_EQ(info.reads.size(), 2u);
    EXPECT_EQ(info.reads[0].where, side::inner);
    EXPECT_EQ(info.reads[1].where, side::outer);
    ASSERT_EQ(info.outputs.size(), 1u);
    EXPECT_EQ(info.outputs[0], "ca");
    EXPECT_TRUE(info.states.empty());
    const auto& p = info.parameters.at(0);
    EXPECT_EQ(p.name, "permeability");
    EXPECT_EQ(p.dim, &dims::permeability);
}

TEST(ghk_leak, ghk_equation_over_five_instances) {
    mechanism_harness h("ghk_leak", 5);
    h.param("permeability") = {1e-5, 3e-4, 2e-2, 7e-6, 1e-3};
    h.size = {1257.0, 15.0, 0.5, 8e4, 100.0};
    h.potential = {-70.0, 30.0, -150.0, 200.0, 1e-3};
    h.conc("ca", side::inner) = {0.1, 400.0, 0.1, 2.0, 1.0};
    h.conc("ca", side::outer) = {1500.0, 0.1, 2000.0, 2.5, 0.0};
    for (const double temperature: {body_temperature, 295.15}) {
        h.temperature = temperature;
        h.rates();
        std::vector<double> expected(5);
        for (std::size_t i = 0; i < 5; ++i) {
            expected[i] = ghk_reference(h.param("permeability")[i], h.size[i], h.potential[i], temperature,
                                        h.conc(0)[i], h.conc(1)[i]);
        }
        EXPECT_TRUE(all_near(h.out(0), expected, 1e-13)) << "T = " << temperature;
    }
}

TEST(ghk_leak, zero_flux_at_the_nernst_potential) {
    // Seed numbers: 1.5 mM outside, 100 nM inside, 37 degC: E_Ca = RT/(2F) ln(15000) ~ +128 mV.
    const double e_seed = nernst(2, 1500.0, 0.1, body_temperature);
    EXPECT_NEAR(e_seed, 128.0, 1.0);
    mechanism_harness h("ghk_leak", 4);
    h.size = {1257.0, 15.0, 0.5, 8e4};
    h.conc(0) = {0.1, 400.0, 0.05, 2.0};      // inner
    h.conc(1) = {1500.0, 0.1, 2000.0, 2.5};   // outer
    for (const double temperature: {body_temperature, 295.15}) {
        h.temperature = temperature;
        std::vector<double> e(4);
        for (std::size_t i = 0; i < 4; ++i) {
            e[i] = nernst(2, h.conc(1)[i], h.conc(0)[i], temperature);
        }
        h.potential = e;
        h.rates();
        for (std::size_t i = 0; i < 4; ++i) {
            // Relative to one of the two opposing unidirectional fluxes.
            const double scale = h.param("permeability")[i] * h.size[i] * std::max(h.conc(0)[i], h.conc(1)[i]) *
                                 std::max(1.0, std::abs(2 * e[i] * f_over_rt(temperature)));
            EXPECT_NEAR(h.out(0)[i], 0.0, 1e-12 * scale) << "instance " << i << ", E_Ca = " << e[i] << " mV";
        }
        for (const double offset: {-0.01, 0.01}) {
            for (std::size_t i = 0; i < 4; ++i) {
                h.potential[i] = e[i] + offset;
            }
            h.rates();
            for (std::size_t i = 0; i < 4; ++i) {
                // Below E_Ca Ca enters, above it leaves.
                EXPECT_EQ(h.out(0)[i] > 0, offset < 0) << "instance " << i << ", offset " << offset << " mV";
                EXPECT_NE(h.out(0)[i], 0.0);
            }
        }
    }
}

TEST(ghk_leak, fick_law_at_zero_potential_and_continuous_near_it) {
    mechanism_harness h("ghk_leak", 5);
    h.param("permeability") = {1e-5, 3e-4, 2e-2, 7e-6, 1e-3};
    h.size = {1257.0, 15.0, 0.5, 8e4, 100.0};
    h.conc(0) = {0.1, 400.0, 0.1, 2.0, 1.0};
    h.conc(1) = {1500.0, 0.1, 2000.0, 2.5, 0.0};
    std::vector<double> fick(5);
    for (std::size_t i = 0; i < 5; ++i) {
        fick[i] = h.param("permeability")[i] * h.size[i] * (h.conc(1)[i] - h.conc(0)[i]);
    }
    h.potential.assign(5, 0.0);
    h.rates();
    EXPECT_TRUE(all_near(h.out(0), fick, 1e-15));
    // Either side of 0 and across the series / expm1 switch (|u| = 1e-6 at V ~ 1.34e-5 mV at 37 degC): equal to
    // the long-double reference, and, very close to 0, to Fick's law.
    for (const double v: {-1e-9, 1e-9, -1.3e-5, 1.3e-5, -1.4e-5, 1.4e-5, 1e-3, -1e-3, 0.5, -0.5}) {
        h.potential.assign(5, v);
        h.rates();
        std::vector<double> reference(5);
        for (std::size_t i = 0; i < 5; ++i) {
            reference[i] = ghk_reference(h.param("permeability")[i], h.size[i], v, body_temperature, h.conc(0)[i],
                                         h.conc(1)[i]);
        }
        EXPECT_TRUE(all_near(h.out(0), reference, 1e-12)) << "V = " << v << " mV";
        if (std::abs(v) < 2e-5) {
            // |u| < 1.5e-6: the deviation from Fick's law, ~|u| (c_in + c_out) / (2 |c_out - c_in|), is < 1e-5.
            EXPECT_TRUE(all_near(h.out(0), fick, 1e-5)) << "V = " << v << " mV";
        }
    }
}

TEST(ghk_leak, inward_and_rectified_at_rest) {
    // At -70 mV (u = 2 F V / RT ~ -5.24 at 37 degC) Ca enters, and with c_in << c_out the flux is Fick's law times
    // -u / (1 - e^u) ~ 5.27: the negative inside pulls the cation in.
    mechanism_harness h("ghk_leak", 3);
    h.potential = {-70.0, -70.0, 0.0};
    h.conc(0) = {0.1, 0.0, 0.1};
    h.conc(1) = {1500.0, 1500.0, 1500.0};
    h.rates();
    const double u = 2 * -70.0 * f_over_rt(body_temperature);
    EXPECT_GT(h.out(0)[0], 0.0);
    EXPECT_NEAR(h.out(0)[1] / h.out(0)[2], -u / (1 - std::exp(u)) * 1500.0 / (1500.0 - 0.1), 1e-12);
    EXPECT_NEAR(h.out(0)[1] / h.out(0)[2], 5.27, 0.01);
}

TEST(ghk_leak, default_permeability_balances_default_pmca_at_100_nM) {
    // The default P is chosen so that with the default pmca a cell at -70 mV with 1.5 mM Ca outside rests at
    // ~0.1 uM (seed). Resting state from the solver vs the balance P A g (c_o - c e^u) = vmax A c / (K + c)
    // solved here by bisection; and within 2 % of 0.1 uM.
    auto sys = testing::compile_text(R"(
[[compartments]]
name = "ext"
volume = "1 nL"
clamped = true
concentrations = { ca = "1.5 mM" }

[[compartments]]
name = "cyt"
radius = "10 um"
concentrations = { ca = "0.5 uM" }

[[membranes]]
name = "pm"
inner = "cyt"
outer = "ext"
potential = "-70 mV"

[[mechanisms]]
type = "pmca"
membrane = "pm"

[[mechanisms]]
type = "ghk_leak"
membrane = "pm"
)");
    const auto rest = find_steady_state(sys, sys.initial_state());
    ASSERT_TRUE(rest.converged);
    const double c = rest.y[static_cast<std::size_t>(sys.state_index("cyt", "ca"))];

    const mechanism_info& ghk = find_mechanism("ghk_leak")->info();
    const mechanism_info& pmca = find_mechanism("pmca")->info();
    const double perm = default_of(ghk, "permeability");
    const double vmax = default_of(pmca, "vmax");
    const double kd = default_of(pmca, "kd");
    const double u = 2 * -70.0 * f_over_rt(body_temperature);
    auto imbalance = [&](double x) {
        return perm * u / std::expm1(u) * (1500.0 - x * std::exp(u)) - vmax * x / (kd + x);
    };
    double lo = 0.0;
    double hi = 1.0;
    for (int k = 0; k < 200; ++k) {
        const double mid = 0.5 * (lo + hi);
        (imbalance(mid) > 0 ? lo : hi) = mid;
    }
    EXPECT_NEAR(c, lo, 1e-6 * lo);
    EXPECT_NEAR(c, 0.1, 0.002);
}

} // namespace
} // namespace cadyn
