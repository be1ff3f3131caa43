// SPDX-License-Identifier: MIT
// Deprecated since pmrkit 0.2, removed in 0.3: include <pmrkit/decorators/test_resource.hpp>.
#pragma once
#pragma message("<pmrkit/test_resource.hpp> is deprecated: include <pmrkit/decorators/test_resource.hpp>")
#include "pmrkit/decorators/test_resource.hpp"
