// SPDX-License-Identifier: MIT
// Deprecated since pmrkit 0.2, removed in 0.3: include <pmrkit/boost/adaptor.hpp>.
#pragma once
#pragma message("<pmrkit/boost_adaptor.hpp> is deprecated: include <pmrkit/boost/adaptor.hpp>")
#include "pmrkit/boost/adaptor.hpp"
