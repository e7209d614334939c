// Tests of the imaging mechanisms: the voltage-gated Ca channel (vgcc) and the fluorescent Ca indicators (fluo4,
// ogb1, fura2).
//
// vgcc, against its closed forms:
//   J_in = P A m^2 h z u (c_out e^{-z u} - c_in) / (1 - e^{-z u}),  u = F V / (R T)    (Goldman 1943; Hodgkin &
//          Katz 1949), zero at the Nernst potential E = R T / (z F) ln(c_out / c_in);
//   dm/dt = alpha (1 - m) - beta m with alpha = e^{gamma x} / (2 tau_m), beta = e^{-(1 - gamma) x} / (2 tau_m),
//          x = (V - V_m) / k_m, so m_inf = 1 / (1 + e^{-x}) (Hodgkin & Huxley 1952), and at a fixed V
//          m(t) = m_inf - (m_inf - m0) exp(-t / tau(V));
//   defaults equal to Borst & Sakmann (1998) J Physiol 506:143-157: alpha = 1.78 e^{V/23.3}, beta = 0.14 e^{-V/15}.
// Dyes, against 1:1 mass-action binding (Neher & Augustine 1992) and the fluorescence of a two-state indicator:
//   F(c) = Fmin + (Fmax - Fmin) c / (Kd + c) at equilibrium (single wavelength), and for Fura-2 the ratio
//   equation [Ca] = Kd (R - Rmin) / (Rmax - R) (Sf2 / Sb2) (Grynkiewicz, Poenie & Tsien 1985 J Biol Chem
//   260:3440-3450).
#include <algorithm>
#include <cmath>
#include <limits>
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

constexpr double nan = std::numeric_limits<double>::quiet_NaN();

double default_of(const mechanism_info& info, std::string_view name) {
    const int j = info.parameter_index(name);
    if (j < 0) {
        ADD_FAILURE() << "no parameter " << name;
        return nan;
    }
    return default_value(info.parameters[static_cast<std::size_t>(j)]);
}

// The observables of the harness's instances, [observable][instance].
std::vector<std::vector<double>> observe(mechanism_harness& h) {
    std::vector<std::vector<double>> out(h.info().observables.size(), std::vector<double>(h.n(), nan));
    std::vector<double*> ptr;
    for (auto& v: out) {
        ptr.push_back(v.data());
    }
    h.mech().observe(h.pack(), ptr.data());
    return out;
}

// Index of the budget channel moved by mechanism instance `name`.
std::size_t channel_of(const system& sys, const std::string& name) {
    const auto& channels = sys.flux_channels();
    for (std::size_t k = 0; k < channels.size(); ++k) {
        if (channels[k].mechanism == name) {
            return k;
        }
    }
    ADD_FAILURE() << "no flux channel of " << name;
    return 0;
}

// ---------------------------------------------------------------------------------------------------------------
// vgcc
// ---------------------------------------------------------------------------------------------------------------

constexpr double zca = 2;

// F / (R T) in 1/mV.
double f_over_rt(double temperature) {
    return constants::faraday / (constants::gas * temperature) * 1e-3;
}

// The textbook GHK flux into the cell per area and permeability (V != 0), written independently of the kernel's
// Bernoulli form: z u (c_o e^{-z u} - c_i) / (1 - e^{-z u}).
double ghk_textbook(double v, double c_out, double c_in, double temperature) {
    const double zu = zca * f_over_rt(temperature) * v;
    return zu * (c_out * std::exp(-zu) - c_in) / (1.0 - std::exp(-zu));
}

double nernst(double c_out, double c_in, double temperature) {
    return std::log(c_out / c_in) / (zca * f_over_rt(temperature));
}

double boltzmann(double v, double vhalf, double slope) {
    return 1.0 / (1.0 + std::exp(-(v - vhalf) / slope));
}

struct gating {
    double vhalf, slope, tau, gamma;
    double alpha(double v) const { return std::exp(gamma * (v - vhalf) / slope) / (2 * tau); }
    double beta(double v) const { return std::exp(-(1 - gamma) * (v - vhalf) / slope) / (2 * tau); }
    double m_inf(double v) const { return alpha(v) / (alpha(v) + beta(v)); }
    double tau_at(double v) const { return 1.0 / (alpha(v) + beta(v)); }
};

gating default_gating() {
    const auto& info = find_mechanism("vgcc")->info();
    return {default_of(info, "m_vhalf"), default_of(info, "m_slope"), default_of(info, "m_tau"),
            default_of(info, "m_gamma")};
}

TEST(vgcc, metadata) {
    const mechanism* m = find_mechanism("vgcc");
    ASSERT_NE(m, nullptr);
    EXPECT_TRUE(metadata_is_consistent(*m));
    const mechanism_info& info = m->info();
    EXPECT_EQ(info.kind, mechanism_kind::membrane);
    EXPECT_FALSE(info.is_stimulus);
    // The substrate comes from outside: the outer side is read first; per-volume permeabilities refer to the
    // cytosol (the reference compartment).
    EXPECT_EQ(info.reference, side::inner);
    ASSERT_EQ(info.reads.size(), 2u);
    EXPECT_EQ(info.reads[0].species, "ca");
    EXPECT_EQ(info.reads[0].where, side::outer);
    EXPECT_EQ(info.reads[1].species, "ca");
    EXPECT_EQ(info.reads[1].where, side::inner);
    ASSERT_EQ(info.outputs.size(), 1u);
    EXPECT_EQ(info.outputs[0], "ca");
    ASSERT_EQ(info.states.size(), 2u);
    EXPECT_EQ(info.states[0].name, "m");
    EXPECT_EQ(info.states[1].name, "h");
    for (const auto& s: info.states) {
        EXPECT_EQ(s.dim, &dims::dimensionless);
        EXPECT_TRUE(s.carries.empty());  // gates hold no Ca
    }
    ASSERT_EQ(info.observables.size(), 2u);
    EXPECT_EQ(info.observables[0].name, "current");
    EXPECT_EQ(info.observables[0].unit, "pA");
    EXPECT_EQ(info.observables[1].name, "open_probability");
    EXPECT_FALSE(info.observables[0].relative_to_start);
    EXPECT_FALSE(info.observables[1].relative_to_start);
    const int perm = info.parameter_index("permeability");
    ASSERT_GE(perm, 0);
    EXPECT_EQ(info.parameters[static_cast<std::size_t>(perm)].dim, &dims::permeability);
    for (const char* name: {"m_vhalf", "m_slope", "h_vhalf", "h_slope"}) {
        ASSERT_GE(info.parameter_index(name), 0) << name;
        EXPECT_EQ(info.parameters[static_cast<std::size_t>(info.parameter_index(name))].dim, &dims::potential);
    }
    for (const char* name: {"m_tau", "h_tau"}) {
        ASSERT_GE(info.parameter_index(name), 0) << name;
        EXPECT_EQ(info.parameters[static_cast<std::size_t>(info.parameter_index(name))].dim, &dims::time);
    }
    // Borst & Sakmann's m^2 model has no inactivation.
    EXPECT_EQ(default_of(info, "inactivation"), 0.0);
}

TEST(vgcc, defaults_reproduce_borst_sakmann_rates) {
    // Borst & Sakmann (1998) J Physiol 506:143-157, Fig. 8 legend: alpha = 1.78 exp(V/23.3) /ms,
    // beta = 0.140 exp(-V/15.0) /ms. The defaults are these written as V_m, k_m, tau_m, gamma to 5 significant
    // digits, so the rates agree to about 1e-4.
    const gating g = default_gating();
    for (double v = -100; v <= 60; v += 5) {
        EXPECT_NEAR(g.alpha(v), 1.78 * std::exp(v / 23.3), 2e-4 * 1.78 * std::exp(v / 23.3)) << "V = " << v;
        EXPECT_NEAR(g.beta(v), 0.140 * std::exp(-v / 15.0), 2e-4 * 0.140 * std::exp(-v / 15.0)) << "V = " << v;
    }
}

void setup_five_vgcc(mechanism_harness& h) {
    h.param("permeability") = {5e-4, 1e-3, 2e-5, 5e-4, 0.01};
    h.param("m_vhalf") = {-23.2, -10.0, -30.0, 0.0, -40.0};
    h.param("m_slope") = {9.1, 6.0, 12.0, 5.0, 8.0};
    h.param("m_tau") = {0.76, 1.5, 0.3, 5.0, 2.0};
    h.param("m_gamma") = {0.39, 0.5, 0.0, 1.0, 0.2};
    h.param("inactivation") = {0.0, 1.0, 0.5, 0.3, 0.9};
    h.param("h_vhalf") = {-32.0, -50.0, -20.0, -70.0, 0.0};
    h.param("h_slope") = {8.0, 5.0, 10.0, 3.0, 20.0};
    h.param("h_tau") = {50.0, 20.0, 200.0, 5.0, 1000.0};
    h.size = {500.0, 20.0, 3.0, 1e4, 0.5};
    h.potential = {-80.0, -30.0, 10.0, 45.0, -5.0};
}

TEST(vgcc, kernel_matches_closed_form_over_five_instances) {
    mechanism_harness h("vgcc", 5);
    setup_five_vgcc(h);
    h.temperature = 296.15;
    h.conc("ca", side::outer) = {2000.0, 1000.0, 5000.0, 2000.0, 100.0};
    h.conc("ca", side::inner) = {0.1, 0.05, 1.0, 500.0, 10.0};
    h.state(0) = {0.01, 0.5, 0.9, 0.3, 0.7};  // away from steady state, both directions
    h.state(1) = {1.0, 0.2, 0.6, 0.95, 0.5};
    h.rates();

    std::vector<double> flux(5), dm(5), dh(5);
    for (std::size_t i = 0; i < 5; ++i) {
        const double v = h.potential[i];
        const gating g{h.param("m_vhalf")[i], h.param("m_slope")[i], h.param("m_tau")[i], h.param("m_gamma")[i]};
        const double m = h.state(0)[i];
        const double hh = h.state(1)[i];
        dm[i] = g.alpha(v) * (1 - m) - g.beta(v) * m;
        const double h_inf =
            1 - h.param("inactivation")[i] * boltzmann(v, h.param("h_vhalf")[i], h.param("h_slope")[i]);
        dh[i] = (h_inf - hh) / h.param("h_tau")[i];
        flux[i] = h.param("permeability")[i] * h.size[i] * m * m * hh *
                  ghk_textbook(v, h.conc(0)[i], h.conc(1)[i], h.temperature);
    }
    EXPECT_TRUE(all_near(h.out(0), flux, 1e-12));
    EXPECT_TRUE(all_near(h.dstate(0), dm, 1e-12));
    EXPECT_TRUE(all_near(h.dstate(1), dh, 1e-12));
    EXPECT_GT(h.out(0)[0], 0.0);  // -80 mV, 2 mM outside: Ca enters
    EXPECT_LT(h.out(0)[3], 0.0);  // +45 mV is above E_Ca = 17.7 mV (2 mM / 0.5 mM at 23 degC): Ca leaves
}

TEST(vgcc, observables_are_current_and_open_probability) {
    mechanism_harness h("vgcc", 5);
    setup_five_vgcc(h);
    h.conc("ca", side::outer) = {2000.0, 1000.0, 5000.0, 2000.0, 100.0};
    h.conc("ca", side::inner) = {0.1, 0.05, 1.0, 50.0, 10.0};
    h.state(0) = {0.01, 0.5, 0.9, 0.3, 0.7};
    h.state(1) = {1.0, 0.2, 0.6, 0.95, 0.5};
    h.rates();
    const auto obs = observe(h);
    std::vector<double> current(5), open(5);
    for (std::size_t i = 0; i < 5; ++i) {
        // I = z F J: 1 pA carries 1/(z F) = 10.36/z zmol/ms; Ca entering is an inward (negative) current.
        current[i] = -zca * h.out(0)[i] / constants::zmol_per_ms_per_pA;
        open[i] = h.state(0)[i] * h.state(0)[i] * h.state(1)[i];
    }
    EXPECT_TRUE(all_near(obs[0], current, 1e-14));
    EXPECT_TRUE(all_near(obs[1], open, 1e-15));
    EXPECT_LT(obs[0][0], 0.0);
}

TEST(vgcc, steady_state_activation_is_half_at_vhalf) {
    // m_inf(V_m) = 1/2 and m_inf(V_m +- k_m) = 1 / (1 + e^{-+1}), whatever gamma and tau; init() puts the gates
    // there and dm/dt vanishes. With inactivation, h_inf(V_h) = 1 - f / 2.
    mechanism_harness h("vgcc", 5);
    setup_five_vgcc(h);
    h.conc("ca", side::outer).assign(5, 2000.0);
    h.conc("ca", side::inner).assign(5, 0.1);
    h.potential = h.param("m_vhalf");
    h.init();
    EXPECT_TRUE(all_near(h.state(0), {0.5, 0.5, 0.5, 0.5, 0.5}, 1e-15));
    h.rates();
    for (std::size_t i = 0; i < 5; ++i) {
        EXPECT_LE(std::abs(h.dstate(0)[i]), 1e-15 / h.param("m_tau")[i]) << i;
    }

    for (const double sign: {-1.0, 1.0}) {
        for (std::size_t i = 0; i < 5; ++i) {
            h.potential[i] = h.param("m_vhalf")[i] + sign * h.param("m_slope")[i];
        }
        h.init();
        const double expected = 1.0 / (1.0 + std::exp(-sign));
        EXPECT_TRUE(all_near(h.state(0), {expected, expected, expected, expected, expected}, 1e-14));
    }

    h.potential = h.param("h_vhalf");
    h.init();
    std::vector<double> half_inactivated(5);
    for (std::size_t i = 0; i < 5; ++i) {
        half_inactivated[i] = 1 - h.param("inactivation")[i] / 2;
    }
    EXPECT_TRUE(all_near(h.state(1), half_inactivated, 1e-15));
}

TEST(vgcc, ghk_flux_reverses_at_the_nernst_potential) {
    // The GHK flux vanishes where c_out / c_in = exp(z F E / R T). Find its zero by bisection and compare with E
    // from the Nernst equation, for several concentration pairs and temperatures: required within 0.01 mV (the
    // residual is rounding, ~1e-10 mV).
    struct case_t {
        double c_out, c_in, temperature;
    };
    const std::vector<case_t> cases = {{2000.0, 0.1, 310.15},
                                       {2000.0, 0.05, 296.15},
                                       {1000.0, 1.0, 310.15},
                                       {100.0, 10.0, 280.0},
                                       {500.0, 500.0, 310.15}};
    mechanism_harness h("vgcc", 1);
    h.set_param("permeability", 1e-3);
    h.size = {100.0};
    h.state(0) = {1.0};
    h.state(1) = {1.0};
    for (const auto& c: cases) {
        h.temperature = c.temperature;
        h.conc("ca", side::outer) = {c.c_out};
        h.conc("ca", side::inner) = {c.c_in};
        auto flux_at = [&](double v) {
            h.potential = {v};
            h.rates();
            return h.out(0)[0];
        };
        const double e = nernst(c.c_out, c.c_in, c.temperature);
        EXPECT_GT(flux_at(e - 0.01), 0.0) << "below E_Ca Ca enters";
        EXPECT_LT(flux_at(e + 0.01), 0.0) << "above E_Ca Ca leaves";
        double lo = e - 20;
        double hi = e + 20;
        for (int k = 0; k < 100; ++k) {
            const double mid = 0.5 * (lo + hi);
            (flux_at(mid) > 0 ? lo : hi) = mid;
        }
        EXPECT_NEAR(0.5 * (lo + hi), e, 0.01) << "c_out " << c.c_out << " c_in " << c.c_in << " T " << c.temperature;
        EXPECT_NEAR(0.5 * (lo + hi), e, 1e-8);
    }
    // 2 mM outside, 100 nM inside, 37 degC: E_Ca = 13.36 mV * ln(20000) = 132.3 mV.
    EXPECT_NEAR(nernst(2000.0, 0.1, 310.15), 132.3, 0.05);
}

TEST(vgcc, ghk_flux_is_smooth_through_zero_potential) {
    // At V = 0 the GHK flux is pure diffusion, P A (c_out - c_in), with no 0/0; just beside 0 it joins the textbook
    // form continuously.
    mechanism_harness h("vgcc", 5);
    h.set_param("permeability", 1e-3);
    h.size.assign(5, 10.0);
    h.state(0).assign(5, 1.0);
    h.state(1).assign(5, 1.0);
    h.conc("ca", side::outer).assign(5, 2000.0);
    h.conc("ca", side::inner).assign(5, 0.1);
    h.potential = {0.0, 1e-9, -1e-9, 1e-3, -1e-3};
    h.rates();
    const double at_zero = 1e-3 * 10.0 * (2000.0 - 0.1);
    EXPECT_DOUBLE_EQ(h.out(0)[0], at_zero);
    EXPECT_NEAR(h.out(0)[1], at_zero, 1e-9 * at_zero);
    EXPECT_NEAR(h.out(0)[2], at_zero, 1e-9 * at_zero);
    for (std::size_t i = 3; i < 5; ++i) {
        const double expected = 1e-3 * 10.0 * ghk_textbook(h.potential[i], 2000.0, 0.1, h.temperature);
        EXPECT_NEAR(h.out(0)[i], expected, 1e-9 * expected) << i;
    }
    EXPECT_LT(h.out(0)[3], h.out(0)[0]);  // depolarisation reduces the inward flux
    EXPECT_GT(h.out(0)[4], h.out(0)[0]);
}

// A cell with a VGCC on its plasma membrane under an imposed potential protocol; extras appended to the model.
std::string clamp_model(const std::string& protocol, double t_end, double interval, const std::string& record,
                        const std::string& extras = "") {
    return fmt::format(R"(
[[compartments]]
name = "ext"
volume = "1 nL"
clamped = true
concentrations = {{ ca = "2 mM" }}

[[compartments]]
name = "cyt"
volume = "1 pL"
concentrations = {{ ca = "0.05 uM" }}

[[membranes]]
name = "pm"
inner = "cyt"
outer = "ext"
area = "500 um^2"
potential = "-70 mV"
protocol = {protocol}

[[mechanisms]]
type = "vgcc"
membrane = "pm"
{extras}
[run]
t_end = "{t_end} ms"
rtol = 1e-9
atol = "1e-12 uM"

[record]
interval = "{interval} ms"
observables = [{record}]
)",
                       fmt::arg("protocol", protocol), fmt::arg("extras", extras), fmt::arg("t_end", t_end),
                       fmt::arg("interval", interval), fmt::arg("record", record));
}

TEST(vgcc, voltage_clamp_step_relaxes_m_exponentially) {
    // Hodgkin & Huxley (1952): at a fixed potential each gate relaxes exponentially, m(t) = m_inf - (m_inf - m0)
    // exp(-t / tau). Step from -80 mV (m0 = m_inf(-80)) to 0 mV at t = 1 ms; with Borst & Sakmann's rates
    // tau(0 mV) = 1 / (1.78 + 0.14) = 0.52 ms. Tolerance 1e-6 absolute: the solver runs at rtol 1e-9.
    auto sys = testing::compile_text(clamp_model(
        R"({ type = "steps", levels = ["-80 mV", "0 mV"], durations = ["1 ms"] })", 6, 0.05, R"("vgcc.m", "pm.V")"));
    memory_recorder rec;
    simulate(sys, rec);
    const gating g = default_gating();
    const double m0 = g.m_inf(-80);
    const double m_inf = g.m_inf(0);
    const double tau = g.tau_at(0);
    EXPECT_NEAR(tau, 1.0 / (1.78 + 0.14), 1e-4);
    const auto& t = rec.times();
    const auto& m = rec.column("vgcc.m");
    ASSERT_GE(t.size(), 100u);
    double worst = 0;
    for (std::size_t k = 0; k < t.size(); ++k) {
        const double expected = t[k] < 1 ? m0 : m_inf - (m_inf - m0) * std::exp(-(t[k] - 1) / tau);
        worst = std::max(worst, std::abs(m[k] - expected));
    }
    EXPECT_LT(worst, 1e-6);
    EXPECT_NEAR(m.back(), m_inf, 1e-4);  // 10 tau after the step
}

// Peak inward current [pA] of a step from -80 mV to v (5 ms) with the default channel on 500 um^2.
double peak_current(double v) {
    auto sys = testing::compile_text(
        clamp_model(fmt::format(R"({{ type = "steps", levels = ["-80 mV", "{} mV"], durations = ["1 ms"] }})", v), 6,
                    0.01, R"("vgcc.current")"));
    memory_recorder rec;
    simulate(sys, rec);
    const auto& i = rec.column("vgcc.current");
    // The largest current by magnitude (inward currents are negative).
    return *std::max_element(i.begin(), i.end(), [](double a, double b) { return std::abs(a) < std::abs(b); });
}

TEST(vgcc, current_voltage_curve_is_bell_shaped) {
    // Peak current against step potential: activation (m^2) grows with depolarisation, the GHK driving force shrinks
    // towards E_Ca ~ +130 mV, so the I-V curve of an HVA channel is bell shaped with its maximum between -20 and
    // +20 mV, and the current turns outward above E_Ca (e.g. Hille, Ion Channels of Excitable Membranes).
    std::vector<double> volts;
    std::vector<double> peaks;
    for (double v = -60; v <= 60; v += 10) {
        volts.push_back(v);
        peaks.push_back(peak_current(v));
    }
    const auto it = std::min_element(peaks.begin(), peaks.end());  // most negative: largest inward
    const std::size_t k_max = static_cast<std::size_t>(it - peaks.begin());
    EXPECT_GE(volts[k_max], -20.0);
    EXPECT_LE(volts[k_max], 20.0);
    for (std::size_t k = 0; k < peaks.size(); ++k) {
        EXPECT_LT(peaks[k], 0.0) << "inward at " << volts[k] << " mV";
        if (k > 0 && k <= k_max) {
            EXPECT_LT(peaks[k], peaks[k - 1]) << "growing towards the peak at " << volts[k] << " mV";
        }
        if (k > k_max) {
            EXPECT_GT(peaks[k], peaks[k - 1]) << "shrinking after the peak at " << volts[k] << " mV";
        }
    }
    EXPECT_LT(std::abs(peaks.front()), 0.1 * std::abs(*it));  // -60 mV: barely activated
    EXPECT_LT(std::abs(peaks.back()), 0.7 * std::abs(*it));
    // The default density: the documented ~18 pA/pF at the peak (1 uF/cm^2 = 0.01 pF/um^2 on 500 um^2 = 5 pF).
    EXPECT_NEAR(std::abs(*it) / 5.0, 18.0, 2.0);
    // Above E_Ca (132 mV) the channel passes outward current.
    EXPECT_GT(peak_current(150), 0.0);
}

// Ca entry over a spike train protocol with `count` spikes at 20 Hz, from the resting state.
struct train_result {
    double entry = 0;  // [zmol] through the VGCC over the run
    std::vector<double> t;
    std::vector<double> ca;
};

train_result spike_train(int count) {
    const std::string protocol = fmt::format(R"({{ type = "spikes", rest = "-70 mV", peak = "30 mV", start = "10 ms", )"
                                             R"(frequency = "20 Hz", count = {}, width = "1 ms" }})",
                                             count);
    // Endogenous fixed buffer (kappa ~ 100), PMCA extrusion and a leak that set the rest near 50 nM, so that Ca
    // decays between spikes, but slowly (tau ~ 300 ms).
    const std::string extras = R"(
[[buffers]]
name = "endogenous"
compartment = "cyt"
total = "100 uM"
kd = "1 uM"

[[mechanisms]]
type = "pmca"
membrane = "pm"

[[mechanisms]]
type = "leak"
membrane = "pm"
permeability = "2e-5 um/ms"
)";
    auto text = clamp_model(protocol, 300, 0.5, R"("cyt.ca")", extras);
    text.replace(text.find("[run]\n"), 6, "[run]\nstart = \"steady_state\"\n");
    auto sys = testing::compile_text(text);
    memory_recorder rec;
    const auto result = simulate(sys, rec);
    return {result.budget[channel_of(sys, "vgcc")], rec.times(), rec.column("cyt.ca")};
}

TEST(vgcc, spike_train_gives_equal_entry_per_spike_and_summating_ca) {
    // An action-potential train (Gaussian spikes -70 -> +30 mV, 1 ms wide, 20 Hz): each spike opens the channels
    // briefly, and because c_in << c_out and the default channel does not inactivate, every spike lets in the same
    // amount of Ca (Borst & Sakmann 1998; Helmchen, Imoto & Sakmann 1996 Biophys J 70:1069-1081 for the
    // spike-by-spike summation of dendritic Ca). The entry of a run without spikes (the window current at rest) is
    // subtracted. Required: 5 spikes = 5 x one spike within 0.5 %; free Ca before each spike higher than before the
    // previous one (summation) and lower than the peak after it (decay between spikes).
    const auto none = spike_train(0);
    const auto one = spike_train(1);
    const auto five = spike_train(5);
    const double per_spike = one.entry - none.entry;
    ASSERT_GT(per_spike, 0.0);
    EXPECT_NEAR((five.entry - none.entry) / per_spike, 5.0, 0.025);
    EXPECT_NEAR(none.ca.front(), none.ca.back(), 1e-6 * none.ca.front());  // without spikes the cell stays at rest

    auto ca_at = [&](double time) {
        const auto k = static_cast<std::size_t>(std::lround(time / 0.5));
        return five.ca[k];
    };
    double previous_base = ca_at(10.0);
    for (int k = 1; k < 5; ++k) {
        const double onset = 10.0 + 50.0 * k;
        const double base = ca_at(onset);
        double peak_after_previous = 0;
        for (double time = onset - 50; time < onset; time += 0.5) {
            peak_after_previous = std::max(peak_after_previous, ca_at(time));
        }
        EXPECT_GT(base, previous_base) << "spike " << k;
        EXPECT_LT(base, peak_after_previous) << "spike " << k;
        previous_base = base;
    }
    EXPECT_LT(five.ca.back(), *std::max_element(five.ca.begin(), five.ca.end()));  // decays after the train
}

// ---------------------------------------------------------------------------------------------------------------
// Dyes: shared checks
// ---------------------------------------------------------------------------------------------------------------

void expect_dye_metadata(const char* name, double kd) {
    const mechanism* m = find_mechanism(name);
    ASSERT_NE(m, nullptr);
    EXPECT_TRUE(metadata_is_consistent(*m));
    const mechanism_info& info = m->info();
    EXPECT_EQ(info.kind, mechanism_kind::volume);
    EXPECT_FALSE(info.is_stimulus);
    ASSERT_EQ(info.reads.size(), 1u);
    EXPECT_EQ(info.reads[0].species, "ca");
    EXPECT_EQ(info.reads[0].where, side::local);
    ASSERT_EQ(info.outputs.size(), 1u);
    EXPECT_EQ(info.outputs[0], "ca");
    ASSERT_EQ(info.states.size(), 1u);
    EXPECT_EQ(info.states[0].name, "bound");
    EXPECT_EQ(info.states[0].dim, &dims::concentration);
    EXPECT_EQ(info.states[0].carries, "ca");  // the dye-bound Ca counts in the totals
    EXPECT_EQ(info.states[0].carried, 1.0);
    for (const char* p: {"total", "kd", "kon", "diffusion"}) {
        EXPECT_GE(info.parameter_index(p), 0) << p;
    }
    EXPECT_DOUBLE_EQ(default_of(info, "kd"), kd);
    // kon of BAPTA-type indicators: 1e8 - 1e9 /M/s = 0.1 - 1 /(uM ms).
    EXPECT_GE(default_of(info, "kon"), 0.1);
    EXPECT_LE(default_of(info, "kon"), 1.0);
    // Mobile dye: 90 - 200 um^2/s = 0.09 - 0.2 um^2/ms.
    EXPECT_GE(default_of(info, "diffusion"), 0.09);
    EXPECT_LE(default_of(info, "diffusion"), 0.2);
}

void setup_five_dye(mechanism_harness& h) {
    h.param("total") = {50.0, 100.0, 0.0, 10.0, 200.0};
    h.param("kd") = {0.345, 0.17, 0.224, 1.0, 0.05};
    h.param("kon") = {0.5, 0.1, 0.8, 1.0, 0.3};
    h.size = {1.0, 10.0, 100.0, 0.1, 5e3};
}

// Mass action, d[CaD]/dt = kon ([Ca] ([D]tot - [CaD]) - Kd [CaD]), and the free Ca loses exactly what binds.
void expect_binding_kinetics(const char* name) {
    mechanism_harness h(name, 5);
    setup_five_dye(h);
    h.conc(0) = {0.05, 1.0, 0.3, 500.0, 0.0};
    h.state(0) = {8.0, 49.0, 0.0, 9.0, 9.5};
    h.rates();
    std::vector<double> expected(5);
    for (std::size_t i = 0; i < 5; ++i) {
        const double c = h.conc(0)[i];
        const double cab = h.state(0)[i];
        expected[i] = h.param("kon")[i] * (c * (h.param("total")[i] - cab) - h.param("kd")[i] * cab);
    }
    EXPECT_TRUE(all_near(h.dstate(0), expected, 1e-14));
    for (std::size_t i = 0; i < 5; ++i) {
        EXPECT_EQ(h.out(0)[i], -h.dstate(0)[i]) << i;
    }
    EXPECT_LT(h.dstate(0)[0], 0.0);  // 8 uM bound at 50 nM free: unbinding
    EXPECT_GT(h.dstate(0)[1], 0.0);  // 1 uM free, Kd 0.17 uM, half bound: binding

    // init(): equilibrium with the free Ca, where net binding vanishes to rounding.
    h.conc(0) = {0.05, 0.17, 0.3, 500.0, 1e-4};
    h.init();
    for (std::size_t i = 0; i < 5; ++i) {
        const double c = h.conc(0)[i];
        EXPECT_NEAR(h.state(0)[i], h.param("total")[i] * c / (h.param("kd")[i] + c), 1e-15 * h.param("total")[i]);
    }
    EXPECT_DOUBLE_EQ(h.state(0)[1], 50.0);  // [Ca] = Kd: half the dye bound
    h.rates();
    for (std::size_t i = 0; i < 5; ++i) {
        EXPECT_LE(std::abs(h.dstate(0)[i]), 1e-14 * h.param("kon")[i] * h.conc(0)[i] * h.param("total")[i]) << i;
    }
}

// F(c) = Fmin + (Fmax - Fmin) c / (Kd + c) for a dye in equilibrium (init), for five instances.
void expect_single_wavelength_fluorescence(const char* name) {
    mechanism_harness h(name, 5);
    setup_five_dye(h);
    h.param("f_min") = {1.0, 0.5, 2.0, 1.0, 0.01};
    h.param("f_max") = {100.0, 7.0, 30.0, 14.0, 1.0};
    h.conc(0) = {0.05, 0.17, 0.3, 1e4, 0.0};
    h.init();
    const auto obs = observe(h);
    ASSERT_EQ(obs.size(), 2u);
    std::vector<double> expected(5);
    for (std::size_t i = 0; i < 5; ++i) {
        const double c = h.conc(0)[i];
        const double f_min = h.param("f_min")[i];
        const double f_max = h.param("f_max")[i];
        // Without dye (instance 2) the signal is that of the free form.
        expected[i] = h.param("total")[i] > 0 ? f_min + (f_max - f_min) * c / (h.param("kd")[i] + c) : f_min;
    }
    EXPECT_TRUE(all_near(obs[0], expected, 1e-14));
    EXPECT_TRUE(all_near(obs[1], obs[0], 0.0));     // F_F0 is F until the engine divides by its start value
    EXPECT_DOUBLE_EQ(obs[0][1], 0.5 * (0.5 + 7.0));  // [Ca] = Kd: half way between Fmin and Fmax
    EXPECT_NEAR(obs[0][3], 14.0, 14.0 * 1e-3);      // saturated: Fmax
    EXPECT_DOUBLE_EQ(obs[0][4], 0.01);              // no Ca: Fmin
}

// F/F0 for a step of Ca from c0 to c1 with the dye in equilibrium at both: F(c1) / F(c0), evaluated by the
// kernel at the two equilibria (init) and compared with the closed form, for resting levels and rises that
// span the dye's range.
void expect_step_f_f0(const char* name) {
    const std::vector<double> c0 = {0.05, 0.05, 0.1, 0.2, 1.0};
    const std::vector<double> c1 = {0.1, 0.5, 1.0, 0.15, 10.0};
    mechanism_harness before(name, c0.size());
    mechanism_harness after(name, c1.size());
    before.conc(0) = c0;
    after.conc(0) = c1;
    before.init();
    after.init();
    const auto f0 = observe(before);
    const auto f1 = observe(after);
    const auto& info = before.info();
    const double kd = default_of(info, "kd");
    const double f_min = default_of(info, "f_min");
    const double f_max = default_of(info, "f_max");
    auto f_of = [&](double c) { return f_min + (f_max - f_min) * c / (kd + c); };
    std::vector<double> ratio(c0.size());
    std::vector<double> expected(c0.size());
    for (std::size_t i = 0; i < c0.size(); ++i) {
        ratio[i] = f1[0][i] / f0[0][i];
        expected[i] = f_of(c1[i]) / f_of(c0[i]);
    }
    EXPECT_TRUE(all_near(ratio, expected, 1e-13));
    EXPECT_LT(ratio[3], 1.0);  // a fall of Ca dims the dye
    EXPECT_GT(ratio[1], 1.0);
}

// A closed cell with the dye, loaded by a train of Ca current pulses; no extrusion, so Ca settles at a new level.
std::string dye_model(const std::string& dye) {
    return fmt::format(R"(
[[compartments]]
name = "ext"
volume = "1 nL"
clamped = true
concentrations = {{ ca = "2 mM" }}

[[compartments]]
name = "cyt"
volume = "1 pL"
concentrations = {{ ca = "0.05 uM" }}

[[membranes]]
name = "pm"
inner = "cyt"
outer = "ext"
area = "500 um^2"

[[mechanisms]]
type = "{dye}"
compartment = "cyt"

[[stimuli]]
name = "influx"
membrane = "pm"
amplitude = "100 pA"
start = "10 ms"
duration = "2 ms"
frequency = "50 Hz"
count = 10

[run]
t_end = "600 ms"
rtol = 1e-10
atol = "1e-14 uM"

[record]
interval = "1 ms"
)",
                       fmt::arg("dye", dye));
}

// F/F0 of a single-wavelength dye in a whole model: exactly 1 at the start, rising during the Ca influx, and at the
// end (dye in equilibrium again) equal to F(c_end) / F(c0) with F(c) = Fmin + (Fmax - Fmin) c / (Kd + c), within
// 1e-6 (solver at rtol 1e-10). The Ca taken up by the dye counts in the total: total Ca (free + dye-bound) rises by
// exactly what the stimulus carried in (1e-8 relative).
void expect_f_f0_in_a_run(const char* name) {
    auto sys = testing::compile_text(dye_model(name));
    memory_recorder rec;
    const auto result = simulate(sys, rec);
    const std::string key = name;
    const auto& f_f0 = rec.column(key + ".F_F0");
    const auto& f = rec.column(key + ".F");
    const auto& ca = rec.column("cyt.ca");
    const auto& info = find_mechanism(name)->info();
    const double kd = default_of(info, "kd");
    const double f_min = default_of(info, "f_min");
    const double f_max = default_of(info, "f_max");
    auto f_of = [&](double c) { return f_min + (f_max - f_min) * c / (kd + c); };

    EXPECT_EQ(f_f0.front(), 1.0);
    EXPECT_NEAR(f.front(), f_of(0.05), 1e-12 * f.front());
    EXPECT_GT(*std::max_element(f_f0.begin(), f_f0.end()), 1.05);
    EXPECT_NEAR(f_f0.back(), f_of(ca.back()) / f_of(ca.front()), 1e-6);
    for (std::size_t k = 0; k < f.size(); ++k) {
        EXPECT_NEAR(f_f0[k], f[k] / f.front(), 1e-14 * f_f0[k]) << k;
    }
    // Monotone: Ca only enters this closed cell, so the dye only brightens.
    for (std::size_t k = 1; k < f_f0.size(); ++k) {
        EXPECT_GE(f_f0[k], f_f0[k - 1] - 1e-9) << k;
    }

    const double entered = result.budget[channel_of(sys, "influx")];  // [zmol]
    EXPECT_NEAR(entered, 10 * 100 * constants::zmol_per_ms_per_pA / 2 * 2, 1e-6 * entered);
    const double gained = sys.total_amount(result.y_end.data(), "ca") - sys.total_amount(result.y0.data(), "ca");
    EXPECT_NEAR(gained, entered, 1e-8 * entered);
}

// ---------------------------------------------------------------------------------------------------------------
// fluo4
// ---------------------------------------------------------------------------------------------------------------

TEST(fluo4, metadata) {
    // Kd 345 nM (Gee et al. 2000 Cell Calcium 27:97-106); dynamic range Fmax/Fmin ~100.
    expect_dye_metadata("fluo4", 0.345);
    const auto& info = find_mechanism("fluo4")->info();
    EXPECT_DOUBLE_EQ(default_of(info, "f_max") / default_of(info, "f_min"), 100.0);
    ASSERT_EQ(info.observables.size(), 2u);
    EXPECT_EQ(info.observables[0].name, "F");
    EXPECT_FALSE(info.observables[0].relative_to_start);
    EXPECT_EQ(info.observables[1].name, "F_F0");
    EXPECT_TRUE(info.observables[1].relative_to_start);
}

TEST(fluo4, binding_kinetics_over_five_instances) {
    expect_binding_kinetics("fluo4");
}

TEST(fluo4, fluorescence_follows_the_binding_isotherm) {
    expect_single_wavelength_fluorescence("fluo4");
}

TEST(fluo4, f_f0_starts_at_one_and_follows_ca_in_a_run) {
    expect_f_f0_in_a_run("fluo4");
}

TEST(fluo4, step_f_f0_matches_closed_form) {
    expect_step_f_f0("fluo4");
}

// ---------------------------------------------------------------------------------------------------------------
// ogb1
// ---------------------------------------------------------------------------------------------------------------

TEST(ogb1, metadata) {
    // Kd 170 nM, Fmax/Fmin ~14 (Molecular Probes Handbook).
    expect_dye_metadata("ogb1", 0.17);
    const auto& info = find_mechanism("ogb1")->info();
    EXPECT_DOUBLE_EQ(default_of(info, "f_max") / default_of(info, "f_min"), 14.0);
    ASSERT_EQ(info.observables.size(), 2u);
    EXPECT_EQ(info.observables[0].name, "F");
    EXPECT_EQ(info.observables[1].name, "F_F0");
    EXPECT_TRUE(info.observables[1].relative_to_start);
}

TEST(ogb1, binding_kinetics_over_five_instances) {
    expect_binding_kinetics("ogb1");
}

TEST(ogb1, fluorescence_follows_the_binding_isotherm) {
    expect_single_wavelength_fluorescence("ogb1");
}

TEST(ogb1, f_f0_starts_at_one_and_follows_ca_in_a_run) {
    expect_f_f0_in_a_run("ogb1");
}

TEST(ogb1, step_f_f0_matches_closed_form) {
    expect_step_f_f0("ogb1");
}

// ---------------------------------------------------------------------------------------------------------------
// fura2
// ---------------------------------------------------------------------------------------------------------------

TEST(fura2, metadata) {
    // Kd 224 nM at 37 degC (Grynkiewicz, Poenie & Tsien 1985).
    expect_dye_metadata("fura2", 0.224);
    const auto& info = find_mechanism("fura2")->info();
    ASSERT_EQ(info.observables.size(), 3u);
    EXPECT_EQ(info.observables[0].name, "F340");
    EXPECT_EQ(info.observables[1].name, "F380");
    EXPECT_EQ(info.observables[2].name, "ratio");
    for (const auto& o: info.observables) {
        EXPECT_FALSE(o.relative_to_start) << o.name;
    }
    // Ca binding raises the 340 nm signal and lowers the 380 nm signal: Rmax > Rmin.
    EXPECT_GT(default_of(info, "f340_bound"), default_of(info, "f340_free"));
    EXPECT_LT(default_of(info, "f380_bound"), default_of(info, "f380_free"));
}

TEST(fura2, binding_kinetics_over_five_instances) {
    expect_binding_kinetics("fura2");
}

// [Ca] = Kd (R - Rmin) / (Rmax - R) (Sf2 / Sb2)  (Grynkiewicz, Poenie & Tsien 1985, eq. 5).
double grynkiewicz(double ratio, double kd, double sf1, double sb1, double sf2, double sb2) {
    const double r_min = sf1 / sf2;
    const double r_max = sb1 / sb2;
    return kd * (ratio - r_min) / (r_max - ratio) * (sf2 / sb2);
}

TEST(fura2, ratio_recovers_free_ca_by_grynkiewicz_equation) {
    // The essential property of a ratiometric dye: at equilibrium the ratio alone gives the free Ca. Required to
    // 1e-9 relative over 10 nM - 10 uM and for several sets of spectral coefficients.
    const std::vector<double> levels = {0.01, 0.05, 0.1, 0.224, 0.5, 1.0, 3.0, 10.0};
    mechanism_harness h("fura2", levels.size());
    h.conc(0) = levels;
    h.param("total") = {50, 100, 10, 250, 50, 1, 50, 75};
    h.param("kd") = {0.224, 0.135, 0.224, 0.3, 0.224, 0.2, 0.1, 0.5};
    h.param("f340_free") = {0.5, 0.3, 1.0, 0.5, 0.2, 0.5, 0.8, 0.5};
    h.param("f340_bound") = {1.5, 2.0, 3.0, 1.2, 1.5, 1.5, 2.5, 4.0};
    h.param("f380_free") = {1.0, 1.0, 2.0, 0.8, 1.0, 1.0, 1.5, 1.0};
    h.param("f380_bound") = {0.1, 0.2, 0.1, 0.05, 0.08, 0.1, 0.3, 0.12};
    h.init();
    const auto obs = observe(h);
    std::vector<double> recovered(levels.size());
    for (std::size_t i = 0; i < levels.size(); ++i) {
        EXPECT_DOUBLE_EQ(obs[2][i], obs[0][i] / obs[1][i]);
        recovered[i] = grynkiewicz(obs[2][i], h.param("kd")[i], h.param("f340_free")[i], h.param("f340_bound")[i],
                                   h.param("f380_free")[i], h.param("f380_bound")[i]);
    }
    EXPECT_TRUE(all_near(recovered, levels, 1e-9));
}

TEST(fura2, ratio_rises_with_ca_between_rmin_and_rmax) {
    const std::vector<double> levels = {0.0, 0.01, 0.1, 0.224, 1.0, 10.0, 1e5};
    mechanism_harness h("fura2", levels.size());
    h.conc(0) = levels;
    h.init();
    const auto obs = observe(h);
    const auto& info = h.info();
    const double r_min = default_of(info, "f340_free") / default_of(info, "f380_free");
    const double r_max = default_of(info, "f340_bound") / default_of(info, "f380_bound");
    EXPECT_DOUBLE_EQ(obs[2].front(), r_min);
    EXPECT_NEAR(obs[2].back(), r_max, 1e-4 * r_max);
    for (std::size_t i = 1; i < levels.size(); ++i) {
        EXPECT_GT(obs[0][i], obs[0][i - 1]) << "F340 rises";
        EXPECT_LT(obs[1][i], obs[1][i - 1]) << "F380 falls";
        EXPECT_GT(obs[2][i], obs[2][i - 1]) << "ratio rises";
    }
}

TEST(fura2, recorded_ratio_recovers_ca_in_whole_models) {
    // Whole models at several resting Ca levels: a cytosol with Fura-2 only, so the dye starts (init) and stays in
    // equilibrium; the recorded ratio, put through the Grynkiewicz equation, returns the recorded free Ca to 1e-9.
    const auto& info = find_mechanism("fura2")->info();
    for (const double c0: {0.02, 0.1, 0.224, 0.8, 5.0}) {
        auto sys = testing::compile_text(fmt::format(R"(
[[compartments]]
name = "cyt"
volume = "1 pL"
concentrations = {{ ca = "{} uM" }}

[[mechanisms]]
type = "fura2"
compartment = "cyt"
total = "100 uM"

[run]
t_end = "100 ms"
rtol = 1e-10
atol = "1e-14 uM"

[record]
interval = "10 ms"
observables = ["cyt.ca", "fura2.ratio"]
)",
                                                     c0));
        memory_recorder rec;
        simulate(sys, rec);
        const auto& ca = rec.column("cyt.ca");
        const auto& ratio = rec.column("fura2.ratio");
        for (std::size_t k = 0; k < ca.size(); ++k) {
            const double recovered = grynkiewicz(ratio[k], default_of(info, "kd"), default_of(info, "f340_free"),
                                                 default_of(info, "f340_bound"), default_of(info, "f380_free"),
                                                 default_of(info, "f380_bound"));
            EXPECT_NEAR(recovered, ca[k], 1e-9 * ca[k]) << "c0 = " << c0 << " uM, record " << k;
            EXPECT_NEAR(ca[k], c0, 1e-9 * c0);  // the dye started in equilibrium: nothing moves
        }
    }
}

TEST(fura2, slows_and_shrinks_the_ca_transient_as_a_buffer) {
    // The dye is a buffer (Neher & Augustine 1992): the same influx raises free Ca less with more Fura-2, and the
    // total Ca (free + dye-bound) accounts for all that entered.
    double previous_peak = std::numeric_limits<double>::infinity();
    for (const double total: {0.0, 50.0, 200.0}) {
        auto text = dye_model("fura2");
        const std::string from = "type = \"fura2\"\ncompartment = \"cyt\"\n";
        const auto at = text.find(from);
        ASSERT_NE(at, std::string::npos);
        text.insert(at + from.size(), fmt::format("total = \"{} uM\"\n", total));
        auto sys = testing::compile_text(text);
        memory_recorder rec;
        const auto result = simulate(sys, rec);
        const auto& ca = rec.column("cyt.ca");
        const double peak = *std::max_element(ca.begin(), ca.end());
        EXPECT_LT(peak, previous_peak) << total << " uM";
        previous_peak = peak;
        const double entered = result.budget[channel_of(sys, "influx")];
        const double gained = sys.total_amount(result.y_end.data(), "ca") - sys.total_amount(result.y0.data(), "ca");
        EXPECT_NEAR(gained, entered, 1e-8 * entered) << total << " uM";
    }
}

} // namespace
} // namespace cadyn
