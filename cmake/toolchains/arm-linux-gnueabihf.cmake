# SPDX-License-Identifier: MIT
# Linux 32-bit ARM (armhf: ARMv7, hard float) with Debian's cross g++, the tests run under
# qemu-user: 4-byte pointers and size_t, a fundamental alignment of 8 (alignof(max_align_t) and
# operator new's), a 32-bit address space. (32-bit x86 would be the cheaper check, but qemu-i386 7.2
# hangs in the first thread a program starts, and this kernel does not run i386 programs itself.)
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_CXX_COMPILER arm-linux-gnueabihf-g++)
set(CMAKE_FIND_ROOT_PATH /usr/arm-linux-gnueabihf)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-arm -L /usr/arm-linux-gnueabihf)
# g++ notes every function passing a struct whose ABI changed in GCC 7.1; nothing links with code
# that old.
set(CMAKE_CXX_FLAGS_INIT -Wno-psabi)
include(${CMAKE_CURRENT_LIST_DIR}/host-headers.cmake)
