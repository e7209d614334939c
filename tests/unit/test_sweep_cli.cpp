// `cadyn sweep`: a model at every point of a grid of values, in parallel or in parts (docs/sweeps.md).
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli_helpers.hpp"

using ::testing::HasSubstr;
namespace fs = std::filesystem;

namespace {

using cadyn::testing::run_command;

fs::path fresh_dir(const std::string& name) {
    const auto dir = fs::temp_directory_path() / ("cadyn_sweep_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    return dir;
}

// A cell whose resting Ca has a closed form: PMCA (Hill 1) against a passive leak from a clamped bath.
const char* pump_leak_model = R"(format_version = 1
name = "pump leak"

[[compartments]]
name = "bath"
volume = "1 nL"
clamped = true
concentrations = { ca = "2 mM" }

[[compartments]]
name = "cyt"
volume = "1000 um^3"
concentrations = { ca = "0.1 uM" }

[[membranes]]
name = "pm"
inner = "cyt"
outer = "bath"
area = "500 um^2"

[[mechanisms]]
type = "pmca"
membrane = "pm"
vmax = "20 pmol/cm^2/s"
kd = "0.2 uM"
hill = 1

[[mechanisms]]
name = "leak"
type = "leak"
membrane = "pm"
permeability = "1e-5 um/ms"

[run]
t_end = "10 ms"
start = "steady_state"

[record]
interval = "1 ms"
)";

struct table {
    std::vector<std::string> header;
    std::vector<std::vector<std::string>> rows;
    std::size_t column(const std::string& name) const {
        for (std::size_t i = 0; i < header.size(); ++i) {
            if (header[i] == name) {
                return i;
            }
        }
        ADD_FAILURE() << "no column " << name;
        return 0;
    }
};

// The cells of one CSV line: commas split, except inside double quotes (where "" is one quote).
std::vector<std::string> csv_cells(const std::string& line) {
    std::vector<std::string> out(1);
    bool quoted = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
            out.back() += '"';
            ++i;
        }
        else if (c == '"') {
            quoted = !quoted;
        }
        else if (c == ',' && !quoted) {
            out.emplace_back();
        }
        else {
            out.back() += c;
        }
    }
    return out;
}

table read_table(const fs::path& path) {
    std::ifstream in(path);
    table t;
    std::string line;
    if (std::getline(in, line)) {
        t.header = csv_cells(line);
    }
    while (std::getline(in, line)) {
        t.rows.push_back(csv_cells(line));
    }
    return t;
}

fs::path write_model(const fs::path& dir) {
    fs::create_directories(dir);
    const auto path = dir / "pump_leak.toml";
    std::ofstream(path) << pump_leak_model;
    return path;
}

} // namespace

TEST(cli_sweep, every_point_gets_its_value_and_the_resting_level_of_the_closed_form) {
    const auto work = fresh_dir("rest");
    const auto model = write_model(work / "model");
    const auto out = work / "out";
    const auto r = run_command("sweep " + model.string() + " --vary pmca.vmax='10,20,40 pmol/cm^2/s'" +
                               " --vary leak.permeability='1e-5 um/ms:4e-5 um/ms:4' --jobs 2 --out " + out.string());
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_THAT(r.output, HasSubstr("points:      12 of 12"));
    EXPECT_TRUE(fs::exists(out / "sweep.png"));
    EXPECT_FALSE(fs::exists(out / "sweep.csv.partial"));
    const auto t = read_table(out / "sweep.csv");
    ASSERT_EQ(t.rows.size(), 12U);
    const auto vmax_column = t.column("pmca.vmax [pmol/cm^2/s]");
    const auto p_column = t.column("leak.permeability [um/ms]");
    const auto rest_column = t.column("cyt.ca start [uM]");
    const auto end_column = t.column("cyt.ca end [uM]");
    const double vmax_values[] = {10, 20, 40};
    const double p_values[] = {1e-5, 2e-5, 3e-5, 4e-5};
    for (std::size_t i = 0; i < t.rows.size(); ++i) {
        const auto& row = t.rows[i];
        ASSERT_EQ(row.size(), t.header.size()) << "row " << i;
        EXPECT_EQ(row[0], std::to_string(i));
        EXPECT_EQ(row[t.column("status")], "ok");
        // The first key varies slowest.
        const double vmax_given = vmax_values[i / 4];
        const double p = p_values[i % 4];
        EXPECT_DOUBLE_EQ(std::stod(row[vmax_column]), vmax_given);
        EXPECT_NEAR(std::stod(row[p_column]), p, 1e-15 * p);
        // Per membrane area, vmax c / (K + c) = P (c_o - c): P c^2 + (vmax + P K - P c_o) c - P K c_o = 0.
        // 1 pmol/cm^2/s = 0.01 zmol/(um^2 ms); concentrations in uM = zmol/um^3.
        const double vmax = vmax_given * 0.01;
        const double k = 0.2;
        const double outside = 2000;
        const double b = vmax + p * k - p * outside;
        const double c = (-b + std::sqrt(b * b + 4 * p * p * k * outside)) / (2 * p);
        EXPECT_NEAR(std::stod(row[rest_column]), c, 1e-6 * c) << "vmax " << vmax_given << ", P " << p;
        EXPECT_NEAR(std::stod(row[end_column]), c, 1e-6 * c);
    }
    fs::remove_all(work);
}

TEST(cli_sweep, parts_of_a_job_array_together_give_the_whole_sweep) {
    const auto li_rinzel = (fs::path(CADYN_SOURCE_DIR) / "models" / "li_rinzel.toml").string();
    const auto work = fresh_dir("parts");
    const std::string sweep = "sweep " + li_rinzel + " --vary cyt.ip3='0.2 uM:0.8 uM:7' --t-end '100 s' ";
    const auto whole = run_command(sweep + "--jobs 2 --no-plot --out " + (work / "whole").string());
    ASSERT_EQ(whole.status, 0) << whole.output;
    std::vector<std::vector<std::string>> rows;
    for (const char* part: {"1/3", "2/3", "3/3"}) {
        const auto r = run_command(sweep + "--jobs 1 --part " + part + " --out " + (work / "parts").string());
        ASSERT_EQ(r.status, 0) << r.output;
        EXPECT_FALSE(fs::exists(work / "parts" / "sweep.png"));  // a part draws no plot
    }
    const auto all = read_table(work / "whole" / "sweep.csv");
    ASSERT_EQ(all.rows.size(), 7U);
    const auto wall = all.column("wall [s]");
    std::size_t seen = 0;
    for (int i = 1; i <= 3; ++i) {
        const auto part = read_table(work / "parts" / ("sweep-part-" + std::to_string(i) + "-of-3.csv"));
        EXPECT_EQ(part.header, all.header);
        for (auto row: part.rows) {
            const auto point = std::stoul(row[0]);
            ASSERT_LT(point, all.rows.size());
            EXPECT_EQ(point % 3, static_cast<unsigned long>(i - 1));
            auto expected = all.rows[point];
            row[wall] = expected[wall] = "";
            // The same arithmetic whatever the thread or the task: equal to the last digit.
            EXPECT_EQ(row, expected) << "point " << point;
            ++seen;
        }
    }
    EXPECT_EQ(seen, 7U);
    // Li & Rinzel (1994): the resting state loses stability between IP3 0.3 and 0.4 uM (Hopf at 0.355 uM): no period
    // at 0.2 and 0.3 uM, a period at 0.4 and 0.5 uM. The 10-15 s bounds are only a plausibility bracket (tens of
    // seconds, not milliseconds or minutes); the period's arithmetic is tested against sines in test_analysis.cpp.
    const auto period = all.column("cyt.ca period [ms]");
    EXPECT_EQ(all.rows[0][period], "");
    EXPECT_EQ(all.rows[1][period], "");
    for (const std::size_t i: {2U, 3U}) {
        ASSERT_NE(all.rows[i][period], "") << "IP3 " << all.rows[i][1];
        EXPECT_GT(std::stod(all.rows[i][period]), 10000.0);
        EXPECT_LT(std::stod(all.rows[i][period]), 15000.0);
    }
    fs::remove_all(work);
}

TEST(cli_sweep, a_failed_point_is_reported_in_its_row_and_the_exit_status) {
    const auto work = fresh_dir("failed");
    const auto model = write_model(work / "model");
    // One internal step between outputs cannot reach the first record from the initial state: the solver gives up.
    const auto r = run_command("sweep " + model.string() + " --vary max_steps=1,100000 --start initial --no-plot --out " +
                               (work / "out").string());
    EXPECT_EQ(r.status, 3) << r.output;
    EXPECT_THAT(r.output, HasSubstr("failed:      1 point"));
    const auto t = read_table(work / "out" / "sweep.csv");
    ASSERT_EQ(t.rows.size(), 2U);
    const auto& failed = t.rows[0];
    const auto& good = t.rows[1];
    ASSERT_EQ(failed.size(), t.header.size());  // every cell there, the results empty
    EXPECT_EQ(failed[1], "1");
    EXPECT_THAT(failed[t.column("status")], HasSubstr("max_steps"));  // the solver's message says what to raise
    EXPECT_EQ(failed[t.column("cyt.ca end [uM]")], "");
    EXPECT_EQ(good[1], "100000");
    EXPECT_EQ(good[t.column("status")], "ok");
    EXPECT_NE(good[t.column("cyt.ca end [uM]")], "");
    fs::remove_all(work);
}

TEST(cli_sweep, bad_values_exit_2_before_anything_is_written) {
    const auto li_rinzel = (fs::path(CADYN_SOURCE_DIR) / "models" / "li_rinzel.toml").string();
    const struct {
        const char* args;
        const char* message;
    } bad[] = {
        {"--vary cyt.ip3='0.2 uM:0.8 uM'", "expected FROM:TO:N or FROM:TO:N:log"},
        {"--vary cyt.ip3='-1 uM,0.3 uM'", "a concentration cannot be negative"},
        {"--vary cyt.ip3='0 uM:1 uM:3:log'", "a logarithmic range needs FROM and TO above 0"},
        {"--vary cyt.ip3='0.2 uM:0.8 mV:3'", "cannot convert"},
        {"--vary nothing=1,2", "nothing in the model is called 'nothing'"},
        {"--vary cyt.ip3='1,2 uM' --vary cyt.ip3='3 uM'", "the key is varied twice"},
        {"--vary cyt.ip3='1,2 uM' --observe nope", "--observe 'nope': the model has no such observable"},
        {"--vary cyt.ip3='1,2 uM' --part 3/2", "expected I/N with 1 <= I <= N"},
        {"--vary cyt.ip3='1,2 uM' --set pump.vmax='1 uM'", "--set: 'pump.vmax'"},
        {"", "--vary is required"},
    };
    for (const auto& b: bad) {
        const auto out = fresh_dir("bad");
        const auto r = run_command("sweep " + li_rinzel + " " + b.args + " --out " + out.string());
        EXPECT_EQ(r.status, 2) << b.args << "\n" << r.output;
        EXPECT_THAT(r.output, HasSubstr(b.message)) << b.args;
        EXPECT_FALSE(fs::exists(out)) << b.args;
        fs::remove_all(out);
    }
}
