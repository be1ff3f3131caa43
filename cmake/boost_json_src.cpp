// SPDX-License-Identifier: MIT
// Boost.JSON compiled into the program, for builds that cannot link Debian's library (built for
// libstdc++ and x86-64 Linux): see cmake/dependencies.cmake.
#include <boost/json/src.hpp>
