# SPDX-License-Identifier: MIT
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(PMRKIT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/pmrkit)

install(TARGETS pmrkit EXPORT pmrkit-targets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/pmrkit compat/pmrkit DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT pmrkit-targets NAMESPACE pmrkit:: DESTINATION ${PMRKIT_CMAKE_DIR})
install(FILES LICENSE DESTINATION ${CMAKE_INSTALL_DATADIR}/licenses/pmrkit)

configure_package_config_file(cmake/pmrkit-config.cmake.in
    ${PROJECT_BINARY_DIR}/pmrkit-config.cmake INSTALL_DESTINATION ${PMRKIT_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/pmrkit-config-version.cmake
    COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/pmrkit-config.cmake
              ${PROJECT_BINARY_DIR}/pmrkit-config-version.cmake
        DESTINATION ${PMRKIT_CMAKE_DIR})

# pkg-config, for builds that do not use CMake: the file is named after the library, which
# follows the configuration (DEBUG_POSTFIX: a debug build installs pmrkitd.pc beside pmrkit.pc),
# its Cflags carry the target's public definitions (the protection switch that program and
# library must agree on), and its prefix is found from the file's own place, unless the library
# or include folder was given as an absolute path.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
    set(pc_prefix "${CMAKE_INSTALL_PREFIX}")
    set(pc_libdir "${CMAKE_INSTALL_FULL_LIBDIR}")
    set(pc_includedir "${CMAKE_INSTALL_FULL_INCLUDEDIR}")
else()
    file(RELATIVE_PATH pc_prefix "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
    string(REGEX REPLACE "/$" "" pc_prefix "\${pcfiledir}/${pc_prefix}")
    set(pc_libdir "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
    set(pc_includedir "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
set(pc_definitions "$<TARGET_PROPERTY:pmrkit,INTERFACE_COMPILE_DEFINITIONS>")
set(pc_defines "$<$<BOOL:${pc_definitions}>: -D$<JOIN:${pc_definitions}, -D>>")
set(pc_library "$<TARGET_FILE_BASE_NAME:pmrkit>")
configure_file(cmake/pmrkit.pc.in ${PROJECT_BINARY_DIR}/pmrkit.pc.in @ONLY)
file(GENERATE OUTPUT ${PROJECT_BINARY_DIR}/pkgconfig/$<CONFIG>/${pc_library}.pc
    INPUT ${PROJECT_BINARY_DIR}/pmrkit.pc.in)
install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/$<CONFIG>/${pc_library}.pc
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
