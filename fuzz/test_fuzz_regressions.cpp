// Findings about bad input that was accepted (no crash, so the corpus replay alone cannot catch them again): each
// input is in fuzz/corpus/model_file/regression-*, replayed by fuzz_replay.model_file_corpus, and here held to
// the message it must now be rejected with.
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cadyn/error.hpp>
#include <cadyn/io/model_file.hpp>

namespace cadyn {
namespace {

using ::testing::HasSubstr;

// The problems of the corpus file `name` as "key: message" lines (empty when it is accepted).
std::vector<std::string> problems_of(const std::string& name) {
    const std::string path = std::string(CADYN_FUZZ_CORPUS) + "/model_file/" + name;
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in.good()) << "cannot read " << path;
    std::stringstream text;
    text << in.rdbuf();
    std::vector<std::string> out;
    try {
        parse_model(text.str(), name);
    }
    catch (const model_error& e) {
        for (const auto& p: e.problems()) {
            out.push_back(p.key + ": " + p.message);
        }
    }
    return out;
}

TEST(fuzz_regression, format_version_beyond_int_is_rejected_not_narrowed_to_1) {
    const auto problems = problems_of("regression-format_version_wraps_to_1.toml");
    ASSERT_EQ(problems.size(), 1U);
    EXPECT_THAT(problems[0], HasSubstr("format_version: this cadyn reads format_version 1, the file has 4294967297"));
}

TEST(fuzz_regression, charge_beyond_int_is_rejected_not_narrowed) {
    const auto problems = problems_of("regression-charge_wraps_to_2.toml");
    ASSERT_EQ(problems.size(), 1U);
    EXPECT_THAT(problems[0], HasSubstr("species.q.charge: expected an integer valence"));
}

} // namespace
} // namespace cadyn
