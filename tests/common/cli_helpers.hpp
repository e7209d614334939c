#pragma once
// Running the cadyn command line from tests.

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace cadyn::testing {

struct command_result {
    int status = -1;     // exit status, -1 when the process did not exit normally
    std::string output;  // stdout and stderr, interleaved
};

// Run the cadyn binary (CADYN_BINARY) with `args`, a shell fragment, capturing both output streams.
inline command_result run_command(const std::string& args) {
    FILE* pipe = popen((std::string(CADYN_BINARY) + " " + args + " 2>&1").c_str(), "r");
    command_result result;
    if (pipe == nullptr) {
        return result;
    }
    std::array<char, 4096> buffer{};
    while (fgets(buffer.data(), static_cast<int>(buffer.size()), pipe) != nullptr) {
        result.output += buffer.data();
    }
    const int raw = pclose(pipe);
    result.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    return result;
}

} // namespace cadyn::testing
