#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian 12 packages pmrkit needs to build, test and benchmark, and does nothing
# when they are all present. Boost 1.81 -dev packages conflict with the 1.74 ones; apt removes
# those if they are installed.
# Arguments name the jobs whose extra packages to install as well (scripts/test.sh passes each
# job's own): docs (doxygen, for the API reference), libcxx (clang 16, libc++ 16), mingw
# (MinGW-w64, Wine), aarch64 and armhf (cross g++, qemu-user).
set -euo pipefail

packages=(
    cmake ninja-build g++ clang-14 libclang-rt-14-dev python3 valgrind
    libboost-container1.81-dev libboost-json1.81-dev doctest-dev libbenchmark-dev
    libfoonathan-memory-dev libmimalloc2.0 libjemalloc2 libtcmalloc-minimal4
    gnuplot-nox pkgconf
)
for job in "$@"; do
    case "$job" in
        docs) packages+=(doxygen) ;;
        libcxx) packages+=(clang-16 libc++-16-dev libc++abi-16-dev) ;;
        mingw) packages+=(g++-mingw-w64-x86-64-posix wine wine64) ;;
        aarch64) packages+=(g++-aarch64-linux-gnu qemu-user) ;;
        armhf) packages+=(g++-arm-linux-gnueabihf qemu-user) ;;
        *) echo "pmrkit: unknown job '$job' (docs, libcxx, mingw, aarch64, armhf)" >&2; exit 2 ;;
    esac
done

missing=()
for pkg in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$pkg")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "pmrkit: installing missing packages: ${missing[*]}"
# As root, or through sudo; sudo resets the environment, so the setting is passed by env.
as_root=(env DEBIAN_FRONTEND=noninteractive)
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null; then
        echo "pmrkit: not root and no sudo: install these as root, then run again:" \
            "apt-get install ${missing[*]}" >&2
        exit 1
    fi
    as_root=(sudo "${as_root[@]}")
fi
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
