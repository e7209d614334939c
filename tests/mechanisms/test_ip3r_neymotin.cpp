// ip3r_neymotin: the IP3 receptor of NEURON rxd's calcium-wave models (Neymotin et al. 2015, ModelDB 168874; the
// rxd tutorial "Calcium waves"), on the ER membrane (inner = lumen, outer = cytosol):
//
//   J_in = P * A * (m_inf h)^3 * (c_cyt - c_er),  m_inf = p/(p + K_IP3) * c/(c + K_act)      [zmol/ms]
//   dh/dt = (1/(1 + c/K_inh) - h) / tau
//
// Checks: the kernel against the formula at a few points, no flux without IP3, Ca or a gradient, reversal with the
// gradient, the gate at rest at h_inf, and the unit mapping from rxd: the ER-membrane set of models/dendrite_wave
// (this channel, `serca` and `leak` with parameters converted as the mechanism's comments say) gives the same
// d[Ca]/dt as rxd's own rate expressions in mM, ms and molecules / (um^2 ms).
#include <cmath>
#include <limits>
#include <numbers>
#include <vector>

#include <gtest/gtest.h>

#include <cadyn/catalogue.hpp>
#include <cadyn/units.hpp>

#include "mechanism_harness.hpp"

namespace cadyn {
namespace {

using testing_support::all_near;
using testing_support::mechanism_harness;
using testing_support::metadata_is_consistent;

constexpr double molecules_per_zmol = 602.214076;            // N_A * 1e-21
constexpr double molecules_per_mM_um3 = 6.02214076e23 / 1e18; // rxd's constants.molecules_per_mM_um3()

double default_of(const mechanism_info& info, std::string_view name) {
    const int j = info.parameter_index(name);
    if (j < 0) {
        ADD_FAILURE() << info.name << " has no parameter " << name;
        return std::numeric_limits<double>::quiet_NaN();
    }
    return default_value(info.parameters[static_cast<std::size_t>(j)]);
}

double po_formula(double p, double c, double h, double kip3, double kact) {
    return std::pow(p / (p + kip3) * c / (c + kact) * h, 3);
}

TEST(ip3r_neymotin, metadata_and_defaults) {
    const mechanism* m = find_mechanism("ip3r_neymotin");
    ASSERT_NE(m, nullptr);
    EXPECT_TRUE(metadata_is_consistent(*m));
    const mechanism_info& info = m->info();
    EXPECT_EQ(info.kind, mechanism_kind::membrane);
    ASSERT_EQ(info.reads.size(), 3u);
    EXPECT_EQ(info.reads[0].species, "ca");
    EXPECT_EQ(info.reads[0].where, side::inner);  // ER Ca first: a per-volume rate refers to the ER
    EXPECT_EQ(info.reads[1].species, "ca");
    EXPECT_EQ(info.reads[1].where, side::outer);
    EXPECT_EQ(info.reads[2].species, "ip3");
    EXPECT_EQ(info.reads[2].where, side::outer);
    ASSERT_EQ(info.outputs.size(), 1u);
    EXPECT_EQ(info.outputs[0], "ca");
    EXPECT_EQ(info.energy, energy_source::passive);
    ASSERT_EQ(info.states.size(), 1u);
    EXPECT_EQ(info.states[0].name, "h");
    EXPECT_TRUE(info.states[0].carries.empty());
    ASSERT_EQ(info.observables.size(), 1u);
    EXPECT_EQ(info.observables[0].name, "open_probability");
    // ModelDB 168874 (cawave.cfg, cawave.py): gip3r = 96320 molecules/(um^2 ms mM), Kip3 = 0.13, Kact = 0.4,
    // K_inh = 0.4 (uM, rxd's 1000 ca), ip3rtau = 400 ms.
    EXPECT_NEAR(default_of(info, "permeability"), 96320.0 / (molecules_per_zmol * 1000.0), 1e-15);
    EXPECT_DOUBLE_EQ(default_of(info, "kip3"), 0.13);
    EXPECT_DOUBLE_EQ(default_of(info, "kact"), 0.4);
    EXPECT_DOUBLE_EQ(default_of(info, "kinh"), 0.4);
    EXPECT_DOUBLE_EQ(default_of(info, "tau"), 400.0);
}

TEST(ip3r_neymotin, kernel_matches_formula_over_five_instances) {
    mechanism_harness h("ip3r_neymotin", 5);
    h.param("permeability") = {0.16, 0.02, 1e-3, 0.5, 0.0};
    h.param("kip3") = {0.13, 0.15, 1.0, 0.05, 0.13};
    h.param("kact") = {0.4, 0.4, 0.1, 2.0, 0.4};
    h.param("kinh") = {0.4, 0.3, 1.0, 0.05, 0.4};
    h.param("tau") = {400.0, 2000.0, 10.0, 1.0, 400.0};
    h.size = {1000.0, 1.0, 50.0, 3.0, 10.0};
    h.conc("ca", side::inner) = {9.78, 400.0, 50.0, 0.1, 300.0};
    h.conc("ca", side::outer) = {0.0458, 1.0, 3.0, 0.5, 0.2};
    h.conc("ip3", side::outer) = {0.2, 2.0, 10.0, 0.3, 1.0};
    h.state(0) = {0.897, 0.3, 1.0, 0.05, 0.6};
    h.rates();

    std::vector<double> flux(5);
    std::vector<double> dh(5);
    for (std::size_t i = 0; i < 5; ++i) {
        const double c = h.conc(1)[i];
        const double gate = h.state(0)[i];
        const double po = po_formula(h.conc(2)[i], c, gate, h.param("kip3")[i], h.param("kact")[i]);
        flux[i] = h.param("permeability")[i] * h.size[i] * po * (c - h.conc(0)[i]);
        dh[i] = (1.0 / (1.0 + c / h.param("kinh")[i]) - gate) / h.param("tau")[i];
    }
    EXPECT_TRUE(all_near(h.out(0), flux, 1e-13));
    EXPECT_TRUE(all_near(h.dstate(0), dh, 1e-13, 1e-300));
    EXPECT_LT(h.out(0)[0], 0.0);  // release leaves the lumen
    EXPECT_GT(h.out(0)[3], 0.0);  // cytosol above the lumen: the flux reverses (a channel, not a pump)
    EXPECT_EQ(h.out(0)[4], 0.0);  // no capacity, no flux
}

TEST(ip3r_neymotin, no_flux_without_ip3_ca_or_gradient) {
    mechanism_harness h("ip3r_neymotin", 4);
    h.conc("ca", side::inner) = {400.0, 400.0, 0.7, 400.0};
    h.conc("ca", side::outer) = {0.5, 0.0, 0.7, -1e-9};
    h.conc("ip3", side::outer) = {0.0, 2.0, 2.0, 2.0};
    h.state(0) = {0.8, 0.8, 0.8, 0.8};
    h.rates();
    // No IP3; no cytosolic Ca (the AND gate); equal concentrations; a (numerically) negative Ca counts as none.
    EXPECT_TRUE(all_near(h.out(0), {0.0, 0.0, 0.0, 0.0}, 0, 0));
    // The gate still moves towards h_inf: 1/(1 + 0.5/0.4), and 1 where there is no Ca.
    EXPECT_NEAR(h.dstate(0)[0], (1.0 / (1.0 + 0.5 / 0.4) - 0.8) / 400.0, 1e-16);
    EXPECT_NEAR(h.dstate(0)[1], (1.0 - 0.8) / 400.0, 1e-16);
    EXPECT_NEAR(h.dstate(0)[3], (1.0 - 0.8) / 400.0, 1e-16);
}

TEST(ip3r_neymotin, init_at_h_inf_and_observe_open_probability) {
    mechanism_harness h("ip3r_neymotin", 3);
    h.conc("ca", side::inner) = {9.78, 9.78, 9.78};
    h.conc("ca", side::outer) = {0.0458, 0.4, 2.0};
    h.conc("ip3", side::outer) = {0.2, 2.0, 0.5};
    h.init();
    EXPECT_TRUE(all_near(h.state(0), {1.0 / (1.0 + 0.0458 / 0.4), 0.5, 1.0 / 6.0}, 1e-14));
    h.rates();
    EXPECT_TRUE(all_near(h.dstate(0), {0.0, 0.0, 0.0}, 0, 1e-18));  // at h_inf the gate rests

    std::vector<double> po(3);
    double* outs[] = {po.data()};
    h.mech().observe(h.pack(), outs);
    std::vector<double> expected(3);
    for (std::size_t i = 0; i < 3; ++i) {
        expected[i] = po_formula(h.conc(2)[i], h.conc(1)[i], h.state(0)[i], 0.13, 0.4);
    }
    EXPECT_TRUE(all_near(po, expected, 1e-14));
}

// The unit mapping of bench/README.md. rxd (Neymotin et al. 2015 parameters) writes, for ca in mM, per voxel of
// volume V with ER-membrane area A (cyt fraction fc, ER fraction fe):
//   r_serca = gserca / ((kserca / (1000 ca_cyt))^2 + 1)           molecules / (um^2 ms), cyt -> er
//   r_leak  = gleak (ca_er - ca_cyt),  r_ip3r = gip3r (minf h)^3 (ca_er - ca_cyt)     er -> cyt
//   d ca_cyt / dt = (r_leak + r_ip3r - r_serca) A / (fc V molecules_per_mM_um3)    [mM/ms]
// cadyn, with P = g / 602214.076 um/ms and vmax = gserca / 602.214076 zmol/(um^2 ms):
//   d c_cyt / dt = -(J_ip3r + J_serca + J_leak) / (fc V)    [uM/ms], J into the lumen [zmol/ms]
TEST(ip3r_neymotin, er_membrane_set_reproduces_rxd_rates) {
    const double gip3r = 96320, gserca = 1.9565, gleak = 18.06, kserca = 0.1, kip3 = 0.13, kact = 0.4;
    const double fc = 0.83, fe = 0.17;
    const double volume = 0.25 * std::numbers::pi;  // one 1 um voxel of a 1 um dendrite [um^3]
    const double area = 1.0;                         // rxd.ScalableBorder(1): diam * length [um^2]

    struct point {
        double c, ce, h, p;  // uM, uM, -, uM
    };
    const std::vector<point> points = {{0.0457809953, 9.77648102, 0.897301599, 0.2},
                                       {0.6, 5.0, 0.5, 2.0},
                                       {1.5, 2.0, 0.25, 0.2},
                                       {0.02, 12.0, 0.95, 0.0}};

    mechanism_harness ip3r("ip3r_neymotin", 1);
    mechanism_harness serca("serca", 1);
    mechanism_harness leak("leak", 1);
    ip3r.set_param("permeability", gip3r / (molecules_per_zmol * 1000.0));
    serca.set_param("vmax", gserca / molecules_per_zmol);
    serca.set_param("kd", kserca);
    serca.set_param("hill", 2.0);
    leak.set_param("permeability", gleak / (molecules_per_zmol * 1000.0));
    for (auto* m: {&ip3r, &serca, &leak}) {
        m->size = {area};
    }
    for (const point& pt: points) {
        ip3r.conc("ca", side::inner) = {pt.ce};
        ip3r.conc("ca", side::outer) = {pt.c};
        ip3r.conc("ip3", side::outer) = {pt.p};
        ip3r.state(0) = {pt.h};
        serca.conc("ca", side::outer) = {pt.c};
        leak.conc("ca", side::inner) = {pt.ce};
        leak.conc("ca", side::outer) = {pt.c};
        ip3r.rates();
        serca.rates();
        leak.rates();
        const double j_in = ip3r.out(0)[0] + serca.out(0)[0] + leak.out(0)[0];
        const double dc_cadyn = -j_in / (fc * volume);  // uM/ms
        const double dce_cadyn = j_in / (fe * volume);

        // rxd, in mM
        const double ca = pt.c * 1e-3, ca_er = pt.ce * 1e-3;
        const double minf = pt.p * 1000.0 * ca / (pt.p + kip3) / (1000.0 * ca + kact);
        const double r_serca = gserca / (std::pow(kserca / (1000.0 * ca), 2) + 1);
        const double r_release = (gleak + gip3r * std::pow(minf * pt.h, 3)) * (ca_er - ca);
        const double dc_rxd = (r_release - r_serca) * area / (fc * volume * molecules_per_mM_um3);
        const double dce_rxd = -(r_release - r_serca) * area / (fe * volume * molecules_per_mM_um3);

        // Relative to the gross fluxes: at the resting point (the first) release and uptake cancel.
        const double gross = (std::abs(r_release) + r_serca) * area / (volume * molecules_per_mM_um3);
        EXPECT_NEAR(dc_cadyn * 1e-3, dc_rxd, 1e-12 * gross / fc) << "c = " << pt.c;
        EXPECT_NEAR(dce_cadyn * 1e-3, dce_rxd, 1e-12 * gross / fe) << "c = " << pt.c;
    }
}

} // namespace
} // namespace cadyn
