# SPDX-License-Identifier: MIT
# Linux AArch64 with Debian's cross g++, the tests run under qemu-user. The environment variable
# QEMU_PAGESIZE (qemu-aarch64 -p) sets the page size the programs see (the AT_PAGESZ that
# sysconf(_SC_PAGESIZE) returns); the aarch64-16k test preset sets 16384, as on Apple silicon and
# 16 KiB-page kernels.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/aarch64-linux-gnu)
include(${CMAKE_CURRENT_LIST_DIR}/host-headers.cmake)
