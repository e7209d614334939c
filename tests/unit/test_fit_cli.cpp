// `cadyn fit` (run through cadyn-fit): parameters recovered from recordings made with known values (docs/fitting.md).
#include <cmath>
#include <cstdint>
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
    const auto dir = fs::temp_directory_path() / ("cadyn_fit_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    return dir;
}

const std::string model = (fs::path(CADYN_SOURCE_DIR) / "models" / "buffered_cell.toml").string();

// The recording: models/buffered_cell.toml (PMCA against a leak, a fixed buffer, one 10 ms influx) run with PMCA's
// capacity at 40 pmol/cm^2/s and the buffer at 300 uM instead of the file's values: t [ms], cyt.ca [uM].
struct trace {
    std::vector<double> t;
    std::vector<double> ca;
};
trace record_truth(const fs::path& dir) {
    const auto r = run_command("run " + model + " --set pmca.vmax='40 pmol/cm^2/s' --set fixed.total='300 uM'" +
                               " --no-plot --out " + dir.string());
    EXPECT_EQ(r.status, 0) << r.output;
    std::ifstream in(dir / "traces.csv");
    std::string line;
    std::getline(in, line);
    EXPECT_THAT(line, HasSubstr("t [ms],cyt.ca [uM]"));
    trace out;
    while (std::getline(in, line)) {
        std::stringstream cells(line);
        std::string t;
        std::string ca;
        std::getline(cells, t, ',');
        std::getline(cells, ca, ',');
        out.t.push_back(std::stod(t));
        out.ca.push_back(std::stod(ca));
    }
    return out;
}

// "  pmca.vmax   39.9999 pmol/cm^2/s  +- 6.38e-06 (...)": the value and its standard error.
std::pair<double, double> fitted(const std::string& output, const std::string& key) {
    const auto at = output.find("  " + key + " ");
    if (at == std::string::npos) {
        ADD_FAILURE() << "no line for " << key << " in\n" << output;
        return {0, 0};
    }
    std::stringstream line(output.substr(at + key.size() + 2));
    double value = 0;
    std::string unit;
    std::string pm;
    double se = 0;
    line >> value >> unit >> pm >> se;
    EXPECT_EQ(pm, "+-") << output;
    return {value, se};
}

} // namespace

TEST(cli_fit, recovers_the_values_a_noise_free_recording_was_made_with) {
    const auto work = fresh_dir("exact");
    const auto truth = record_truth(work / "truth");
    const auto r = run_command("fit " + model + " --data " + (work / "truth" / "traces.csv").string() +
                               " --observable cyt.ca --column cyt.ca --fit pmca.vmax='20 pmol/cm^2/s'" +
                               " --fit fixed.total='100 uM' --out " + (work / "fit").string());
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_THAT(r.output, HasSubstr("converged"));
    // The recording holds the numbers of a run at the model's tolerance (rtol 1e-6); the fit runs at 1e-9.
    EXPECT_NEAR(fitted(r.output, "pmca.vmax").first, 40.0, 40.0 * 1e-4);
    EXPECT_NEAR(fitted(r.output, "fixed.total").first, 300.0, 300.0 * 1e-4);
    EXPECT_THAT(r.output, HasSubstr("--set pmca.vmax='"));  // the command that runs the fitted model
    EXPECT_TRUE(fs::exists(work / "fit" / "fit.png"));
    std::ifstream csv(work / "fit" / "fit.csv");
    std::string header;
    std::getline(csv, header);
    EXPECT_EQ(header, "t [ms],data [uM],start [uM],fitted [uM],residual [uM]");
    std::size_t rows = 0;
    double worst = 0;
    for (std::string line; std::getline(csv, line); ++rows) {
        worst = std::max(worst, std::abs(std::stod(line.substr(line.rfind(',') + 1))));
    }
    EXPECT_EQ(rows, truth.t.size());
    EXPECT_LT(worst, 1e-5 * 0.05);  // peak ~0.05 uM
    fs::remove_all(work);
}

TEST(cli_fit, a_noisy_recording_in_other_units_gives_the_truth_within_its_standard_errors) {
    const auto work = fresh_dir("noisy");
    const auto truth = record_truth(work / "truth");
    // The same trace in seconds and nM, every 10th point, with Gaussian-like noise of sd 1 nM (2 % of the peak): the
    // sum of 12 uniform numbers from a fixed linear congruential generator, minus 6.
    std::ofstream data(work / "recording.csv");
    data << "# made by test_fit_cli.cpp\ntime [s],ca [nM]\n";
    std::uint64_t state = 12345;
    const auto uniform = [&state] {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        return static_cast<double>(state >> 11) / 9007199254740992.0;
    };
    std::size_t n = 0;
    for (std::size_t i = 0; i < truth.t.size(); i += 10, ++n) {
        double noise = -6;
        for (int k = 0; k < 12; ++k) {
            noise += uniform();
        }
        data << truth.t[i] / 1000.0 << "," << truth.ca[i] * 1000.0 + noise << "\n";
    }
    data.close();
    const auto r = run_command("fit " + model + " --data " + (work / "recording.csv").string() +
                               " --observable cyt.ca --fit pmca.vmax='20 pmol/cm^2/s' --fit fixed.total='100 uM'" +
                               " --no-plot --out " + (work / "fit").string());
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_THAT(r.output, HasSubstr(std::to_string(n) + " points of 'ca [nM]'"));
    for (const auto& [key, value]: {std::pair<std::string, double>{"pmca.vmax", 40.0}, {"fixed.total", 300.0}}) {
        const auto [fit, se] = fitted(r.output, key);
        EXPECT_GT(se, 0) << key;
        EXPECT_LT(se, 0.05 * value) << key;  // the data pin them down to a few per cent
        EXPECT_NEAR(fit, value, 4 * se) << key << ": " << fit << " +- " << se;
    }
    // rms of the fitted residuals ~ the noise's sd (1 nM = 0.001 uM)
    const auto at = r.output.find("fitted\n");
    ASSERT_NE(at, std::string::npos) << r.output;
    const auto line_start = r.output.rfind("rms residual:", at);
    const auto fitted_rms = std::stod(r.output.substr(r.output.find(", ", line_start) + 2));
    EXPECT_NEAR(fitted_rms, 0.001, 0.0002);
    fs::remove_all(work);
}

TEST(cli_fit, bad_input_exits_2_and_writes_nothing) {
    const auto work = fresh_dir("bad");
    fs::create_directories(work);
    const auto write = [&work](const std::string& name, const std::string& text) {
        std::ofstream(work / name) << text;
        return (work / name).string();
    };
    const auto good = write("good.csv", "t [s],ca [uM]\n0,0.007\n0.1,0.05\n0.2,0.04\n0.3,0.03\n");
    const auto no_unit = write("no_unit.csv", "t,ca [uM]\n0,0.007\n0.1,0.05\n");
    const auto ca_no_unit = write("ca_no_unit.csv", "t [s],ca\n0,0.007\n0.1,0.05\n");
    const auto backwards = write("backwards.csv", "t [s],ca [uM]\n0,0.007\n0.2,0.05\n0.1,0.04\n");
    const auto text = write("text.csv", "t [s],ca [uM]\n0,0.007\n0.1,lots\n");
    const struct {
        std::string args;
        const char* message;
    } bad[] = {
        {"--data " + no_unit + " --observable cyt.ca --fit pmca.vmax", "must be the time with its unit"},
        {"--data " + ca_no_unit + " --observable cyt.ca --fit pmca.vmax", "must carry a unit of uM"},
        {"--data " + backwards + " --observable cyt.ca --fit pmca.vmax", "backwards.csv:4: the times must"},
        {"--data " + text + " --observable cyt.ca --fit pmca.vmax", "text.csv:3: the value 'lots' is not a number"},
        {"--data " + good + " --observable cyt.nope --fit pmca.vmax", "--observable 'cyt.nope'"},
        {"--data " + good + " --observable cyt.ca --fit pmca.nothing", "'pmca' has no parameter 'nothing'"},
        {"--data " + good + " --observable cyt.ca --fit pmca.vmax='3 uM'", "'3 uM' is a concentration"},
        {"--data " + good + " --observable cyt.ca --fit cyt.ca='0 uM'", "a fitted value must be above 0"},
        {"--data " + good + " --observable cyt.ca --fit pmca.vmax --fit pmca.vmax", "the key is given twice"},
        {"--data " + good + " --observable cyt.ca --fit t_end", "a run or record setting is not fitted"},
        {"--data " + (work / "none.csv").string() + " --observable cyt.ca --fit pmca.vmax", "cannot open"},
        {"--data " + good + " --observable cyt.ca --fit pmca.vmax --fit pmca.kd --fit fixed.total --fit fixed.kd",
         "4 data points for 4 parameters"},
        {"--observable cyt.ca --fit pmca.vmax", "--data is required"},
    };
    for (const auto& b: bad) {
        const auto out = work / "out";
        const auto r = run_command("fit " + model + " " + b.args + " --out " + out.string());
        EXPECT_EQ(r.status, 2) << b.args << "\n" << r.output;
        EXPECT_THAT(r.output, HasSubstr(b.message)) << b.args;
        EXPECT_FALSE(fs::exists(out)) << b.args;
    }
    const auto help = run_command("fit --help");
    EXPECT_EQ(help.status, 0) << help.output;
    EXPECT_THAT(help.output, HasSubstr("--observable"));
    fs::remove_all(work);
}
