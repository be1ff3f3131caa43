// SPDX-License-Identifier: MIT
// Deprecated since pmrkit 0.2, removed in 0.3: include <pmrkit/decorators/stats_resource.hpp>.
#pragma once
#pragma message("<pmrkit/stats_resource.hpp> is deprecated: include <pmrkit/decorators/stats_resource.hpp>")
#include "pmrkit/decorators/stats_resource.hpp"
