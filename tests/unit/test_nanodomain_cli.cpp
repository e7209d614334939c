// `cadyn nanodomain`: the table, --json, --out, --plot and the exit status for bad input (2, naming the option).
// Analytic values only here (--no-numeric); tests/validation/test_nanodomain_numeric.cpp checks the numeric solve.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli_helpers.hpp"

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using cadyn::testing::run_command;

namespace {

std::string read_text(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

fs::path scratch(const std::string& name) {
    const auto dir = fs::temp_directory_path() / ("cadyn-nanodomain-test-" + name);
    fs::remove_all(dir);
    return dir;
}

} // namespace

TEST(nanodomain_cli, table_at_the_default_distances) {
    const auto r = run_command("nanodomain --no-numeric");
    ASSERT_EQ(r.status, 0) << r.output;
    // Free diffusion of 0.2 pA at 20 nm: 0.1 + 37.49 uM (i / (2F) / (2 pi D r), worked out in
    // test_nanodomain_analytic); every column equals it without buffers.
    EXPECT_THAT(r.output, HasSubstr("numeric"));
    EXPECT_THAT(r.output, HasSubstr("linearized"));
    EXPECT_THAT(r.output, HasSubstr("37.589"));
    EXPECT_THAT(r.output, HasSubstr("3.8489"));
}

TEST(nanodomain_cli, buffers_from_presets_and_keys) {
    const auto r = run_command("nanodomain --no-numeric --buffer egta --buffer "
                               "'name=cb,total=100uM,kd=0.2uM,kon=0.6/uM/ms,D=20um^2/s' --at '20 nm'");
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_THAT(r.output, HasSubstr("buffer egta: 1000 uM"));
    EXPECT_THAT(r.output, HasSubstr("buffer cb: 100 uM, Kd 0.2 uM, kon 0.6 /uM/ms, D 20 um^2/s"));
    EXPECT_THAT(r.output, HasSubstr("EBA length"));
    // A preset with a change.
    const auto ten = run_command("nanodomain --no-numeric --buffer 'egta,total=10mM'");
    ASSERT_EQ(ten.status, 0) << ten.output;
    EXPECT_THAT(ten.output, HasSubstr("buffer egta: 10000 uM"));
}

TEST(nanodomain_cli, json_has_every_form_at_every_distance) {
    const auto r = run_command("nanodomain --no-numeric --json --buffer bapta --at '20nm,200nm'");
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_THAT(r.output, HasSubstr("\"numeric\": null"));
    EXPECT_THAT(r.output, HasSubstr("\"r_nm\": 20,"));
    EXPECT_THAT(r.output, HasSubstr("\"r_nm\": 200,"));
    for (const char* key: {"\"free_uM\"", "\"linearized_uM\"", "\"eba_uM\"", "\"rba_uM\"", "\"eba_length_nm\""}) {
        EXPECT_THAT(r.output, HasSubstr(key));
    }
    EXPECT_EQ(r.output.front(), '{');
}

TEST(nanodomain_cli, writes_the_profile_and_the_plot) {
    const auto dir = scratch("out");
    const auto png = dir / "c.png";
    fs::create_directories(dir);
    const auto r = run_command("nanodomain --no-numeric --buffer egta --out '" + dir.string() + "' --plot '" +
                               png.string() + "'");
    ASSERT_EQ(r.status, 0) << r.output;
    const std::string csv = read_text(dir / "profile.csv");
    EXPECT_THAT(csv, HasSubstr("r [nm],numeric [uM],free [uM],free clamped [uM],linearized [uM],eba [uM],rba [uM]"));
    EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 301);  // header + 300 log-spaced distances
    EXPECT_GT(fs::file_size(png), 1000u);
    fs::remove_all(dir);
}

TEST(nanodomain_cli, bad_input_is_status_2_naming_the_option) {
    const struct {
        const char* args;
        const char* says;
    } cases[] = {
        {"--current '3 mV'", "--current"},
        {"--current '-1 pA'", "--current"},
        {"--bulk 'abc'", "--bulk"},
        {"--d-ca '5 uM'", "--d-ca"},
        {"--buffer 'total=1mM'", "--buffer"},
        {"--buffer 'total=1mM,kd=1uM,kon=1/uM/ms,D=1um^2/s,color=red'", "unknown key 'color'"},
        {"--buffer 'calmodulin'", "unknown buffer 'calmodulin'"},
        {"--buffer 'total=1mM,kd=1mV,kon=1/uM/ms,D=1um^2/s'", "--buffer"},
        {"--buffer egta --buffer egta", "two buffers are named 'egta'"},
        {"--at '20 nm,-5 nm'", "--at"},
        {"--at '20 uM'", "--at"},
        {"--mouth '6 um'", "--mouth"},
        {"--voxels 3", "--voxels"},
    };
    for (const auto& c: cases) {
        const auto r = run_command(std::string("nanodomain --no-numeric ") + c.args);
        EXPECT_EQ(r.status, 2) << c.args << "\n" << r.output;
        EXPECT_THAT(r.output, HasSubstr(c.says)) << c.args;
    }
}
