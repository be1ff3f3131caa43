// SPDX-License-Identifier: MIT
// <windows.h> without the min/max macros (they break std::min and std::numeric_limits::max) and
// without the rarely used APIs that slow every build that includes it.
#pragma once

#ifdef _WIN32
#ifndef NOMINMAX
#define NOMINMAX
#endif
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#endif
