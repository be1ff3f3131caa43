# SPDX-License-Identifier: MIT
# Windows x86-64 with Debian's MinGW-w64 (posix threads: std::thread, std::mutex), the tests run
# under Wine through scripts/wine-run.sh. Statically linked, so no runtime DLLs need to be found.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++-posix)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)
set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32)
set(CMAKE_EXE_LINKER_FLAGS_INIT -static)
set(CMAKE_CROSSCOMPILING_EMULATOR ${CMAKE_CURRENT_LIST_DIR}/../../scripts/wine-run.sh)
include(${CMAKE_CURRENT_LIST_DIR}/host-headers.cmake)
