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
