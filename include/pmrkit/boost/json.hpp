// SPDX-License-Identifier: MIT
/// @file
/// Boost.JSON on a pmrkit arena. Header-only and optional (needs Boost.JSON 1.81 or later).
///
/// boost_json_arena is the Boost resource to give Boost.JSON for an arena. It tells Boost.JSON
/// (through boost::json::is_deallocate_trivial) that deallocation may be skipped: an arena takes
/// its memory back all at once with reset(), rewind() or release(), so destroying a parsed
/// boost::json::value does not walk the tree to free each node, just as with
/// boost::json::monotonic_resource. Values must be destroyed (or no longer used) before the arena
/// is reset.
///
/// Example:
///
///     pmrkit::arena_resource arena;                 // one per request, or from an arena_pool
///     pmrkit::boost_json_arena json_memory(arena);
///     boost::json::stream_parser parser;
///     parser.reset(&json_memory);                   // a storage_ptr that skips deallocation
///     parser.write(text);
///     boost::json::value v = parser.release();
///     ...                                           // use v, let it go
///     arena.reset();
#pragma once

#include "pmrkit/arena_resource.hpp"
#include "pmrkit/boost/adaptor.hpp"

#include <boost/json/memory_resource.hpp>

#include <type_traits>

namespace pmrkit {

/// The Boost resource to give Boost.JSON for an arena: deallocation is skipped (see the file
/// comment).
using boost_json_arena = basic_boost_resource_adaptor<arena_resource>;

} // namespace pmrkit

// Boost's trait, left out of the API reference (Doxygen does not read Boost's headers).
/// @cond
template <>
struct boost::json::is_deallocate_trivial<pmrkit::boost_json_arena> : std::true_type {};
/// @endcond
