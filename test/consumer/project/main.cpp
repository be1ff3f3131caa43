// SPDX-License-Identifier: MIT
#include <pmrkit/fixed_block_resource.hpp>
#include <pmrkit/sources/heap_resource.hpp>
#include <pmrkit/decorators/limit_resource.hpp>
#include <pmrkit/object_pool.hpp>
#include <pmrkit/sources/page_resource.hpp>
#include <pmrkit/decorators/stats_resource.hpp>
#include <pmrkit/decorators/test_resource.hpp>

#include <cstdio>
#include <memory_resource>
#include <vector>

int main() {
    pmrkit::test_resource checked(pmrkit::heap());
    pmrkit::fixed_block_resource pool({.block_size = 32}, &checked);
    pmrkit::limit_resource budget(1 << 20, &pool);
    pmrkit::stats_resource stats(&budget);
    std::pmr::vector<int> v(&stats);
    for (int i = 0; i < 1000; ++i) {
        v.push_back(i);
    }
    void* p = pool.allocate(24, 8);
    pmrkit::page_resource pages;
    void* page = pages.allocate(100, 4096);
    pmrkit::object_pool<int> ints(&checked);
    const auto seven = ints.make(7);
    const bool ok =
        *seven == 7 && v[999] == 999 && pool.blocks_in_use() == 1 && stats.allocations() > 0 &&
        pages.mapped_bytes() == pages.page_size() &&
        !pmrkit::to_json(pmrkit::stack_stats(stats, budget, pool, checked, *pmrkit::heap(), pages))
             .empty();
    pages.deallocate(page, 100, 4096);
    pool.deallocate(p, 24, 8);
    std::puts(ok ? "consumer ok" : "consumer FAILED");
    return ok ? 0 : 1;
}
