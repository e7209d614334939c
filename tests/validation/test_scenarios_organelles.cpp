// Scenario tests for the example cells of organelle Ca handling (models/mitochondria.toml,
// models/soce_addback.toml). Each test loads the model file a user would run, may change a parameter or the
// protocol, then asserts the physiological claim the model's header makes, as numbers:
//  6. mitochondria: the uniporter (MCU, low affinity) is silent at rest (< 5 % of PMCA's flux) but takes up > 20 %
//     of the Ca entering during a large global load; the matrix ends up holding most of the load and NCLX returns
//     it slowly (minutes), holding the cytosol on a plateau above rest; without MCU the cytosolic peak is higher;
//  7. soce_addback: emptying the ER (SERCA blocked in Ca-free solution) activates STIM with a delay; Ca add-back
//     then raises cytosolic Ca > 3x rest, while the same add-back onto a full ER gives < 1.5x (store-operated
//     entry); unblocking SERCA refills the ER (> 70 %) and turns SOCE off (< 20 % of its add-back peak).
// Measured values are attached with RecordProperty (see --gtest_output=xml).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <iomanip>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <cadyn/io/model_file.hpp>
#include <cadyn/simulate.hpp>
#include <cadyn/system.hpp>
#include <cadyn/units.hpp>

namespace {

cadyn::model_spec load(const std::string& name) {
    return cadyn::read_model_file(std::string(CADYN_SOURCE_DIR) + "/models/" + name + ".toml");
}

cadyn::mechanism_spec& mechanism(cadyn::model_spec& spec, const std::string& name) {
    for (auto& m: spec.mechanisms) {
        if (m.name == name) {
            return m;
        }
    }
    throw std::runtime_error("no mechanism '" + name + "' in " + spec.source);
}

// Index of the Ca budget channel of a mechanism.
std::size_t channel(const cadyn::system& sys, const std::string& mech) {
    const auto& channels = sys.flux_channels();
    for (std::size_t c = 0; c < channels.size(); ++c) {
        if (channels[c].mechanism == mech && channels[c].species == "ca") {
            return c;
        }
    }
    throw std::runtime_error("no Ca channel of '" + mech + "'");
}

std::string num(double x) {
    std::ostringstream out;
    out << std::setprecision(4) << x;
    return out.str();
}

cadyn::simulation_options until(double t_end) {
    cadyn::simulation_options options;
    options.t_end = t_end;
    return options;
}

// The recorded value at the first record at or after t [ms].
double at(const cadyn::memory_recorder& rec, const std::string& name, double t) {
    const auto& times = rec.times();
    const auto k = static_cast<std::size_t>(std::lower_bound(times.begin(), times.end(), t - 1e-9) - times.begin());
    if (k >= times.size()) {
        throw std::runtime_error("no record at " + std::to_string(t) + " ms");
    }
    return rec.column(name)[k];
}

// Largest value of a column over records with t in (from, to] [ms].
double max_over(const cadyn::memory_recorder& rec, const std::string& name, double from, double to) {
    const auto& times = rec.times();
    const auto& v = rec.column(name);
    double best = -1e300;
    for (std::size_t k = 0; k < times.size(); ++k) {
        if (times[k] > from && times[k] <= to) {
            best = std::max(best, v[k]);
        }
    }
    return best;
}

// ============================================================================================ 6. mitochondria

// The load of models/mitochondria.toml: 1 nA for 500 ms from t = 1 s. Entered: I d / (2 F) [zmol] (Faraday).
constexpr double load_start = 1000;    // [ms]
constexpr double load_duration = 500;  // [ms]
constexpr double load_current = 1000;  // [pA]
constexpr double matrix_volume = 300;  // [um^3]
const double load_entered = load_current * cadyn::constants::zmol_per_ms_per_pA / 2 * load_duration;  // [zmol]

cadyn::model_spec mitochondria() {
    auto spec = load("mitochondria");
    spec.record.observables.clear();  // every concentration, state and flux
    return spec;
}

// Matrix total Ca (free + bound to the matrix buffer) per record [uM].
std::vector<double> matrix_total(const cadyn::memory_recorder& rec) {
    const auto& free = rec.column("mito.ca");
    const auto& bound = rec.column("matrix_buffer.bound");
    std::vector<double> total(free.size());
    for (std::size_t k = 0; k < free.size(); ++k) {
        total[k] = free[k] + bound[k];
    }
    return total;
}

TEST(mitochondria_scenario, uniporter_is_negligible_at_rest) {
    // Seed: "The MCU has a low affinity, so it's mostly inactive at rest". At the resting state the uniporter's
    // uptake is < 5 % of PMCA's extrusion, and so is all mitochondrial uptake (MCU + the basal inner-membrane
    // leak that sets the resting matrix). Resting cytosol: PMCA = PM leak, 0.2 c/(0.2 + c) = 3.335e-5 (2000 - c)
    // (zmol/um^2/ms; the mitochondria carry no net flux at rest), c = 0.1000 uM, solved here by bisection.
    auto sys = cadyn::compile(mitochondria());
    const auto rest = cadyn::find_steady_state(sys, sys.initial_state());
    ASSERT_TRUE(rest.converged) << rest.method;
    double lo = 0;
    double hi = 1;
    for (int i = 0; i < 200; ++i) {
        const double c = (lo + hi) / 2;
        (0.2 * c / (0.2 + c) > 3.335e-5 * (2000 - c) ? hi : lo) = c;
    }
    const double c_cyt = rest.y[static_cast<std::size_t>(sys.state_index("cyt", "ca"))];
    const double c_mito = rest.y[static_cast<std::size_t>(sys.state_index("mito", "ca"))];
    EXPECT_NEAR(c_cyt, lo, 1e-6 * lo);
    EXPECT_NEAR(c_cyt, 0.100, 0.001);
    // A realistic resting matrix (~0.1-0.2 uM), not the ~1e-4 uM that MCU and NCLX alone would give.
    EXPECT_GT(c_mito, 0.05);
    EXPECT_LT(c_mito, 0.2);

    std::vector<double> j(sys.flux_channels().size());
    sys.fluxes(0, rest.y.data(), j.data(), false);
    const double pmca = -j[channel(sys, "pmca")];  // extrusion, > 0
    const double mcu = j[channel(sys, "mcu")];      // uptake into the matrix, > 0
    const double leak = j[channel(sys, "imm_leak")];
    const double nclx = -j[channel(sys, "nclx")];   // release from the matrix, > 0
    ASSERT_GT(pmca, 0.0);
    EXPECT_GT(mcu, 0.0);
    EXPECT_LT(mcu / pmca, 0.05);
    EXPECT_LT((mcu + leak) / pmca, 0.05);
    // Steady state: what enters the matrix leaves it through NCLX.
    EXPECT_NEAR(mcu + leak, nclx, 1e-6 * nclx);
    RecordProperty("rest_cyt_uM", num(c_cyt));
    RecordProperty("rest_matrix_uM", num(c_mito));
    RecordProperty("rest_mcu_over_pmca", num(mcu / pmca));
    RecordProperty("rest_mito_uptake_over_pmca", num((mcu + leak) / pmca));
}

TEST(mitochondria_scenario, uniporter_takes_up_over_a_fifth_of_a_large_load) {
    // Seed: "during large global events it helps buffer potentially toxic levels of cytosolic calcium". A 500 ms,
    // 1 nA Ca load drives the cytosol above 10 uM (a large global event), and over the 500 ms of the load MCU
    // moves > 20 % of the Ca that entered into the matrix (integrated budget channels, from rest to the end of the
    // load).
    auto sys = cadyn::compile(mitochondria());
    cadyn::memory_recorder rec;
    const auto result = cadyn::simulate(sys, rec, until(load_start + load_duration));
    const double entered = result.budget[channel(sys, "load")];
    EXPECT_NEAR(entered, load_entered, 1e-6 * load_entered);  // Faraday: I d / 2F = 2591 amol
    // MCU's uptake from rest to the end of the load; the 1 s at rest before the load adds ~1e-6 of it.
    const double during_load = result.budget[channel(sys, "mcu")];
    const double peak = *std::max_element(rec.column("cyt.ca").begin(), rec.column("cyt.ca").end());
    EXPECT_GT(peak, 10.0);
    EXPECT_GT(during_load / entered, 0.20);
    // The matrix total rose by what MCU and the basal leak brought in minus what NCLX released (budget closure).
    const double matrix_gain =
        sys.total_amount(result.y_end.data(), "ca", "mito") - sys.total_amount(result.y0.data(), "ca", "mito");
    EXPECT_GT(matrix_gain / entered, 0.20);
    RecordProperty("peak_cyt_uM", num(peak));
    RecordProperty("mcu_share_during_load", num(during_load / entered));
}

TEST(mitochondria_scenario, matrix_holds_most_of_the_load_and_nclx_returns_it_slowly) {
    // After the load the matrix keeps taking up Ca from the buffered cytosol and ends up holding > 50 % of the
    // load (matrix total peaks within 10 s of the load). Then NCLX returns it slowly: after the peak the matrix
    // total only falls, NCLX efflux exceeds the uptake (MCU + leak) at every record, half of the excess takes
    // > 30 s (60x the load's duration) to go, and < 10 % is left at 300 s. Meanwhile the released Ca holds the
    // cytosol on a plateau above rest (> 1.1x at 60 s, far below the peak).
    auto sys = cadyn::compile(mitochondria());
    cadyn::memory_recorder rec;
    cadyn::simulate(sys, rec);
    const auto& t = rec.times();
    const auto total = matrix_total(rec);
    const auto peak_it = std::max_element(total.begin(), total.end());
    const auto peak_k = static_cast<std::size_t>(peak_it - total.begin());
    const double excess = *peak_it - total.front();
    EXPECT_GT(t[peak_k], load_start + load_duration - 1e-9);
    EXPECT_LT(t[peak_k], load_start + load_duration + 10000);
    EXPECT_GT(excess * matrix_volume / load_entered, 0.5) << "matrix took up " << excess * matrix_volume << " zmol";

    const auto& mcu = rec.column("mcu.ca_flux");
    const auto& leak = rec.column("imm_leak.ca_flux");
    const auto& nclx = rec.column("nclx.ca_flux");
    double half_time = -1;
    for (std::size_t k = peak_k + 1; k < t.size(); ++k) {
        EXPECT_LE(total[k], total[k - 1] * (1 + 1e-9)) << "t " << t[k];
        EXPECT_GT(-nclx[k], mcu[k] + leak[k]) << "t " << t[k];
        if (half_time < 0 && total[k] - total.front() < 0.5 * excess) {
            half_time = t[k] - t[peak_k];
        }
    }
    EXPECT_GT(half_time, 30000.0);
    EXPECT_LT(total.back() - total.front(), 0.1 * excess);
    const double rest = rec.column("cyt.ca").front();
    const double plateau = at(rec, "cyt.ca", 60000);
    EXPECT_GT(plateau, 1.1 * rest);
    EXPECT_LT(plateau, 1.0);
    RecordProperty("matrix_share_of_load", num(excess * matrix_volume / load_entered));
    RecordProperty("matrix_peak_s", num(t[peak_k] / 1000));
    RecordProperty("release_half_time_s", num(half_time / 1000));
    RecordProperty("excess_left_at_end", num((total.back() - total.front()) / excess));
    RecordProperty("plateau_over_rest_60s", num(plateau / rest));
}

TEST(mitochondria_scenario, without_uniporter_the_cytosolic_peak_is_higher) {
    // Mitochondria shave the peak of a large load: with mcu.permeability = 0 the cytosolic peak is > 1.3x higher.
    const auto peak_of = [](double permeability) {
        auto spec = mitochondria();
        mechanism(spec, "mcu").parameters["permeability"] = permeability;
        auto sys = cadyn::compile(std::move(spec));
        cadyn::memory_recorder rec;
        cadyn::simulate(sys, rec, until(5000));
        const auto& c = rec.column("cyt.ca");
        return *std::max_element(c.begin(), c.end());
    };
    const double with = peak_of(0.01);  // the model's value [um/ms]
    const double without = peak_of(0.0);
    EXPECT_GT(without, 1.3 * with) << "with MCU " << with << " uM, without " << without << " uM";
    RecordProperty("peak_with_mcu_uM", num(with));
    RecordProperty("peak_without_mcu_uM", num(without));
}

// ============================================================================================ 7. soce_addback

// The protocol of models/soce_addback.toml [ms].
constexpr double t_block = 60e3;    // SERCA blocked (CPA), Ca-free solution
constexpr double t_addback = 420e3;  // 2 mM Ca back
constexpr double t_unblock = 720e3;  // SERCA back
constexpr double t_final = 1800e3;

cadyn::model_spec soce_addback() {
    auto spec = load("soce_addback");
    spec.record.observables.clear();
    return spec;
}

// The same protocol without the SERCA blocker: Ca-free solution and add-back onto a store SERCA keeps full.
cadyn::model_spec without_blocker(cadyn::model_spec spec) {
    for (auto& e: spec.events) {
        std::erase_if(e.set, [](const auto& target) { return target.first == "serca.vmax"; });
    }
    std::erase_if(spec.events, [](const auto& e) { return e.set.empty(); });
    return spec;
}

TEST(soce_scenario, resting_store_is_full_and_stim_dormant) {
    // Resting state: cytosol ~0.1 uM, ER in the full range 0.5-0.8 mM where SERCA balances the ER leak,
    //   vs c^2/(K^2 + c^2) = k (c_er - c) V_er/V_cyt  (SERCA 6 uM/s of the cytosol, leak 0.02 /s of the ER),
    // and STIM dormant, s = K^4/(K^4 + c_er^4) < 0.1.
    auto sys = cadyn::compile(soce_addback());
    const auto rest = cadyn::find_steady_state(sys, sys.initial_state());
    ASSERT_TRUE(rest.converged) << rest.method;
    const double c = rest.y[static_cast<std::size_t>(sys.state_index("cyt", "ca"))];
    const double c_er = rest.y[static_cast<std::size_t>(sys.state_index("er", "ca"))];
    const double v_cyt = sys.model().find_compartment("cyt")->volume;
    const double v_er = sys.model().find_compartment("er")->volume;
    EXPECT_NEAR(c, 0.1, 0.005);
    EXPECT_NEAR(c_er, c + 6e-3 * c * c / (0.04 + c * c) * v_cyt / (2e-5 * v_er), 1e-6 * c_er);
    EXPECT_GT(c_er, 500.0);
    EXPECT_LT(c_er, 800.0);
    const auto& names = sys.state_names();
    const auto s_index = static_cast<std::size_t>(std::find(names.begin(), names.end(), "soce.s") - names.begin());
    ASSERT_LT(s_index, names.size());
    EXPECT_NEAR(rest.y[s_index], 1 / (1 + std::pow(c_er / 200, 4)), 1e-9);
    EXPECT_LT(rest.y[s_index], 0.1);
    RecordProperty("rest_cyt_uM", num(c));
    RecordProperty("rest_er_uM", num(c_er));
    RecordProperty("rest_stim", num(rest.y[s_index]));
}

TEST(soce_scenario, depletion_activates_stim_with_a_delay) {
    // SERCA blocked in Ca-free solution: the ER empties through its leak to ~0.1 mM (< 0.15 mM by add-back) and
    // STIM activation rises from < 0.1 to > 0.5, monotonically, lagging behind the store (tau 20 s): 20 s into
    // the depletion s is still < 0.1 although its target s_inf(c_er) has already moved.
    auto sys = cadyn::compile(soce_addback());
    cadyn::memory_recorder rec;
    cadyn::simulate(sys, rec, until(t_addback));
    const double s_before = at(rec, "soce.stim_activation", t_block);
    const double s_after = at(rec, "soce.stim_activation", t_addback);
    EXPECT_LT(s_before, 0.1);
    EXPECT_GT(s_after, 0.5);
    EXPECT_LT(at(rec, "er.ca", t_addback), 150.0);
    const auto& t = rec.times();
    const auto& s = rec.column("soce.stim_activation");
    for (std::size_t k = 1; k < t.size(); ++k) {
        if (t[k] > t_block) {
            EXPECT_GE(s[k], s[k - 1] - 1e-12) << "t " << t[k];
        }
    }
    const double c_er_20 = at(rec, "er.ca", t_block + 20000);
    const double s_inf_20 = 1 / (1 + std::pow(c_er_20 / 200, 4));
    EXPECT_LT(at(rec, "soce.stim_activation", t_block + 20000), 0.1);
    EXPECT_GT(s_inf_20, at(rec, "soce.stim_activation", t_block + 20000));
    RecordProperty("stim_before", num(s_before));
    RecordProperty("stim_at_addback", num(s_after));
    RecordProperty("er_at_addback_uM", num(at(rec, "er.ca", t_addback)));
}

TEST(soce_scenario, add_back_raises_cytosolic_ca_only_after_store_depletion) {
    // The store-operated signature: after depletion, Ca add-back raises cytosolic Ca > 3x rest; the same
    // Ca-free period and add-back without the SERCA blocker, onto a store that SERCA keeps full (STIM < 0.1),
    // raises it < 1.5x.
    auto depleted = cadyn::compile(soce_addback());
    cadyn::memory_recorder rec;
    cadyn::simulate(depleted, rec, until(t_unblock));
    const double rest = rec.column("cyt.ca").front();
    const double peak = max_over(rec, "cyt.ca", t_addback, t_unblock);
    EXPECT_GT(peak, 3 * rest);

    auto full = cadyn::compile(without_blocker(soce_addback()));
    cadyn::memory_recorder control;
    cadyn::simulate(full, control, until(t_unblock));
    const double control_rest = control.column("cyt.ca").front();
    const double control_peak = max_over(control, "cyt.ca", t_addback, t_unblock);
    EXPECT_NEAR(control_rest, rest, 1e-9);
    EXPECT_LT(control_peak, 1.5 * control_rest);
    EXPECT_LT(at(control, "soce.stim_activation", t_addback), 0.1);
    EXPECT_GT(at(control, "er.ca", t_addback), 0.5 * at(control, "er.ca", 0));
    RecordProperty("addback_over_rest_depleted", num(peak / rest));
    RecordProperty("addback_over_rest_full_store", num(control_peak / control_rest));
    RecordProperty("control_er_at_addback_uM", num(at(control, "er.ca", t_addback)));
}

TEST(soce_scenario, serca_unblock_refills_the_store_and_turns_soce_off) {
    // After SERCA is unblocked (720 s) the ER refills from the entering Ca to > 70 % of its resting level by the
    // end (1800 s), STIM deactivates, SOCE falls below 20 % of its add-back peak, and cytosolic Ca returns to
    // within 20 % of rest.
    auto sys = cadyn::compile(soce_addback());
    cadyn::memory_recorder rec;
    cadyn::simulate(sys, rec);
    ASSERT_NEAR(rec.times().back(), t_final, 1e-6);
    const double er_rest = rec.column("er.ca").front();
    const double er_end = rec.column("er.ca").back();
    const double soce_peak = max_over(rec, "soce.ca_flux", t_addback, t_unblock);
    const double soce_end = rec.column("soce.ca_flux").back();
    const double c_rest = rec.column("cyt.ca").front();
    const double c_end = rec.column("cyt.ca").back();
    EXPECT_GT(er_end, 0.7 * er_rest);
    EXPECT_GT(soce_peak, 0.0);
    EXPECT_LT(soce_end, 0.2 * soce_peak);
    EXPECT_LT(rec.column("soce.stim_activation").back(), 0.1);
    EXPECT_NEAR(c_end, c_rest, 0.2 * c_rest);
    RecordProperty("er_end_over_rest", num(er_end / er_rest));
    RecordProperty("soce_end_over_peak", num(soce_end / soce_peak));
    RecordProperty("cyt_end_over_rest", num(c_end / c_rest));
}

} // namespace
