// SPDX-License-Identifier: MIT
// Deprecated since pmrkit 0.2, removed in 0.3: include <pmrkit/sources/heap_resource.hpp>.
#pragma once
#pragma message("<pmrkit/heap_resource.hpp> is deprecated: include <pmrkit/sources/heap_resource.hpp>")
#include "pmrkit/sources/heap_resource.hpp"
