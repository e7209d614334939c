# Every dependency is a Debian package (scripts/setup.sh installs them). find_package or pkg-config only;
# nothing is downloaded at build time.
find_package(SUNDIALS 6.4 REQUIRED CONFIG)
find_package(tomlplusplus 3 REQUIRED CONFIG)
find_package(fmt 9 REQUIRED CONFIG)
find_package(CLI11 2.1 REQUIRED CONFIG)
find_package(muparser REQUIRED CONFIG)
find_package(PkgConfig REQUIRED)

# HDF5 (src/io/hdf5.cpp): Debian's serial build through its pkg-config file hdf5-serial (libhdf5-dev); Debian's
# "hdf5" pkg-config name and find_package(HDF5) can resolve to the OpenMPI build when libhdf5-openmpi-dev is
# installed too, so it is named explicitly. cadyn_hdf5 carries its include folder and library.
pkg_check_modules(HDF5_SERIAL REQUIRED IMPORTED_TARGET hdf5-serial)
add_library(cadyn_hdf5 INTERFACE)
target_link_libraries(cadyn_hdf5 INTERFACE PkgConfig::HDF5_SERIAL)
find_library(CADYN_HDF5_STATIC NAMES libhdf5.a PATHS ${HDF5_SERIAL_LIBRARY_DIRS} NO_DEFAULT_PATH)

# libSBML (src/io/sbml.cpp: SBML import and export): Debian's libsbml5-dev ships a pkg-config file, libsbml.
pkg_check_modules(LIBSBML REQUIRED IMPORTED_TARGET libsbml)
add_library(cadyn_sbml INTERFACE)
target_link_libraries(cadyn_sbml INTERFACE PkgConfig::LIBSBML)


# UDUNITS-2 has no CMake config; find the header and library directly.
find_path(UDUNITS2_INCLUDE_DIR udunits2.h PATH_SUFFIXES udunits2 REQUIRED)
find_library(UDUNITS2_LIBRARY udunits2 REQUIRED)
add_library(cadyn_udunits2 INTERFACE)
target_include_directories(cadyn_udunits2 INTERFACE ${UDUNITS2_INCLUDE_DIR})
target_link_libraries(cadyn_udunits2 INTERFACE ${UDUNITS2_LIBRARY})

# Random123 (header-only): counter-based random numbers for the stochastic engine (src/solvers/random_stream.hpp).
find_path(RANDOM123_INCLUDE_DIR Random123/philox.h REQUIRED)
add_library(cadyn_random123 INTERFACE)
target_include_directories(cadyn_random123 SYSTEM INTERFACE ${RANDOM123_INCLUDE_DIR})

# What src/ links, shared: every program but the command-line one (below).
add_library(cadyn_deps_shared INTERFACE)
target_link_libraries(cadyn_deps_shared INTERFACE
    cadyn_udunits2 cadyn_sbml cadyn_hdf5
    SUNDIALS::cvode_shared SUNDIALS::kinsol_shared SUNDIALS::nvecserial_shared SUNDIALS::sunmatrixdense_shared
    SUNDIALS::sunlinsoldense_shared SUNDIALS::sunmatrixsparse_shared SUNDIALS::sunlinsolklu_shared
    SUNDIALS::sunlinsolspgmr_shared)

# Static archives for the command-line program (a target with the property CADYN_STATIC_DEPS, see src/CMakeLists.txt).
# Every start of `cadyn` pays for loading and binding its shared libraries: linked against the shared ones it loaded
# 30 (60 before HDF5 was linked statically) and `cadyn --version` took 8-12 ms, about half of a whole XPPAUT run
# (docs/performance.md, "Start-up"). Debian's -dev packages ship the static archives of SUNDIALS, SuiteSparse's KLU,
# UDUNITS-2 with expat, libSBML (libsbml-static.a) and HDF5 with its filters; linked from those the program loads
# ten (libc, libm, libstdc++, libgcc_s, muParser, fmt, toml++, libxml2 with ICU and liblzma, which libSBML's archive
# needs shared: libxml2.a would bring ICU's 30 MB data archive into the program). The Python module and the tests
# keep the shared libraries (the archives are not all position-independent code a module could contain). If any
# archive is missing, the program links the shared libraries like everything else.
set(cadyn_static_archives
    sundials_cvode sundials_kinsol sundials_nvecserial sundials_sunlinsoldense sundials_sunmatrixdense
    sundials_sunlinsolklu sundials_sunmatrixsparse sundials_sunlinsolspgmr sundials_generic
    klu amd colamd btf suitesparseconfig udunits2 expat sbml-static bz2 sz aec z)
set(cadyn_static_paths ${CADYN_HDF5_STATIC})
set(cadyn_static_complete ${CADYN_HDF5_STATIC})
foreach(name IN LISTS cadyn_static_archives)
    string(MAKE_C_IDENTIFIER "CADYN_STATIC_${name}" var)
    find_library(${var} NAMES lib${name}.a)
    if(${var})
        list(APPEND cadyn_static_paths ${${var}})
    else()
        set(cadyn_static_complete OFF)
        message(STATUS "cadyn: lib${name}.a not found; the command-line program links the shared libraries")
    endif()
endforeach()
pkg_check_modules(LIBXML2 IMPORTED_TARGET libxml-2.0)
add_library(cadyn_deps_static INTERFACE)
if(cadyn_static_complete AND LIBXML2_FOUND)
    # The order is the order of use: each archive before the ones it calls (KLU before AMD and COLAMD, libSBML
    # before libxml2 and bz2, HDF5 before sz, aec and z).
    target_include_directories(cadyn_deps_static INTERFACE
        ${UDUNITS2_INCLUDE_DIR} ${HDF5_SERIAL_INCLUDE_DIRS} ${LIBSBML_INCLUDE_DIRS})
    target_link_libraries(cadyn_deps_static INTERFACE ${cadyn_static_paths} PkgConfig::LIBXML2 m dl)
    target_link_options(cadyn_deps_static INTERFACE LINKER:--as-needed)
else()
    target_link_libraries(cadyn_deps_static INTERFACE cadyn_deps_shared)
endif()

# The Python package (python/, issue #6): pybind11 (pybind11-dev) against Debian's own interpreter and headers
# (python3-dev), never a pyenv or virtualenv `python3` that happens to come first on PATH: the module must match the
# interpreter that has Debian's numpy and matplotlib, and the one the tests and scripts/setup.sh use. Found before
# pybind11, so that pybind11 uses this FindPython result (its "new" mode) instead of searching on its own.
set(Python3_EXECUTABLE /usr/bin/python3 CACHE FILEPATH "The Python the cadyn module is built for (Debian's)")
set(PYBIND11_FINDPYTHON ON)
find_package(Python3 3.9 QUIET COMPONENTS Interpreter Development.Module)
if(Python3_FOUND)
    find_package(pybind11 2.6 QUIET CONFIG)
endif()
# CADYN_BUILD_PYTHON: ON by default when pybind11 and Python's headers are there, except in the sanitizer and fuzzer
# builds: an ASan-instrumented extension cannot be loaded by an uninstrumented /usr/bin/python3 (the ASan runtime
# must come first in the process), so those builds leave the module out. Where pybind11 is missing the OFF is not
# cached, so that installing pybind11-dev later (scripts/setup.sh) turns the module on at the next configure.
if(pybind11_FOUND AND NOT CADYN_SANITIZE AND NOT CADYN_BUILD_FUZZERS)
    option(CADYN_BUILD_PYTHON "Build the Python package (python/; pybind11, /usr/bin/python3)" ON)
elseif(DEFINED CACHE{CADYN_BUILD_PYTHON})
    option(CADYN_BUILD_PYTHON "Build the Python package (python/; pybind11, /usr/bin/python3)" OFF)
else()
    set(CADYN_BUILD_PYTHON OFF)
endif()
if(CADYN_BUILD_PYTHON)
    if(NOT pybind11_FOUND)
        message(FATAL_ERROR "CADYN_BUILD_PYTHON needs pybind11 and the headers of ${Python3_EXECUTABLE} "
                            "(Debian: apt-get install pybind11-dev python3-dev; scripts/setup.sh installs them)")
    endif()
    if(CADYN_SANITIZE OR CADYN_BUILD_FUZZERS)
        message(FATAL_ERROR "CADYN_BUILD_PYTHON with CADYN_SANITIZE or CADYN_BUILD_FUZZERS: an instrumented extension "
                            "cannot be loaded by ${Python3_EXECUTABLE}; configure with -DCADYN_BUILD_PYTHON=OFF")
    endif()
    message(STATUS "cadyn: Python package for ${Python3_EXECUTABLE} (Python ${Python3_VERSION}, pybind11 "
                   "${pybind11_VERSION})")
endif()
