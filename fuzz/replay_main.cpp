// Replays a fuzz corpus without libFuzzer: a main() that feeds every file of the given files and directories to
// the target's LLVMFuzzerTestOneInput, once, in sorted order. Built with the normal compiler and registered with
// ctest (fuzz/CMakeLists.txt), so the seed corpus and every past finding run in every test run, with or without
// clang, and under the sanitizers in build-asan/.
//
// A crash or a finding (finding.hpp) aborts, which fails the test; the file being replayed is printed first so
// the failing input is named. A path that does not exist or a corpus with no files is an error too: a corpus that
// silently went missing must not pass.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

namespace fs = std::filesystem;

std::vector<fs::path> files_under(const fs::path& path, std::error_code& ec) {
    std::vector<fs::path> out;
    if (fs::is_regular_file(path, ec)) {
        out.push_back(path);
        return out;
    }
    for (const auto& entry: fs::recursive_directory_iterator(path, ec)) {
        if (entry.is_regular_file()) {
            out.push_back(entry.path());
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s FILE_OR_DIR...\n", argv[0]);
        return 2;
    }
    std::size_t total = 0;
    for (int i = 1; i < argc; ++i) {
        const fs::path root(argv[i]);
        std::error_code ec;
        const auto files = files_under(root, ec);
        if (ec || files.empty()) {
            std::fprintf(stderr, "replay: no inputs in '%s'%s%s\n", argv[i], ec ? ": " : "",
                         ec ? ec.message().c_str() : "");
            return 1;
        }
        for (const auto& file: files) {
            std::ifstream in(file, std::ios::binary);
            if (!in) {
                std::fprintf(stderr, "replay: cannot read '%s'\n", file.c_str());
                return 1;
            }
            // One byte more than the file, so that data() is a valid pointer even for an empty input (libFuzzer
            // never passes a null pointer either).
            std::vector<char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
            const std::size_t size = bytes.size();
            bytes.push_back('\0');
            std::fprintf(stderr, "replay: %s\n", file.c_str());
            std::fflush(stderr);
            (void)LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), size);
        }
        std::printf("replay: %zu inputs from %s\n", files.size(), argv[i]);
        total += files.size();
    }
    std::printf("replay: %zu inputs, no finding\n", total);
    return 0;
}
