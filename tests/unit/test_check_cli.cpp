// `cadyn check` and bad input on the command line: every file in tests/data/broken is rejected with exit status
// 2, with the messages its `# expect:` lines name and with file:line locations; a bad model or argument makes
// `cadyn run` write nothing.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

struct command_result {
    int status = -1;     // exit status, -1 when the process did not exit normally
    std::string output;  // stdout followed by stderr
};

std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (const char c: s) {
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    }
    return out + "'";
}

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

// A path in the temporary folder that does not exist yet, unique to this process.
fs::path fresh_path(const std::string& name) {
    const auto path = fs::temp_directory_path() / ("cadyn_check_cli_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(path);
    return path;
}

// Run the cadyn binary with `args` (already quoted), stdout and stderr captured in temporary files.
command_result run_cadyn(const std::string& args) {
    const auto out = fresh_path("stdout");
    const auto err = fresh_path("stderr");
    const std::string command = shell_quote(CADYN_BINARY) + " " + args + " >" + shell_quote(out.string()) + " 2>" +
                                shell_quote(err.string()) + " </dev/null";
    const int raw = std::system(command.c_str());
    command_result r;
    r.status = raw != -1 && WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    r.output = read_text(out) + read_text(err);
    fs::remove(out);
    fs::remove(err);
    return r;
}

// The broken model files, sorted by name.
std::vector<fs::path> broken_files() {
    std::vector<fs::path> files;
    for (const auto& entry: fs::directory_iterator(fs::path(CADYN_TEST_DATA) / "broken")) {
        if (entry.is_regular_file() && entry.path().extension() == ".toml") {
            files.push_back(entry.path());
        }
    }
    std::sort(files.begin(), files.end());
    return files;
}

// The substrings a file's leading "# expect: ..." comment lines ask for.
std::vector<std::string> expectations(const fs::path& file) {
    std::ifstream in(file);
    std::vector<std::string> out;
    const std::string marker = "# expect: ";
    for (std::string line; std::getline(in, line) && line.starts_with("#");) {
        if (line.starts_with(marker)) {
            out.push_back(line.substr(marker.size()));
        }
    }
    return out;
}

// Whether `output` contains "<file>:<digits>", a location with a line number.
bool has_location(const std::string& output, const std::string& file) {
    const std::string prefix = file + ":";
    for (auto pos = output.find(prefix); pos != std::string::npos; pos = output.find(prefix, pos + 1)) {
        const auto next = pos + prefix.size();
        if (next < output.size() && std::isdigit(static_cast<unsigned char>(output[next])) != 0) {
            return true;
        }
    }
    return false;
}

TEST(check_cli, broken_files_are_present_and_annotated) {
    // The data set covers the documented mistakes, and each file says what `cadyn check` must print.
    const auto files = broken_files();
    EXPECT_GE(files.size(), 22U);
    for (const auto& file: files) {
        EXPECT_FALSE(expectations(file).empty()) << file << " has no '# expect:' line";
        std::ifstream in(file);
        std::string first;
        std::getline(in, first);
        EXPECT_TRUE(first.starts_with("# expect: ")) << file << ": the first line must be an expectation";
    }
}

TEST(check_cli, every_broken_file_exits_2_with_its_messages_and_locations) {
    // cadyn check FILE: exit status 2 (bad input), every expected message, and file:line locations.
    for (const auto& file: broken_files()) {
        SCOPED_TRACE(file.filename().string());
        const auto r = run_cadyn("check " + shell_quote(file.string()));
        EXPECT_EQ(r.status, 2) << r.output;
        for (const auto& expected: expectations(file)) {
            EXPECT_THAT(r.output, HasSubstr(expected));
        }
        EXPECT_TRUE(has_location(r.output, file.string())) << "no " << file.string() << ":LINE in:\n" << r.output;
        EXPECT_THAT(r.output, HasSubstr("problem"));
        EXPECT_THAT(r.output, ::testing::Not(HasSubstr("internal error")));
    }
}

TEST(check_cli, several_problems_are_each_reported_at_their_own_line) {
    // One run reports every problem of the file, not only the first; the expectations name distinct lines.
    const auto file = fs::path(CADYN_TEST_DATA) / "broken" / "several_problems.toml";
    const auto expected = expectations(file);
    ASSERT_GE(expected.size(), 5U);
    std::vector<std::string> locations;
    for (const auto& e: expected) {
        locations.push_back(e.substr(0, e.find(": ")));  // "several_problems.toml:8:10"
    }
    std::sort(locations.begin(), locations.end());
    EXPECT_EQ(std::adjacent_find(locations.begin(), locations.end()), locations.end());
    const auto r = run_cadyn("check " + shell_quote(file.string()));
    EXPECT_EQ(r.status, 2);
    for (const auto& e: expected) {
        EXPECT_THAT(r.output, HasSubstr(e));
    }
}

TEST(check_cli, valid_model_exits_0) {
    // The shipped model is valid: exit status 0 and a one-line summary.
    const auto soma = fs::path(CADYN_SOURCE_DIR) / "models" / "soma.toml";
    const auto r = run_cadyn("check " + shell_quote(soma.string()));
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_THAT(r.output, HasSubstr("ok"));
}

TEST(check_cli, missing_model_file_exits_2) {
    // A file that cannot be opened is bad input, named in the message.
    const auto r = run_cadyn("check /nonexistent/cadyn/model.toml");
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_THAT(r.output, HasSubstr("/nonexistent/cadyn/model.toml"));
    EXPECT_THAT(r.output, HasSubstr("cannot open"));
}

TEST(check_cli, run_on_a_broken_file_writes_nothing) {
    // cadyn run on a bad model fails before any output is created: exit 2 and no --out folder.
    for (const auto& file: broken_files()) {
        SCOPED_TRACE(file.filename().string());
        const auto out = fresh_path("run_out");
        const auto r = run_cadyn("run " + shell_quote(file.string()) + " --no-plot --out " + shell_quote(out.string()));
        EXPECT_EQ(r.status, 2) << r.output;
        EXPECT_FALSE(fs::exists(out)) << "cadyn run created " << out;
        fs::remove_all(out);
    }
}

TEST(check_cli, run_with_t_end_of_wrong_dimension_exits_2) {
    // --t-end takes a time: "3 mV" is rejected naming both dimensions, and nothing is written.
    const auto out = fresh_path("t_end_out");
    const auto r = run_cadyn("run --t-end '3 mV' --no-plot --out " + shell_quote(out.string()));
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_THAT(r.output, HasSubstr("electric potential"));
    EXPECT_THAT(r.output, HasSubstr("expected a time"));
    EXPECT_FALSE(fs::exists(out));
    fs::remove_all(out);
}

TEST(check_cli, unknown_subcommand_or_option_exits_2) {
    // Command-line mistakes are bad input too.
    EXPECT_EQ(run_cadyn("frobnicate").status, 2);
    EXPECT_EQ(run_cadyn("check --frobnicate " + shell_quote(std::string(CADYN_SOURCE_DIR) + "/models/soma.toml"))
                  .status,
              2);
    EXPECT_EQ(run_cadyn("run --frobnicate").status, 2);
    EXPECT_EQ(run_cadyn("check").status, 2);  // MODEL is required
    EXPECT_EQ(run_cadyn("").status, 2);       // a subcommand is required
}

} // namespace
