#include <cadyn/error.hpp>
#include <cadyn/units.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

namespace cadyn {
namespace {

using ::testing::HasSubstr;

// The message of the unit_error that `f` throws, or a marker when it throws none.
template <typename F>
std::string unit_error_of(F&& f) {
    try {
        f();
    } catch (const unit_error& e) {
        return e.what();
    }
    return "(no unit_error thrown)";
}

std::string error_of(std::string_view text, const dimension& d) {
    return unit_error_of([&] { to_canonical(text, d); });
}

// Relative tolerance for values that go through floating-point scale factors.
void expect_close(double actual, double expected) { EXPECT_NEAR(actual, expected, 1e-12 * std::abs(expected)); }

TEST(units, spec_examples_convert_to_canonical) {
    expect_close(to_canonical("1.5 mM", dims::concentration), 1500);  // 1 mM = 1000 uM
    expect_close(to_canonical("100 nM", dims::concentration), 0.1);   // 1 nM = 1e-3 uM
    expect_close(to_canonical("0.2 uM", dims::concentration), 0.2);
    expect_close(to_canonical("220 um^2/s", dims::diffusivity), 0.22);  // 1 s = 1000 ms
    expect_close(to_canonical("-70 mV", dims::potential), -70);
    expect_close(to_canonical("37 degC", dims::temperature), 310.15);  // T[K] = T[degC] + 273.15
    expect_close(to_canonical("0.3 pA", dims::current), 0.3);
    expect_close(to_canonical("1 pL", dims::volume), 1000);  // 1 L = 1 dm^3 = 1e15 um^3, so 1 pL = 1e3 um^3
    expect_close(to_canonical("5 s^-1", dims::rate), 0.005);  // 1/s = 1e-3 /ms
    // 1 /(uM s) = 1e-3 /(uM ms)
    expect_close(to_canonical("0.1 uM^-1 s^-1", dims::second_order_rate), 1e-4);
    // 2 pmol/(cm^2 s) = 2e-12 mol / (1e8 um^2 * 1e3 ms) = 2e-23 mol/(um^2 ms); 1 zmol = 1e-21 mol -> 0.02
    expect_close(to_canonical("2 pmol/cm^2/s", dims::flux_density), 0.02);
}

TEST(units, other_dimension_examples) {
    expect_close(to_canonical("2 uM/s", dims::concentration_rate), 2e-3);  // 1/s = 1e-3 /ms
    expect_close(to_canonical("5 amol/s", dims::flux), 5.0);              // 1 amol = 1e3 zmol, 1 s = 1e3 ms
    expect_close(to_canonical("1 amol", dims::amount), 1000);             // 1 amol = 1e-18 mol = 1e3 zmol
    expect_close(to_canonical("1e-6 cm/s", dims::permeability), 1e-5);   // 1 cm = 1e4 um, 1 s = 1e3 ms
    expect_close(to_canonical("10 um", dims::length), 10);
    expect_close(to_canonical("1 mm", dims::length), 1000);  // 1 mm = 1e3 um
    expect_close(to_canonical("1200 um^2", dims::area), 1200);
    expect_close(to_canonical("10 ms", dims::time), 10);
    expect_close(to_canonical("2 s", dims::time), 2000);  // 1 s = 1e3 ms
    expect_close(to_canonical("1 fL", dims::volume), 1);  // 1 fL = 1e-18 m^3 = 1 um^3
    expect_close(to_canonical("300 K", dims::temperature), 300);
    expect_close(to_canonical("2.5", dims::dimensionless), 2.5);
    expect_close(to_canonical("5 %", dims::dimensionless), 0.05);  // 1 % = 1e-2
    expect_close(to_canonical("50 kJ/mol", dims::molar_energy), 50);
    expect_close(to_canonical("12 kcal/mol", dims::molar_energy), 12 * 4.1868);  // IT calorie, 4.1868 J
}

TEST(units, docs_table_examples) {
    // The "you can write" column of docs/units.md, each with its value in canonical units.
    struct example {
        const char* text;
        const dimension* dim;
        double canonical;
    };
    const example examples[] = {
        {"2e-3 mol/L", &dims::concentration, 2000},         // 1 mol/L = 1e6 uM
        {"50 us", &dims::time, 0.05},                        // 1 us = 1e-3 ms
        {"5 /s", &dims::rate, 0.005},                        // 1/s = 1e-3 /ms
        {"5 Hz", &dims::rate, 0.005},                        // 1 Hz = 1/s
        {"0.005 1/ms", &dims::rate, 0.005},
        {"500 nm", &dims::length, 0.5},                      // 1 nm = 1e-3 um
        {"0.012 mm^2", &dims::area, 12000},                  // 1 mm^2 = 1e6 um^2
        {"3 cm2", &dims::area, 3e8},                         // 1 cm^2 = 1e8 um^2
        {"1000 fL", &dims::volume, 1000},                    // 1 fL = 1 um^3
        {"1000 um^3", &dims::volume, 1000},
        {"1000 zmol", &dims::amount, 1000},
        {"-0.07 V", &dims::potential, -70},                  // 1 V = 1e3 mV
        {"300 fA", &dims::current, 0.3},                     // 1 fA = 1e-3 pA
        {"310.15 K", &dims::temperature, 310.15},
        {"0.002 mM/ms", &dims::concentration_rate, 2},       // 1 mM = 1e3 uM
        {"1e5 M^-1 s^-1", &dims::second_order_rate, 1e-4},   // 1/(M s) = 1/(1e6 uM * 1e3 ms)
        {"2.2e-6 cm^2/s", &dims::diffusivity, 0.22},         // 1 cm^2/s = 1e8 um^2 / 1e3 ms = 1e5 um^2/ms
        {"1 millimolar", &dims::concentration, 1000},
    };
    for (const auto& e: examples) {
        SCOPED_TRACE(e.text);
        expect_close(to_canonical(e.text, *e.dim), e.canonical);
    }
}

TEST(units, molar_and_its_prefixes) {
    expect_close(convert(1, "mM", "uM"), 1000);  // milli: 1 mM = 1e3 uM
    expect_close(convert(1, "M", "uM"), 1e6);    // 1 M = 1 mol/L = 1e6 uM
    expect_close(convert(1, "nM", "uM"), 1e-3);
    expect_close(convert(1, "pM", "uM"), 1e-6);
    expect_close(convert(1, "molar", "uM"), 1e6);
    expect_close(convert(1, "M", "mol/L"), 1);
    // 1 uM * 1 um^3 = 1e-6 mol/L * 1e-15 L = 1e-21 mol = 1 zmol
    expect_close(convert(1, "uM um^3", "zmol"), 1);
}

TEST(units, mega_prefix_does_not_shadow_molar) {
    expect_close(convert(1, "MM", "M"), 1e6);    // mega-molar
    expect_close(convert(1, "Mm", "um"), 1e12);  // megametre: 1e6 m = 1e12 um
    expect_close(convert(1, "mm", "um"), 1e3);   // millimetre, not millimolar
    expect_close(convert(1, "MHz", "1/ms"), 1e3);
    EXPECT_EQ(dimension_of("mM"), &dims::concentration);
    EXPECT_EQ(dimension_of("Mm"), &dims::length);
    EXPECT_EQ(dimension_of("mm"), &dims::length);
}

TEST(units, convert_handles_offsets) {
    expect_close(convert(0, "degC", "K"), 273.15);
    expect_close(convert(310.15, "K", "degC"), 37);
}

TEST(units, convert_rejects_unknown_or_incompatible_units) {
    EXPECT_THROW(convert(1, "uMM", "uM"), unit_error);
    EXPECT_THROW(convert(1, "uM", "furlongs per fortnight"), unit_error);
    EXPECT_THROW(convert(1, "", "uM"), unit_error);
    EXPECT_THAT(unit_error_of([] { convert(1, "mV", "uM"); }), HasSubstr("cannot convert 'mV' to 'uM'"));
    // UDUNITS alone converts reciprocals (1/s to ms); cadyn does not.
    EXPECT_THROW(convert(5, "s^-1", "ms"), unit_error);
    EXPECT_THROW(convert(5, "Hz", "s"), unit_error);
}

TEST(units, every_canonical_unit_parses_and_has_its_dimension) {
    for (const dimension* d: dims::all()) {
        SCOPED_TRACE(std::string(d->name));
        EXPECT_TRUE(has_dimension(d->canonical, *d));
        EXPECT_EQ(dimension_of(d->canonical), d);
        expect_close(convert(1, d->canonical, d->canonical), 1);
    }
}

TEST(units, every_example_converts) {
    for (const dimension* d: dims::all()) {
        SCOPED_TRACE(std::string(d->example));
        EXPECT_NO_THROW(to_canonical(d->example, *d));
    }
}

TEST(units, all_lists_every_dimension_once) {
    const auto& all = dims::all();
    const std::set<const dimension*> unique(all.begin(), all.end());
    EXPECT_EQ(unique.size(), all.size());
    EXPECT_EQ(all.size(), 18U);
    for (const dimension* d: {&dims::dimensionless, &dims::concentration, &dims::time, &dims::rate, &dims::length,
                              &dims::area, &dims::volume, &dims::amount, &dims::potential, &dims::current,
                              &dims::temperature, &dims::concentration_rate, &dims::second_order_rate,
                              &dims::diffusivity, &dims::flux, &dims::flux_density, &dims::permeability}) {
        EXPECT_EQ(unique.count(d), 1U) << d->name;
    }
}

TEST(units, dimension_of_known_and_unknown_units) {
    EXPECT_EQ(dimension_of("mV"), &dims::potential);
    EXPECT_EQ(dimension_of("1/ms"), &dims::rate);  // a rate is not dimensionless
    EXPECT_EQ(dimension_of("s^-1"), &dims::rate);
    EXPECT_EQ(dimension_of("1"), &dims::dimensionless);
    EXPECT_EQ(dimension_of("percent"), &dims::dimensionless);
    EXPECT_EQ(dimension_of("degC"), &dims::temperature);
    EXPECT_EQ(dimension_of("Pa"), nullptr);  // a pressure: a known unit, but none of cadyn's dimensions
    EXPECT_EQ(dimension_of("uMM"), nullptr);
    EXPECT_EQ(dimension_of(""), nullptr);
}

TEST(units, has_dimension) {
    EXPECT_TRUE(has_dimension("mM", dims::concentration));
    EXPECT_TRUE(has_dimension("pmol/cm^2/s", dims::flux_density));
    EXPECT_FALSE(has_dimension("mV", dims::concentration));
    EXPECT_FALSE(has_dimension("1/ms", dims::dimensionless));
    EXPECT_FALSE(has_dimension("Hz", dims::time));  // a reciprocal is another dimension
    EXPECT_FALSE(has_dimension("uMM", dims::concentration));
}

TEST(units, split_quantity_accepts_number_forms) {
    const auto q = split_quantity("1.5 mM");
    EXPECT_EQ(q.value, 1.5);
    EXPECT_EQ(q.unit, "mM");
    EXPECT_EQ(split_quantity("1e-6 cm/s").value, 1e-6);
    EXPECT_EQ(split_quantity("1e-6 cm/s").unit, "cm/s");
    EXPECT_EQ(split_quantity("+5 ms").value, 5);
    EXPECT_EQ(split_quantity("-70 mV").value, -70);
    EXPECT_EQ(split_quantity(".5 uM").value, 0.5);
    EXPECT_EQ(split_quantity("5ms").unit, "ms");
    EXPECT_EQ(split_quantity("  3 \t mV  ").unit, "mV");
    EXPECT_EQ(split_quantity("2.5").unit, "");
    EXPECT_EQ(split_quantity("2.5").value, 2.5);
}

TEST(units, split_quantity_rejects_non_numbers) {
    EXPECT_THROW(split_quantity(""), unit_error);
    EXPECT_THROW(split_quantity("   "), unit_error);
    EXPECT_THROW(split_quantity("abc"), unit_error);
    EXPECT_THROW(split_quantity("uM 5"), unit_error);
    EXPECT_THROW(split_quantity("nan uM"), unit_error);
    EXPECT_THROW(split_quantity("inf uM"), unit_error);
    EXPECT_THROW(split_quantity("-inf uM"), unit_error);
    EXPECT_THROW(split_quantity("1e999 uM"), unit_error);
    EXPECT_THROW(split_quantity("+-5 uM"), unit_error);
    EXPECT_THROW(split_quantity("- 5 uM"), unit_error);
}

TEST(units, rejects_garbage) {
    for (const char* text: {"abc", "", "1.5 mM extra", "nan uM", "1e999 uM", "uM", "0x10 uM"}) {
        SCOPED_TRACE(text);
        EXPECT_THROW(to_canonical(text, dims::concentration), unit_error);
    }
    EXPECT_THAT(error_of("1.5 mM extra", dims::concentration), HasSubstr("unknown unit 'mM extra' in '1.5 mM extra'"));
}

TEST(units, rejects_unknown_unit) {
    EXPECT_EQ(error_of("0.2 uMM", dims::concentration), "unknown unit 'uMM' in '0.2 uMM'");
}

TEST(units, rejects_number_inside_unit) {
    // UDUNITS alone would read "mM 2" and "mM.2" as 2 mM.
    EXPECT_THAT(error_of("1.5 mM 2", dims::concentration), HasSubstr("unexpected number inside unit 'mM 2'"));
    EXPECT_THROW(to_canonical("1.5 mM.2", dims::concentration), unit_error);
    EXPECT_THROW(to_canonical("1.5 mM*2", dims::concentration), unit_error);
    EXPECT_THROW(to_canonical("3 10/ms", dims::rate), unit_error);
    expect_close(to_canonical("3 1/s", dims::rate), 3e-3);  // the "1" of "1/s" is no factor
}

TEST(units, rejects_wrong_dimension_naming_both) {
    EXPECT_EQ(error_of("3 mV", dims::concentration),
              "'3 mV' is an electric potential; expected a concentration, e.g. '0.2 uM'");
    EXPECT_THAT(error_of("5 s^-1", dims::time), HasSubstr("'5 s^-1' is a rate (1/time)"));
    EXPECT_THAT(error_of("5 s^-1", dims::time), HasSubstr("expected a time, e.g. '10 ms'"));
    EXPECT_THAT(error_of("1 amol", dims::volume), HasSubstr("is an amount of substance; expected a volume"));
    // A pressure is a real unit but no cadyn dimension: the message still names the text and the expectation.
    const auto pressure = error_of("3 Pa", dims::concentration);
    EXPECT_THAT(pressure, HasSubstr("'3 Pa'"));
    EXPECT_THAT(pressure, HasSubstr("expected a concentration, e.g. '0.2 uM'"));
}

TEST(units, rejects_missing_unit_for_dimensioned_quantity) {
    EXPECT_THAT(error_of("5", dims::concentration), HasSubstr("missing unit: expected a concentration, e.g. '0.2 uM'"));
    EXPECT_THAT(error_of("-70", dims::potential), HasSubstr("expected an electric potential, e.g. '-70 mV'"));
    EXPECT_THROW(to_canonical("0.005", dims::rate), unit_error);
}

TEST(units, rejects_non_finite_result) {
    // 1e305 M = 1e311 uM, beyond the largest double (~1.8e308).
    EXPECT_THAT(error_of("1e305 M", dims::concentration), HasSubstr("out of range"));
}

TEST(units, faraday_flux_constant) {
    // CODATA 2018 (exact SI): N_A = 6.02214076e23 /mol, e = 1.602176634e-19 C, F = N_A e = 96485.33212... C/mol.
    const double faraday = 6.02214076e23 * 1.602176634e-19;
    EXPECT_NEAR(constants::faraday, faraday, 1e-5);
    // 1 pA / F = 1e-12 C/s / F mol/C = 1.0364e-17 mol/s = 1.0364e-20 mol/ms; 1 zmol = 1e-21 mol
    //   -> 1e-12 / F * 1e-3 / 1e-21 = 1e6 / F = 10.364 zmol/ms.
    EXPECT_NEAR(constants::zmol_per_ms_per_pA, 1e6 / faraday, 1e-9);
    EXPECT_NEAR(constants::zmol_per_ms_per_pA, 10.3643, 1e-4);
    // The same through the unit system: 1 pA / F = 1e-12 / F mol/s, in zmol/ms.
    expect_close(convert(1e-12 / constants::faraday, "mol/s", "zmol/ms"), constants::zmol_per_ms_per_pA);
}

TEST(units, concurrent_use_is_safe) {
    std::vector<std::thread> threads;
    std::vector<double> sums(4, 0.0);
    for (std::size_t t = 0; t < sums.size(); ++t) {
        threads.emplace_back([&sums, t] {
            for (int i = 0; i < 200; ++i) {
                sums[t] += to_canonical("1.5 mM", dims::concentration);
            }
        });
    }
    for (auto& th: threads) {
        th.join();
    }
    for (double s: sums) {
        expect_close(s, 200 * 1500.0);
    }
}


TEST(units, canonical_system_is_coherent) {
    // Every canonical unit is a product of powers of um, ms, ng, pA, zmol and K with factor 1, so expressions that
    // combine canonical values stay canonical. mV = aJ/fC = 1e-18 J / (1e-12 A * 1e-3 s) and
    // 1 ng um^2 ms^-3 = 1e-12 kg * 1e-12 m^2 / 1e-9 s^3 = 1e-15 W; / 1 pA = 1e-3 V.
    EXPECT_NEAR(convert(1, "mV", "ng um^2 ms^-3 pA^-1"), 1, 1e-12);
    EXPECT_NEAR(convert(1, "uM", "zmol um^-3"), 1, 1e-12);      // 1e-21 mol / 1e-15 L = 1e-6 M
    EXPECT_NEAR(convert(1, "kJ/mol", "ng um^2 ms^-2 zmol^-1"), 1, 1e-12);  // aJ / zmol = 1e3 J/mol
    EXPECT_NEAR(convert(1, "amol/s", "zmol/ms"), 1, 1e-12);
}

TEST(units, to_coherent_handles_any_dimension) {
    // Named dimensions take their canonical unit; others are expressed in the coherent base units.
    const auto rate = to_coherent("2 s^-1");
    EXPECT_NEAR(rate.value, 2e-3, 1e-15);
    EXPECT_EQ(rate.unit, "1/ms");
    const auto slope = to_coherent("2 mV/ms");  // potential per time: no named dimension
    EXPECT_NEAR(slope.value, 2, 1e-12);
    EXPECT_NEAR(convert(slope.value, slope.unit, "mV/ms"), 2, 1e-12);
    const auto force = to_coherent("1 N");  // kg m s^-2 = 1e12 ng * 1e6 um / 1e6 ms^2 = 1e12 ng um ms^-2
    EXPECT_NEAR(force.value, 1e12, 1e-3);
    EXPECT_EQ(to_coherent("3").value, 3);
    EXPECT_THROW(to_coherent("2 foo"), unit_error);
}

} // namespace
} // namespace cadyn
