// Which UDUNITS-2 database cadyn reads units with (src/units/units.cpp): first the SI part of the installed database
// (prefixes, base, derived, accepted units, plus the molar and degC), the whole database only when a unit is not in
// that part. Each test needs a fresh process (ctest runs every test alone): the database is loaded once per process.
// Expected values are the definitions (SI brochure, 9th ed.; udunits2-common.xml: the furlong is 660 US survey feet
// of 1200/3937 m, the calorie the international 4.1868 J), to rounding: tolerance 1e-15 relative.
#include <cadyn/error.hpp>
#include <cadyn/units.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>

namespace cadyn {
namespace {

constexpr double furlong_um = 660 * 1200.0 / 3937 * 1e6;

void expect_close(double got, double want) { EXPECT_NEAR(got, want, 1e-15 * std::abs(want)); }

TEST(UnitDatabase, SubsetServesTheUnitsOfCalciumModelsThenTheWholeDatabaseTheRest) {
    if (loaded_unit_database() != unit_database::none || std::getenv("UDUNITS2_XML_PATH") != nullptr) {
        GTEST_SKIP() << "needs a fresh process without UDUNITS2_XML_PATH (ctest runs each test alone)";
    }
    // The units of cadyn's models, docs and canonical system, all in the subset.
    expect_close(to_canonical("1.5 mM", dims::concentration), 1500);
    expect_close(to_canonical("2 nM", dims::concentration), 2e-3);
    expect_close(to_canonical("2 min", dims::time), 120000);
    expect_close(to_canonical("1 h", dims::time), 3.6e6);
    expect_close(to_canonical("1 L", dims::volume), 1e15);
    expect_close(to_canonical("37 degC", dims::temperature), 310.15);
    expect_close(to_canonical("25 celsius", dims::temperature), 298.15);
    expect_close(to_canonical("220 um^2/s", dims::diffusivity), 0.22);
    expect_close(to_canonical("50 kJ/mol", dims::molar_energy), 50);
    expect_close(to_canonical("1e-6 cm/s", dims::permeability), 1e-5);
    expect_close(to_canonical("2 pmol/cm^2/s", dims::flux_density), 2e-8 * 1e9 * 1e-3);
    expect_close(to_canonical("100 /uM/s", dims::second_order_rate), 0.1);
    expect_close(to_canonical("-60 mV", dims::potential), -60);
    expect_close(to_canonical("0.2 nA", dims::current), 200);
    EXPECT_EQ(dimension_of("uM/ms"), &dims::concentration_rate);
    EXPECT_TRUE(has_dimension("fL", dims::volume));
    EXPECT_EQ(to_coherent("2 mV/ms").unit, "um^2 ng ms^-4 pA^-1");
    EXPECT_EQ(loaded_unit_database(), unit_database::subset);

    // A unit of udunits2-common.xml only: the whole database is read and the conversion still right.
    expect_close(to_canonical("1 furlong", dims::length), furlong_um);
    EXPECT_EQ(loaded_unit_database(), unit_database::full);
    expect_close(to_canonical("1 kcal/mol", dims::molar_energy), 4.1868);
    expect_close(to_canonical("37 degC", dims::temperature), 310.15);
    expect_close(to_canonical("1.5 mM", dims::concentration), 1500);

    // Unknown in both: the same message as ever.
    try {
        to_canonical("3 florps", dims::length);
        ADD_FAILURE() << "no unit_error";
    } catch (const unit_error& e) {
        EXPECT_NE(std::string(e.what()).find("unknown unit 'florps'"), std::string::npos) << e.what();
    }
}

TEST(UnitDatabase, AnUnknownUnitLoadsTheWholeDatabaseInsideOneCall) {
    if (loaded_unit_database() != unit_database::none || std::getenv("UDUNITS2_XML_PATH") != nullptr) {
        GTEST_SKIP() << "needs a fresh process without UDUNITS2_XML_PATH (ctest runs each test alone)";
    }
    // The first unit of the call is parsed in the subset, the second is not in it: the call starts again in the
    // whole database (units of two systems cannot be compared).
    expect_close(convert(1, "m", "furlong"), 1e6 / furlong_um);
    EXPECT_EQ(loaded_unit_database(), unit_database::full);
    EXPECT_FALSE(has_dimension("fortnight", dims::length));
    EXPECT_TRUE(has_dimension("fortnight", dims::time));
}

// Seven symbols of udunits2-common.xml that the subset alone would read as a prefixed unit of its own: "ft" as
// femtotonne, "yd" as yoctoday, "pt" as picotonne, "at", "kt", "nt" as atto-, kilo-, nanotonne, "ph" as picohour.
// Each, met first in a fresh process (a child per symbol), means what the whole database says: the foot, the yard,
// the pint of 4.731765e-4 m^3 (as UDUNITS-2 rounds the US liquid pint), the technical atmosphere, the knot, the nit, the phot.
TEST(UnitDatabase, CommonSymbolsThatLookLikePrefixedSubsetUnitsMeanWhatTheWholeDatabaseSays) {
    if (loaded_unit_database() != unit_database::none || std::getenv("UDUNITS2_XML_PATH") != nullptr) {
        GTEST_SKIP() << "needs a fresh process without UDUNITS2_XML_PATH (ctest runs each test alone)";
    }
    const auto in_child = [](auto check) {
        EXPECT_EXIT(std::exit(check() ? 0 : 1), ::testing::ExitedWithCode(0), "");
    };
    in_child([] { return std::abs(to_canonical("1 ft", dims::length) / 304800 - 1) < 1e-15; });
    in_child([] { return std::abs(to_canonical("1 yd", dims::length) / 914400 - 1) < 1e-15; });
    in_child([] { return std::abs(to_canonical("1 pt", dims::volume) / 4.731765e14 - 1) < 1e-15; });
    // A speed has the dimension of a permeability (length per time), not of a mass; pressure, luminance and
    // illuminance are none of cadyn's dimensions (not a mass, not a time).
    in_child([] { return dimension_of("kt") == &dims::permeability; });
    for (const char* symbol: {"at", "nt", "ph"}) {
        in_child([symbol] { return dimension_of(symbol) == nullptr && loaded_unit_database() == unit_database::full; });
    }
}

TEST(UnitDatabase, UdunitsXmlPathReadsTheNamedDatabaseWhole) {
    if (loaded_unit_database() != unit_database::none) {
        GTEST_SKIP() << "needs a fresh process (ctest runs each test alone)";
    }
    ASSERT_EQ(::setenv("UDUNITS2_XML_PATH", "/usr/share/xml/udunits/udunits2.xml", 1), 0);
    expect_close(to_canonical("1.5 mM", dims::concentration), 1500);
    EXPECT_EQ(loaded_unit_database(), unit_database::full);
    ::unsetenv("UDUNITS2_XML_PATH");
}

} // namespace
} // namespace cadyn
