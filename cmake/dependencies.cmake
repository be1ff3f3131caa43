# SPDX-License-Identifier: MIT
# The third-party parts of the tests and examples (the library itself needs none), each as
# optional as it can be, so that every platform runs every test it can:
# - doctest::doctest (header-only, required for the tests): the system's, or in a cross build the
#   host's, seen through PMRKIT_HOST_HEADERS (cmake/toolchains/host-headers.cmake).
# - Boost::headers (optional, found the same way): without it the Boost adaptor tests, the Boost
#   examples and Boost.JSON are skipped with a message; every other test runs.
# - Boost::container (compiled, optional): absent in cross builds (Debian has no MinGW or arm64
#   build here); the tests and the example that need it are skipped with a message.
# - pmrkit_boost_json: Boost.JSON, the compiled library where it matches the standard library in
#   use, header-only otherwise (Debian's is built for libstdc++: a libc++ build cannot link it).
include_guard(GLOBAL)
include(CheckCXXSourceCompiles)

find_package(doctest QUIET)
find_package(boost_headers 1.81 CONFIG QUIET)
foreach(library IN ITEMS doctest Boost)
    string(TOLOWER ${library} name)
    set(target ${library}::${name})
    if(library STREQUAL "Boost")
        set(target Boost::headers)
    endif()
    if(NOT TARGET ${target} AND PMRKIT_HOST_HEADERS AND EXISTS ${PMRKIT_HOST_HEADERS}/${name})
        add_library(${target} INTERFACE IMPORTED)
        target_include_directories(${target} SYSTEM INTERFACE ${PMRKIT_HOST_HEADERS})
    endif()
endforeach()
if(NOT TARGET doctest::doctest)
    message(FATAL_ERROR "pmrkit: doctest headers not found (scripts/install-deps.sh)")
endif()
if(NOT TARGET Boost::headers)
    message(STATUS "pmrkit: Boost headers not found: the Boost adaptor tests, the Boost examples "
                   "and Boost.JSON are skipped")
    return()
endif()

find_package(boost_container 1.81 CONFIG QUIET)
if(NOT TARGET Boost::container)
    message(STATUS "pmrkit: Boost.Container library not found for this target: its tests and "
                   "the boost_containers example are skipped")
endif()

if(NOT TARGET pmrkit_boost_json)
    check_cxx_source_compiles([[
        #include <version>
        #ifndef _LIBCPP_VERSION
        #error not libc++
        #endif
        int main() {}]] PMRKIT_LIBCXX)
    if(NOT PMRKIT_LIBCXX AND NOT CMAKE_CROSSCOMPILING)
        find_package(boost_json 1.81 CONFIG QUIET)
    endif()
    add_library(pmrkit_boost_json INTERFACE)
    if(TARGET Boost::json)
        target_link_libraries(pmrkit_boost_json INTERFACE Boost::json)
    else()
        message(STATUS "pmrkit: Boost.JSON compiled into the tests and examples (header-only)")
        add_library(pmrkit_boost_json_src STATIC ${CMAKE_CURRENT_LIST_DIR}/boost_json_src.cpp)
        target_link_libraries(pmrkit_boost_json_src PUBLIC Boost::headers)
        target_link_libraries(pmrkit_boost_json INTERFACE pmrkit_boost_json_src)
    endif()
endif()
