// SPDX-License-Identifier: MIT
// What every documentation snippet may use without including it (test/docs/check_docs.py): the
// public pmrkit headers and the standard headers the snippets lean on. Boost's headers are not
// here: a snippet that uses Boost includes what it needs.
#pragma once

#include <pmrkit/aligned_pool_resource.hpp>
#include <pmrkit/arena_pool.hpp>
#include <pmrkit/arena_resource.hpp>
#include <pmrkit/concurrent_arena_resource.hpp>
#include <pmrkit/concurrent_pool_resource.hpp>
#include <pmrkit/decorators/limit_resource.hpp>
#include <pmrkit/decorators/stats_resource.hpp>
#include <pmrkit/decorators/synchronized_resource.hpp>
#include <pmrkit/decorators/test_resource.hpp>
#include <pmrkit/fixed_block_resource.hpp>
#include <pmrkit/growth_policy.hpp>
#include <pmrkit/monotonic_buffer_resource.hpp>
#include <pmrkit/object_pool.hpp>
#include <pmrkit/resource_stats.hpp>
#include <pmrkit/size_class_resource.hpp>
#include <pmrkit/sources/heap_resource.hpp>
#include <pmrkit/sources/page_resource.hpp>
#include <pmrkit/synchronized_pool_resource.hpp>
#include <pmrkit/unsynchronized_pool_resource.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <list>
#include <map>
#include <memory>
#include <memory_resource>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>
