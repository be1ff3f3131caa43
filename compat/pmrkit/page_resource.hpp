// SPDX-License-Identifier: MIT
// Deprecated since pmrkit 0.2, removed in 0.3: include <pmrkit/sources/page_resource.hpp>.
#pragma once
#pragma message("<pmrkit/page_resource.hpp> is deprecated: include <pmrkit/sources/page_resource.hpp>")
#include "pmrkit/sources/page_resource.hpp"
