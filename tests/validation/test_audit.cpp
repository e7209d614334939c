// The thermodynamic audit: shipped models pass, deliberately broken ones are flagged for the right reason.
#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include <cadyn/analysis.hpp>
#include <cadyn/audit.hpp>
#include <cadyn/io/model_file.hpp>

using ::testing::HasSubstr;
namespace fs = std::filesystem;

TEST(audit, every_shipped_model_passes) {
    std::size_t models = 0;
    for (const auto& entry: fs::directory_iterator(fs::path(CADYN_SOURCE_DIR) / "models")) {
        if (entry.path().extension() != ".toml") {
            continue;
        }
        ++models;
        auto sys = cadyn::compile(cadyn::read_model_file(entry.path()));
        const auto report = cadyn::audit(sys);
        EXPECT_TRUE(report.passed()) << entry.path() << ": " << (report.passed() ? "" : report.findings[0].message);
        EXPECT_GT(report.checks, 0) << entry.path();
    }
    EXPECT_GE(models, 2U);
}

TEST(budget, closes_to_round_off_on_every_shipped_model) {
    // For every compartment and species: change of total = transfers in - out + sources, to 1e-9 of the amounts
    // at stake (the species' total or what moved, so a species made from nothing counts too). The channels are
    // integrated alongside the state, so the balance is a linear invariant of the run.
    int atp_checks = 0;
    for (const auto& entry: fs::directory_iterator(fs::path(CADYN_SOURCE_DIR) / "models")) {
        if (entry.path().extension() != ".toml") {
            continue;
        }
        auto sys = cadyn::compile(cadyn::read_model_file(entry.path()));
        cadyn::memory_recorder rec;
        const auto result = cadyn::simulate(sys, rec);
        for (const auto& b: cadyn::balances(sys, result.y0, result.y_end, result.budget)) {
            EXPECT_LT(b.relative_error(), 1e-9)
                << entry.path().filename() << ": " << b.compartment << "." << b.species;
        }
        // ATP rates are recorded per pump and integrate to the ATP budget (trapezoid on the record grid: only a
        // sanity check of sign and size, 5 %).
        for (const auto& a: cadyn::atp_consumption(sys, result.budget)) {
            if (std::abs(a.amount) < 1e-9) {
                continue;
            }
            const auto obs = std::find_if(rec.observables().begin(), rec.observables().end(),
                                           [&](const auto& o) { return o.name == a.mechanism + ".atp_rate"; });
            if (obs == rec.observables().end()) {
                continue;  // not recorded by this model's record list
            }
            const auto& rate = rec.column(a.mechanism + ".atp_rate");
            const auto& t = rec.times();
            double integral = 0;
            for (std::size_t k = 1; k < t.size(); ++k) {
                integral += 0.5 * (rate[k] + rate[k - 1]) * (t[k] - t[k - 1]);
            }
            EXPECT_NEAR(integral, a.amount, 0.05 * std::abs(a.amount)) << entry.path().filename() << " " << a.mechanism;
            ++atp_checks;
        }
    }
    EXPECT_GT(atp_checks, 0);
}

TEST(audit, a_leak_that_ignores_the_potential_runs_uphill) {
    // V = +200 mV > E_Ca = +128.5 mV: Ca should leave, the linear leak brings it in.
    auto sys = cadyn::compile(cadyn::read_model_file(fs::path(CADYN_TEST_DATA) / "thermo" / "leak_uphill.toml"));
    const auto report = cadyn::audit(sys);
    ASSERT_EQ(report.findings.size(), 1U);
    EXPECT_EQ(report.findings[0].mechanism, "pm_leak");
    EXPECT_THAT(report.findings[0].message, HasSubstr("against their electrochemical gradient"));
    EXPECT_GT(report.findings[0].power, 0);
    // PMCA pumps out against a gradient too, but within what ATP pays: 2F(V - E_Ca) per Ca is far below 50 kJ/mol.
    EXPECT_THAT(report.audited, ::testing::Contains("pmca"));
}

TEST(audit, an_irreversible_serca_cannot_outwork_atp) {
    // With |dG_ATP| = 50 kJ/mol the store can be at most exp(50 / (2 RT)) ~ 1.6e4 times the cytosol (37 degC);
    // this SERCA overshoots that, and the audit says so. The thermodynamically consistent serca_reversible with
    // the same capacity stops at that ratio and passes.
    auto spec = cadyn::read_model_file(fs::path(CADYN_TEST_DATA) / "thermo" / "serca_overfills.toml");
    auto sys = cadyn::compile(spec);
    const auto report = cadyn::audit(sys);
    ASSERT_EQ(report.findings.size(), 1U);
    EXPECT_EQ(report.findings[0].mechanism, "serca");
    EXPECT_THAT(report.findings[0].message, HasSubstr("more than its ATP turnover supplies"));

    auto& serca = spec.mechanisms[0];
    ASSERT_EQ(serca.type, "serca");
    serca.type = "serca_reversible";
    serca.parameters.erase("hill");
    auto consistent = cadyn::compile(spec);
    EXPECT_TRUE(cadyn::audit(consistent).passed());
}
