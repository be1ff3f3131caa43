# SPDX-License-Identifier: MIT
# Installs pmrkit from BUILD_DIR into a fresh prefix, then configures, builds and runs the consumer
# project against it through find_package, and again through add_subdirectory(SOURCE_DIR), with
# the compiler and flags of the build under test (a sanitizer build needs its runtime at link).
# version/ checks that the installed package refuses a request for the previous minor version.
# A cross build passes its TOOLCHAIN file, its EMULATOR ('|'-separated), which runs the program,
# and the target's EXE_SUFFIX (.exe on Windows: Wine does not add it). With DEFAULT_PROTECTION (a
# library built with neither PMRKIT_HARDENED nor PMRKIT_UNPROTECTED), a consumer compiled with
# -DPMRKIT_HARDENED of its own must fail to link, naming the switch (detail/config.hpp).
# Natively, and where pkg-config is installed, the consumer is also built with the flags the
# installed pmrkit.pc (pmrkitd.pc for a debug build) gives, without CMake, and an rpath to its
# libdir for a shared build.
set(work ${WORK_DIR})
string(REPLACE "|" ";" emulator "${EMULATOR}")
set(toolchain "")
if(TOOLCHAIN)
    set(toolchain -DCMAKE_TOOLCHAIN_FILE=${TOOLCHAIN})
endif()
file(REMOVE_RECURSE ${work})
file(MAKE_DIRECTORY ${work})

function(run)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}")
    endif()
    message(STATUS "${out}")
endfunction()

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${work}/prefix)
# The package folder itself: a cross toolchain searches for packages under its target root only.
file(GLOB_RECURSE config ${work}/prefix/*/pmrkit-config.cmake)
cmake_path(GET config PARENT_PATH config_dir)
run(${CMAKE_COMMAND} -S ${CMAKE_CURRENT_LIST_DIR}/project -B ${work}/installed -G Ninja ${toolchain}
    -DCMAKE_CXX_COMPILER=${CXX} "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}" -Dpmrkit_DIR=${config_dir})
run(${CMAKE_COMMAND} --build ${work}/installed)
run(${emulator} ${work}/installed/consumer${EXE_SUFFIX})
find_program(pkg_config NAMES pkg-config pkgconf)
if(pkg_config AND NOT TOOLCHAIN)
    file(GLOB_RECURSE pc ${work}/prefix/*/pmrkit*.pc)
    cmake_path(GET pc PARENT_PATH pc_dir)
    cmake_path(GET pc STEM package)
    set(ENV{PKG_CONFIG_PATH} ${pc_dir})
    execute_process(COMMAND ${pkg_config} --cflags --libs ${package}
        OUTPUT_VARIABLE pc_flags OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)
    execute_process(COMMAND ${pkg_config} --variable=libdir ${package}
        OUTPUT_VARIABLE pc_libdir OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)
    separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
    separate_arguments(cxx_flags UNIX_COMMAND "${CXX_FLAGS}")
    run(${CXX} ${cxx_flags} -std=c++20 ${CMAKE_CURRENT_LIST_DIR}/project/main.cpp ${pc_flags}
        -Wl,-rpath,${pc_libdir} -o ${work}/pkg-config-consumer)
    run(${work}/pkg-config-consumer)
endif()
run(${CMAKE_COMMAND} -S ${CMAKE_CURRENT_LIST_DIR}/version -B ${work}/version -G Ninja
    -Dpmrkit_DIR=${config_dir})
run(${CMAKE_COMMAND} -S ${CMAKE_CURRENT_LIST_DIR}/project -B ${work}/subdirectory -G Ninja
    ${toolchain} -DCMAKE_CXX_COMPILER=${CXX} "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}" -DPMRKIT_SOURCE_DIR=${SOURCE_DIR})
run(${CMAKE_COMMAND} --build ${work}/subdirectory)
run(${emulator} ${work}/subdirectory/consumer${EXE_SUFFIX})
if(DEFAULT_PROTECTION)
    run(${CMAKE_COMMAND} -S ${CMAKE_CURRENT_LIST_DIR}/project -B ${work}/mismatch -G Ninja
        ${toolchain} -DCMAKE_CXX_COMPILER=${CXX} "-DCMAKE_CXX_FLAGS=${CXX_FLAGS} -DPMRKIT_HARDENED"
        -Dpmrkit_DIR=${config_dir})
    execute_process(COMMAND ${CMAKE_COMMAND} --build ${work}/mismatch
        RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
    if(rc EQUAL 0 OR NOT out MATCHES "library_built_with_PMRKIT_HARDENED")
        message(FATAL_ERROR "a consumer built with PMRKIT_HARDENED against a default library "
                            "must fail to link, naming the switch (${rc}):\n${out}")
    endif()
endif()
