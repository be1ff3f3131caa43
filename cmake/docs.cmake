# SPDX-License-Identifier: MIT
# The API reference (docs/Doxyfile.in): target pmrkit_docs, built by the docs preset and by
# scripts/test.sh. Doxygen is Debian's package (scripts/install-deps.sh docs).
find_package(Doxygen 1.9)
if(NOT DOXYGEN_FOUND)
    message(FATAL_ERROR "pmrkit: PMRKIT_BUILD_DOCS needs doxygen (scripts/install-deps.sh docs)")
endif()
set(PMRKIT_DOCS_OUTPUT ${PROJECT_BINARY_DIR}/reference)
configure_file(docs/Doxyfile.in ${PROJECT_BINARY_DIR}/Doxyfile @ONLY)
add_custom_target(pmrkit_docs
    COMMAND Doxygen::doxygen ${PROJECT_BINARY_DIR}/Doxyfile
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    COMMENT "pmrkit: API reference in ${PMRKIT_DOCS_OUTPUT}/html/index.html"
    VERBATIM)
