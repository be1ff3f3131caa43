# SPDX-License-Identifier: MIT
# For cross builds: the host's header-only libraries the tests use (doctest, Boost's headers) are
# the same for every target, but /usr/include also holds the host's C library, which must stay out
# of a cross compiler's search path. So they are seen through a folder of links instead;
# test/CMakeLists.txt makes targets of them (PMRKIT_HOST_HEADERS).
set(PMRKIT_HOST_HEADERS ${CMAKE_BINARY_DIR}/host-headers)
foreach(library IN ITEMS doctest boost)
    if(EXISTS /usr/include/${library} AND NOT EXISTS ${PMRKIT_HOST_HEADERS}/${library})
        file(MAKE_DIRECTORY ${PMRKIT_HOST_HEADERS})
        file(CREATE_LINK /usr/include/${library} ${PMRKIT_HOST_HEADERS}/${library} SYMBOLIC)
    endif()
endforeach()
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
