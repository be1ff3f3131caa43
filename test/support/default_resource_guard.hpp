// SPDX-License-Identifier: MIT
// Sets the default resource for a scope and restores the previous one at its exit, whatever the
// test does.
#pragma once

#include <memory_resource>

namespace pmrkit::test {

struct default_resource_guard {
    explicit default_resource_guard(std::pmr::memory_resource* r)
        : previous(std::pmr::set_default_resource(r)) {}
    ~default_resource_guard() { std::pmr::set_default_resource(previous); }
    default_resource_guard(const default_resource_guard&) = delete;
    default_resource_guard& operator=(const default_resource_guard&) = delete;
    std::pmr::memory_resource* previous;
};

} // namespace pmrkit::test
