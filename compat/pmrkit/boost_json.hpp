// SPDX-License-Identifier: MIT
// Deprecated since pmrkit 0.2, removed in 0.3: include <pmrkit/boost/json.hpp>.
#pragma once
#pragma message("<pmrkit/boost_json.hpp> is deprecated: include <pmrkit/boost/json.hpp>")
#include "pmrkit/boost/json.hpp"
