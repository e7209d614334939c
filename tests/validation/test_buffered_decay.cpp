// Buffered decay (Neher & Augustine 1992, J Physiol 450:273-301, eqs. for a single compartment with a fast
// buffer and linear extrusion): after a small, brief influx the free Ca decays with time constant
//     tau = (1 + kappa_B) / gamma,   kappa_B = B_tot K_d / (K_d + c_rest)^2,
// and its amplitude is the total Ca that entered divided by (1 + kappa_B). Here the linear extrusion is a leak to
// a bath held at c_rest, J_out = P A (c - c_rest), so gamma = P A / V.
#include <cmath>
#include <numbers>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cadyn/analysis.hpp>
#include <cadyn/simulate.hpp>
#include <cadyn/units.hpp>

#include "run_helpers.hpp"

namespace {

constexpr double c_rest = 0.1;     // [uM]
constexpr double kd = 1.0;         // [uM]
constexpr double radius = 5.0;     // [um]
constexpr double gamma_ = 0.05;    // [1/ms]
constexpr double pulse = 0.1;      // [ms]
constexpr double current = 2.0;    // [pA] into the cell during the pulse

class buffered_decay: public ::testing::TestWithParam<std::tuple<double, cadyn::jacobian_method>> {};

} // namespace

TEST_P(buffered_decay, tau_and_amplitude_follow_one_plus_kappa) {
    const double b_total = std::get<0>(GetParam());  // [uM]
    const double volume = 4.0 / 3.0 * std::numbers::pi * std::pow(radius, 3);
    const double area = 4.0 * std::numbers::pi * radius * radius;
    const double permeability = gamma_ * volume / area;  // [um/ms]
    const double kappa = b_total * kd / std::pow(kd + c_rest, 2);
    const double tau_expected = (1 + kappa) / gamma_;
    // Total Ca entering: I d / (2 F), per volume.
    const double entered = current * cadyn::constants::zmol_per_ms_per_pA / 2 * pulse / volume;  // [uM]
    const double amplitude_expected = entered / (1 + kappa);

    const std::string buffer = b_total > 0 ? fmt::format(R"(
[[buffers]]
name = "fast"
compartment = "cyt"
total = "{} uM"
kd = "{} uM"
kon = "0.5 uM^-1 ms^-1"
)",
                                                          b_total, kd)
                                           : std::string();
    const double t_end = 8 * tau_expected;
    auto sys = cadyn::testing::compile_text(fmt::format(R"(
[[compartments]]
name = "bath"
volume = "1 nL"
clamped = true
concentrations = {{ ca = "{c} uM" }}

[[compartments]]
name = "cyt"
radius = "{r} um"
concentrations = {{ ca = "{c} uM" }}

[[membranes]]
name = "pm"
inner = "cyt"
outer = "bath"

[[mechanisms]]
name = "extrusion"
type = "leak"
membrane = "pm"
permeability = "{p} um/ms"
{buffer}
[[stimuli]]
name = "influx"
membrane = "pm"
amplitude = "{i} pA"
start = "1 ms"
duration = "{d} ms"
count = 1

[run]
t_end = "{t} ms"
rtol = 1e-9
atol = "1e-14 uM"

[record]
interval = "{dt} ms"
)",
                                                        fmt::arg("c", c_rest), fmt::arg("r", radius),
                                                        fmt::arg("p", permeability), fmt::arg("buffer", buffer),
                                                        fmt::arg("i", current), fmt::arg("d", pulse),
                                                        fmt::arg("t", t_end), fmt::arg("dt", tau_expected / 400)),
                                                std::get<1>(GetParam()));
    cadyn::memory_recorder rec;
    cadyn::simulate(sys, rec);
    const auto& t = rec.times();
    const auto& c = rec.column("cyt.ca");

    // Fit the slow phase, after the buffer has equilibrated (>= 20 ms after the pulse, and after 5 % of tau).
    const double fit_from = 1 + pulse + std::max(20.0, 0.05 * tau_expected);
    std::vector<double> tt;
    std::vector<double> cc;
    for (std::size_t k = 0; k < t.size(); ++k) {
        if (t[k] >= fit_from) {
            tt.push_back(t[k]);
            cc.push_back(c[k]);
        }
    }
    const auto fit = cadyn::fit_exponential(tt, cc);
    ASSERT_TRUE(fit.has_value());
    EXPECT_NEAR(fit->tau, tau_expected, 0.02 * tau_expected) << "kappa_B = " << kappa;
    EXPECT_NEAR(fit->baseline, c_rest, 1e-3 * amplitude_expected);
    // Amplitude: the slow exponential extrapolated back to the middle of the pulse.
    const double amplitude = fit->amplitude * std::exp((tt.front() - (1 + pulse / 2)) / fit->tau);
    EXPECT_NEAR(amplitude, amplitude_expected, 0.02 * amplitude_expected) << "kappa_B = " << kappa;
}

INSTANTIATE_TEST_SUITE_P(neher_augustine_1992, buffered_decay,
                         ::testing::Combine(::testing::Values(0.0, 20.0, 100.0, 400.0),
                                            ::testing::ValuesIn(cadyn::testing::every_jacobian())),
                         [](const auto& param) {
                             return fmt::format("b_total_{}_uM_{}", static_cast<int>(std::get<0>(param.param)),
                                                cadyn::testing::jacobian_name(std::get<1>(param.param)));
                         });
