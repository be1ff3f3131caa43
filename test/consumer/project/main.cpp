// SPDX-License-Identifier: MIT
#include <pmrkit/fixed_block_resource.hpp>

#include <cstdio>
#include <memory_resource>
#include <vector>

int main() {
    pmrkit::fixed_block_resource pool({.block_size = 32});
    std::pmr::vector<int> v(&pool);
    for (int i = 0; i < 1000; ++i) {
        v.push_back(i);
    }
    void* p = pool.allocate(24, 8);
    const bool ok = v[999] == 999 && pool.blocks_in_use() == 1;
    pool.deallocate(p, 24, 8);
    std::puts(ok ? "consumer ok" : "consumer FAILED");
    return ok ? 0 : 1;
}
