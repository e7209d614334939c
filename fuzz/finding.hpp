#pragma once
// What the fuzz targets count as a finding (docs/robustness.md#fuzzing).
//
// A cadyn::error is the right answer to bad input: it reaches the user as a message and exit status 2. Anything
// else escaping a public entry point is a bug: an internal_error, a std::exception from the standard library or a
// dependency (std::out_of_range, std::bad_alloc, ...), or a non-standard exception (muparser's ParserError). So
// is returning a result that breaks the function's contract, such as a non-finite canonical value. A finding
// aborts the process with a message: libFuzzer then saves the input as a crash, and the replay test fails.

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <typeinfo>

#include <cadyn/error.hpp>

namespace cadyn::fuzz {

[[noreturn]] inline void finding(const std::string& what) {
    std::fprintf(stderr, "cadyn fuzz finding: %s\n", what.c_str());
    std::fflush(stderr);
    std::abort();
}

// Runs f, accepting a cadyn::error as a normal outcome; `where` names the call in the finding's message.
template <class F>
void expect_only_user_errors(const char* where, F&& f) {
    try {
        f();
    }
    catch (const cadyn::error&) {
        // Rejected input, reported to the user: the expected outcome for most fuzz inputs.
    }
    catch (const std::exception& e) {
        finding(std::string(where) + ": unexpected " + typeid(e).name() + ": " + e.what());
    }
    catch (...) {
        finding(std::string(where) + ": an exception that is not a std::exception");
    }
}

} // namespace cadyn::fuzz
