# Sanitizer and fuzzer instrumentation (docs/robustness.md). Included before any target is defined, so the flags
# reach every target of the build: the library, the CLI (which the CLI tests run) and the tests. Instrumenting
# only some of them would hide errors made across the boundary (a buffer overrun in cadyn seen from a test).
#
#  CADYN_SANITIZE=ON        AddressSanitizer + UndefinedBehaviorSanitizer, any compiler (CI: gcc, build-asan/).
#                           Undefined behaviour aborts (-fno-sanitize-recover) so that a report fails the test
#                           instead of scrolling past in its output.
#  CADYN_BUILD_FUZZERS=ON   libFuzzer targets in fuzz/ (clang only, CI: build-fuzz/). Everything is compiled with
#                           coverage instrumentation (-fsanitize=fuzzer-no-link) plus ASan + UBSan; only the fuzz
#                           executables link libFuzzer's main (-fsanitize=fuzzer, fuzz/CMakeLists.txt).

set(CADYN_SANITIZER_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)

if(CADYN_BUILD_FUZZERS)
    if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
        message(FATAL_ERROR "CADYN_BUILD_FUZZERS needs clang's libFuzzer; configure a separate build directory "
                            "with -DCMAKE_CXX_COMPILER=clang++-14 (Debian: clang-14, libclang-rt-14-dev)")
    endif()
    add_compile_options(-fsanitize=fuzzer-no-link)
endif()

if(CADYN_SANITIZE OR CADYN_BUILD_FUZZERS)
    add_compile_options(${CADYN_SANITIZER_FLAGS})
    add_link_options(-fsanitize=address,undefined)
endif()
