add_library(cadyn_warnings INTERFACE)
target_compile_options(cadyn_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion)
if(CADYN_WERROR)
    target_compile_options(cadyn_warnings INTERFACE -Werror)
endif()
# GCC 12 at -O3 reports a false -Wrestrict inside std::string's operator+ (GCC bug 105329).
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    target_compile_options(cadyn_warnings INTERFACE -Wno-restrict)
endif()
