// SPDX-License-Identifier: MIT
// Deprecated since pmrkit 0.2, removed in 0.3: include <pmrkit/decorators/synchronized_resource.hpp>.
#pragma once
#pragma message("<pmrkit/synchronized_resource.hpp> is deprecated: include <pmrkit/decorators/synchronized_resource.hpp>")
#include "pmrkit/decorators/synchronized_resource.hpp"
