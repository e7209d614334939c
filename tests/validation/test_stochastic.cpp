// The hybrid stochastic engine (docs/stochastic.md) and its first mechanism, ip3r_cluster, against results that
// follow from the Markov chain itself:
//  - with Ca and IP3 clamped, each h gate is an independent two-state chain with constant rates alpha and beta, so
//    the open gates are Binomial(3N, h_inf) at stationarity, h_inf = alpha/(alpha + beta), and the channels with
//    three open gates Binomial(N, h_inf^3);
//  - with alpha = 0 (d2 = 0) an open gate closes at the time-varying rate beta(t) = a2 c(t); along a known c(t)
//    it survives to t with probability exp(-a2 int_0^t c): the exact hybrid method, not a frozen rate;
//  - a seed gives the same run again; the closed cell's Ca is conserved through every transition.
// Tolerances are 5 standard deviations of the estimator, from the same theory (each test states its own).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <tuple>
#include <numeric>
#include <string>

#include <fmt/format.h>

#include <cadyn/error.hpp>
#include <cadyn/io/model_file.hpp>
#include <cadyn/simulate.hpp>
#include <cadyn/system.hpp>

#include "run_helpers.hpp"

namespace {

using cadyn::testing::compile_text;

// A cluster on the membrane of an ER (185 um^3) in a cytosol (1000 um^3), as in models/li_rinzel.toml.
// The mechanism named "cluster" is of `type` (ip3r_li_rinzel: the deterministic limit).
std::string cluster_model(const std::string& cyt, const std::string& er, const std::string& cluster,
                          const std::string& run, const std::string& type = "ip3r_cluster") {
    return fmt::format(R"(
name = "cluster"
[[compartments]]
name = "cyt"
volume = "1000 um^3"
{}
[[compartments]]
name = "er"
volume = "185 um^3"
{}
[[membranes]]
name = "erm"
inner = "er"
outer = "cyt"
area = "1850 um^2"
[[mechanisms]]
name = "cluster"
type = "{}"
membrane = "erm"
{}
[run]
{}
)",
                       cyt, er, type, cluster, run);
}

struct series {
    std::vector<double> t;
    std::vector<double> h;
    std::vector<double> open_fraction;  // n3 / N
};

series run_cluster(cadyn::system& sys, double channels) {
    cadyn::memory_recorder out({"cluster.h", "cluster.n3"});
    cadyn::simulate(sys, out);
    series s{out.times(), out.column("cluster.h"), out.column("cluster.n3")};
    for (auto& v: s.open_fraction) {
        v /= channels;
    }
    return s;
}

double mean_of(const std::vector<double>& v, std::size_t from) {
    return std::accumulate(v.begin() + static_cast<long>(from), v.end(), 0.0) / static_cast<double>(v.size() - from);
}

TEST(stochastic, clamped_gates_are_binomial_at_stationarity) {
    // Ca 0.2 uM and IP3 0.5 uM held. a2 = 20 uM^-1 s^-1 (100x Li-Rinzel's, to make the test fast):
    // alpha = a2 d2 (p + d1)/(p + d3) = 20 * 1.049 * 0.63/1.4434 = 9.157 /s, beta = a2 c = 4 /s,
    // h_inf = 0.6960, correlation time of a gate 1/(alpha + beta) = 76 ms.
    const double channels = 20;
    auto sys = compile_text(cluster_model(R"(clamped = true
concentrations = { ca = "0.2 uM", ip3 = "0.5 uM" })",
                                          R"(concentrations = { ca = "500 uM" })",
                                          "channels = 20\na2 = \"20 uM^-1 s^-1\"\npermeability = \"0 um/ms\"",
                                          "t_end = \"300 s\"\nseed = 11\n[record]\ninterval = \"10 ms\""));
    const series s = run_cluster(sys, channels);
    const double alpha = 0.02 * 1.049 * 0.63 / 1.4434;  // per ms
    const double beta = 0.02 * 0.2;
    const double h_inf = alpha / (alpha + beta);
    const double tau = 1 / (alpha + beta);  // ms
    const std::size_t from = 100;  // skip the first second (the start is the rounded expected distribution)
    const double span = s.t.back() - s.t[from];
    // Mean of the open-gate fraction over the run: an average of a stationary process with variance
    // h(1-h)/(3N) and exponential autocorrelation exp(-t/tau) has variance 2 tau/T times that.
    const double h_mean = mean_of(s.h, from);
    const double h_sd = std::sqrt(h_inf * (1 - h_inf) / (3 * channels) * 2 * tau / span);
    EXPECT_NEAR(h_mean, h_inf, 5 * h_sd) << "sd of the mean " << h_sd;
    // Channels with three open gates: Binomial(N, h^3); their autocorrelation decays at least as fast as
    // a gate's (bound: the same 2 tau / T).
    const double p3 = h_inf * h_inf * h_inf;
    const double open_mean = mean_of(s.open_fraction, from);
    const double open_sd = std::sqrt(p3 * (1 - p3) / channels * 2 * tau / span);
    EXPECT_NEAR(open_mean, p3, 5 * open_sd) << "sd of the mean " << open_sd;
    // The spread itself: the variance of the open-gate fraction is h(1-h)/(3N) = 0.003526 (a deterministic gate
    // would give 0). Its estimate from correlated samples has a relative sd of about sqrt(2 tau'/T) with tau'
    // = tau/2 for the squared process: 1.6 % here; 10 % allowed.
    double var = 0;
    for (std::size_t i = from; i < s.h.size(); ++i) {
        var += (s.h[i] - h_mean) * (s.h[i] - h_mean);
    }
    var /= static_cast<double>(s.h.size() - from - 1);
    EXPECT_NEAR(var, h_inf * (1 - h_inf) / (3 * channels), 0.1 * h_inf * (1 - h_inf) / (3 * channels));
}

TEST(stochastic, gates_close_at_the_time_varying_rate_of_the_exact_method) {
    // No gate opens (d2 = 0: alpha = 0) and the channels do not conduct (permeability 0); a leak of rate
    // k = 1 /s per ER volume lets Ca into a cytosol that starts empty. Then c(t) = c_inf (1 - exp(-lambda t)),
    // lambda = k (1 + V_er/V_cyt), c_inf = V_er c_er0 / (V_cyt + V_er), and each gate (all open at t = 0, since
    // nothing closes them at c = 0) is still open at t with probability S(t) = exp(-a2 int_0^t c).
    const double channels = 10000;  // 30000 gates: the open fraction's sd is at most 0.0029
    auto sys = compile_text(cluster_model(R"(concentrations = { ca = "0 uM", ip3 = "0.5 uM" })",
                                          R"(concentrations = { ca = "100 uM" })",
                                          "channels = 10000\npermeability = \"0 um/ms\"\nd2 = \"0 uM\"\n"
                                          "[[mechanisms]]\nname = \"leak\"\ntype = \"leak\"\nmembrane = \"erm\"\n"
                                          "permeability = \"1 s^-1\"",
                                          "t_end = \"2 s\"\nseed = 5\n[record]\ninterval = \"100 ms\""));
    const series s = run_cluster(sys, channels);
    const double k = 1e-3;                          // per ms, per ER volume
    const double lambda = k * (1 + 185.0 / 1000.0);  // per ms
    const double c_inf = 185.0 * 100 / 1185.0;       // uM
    const double a2 = 0.2e-3;                        // per uM per ms
    ASSERT_EQ(s.h.front(), 1.0);
    double worst = 0;
    for (std::size_t i = 1; i < s.t.size(); ++i) {
        const double t = s.t[i];
        const double integral = c_inf * (t - (1 - std::exp(-lambda * t)) / lambda);
        const double survive = std::exp(-a2 * integral);
        const double sd = std::sqrt(survive * (1 - survive) / (3 * channels));
        EXPECT_NEAR(s.h[i], survive, 5 * sd + 1e-12) << "at t = " << t << " ms";
        // Channels with three open gates: each of the three survived independently.
        const double p3 = survive * survive * survive;
        EXPECT_NEAR(s.open_fraction[i], p3, 5 * std::sqrt(p3 * (1 - p3) / channels) + 1e-12) << "at t = " << t;
        worst = std::max(worst, std::abs(s.h[i] - survive) / sd);
    }
    // By 2 s the survival has fallen well below 1 (the test would pass trivially if nothing closed).
    EXPECT_LT(s.h.back(), 0.8);
    RecordProperty("worst_deviation_in_sd", std::to_string(worst));
}

TEST(stochastic, ryr_channels_with_ca_clamped_reach_the_stationary_distribution_of_their_chain) {
    // ryr_cluster, 20 channels, cytosolic Ca clamped at 1 uM: each channel is a three-state chain C -> O at
    // alpha = k_close (c/K)^n, O -> C at k_close, O -> A at k_adapt, A -> C at k_recover, independent of the others.
    // Rates chosen fast for the test: k_close 0.1 /ms, K = 1/0.5^(1/4) uM (alpha = 0.05 /ms), k_adapt 0.175 /ms,
    // k_recover 0.01 /ms. Stationary: pi_O = pi_C alpha/(k_close + k_adapt), pi_A = pi_O k_adapt/k_recover:
    // pi_C = 0.22917, pi_O = 0.04167, pi_A = 0.72917. The time average of n/N over T has an sd of at most
    // sqrt(pi (1 - pi)/N x 2/(lambda T)), lambda the chain's slowest relaxation rate (0.0408 /ms); 5 sd allowed.
    const double alpha = 0.05;
    const double k_close = 0.1;
    const double k_adapt = 0.175;
    const double k_recover = 0.01;
    auto sys = compile_text(fmt::format(R"(
name = "ryr clamped"
[[compartments]]
name = "cyt"
volume = "1 um^3"
clamped = true
concentrations = {{ ca = "1 uM" }}
[[compartments]]
name = "er"
volume = "1 um^3"
concentrations = {{ ca = "500 uM" }}
[[membranes]]
name = "erm"
inner = "er"
outer = "cyt"
area = "1 um^2"
[[mechanisms]]
name = "cluster"
type = "ryr_cluster"
membrane = "erm"
permeability = "0 um/ms"
channels = 20
kd = "{} uM"
k_close = "{} ms^-1"
k_adapt = "{} ms^-1"
k_recover = "{} ms^-1"
[run]
t_end = "100 s"
seed = 21
[record]
interval = "10 ms"
)",
                                        1 / std::pow(alpha / k_close, 0.25), k_close, k_adapt, k_recover));
    cadyn::memory_recorder out({"cluster.closed", "cluster.open", "cluster.adapted"});
    const auto r = cadyn::simulate(sys, out);
    EXPECT_GT(r.stats.stochastic_events, 10000);
    const double pc = 1 / (1 + alpha / (k_close + k_adapt) * (1 + k_adapt / k_recover));
    const double po = pc * alpha / (k_close + k_adapt);
    const double pa = po * k_adapt / k_recover;
    ASSERT_NEAR(pc + po + pa, 1.0, 1e-12);
    const double s = alpha + k_close + k_adapt + k_recover;
    const double p = alpha * k_adapt + alpha * k_recover + (k_close + k_adapt) * k_recover;
    const double slowest = (s - std::sqrt(s * s - 4 * p)) / 2;  // per ms
    const std::size_t from = 100;                                 // after 1 s
    const double span = out.times().back() - out.times()[from];
    for (const auto& [name, expected]: {std::pair{"cluster.closed", pc}, {"cluster.open", po}, {"cluster.adapted", pa}}) {
        auto fraction = out.column(name);
        for (auto& v: fraction) {
            v /= 20;
        }
        const double sd = std::sqrt(expected * (1 - expected) / 20 * 2 / (slowest * span));
        EXPECT_NEAR(mean_of(fraction, from), expected, 5 * sd) << name << ", sd of the mean " << sd;
    }
}

TEST(stochastic, a_loaded_store_turns_single_ryr_openings_into_sparks_and_a_depleted_one_does_not) {
    // models/ryr_sparks.toml: 50 RyRs between a junctional ER and a cleft. With the stores at 0.5 mM a chance
    // opening ignites the cluster (>= 10 of 50 open at once) and empties the jsr below 0.1 mM; with the stores at
    // 0.1 mM (the ER leak scaled to keep the cytosol at rest) channels still open by chance, but the luminal sensor
    // (L = 0.02 instead of 0.57) keeps each one's release too small to open the others: no spark.
    std::ifstream in(std::string(CADYN_SOURCE_DIR) + "/models/ryr_sparks.toml");
    const std::string loaded((std::istreambuf_iterator<char>(in)), {});
    const std::string full = R"(ca = "500 uM")";
    ASSERT_NE(loaded.find(full), std::string::npos);
    std::string depleted = loaded;
    for (std::size_t at; (at = depleted.find(full)) != std::string::npos;) {
        depleted.replace(at, full.size(), R"(ca = "100 uM")");
    }
    const std::string leak = R"(permeability = "0.2 s^-1")";
    ASSERT_NE(depleted.find(leak), std::string::npos);
    depleted.replace(depleted.find(leak), leak.size(), R"(permeability = "1 s^-1")");
    const auto run = [](const std::string& text) {
        auto sys = cadyn::compile(cadyn::parse_model(text, "ryr_sparks.toml"));
        cadyn::memory_recorder out({"cluster.open", "jsr.ca"});
        cadyn::simulate(sys, out);
        const auto& open = out.column("cluster.open");
        int sparks = 0;
        int openings = 0;
        for (std::size_t i = 1; i < open.size(); ++i) {
            sparks += open[i] >= 10 && open[i - 1] < 10 ? 1 : 0;
            openings += open[i] >= 1 && open[i - 1] < 1 ? 1 : 0;
        }
        const auto& jsr = out.column("jsr.ca");
        return std::tuple{sparks, openings, *std::min_element(jsr.begin(), jsr.end())};
    };
    const auto [sparks, openings, jsr_low] = run(loaded);
    EXPECT_GE(sparks, 3);
    EXPECT_LT(jsr_low, 100);
    const auto [sparks_depleted, openings_depleted, jsr_low_depleted] = run(depleted);
    EXPECT_EQ(sparks_depleted, 0);
    EXPECT_GE(openings_depleted, 1);
    EXPECT_GT(jsr_low_depleted, 90);
}

TEST(stochastic, a_seed_gives_the_same_run_and_another_seed_another) {
    const auto text = [](int seed) {
        return cluster_model(R"(concentrations = { ca = "0.1 uM", ip3 = "0.5 uM" })",
                             R"(concentrations = { ca = "10.27 uM" })", "channels = 20\npermeability = \"6 s^-1\"\n"
                             "[[mechanisms]]\nname = \"pump\"\ntype = \"serca\"\nmembrane = \"erm\"\n"
                             "vmax = \"0.9 uM/s\"\nkd = \"0.1 uM\"\nhill = 2\n"
                             "[[mechanisms]]\nname = \"leak\"\ntype = \"leak\"\nmembrane = \"erm\"\n"
                             "permeability = \"0.11 s^-1\"",
                             fmt::format("t_end = \"60 s\"\nseed = {}\n[record]\ninterval = \"100 ms\"", seed));
    };
    const auto run = [&](int seed) {
        auto sys = compile_text(text(seed));
        cadyn::memory_recorder out({"cyt.ca", "cluster.n3"});
        const auto r = cadyn::simulate(sys, out);
        EXPECT_GT(r.stats.stochastic_events, 100);
        return std::pair{out.column("cyt.ca"), out.column("cluster.n3")};
    };
    const auto a = run(3);
    const auto b = run(3);
    const auto c = run(4);
    EXPECT_EQ(a.first, b.first);
    EXPECT_EQ(a.second, b.second);
    EXPECT_NE(a.second, c.second);
}

TEST(stochastic, a_closed_cell_keeps_its_calcium_through_every_transition) {
    // Cluster, SERCA and leak in a closed cell (the Li-Rinzel cell): total Ca (cytosol + ER) is constant; counts stay whole and add to N.
    auto sys = compile_text(cluster_model(R"(concentrations = { ca = "0.1 uM", ip3 = "0.5 uM" })",
                                          R"(concentrations = { ca = "10.27 uM" })",
                                          "channels = 20\npermeability = \"6 s^-1\"\n"
                                          "[[mechanisms]]\nname = \"pump\"\ntype = \"serca\"\nmembrane = \"erm\"\n"
                                          "vmax = \"0.9 uM/s\"\nkd = \"0.1 uM\"\nhill = 2\n"
                             "[[mechanisms]]\nname = \"leak\"\ntype = \"leak\"\nmembrane = \"erm\"\n"
                             "permeability = \"0.11 s^-1\"",
                                          "t_end = \"100 s\"\nseed = 9\n[record]\ninterval = \"50 ms\""));
    cadyn::memory_recorder out;
    const auto r = cadyn::simulate(sys, out);
    EXPECT_GT(r.stats.stochastic_events, 200);
    const double before = sys.total_amount(r.y0.data(), "ca");
    const double after = sys.total_amount(r.y_end.data(), "ca");
    EXPECT_NEAR(after, before, 1e-9 * before);
    double peak = 0;
    for (std::size_t i = 0; i < out.times().size(); ++i) {
        double sum = 0;
        for (const char* n: {"cluster.n0", "cluster.n1", "cluster.n2", "cluster.n3"}) {
            const double v = out.column(n)[i];
            ASSERT_EQ(v, std::round(v)) << n << " at " << out.times()[i] << " ms";
            sum += v;
        }
        ASSERT_EQ(sum, 20.0);
        peak = std::max(peak, out.column("cyt.ca")[i]);
    }
    EXPECT_GT(peak, 0.3);  // release happened (puffs lift Ca well above its 0.1 uM start)
}

TEST(stochastic, fluctuations_shrink_as_one_over_root_n_around_the_deterministic_rest) {
    // The Li-Rinzel cell at IP3 = 0.3 uM, below its Hopf point (0.355 uM): with ip3r_li_rinzel (the N -> infinity
    // limit) it rests. With a cluster of N channels, Ca fluctuates about that rest; for large N the linear-noise
    // approximation (van Kampen) gives a standard deviation proportional to 1/sqrt(N) and a mean that tends to
    // the deterministic rest. N = 1000 and 4000: the sd should halve (ratio 2; 1.5 to 2.8 allowed for the
    // estimate from 350 s of correlated samples: about 10 % each), and the mean of the larger cluster lie within
    // 2 % of the rest.
    const std::string cell = R"(concentrations = { ca = "0.1 uM", ip3 = "0.3 uM" })";
    const std::string er = R"(concentrations = { ca = "10.27027027 uM" })";
    const std::string others = "[[mechanisms]]\nname = \"pump\"\ntype = \"serca\"\nmembrane = \"erm\"\n"
                               "vmax = \"0.9 uM/s\"\nkd = \"0.1 uM\"\nhill = 2\n"
                               "[[mechanisms]]\nname = \"leak\"\ntype = \"leak\"\nmembrane = \"erm\"\n"
                               "permeability = \"0.11 s^-1\"";
    auto deterministic =
        compile_text(cluster_model(cell, er, "permeability = \"6 s^-1\"\n" + others, "", "ip3r_li_rinzel"));
    const auto rest = cadyn::find_steady_state(deterministic, deterministic.initial_state());
    ASSERT_TRUE(rest.converged);
    const double c_rest = rest.y[static_cast<std::size_t>(deterministic.state_index("cyt", "ca"))];
    // The rest from the Li-Rinzel equations themselves (IP3 p = 0.3 uM): total Ca c + c1 c_er = 2 uM with
    // c1 = 0.185, and release c1 (v1 m^3 n^3 h^3 + v2)(c_er - c) equal to uptake v3 c^2/(k3^2 + c^2) with
    // h = Q2/(Q2 + c); v1 = 6, v2 = 0.11 /s, v3 = 0.9 uM/s, k3 = 0.1 uM. Bisection on c (release - uptake falls).
    const auto imbalance = [](double c) {
        const double p = 0.3;
        const double c_er = (0.1 + 0.185 * 10.27027027 - c) / 0.185;
        const double q2 = 1.049 * (p + 0.13) / (p + 0.9434);
        const double g = p / (p + 0.13) * c / (c + 0.08234) * q2 / (q2 + c);
        return 0.185 * (6 * g * g * g + 0.11) * (c_er - c) - 0.9 * c * c / (0.01 + c * c);
    };
    double lo = 0.01;
    double hi = 1.0;
    for (int k = 0; k < 100; ++k) {
        const double mid = (lo + hi) / 2;
        (imbalance(mid) > 0 ? lo : hi) = mid;
    }
    EXPECT_NEAR(c_rest, lo, 1e-6 * lo) << "the equations' rest is " << lo << " uM";

    const auto spread = [&](int channels) {
        auto sys = compile_text(cluster_model(cell, er,
                                              fmt::format("channels = {}\npermeability = \"6 s^-1\"\n", channels) +
                                                  others,
                                              "t_end = \"400 s\"\nseed = 2\n[record]\ninterval = \"100 ms\""));
        cadyn::memory_recorder out({"cyt.ca"});
        cadyn::simulate(sys, out);
        const auto& c = out.column("cyt.ca");
        const std::size_t from = 500;  // after 50 s
        const double mean = mean_of(c, from);
        double var = 0;
        for (std::size_t i = from; i < c.size(); ++i) {
            var += (c[i] - mean) * (c[i] - mean);
        }
        return std::pair{mean, std::sqrt(var / static_cast<double>(c.size() - from - 1))};
    };
    const auto [mean_small, sd_small] = spread(1000);
    const auto [mean_large, sd_large] = spread(4000);
    EXPECT_GT(sd_small / sd_large, 1.5) << sd_small << " " << sd_large;
    EXPECT_LT(sd_small / sd_large, 2.8) << sd_small << " " << sd_large;
    EXPECT_NEAR(mean_large, c_rest, 0.02 * c_rest);
}

TEST(stochastic, every_voxel_of_a_cable_has_its_own_cluster_and_calcium_is_conserved) {
    // A 20 um cable of 10 voxels, a cluster of 20 channels on the ER membrane of each, Ca diffusing in cytosol and
    // ER: each cluster moves on its own (every voxel's counts change and always add to 20), and total Ca is
    // conserved through every transition and the diffusion between them.
    auto sys = compile_text(R"(
name = "cluster cable"
[geometry]
type = "cable"
length = "20 um"
diameter = "1 um"
voxels = 10
[[compartments]]
name = "cyt"
fraction = 0.83
diffusion = { ca = "80 um^2/s" }
concentrations = { ca = "0.1 uM", ip3 = "0.5 uM" }
[[compartments]]
name = "er"
fraction = 0.17
diffusion = { ca = "80 um^2/s" }
concentrations = { ca = "10 uM" }
[[membranes]]
name = "erm"
inner = "er"
outer = "cyt"
area = "34 um^2"
[[mechanisms]]
name = "cluster"
type = "ip3r_cluster"
membrane = "erm"
permeability = "6 s^-1"
channels = 20
[[mechanisms]]
name = "pump"
type = "serca"
membrane = "erm"
vmax = "0.9 uM/s"
kd = "0.1 uM"
hill = 2
[[mechanisms]]
name = "leak"
type = "leak"
membrane = "erm"
permeability = "0.11 s^-1"
[run]
t_end = "30 s"
seed = 3
[record]
interval = "100 ms"
)");
    ASSERT_EQ(sys.stochastic_instances(), 10U);
    const auto& names = sys.state_names();
    const auto index = [&](int k, int voxel) {
        const auto name = fmt::format("cluster.n{}[{}]", k, voxel);
        const auto it = std::find(names.begin(), names.end(), name);
        EXPECT_NE(it, names.end()) << name;
        return static_cast<std::size_t>(it - names.begin());
    };
    const auto y0 = sys.initial_state();
    std::vector<int> moved(10, 0);
    cadyn::simulation_options options;
    options.inspect = [&](double t, const double* y) {
        for (int v = 0; v < 10; ++v) {
            double sum = 0;
            for (int k = 0; k < 4; ++k) {
                const double n = y[index(k, v)];
                ASSERT_EQ(n, std::round(n)) << "voxel " << v << " at " << t << " ms";
                ASSERT_GE(n, 0);
                sum += n;
                moved[static_cast<std::size_t>(v)] |= n != y0[index(k, v)] ? 1 : 0;
            }
            ASSERT_EQ(sum, 20.0) << "voxel " << v << " at " << t << " ms";
        }
    };
    cadyn::memory_recorder out({"cyt.ca"});
    const auto r = cadyn::simulate(sys, out, options);
    EXPECT_GT(r.stats.stochastic_events, 500);
    const double before = sys.total_amount(r.y0.data(), "ca");
    EXPECT_NEAR(sys.total_amount(r.y_end.data(), "ca"), before, 1e-9 * before);
    for (int v = 0; v < 10; ++v) {
        EXPECT_TRUE(moved[static_cast<std::size_t>(v)]) << "voxel " << v << " never left its initial counts";
    }
}

TEST(stochastic, a_stochastic_model_refuses_to_start_from_a_steady_state) {
    auto sys = compile_text(cluster_model(R"(concentrations = { ca = "0.1 uM", ip3 = "0.5 uM" })",
                                          R"(concentrations = { ca = "10 uM" })", "channels = 5",
                                          "t_end = \"1 s\"\nstart = \"steady_state\""));
    cadyn::memory_recorder out;
    try {
        cadyn::simulate(sys, out);
        FAIL() << "expected an error";
    }
    catch (const cadyn::error& e) {
        EXPECT_NE(std::string(e.what()).find("run.start"), std::string::npos) << e.what();
    }
}

TEST(stochastic, a_fractional_number_of_channels_is_an_error) {
    EXPECT_THROW(compile_text(cluster_model(R"(concentrations = { ca = "0.1 uM", ip3 = "0.5 uM" })",
                                            R"(concentrations = { ca = "10 uM" })", "channels = 2.5", "")),
                 cadyn::error);
}

TEST(stochastic, a_negative_seed_is_reported_with_its_line) {
    try {
        cadyn::parse_model("format_version = 1\n[run]\nseed = -3\n", "m.toml");
        FAIL() << "expected an error";
    }
    catch (const cadyn::error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("m.toml:3"), std::string::npos) << what;
        EXPECT_NE(what.find("run.seed"), std::string::npos) << what;
    }
}

} // namespace
