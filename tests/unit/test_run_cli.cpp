// The main job: `cadyn run` with no model writes traces.csv, plot.png and a summary.
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli_helpers.hpp"

using ::testing::HasSubstr;
namespace fs = std::filesystem;

namespace {

using cadyn::testing::run_command;

fs::path fresh_dir(const std::string& name) {
    const auto dir = fs::temp_directory_path() / ("cadyn_test_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    return dir;
}

} // namespace

TEST(cli_run, default_model_writes_csv_png_and_summary) {
    const auto dir = fresh_dir("run");
    const auto r = run_command("run --out " + dir.string());
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_THAT(r.output, HasSubstr("resting cyt.ca"));
    EXPECT_THAT(r.output, HasSubstr("peak cyt.ca"));
    EXPECT_THAT(r.output, HasSubstr("decay tau"));
    EXPECT_THAT(r.output, HasSubstr("pmca"));
    EXPECT_THAT(r.output, HasSubstr("serca"));

    std::ifstream csv(dir / "traces.csv");
    std::string header;
    std::getline(csv, header);
    EXPECT_THAT(header, HasSubstr("t [ms],cyt.ca [uM]"));
    std::size_t rows = 0;
    for (std::string line; std::getline(csv, line);) {
        ++rows;
    }
    EXPECT_EQ(rows, 2001U);  // 0..2000 ms every 1 ms
    EXPECT_FALSE(fs::exists(dir / "traces.csv.partial"));

    // A real PNG: the 8-byte signature, and more than a blank canvas.
    std::ifstream png(dir / "plot.png", std::ios::binary);
    std::array<unsigned char, 8> magic{};
    png.read(reinterpret_cast<char*>(magic.data()), magic.size());
    const std::array<unsigned char, 8> signature = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    EXPECT_EQ(magic, signature);
    EXPECT_GT(fs::file_size(dir / "plot.png"), 20000U);
    EXPECT_TRUE(fs::exists(dir / "summary.txt"));
    fs::remove_all(dir);
}

TEST(cli_run, t_end_override_and_initial_start) {
    const auto dir = fresh_dir("tend");
    const auto r = run_command("run --t-end '0.5 s' --start initial --no-plot --out " + dir.string());
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_THAT(r.output, HasSubstr("simulated:   500 ms"));
    EXPECT_THAT(r.output, HasSubstr("initial concentrations"));
    EXPECT_FALSE(fs::exists(dir / "plot.png"));
    fs::remove_all(dir);
}

TEST(cli_run, seed_option_repeats_a_stochastic_run_and_the_summary_counts_its_transitions) {
    const auto model = (fs::path(CADYN_SOURCE_DIR) / "models" / "ip3r_puffs.toml").string();
    const auto text = [](const fs::path& p) {
        std::ifstream in(p);
        return std::string(std::istreambuf_iterator<char>(in), {});
    };
    std::vector<std::string> traces;
    for (const char* seed: {"5", "5", "6"}) {
        const auto dir = fresh_dir(std::string("seed") + seed + std::to_string(traces.size()));
        const auto r = run_command("run " + model + " --t-end '20 s' --seed " + seed + " --no-plot --out " + dir.string());
        ASSERT_EQ(r.status, 0) << r.output;
        EXPECT_THAT(r.output, HasSubstr(std::string("channel transitions in 1 cluster (seed ") + seed + ")"));
        traces.push_back(text(dir / "traces.csv"));
        fs::remove_all(dir);
    }
    EXPECT_EQ(traces[0], traces[1]);
    EXPECT_NE(traces[0], traces[2]);
    const auto bad = run_command("run " + model + " --seed -1 --no-plot --out " + fresh_dir("seedbad").string());
    EXPECT_EQ(bad.status, 2);
    EXPECT_THAT(bad.output, HasSubstr("--seed -1"));
}

TEST(cli, every_subcommand_has_help) {
    for (const char* sub: {"run", "check", "mechanisms", "default-model"}) {
        const auto r = run_command(std::string(sub) + " --help");
        EXPECT_EQ(r.status, 0) << sub;
        EXPECT_THAT(r.output, HasSubstr("Usage")) << sub;
    }
}

TEST(cli, mechanisms_lists_the_catalogue_with_units_and_sources) {
    const auto r = run_command("mechanisms");
    ASSERT_EQ(r.status, 0);
    for (const char* name: {"pmca", "serca", "leak", "buffer", "pulse_train"}) {
        EXPECT_THAT(r.output, HasSubstr(std::string(name) + " (")) << name;
    }
    EXPECT_THAT(r.output, HasSubstr("0.2 uM"));
    EXPECT_THAT(r.output, HasSubstr("Neher & Augustine"));
}

TEST(cli, default_model_round_trips_through_check) {
    // The printed default model is a valid model file.
    const auto dir = fresh_dir("default");
    fs::create_directories(dir);
    const auto r = run_command("default-model > " + (dir / "soma.toml").string());
    ASSERT_EQ(r.status, 0);
    const auto c = run_command("check " + (dir / "soma.toml").string());
    EXPECT_EQ(c.status, 0) << c.output;
    fs::remove_all(dir);
}

TEST(cli, docs_mechanisms_md_is_current) {
    // docs/mechanisms.md is generated from the mechanism tables; regenerate it with
    // `cadyn mechanisms --markdown > docs/mechanisms.md` when a table changes.
    const auto r = run_command("mechanisms --markdown");
    ASSERT_EQ(r.status, 0);
    std::ifstream doc(fs::path(CADYN_SOURCE_DIR) / "docs" / "mechanisms.md");
    const std::string text((std::istreambuf_iterator<char>(doc)), std::istreambuf_iterator<char>());
    EXPECT_EQ(r.output, text) << "docs/mechanisms.md is out of date";
}

// `cadyn run --set KEY=VALUE`: one value of the model changed with its unit, as Python's Model.set (the keys of
// include/cadyn/settings.hpp); a bad key, unit or value exits 2 before anything is written.
TEST(cli_run, set_changes_a_value_with_its_unit_and_refuses_bad_ones) {
    const auto dir = fresh_dir("set");
    const auto r = run_command("run --set cyt.ca='250 nM' --set t_end='0.3 s' --start initial --no-plot --out " +
                               dir.string());
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_THAT(r.output, HasSubstr("simulated:   300 ms"));
    EXPECT_THAT(r.output, HasSubstr("set:         cyt.ca = 250 nM"));
    EXPECT_THAT(r.output, HasSubstr("set:         t_end = 0.3 s"));
    std::ifstream csv(dir / "traces.csv");
    std::string header;
    std::string first;
    std::getline(csv, header);
    std::getline(csv, first);
    ASSERT_THAT(header, HasSubstr("t [ms],cyt.ca [uM]"));
    // The first record is the initial state: 250 nM = 0.25 uM, to the CSV's shortest round-trip digits.
    EXPECT_EQ(first.substr(0, first.find(',', 2)), "0,0.25");
    fs::remove_all(dir);

    const struct {
        const char* args;
        const char* message;
    } bad[] = {
        {"--set pmca.nothing=1", "'pmca' has no parameter 'nothing'; its parameters are: vmax, kd, hill"},
        {"--set nothing=1", "nothing in the model is called 'nothing'"},
        {"--set pmca.vmax='3 uM'", "--set: 'pmca.vmax': '3 uM' is a concentration"},
        {"--set cyt.ca='-1 uM'", "a concentration cannot be negative"},
        {"--set seed=1.5", "'seed': expected a whole number >= 0"},
        {"--set start=resting", "expected \"initial\" or \"steady_state\", got \"resting\""},
        {"--set pmca.vmax", "--set 'pmca.vmax': expected KEY=VALUE"},
    };
    for (const auto& b: bad) {
        const auto wrong = fresh_dir("set_bad");
        const auto w = run_command(std::string("run ") + b.args + " --no-plot --out " + wrong.string());
        EXPECT_EQ(w.status, 2) << b.args << "\n" << w.output;
        EXPECT_THAT(w.output, HasSubstr(b.message)) << b.args;
        EXPECT_FALSE(fs::exists(wrong)) << b.args << ": nothing is written for a bad setting";
        fs::remove_all(wrong);
    }
}
