// SPDX-License-Identifier: MIT
#include <pmrkit/fixed_block_resource.hpp>
#include <pmrkit/limit_resource.hpp>
#include <pmrkit/object_pool.hpp>
#include <pmrkit/stats_resource.hpp>
#include <pmrkit/test_resource.hpp>

#include <cstdio>
#include <memory_resource>
#include <vector>

int main() {
    pmrkit::test_resource checked(std::pmr::new_delete_resource());
    pmrkit::fixed_block_resource pool({.block_size = 32}, &checked);
    pmrkit::limit_resource budget(1 << 20, &pool);
    pmrkit::stats_resource stats(&budget);
    std::pmr::vector<int> v(&stats);
    for (int i = 0; i < 1000; ++i) {
        v.push_back(i);
    }
    void* p = pool.allocate(24, 8);
    pmrkit::object_pool<int> ints(&checked);
    const auto seven = ints.make(7);
    const bool ok = *seven == 7 && v[999] == 999 && pool.blocks_in_use() == 1 && stats.allocations() > 0 &&
                    !pmrkit::to_json(pmrkit::stack_stats(stats, budget, pool, checked)).empty();
    pool.deallocate(p, 24, 8);
    std::puts(ok ? "consumer ok" : "consumer FAILED");
    return ok ? 0 : 1;
}
