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


# UDUNITS-2 has no CMake config; find the header and library directly.
find_path(UDUNITS2_INCLUDE_DIR udunits2.h PATH_SUFFIXES udunits2 REQUIRED)
find_library(UDUNITS2_LIBRARY udunits2 REQUIRED)
add_library(cadyn_udunits2 INTERFACE)
target_include_directories(cadyn_udunits2 INTERFACE ${UDUNITS2_INCLUDE_DIR})
target_link_libraries(cadyn_udunits2 INTERFACE ${UDUNITS2_LIBRARY})
