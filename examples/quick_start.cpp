// SPDX-License-Identifier: MIT
// Quick start: give a std::pmr container a pmrkit resource, and every node or buffer it allocates
// comes from the pool instead of malloc. Exit status 0 means the checked result held.
#include <pmrkit/fixed_block_resource.hpp>

#include <cstdio>
#include <list>
#include <memory_resource>
#include <string>
#include <vector>

int main() {
    // A pool of 32-byte blocks: std::pmr::list<int> nodes (24 bytes) fit.
    pmrkit::fixed_block_resource pool({.block_size = 32, .initial_blocks = 256});

    std::pmr::list<int> numbers(&pool);
    for (int i = 1; i <= 1000; ++i) {
        numbers.push_back(i);
    }
    long sum = 0;
    for (const int n : numbers) {
        sum += n;
    }

    // Requests that do not fit a block (the vector's growing buffer, the long string) are passed
    // to upstream with their exact size, and still given back by the pool's destructor.
    std::pmr::vector<std::pmr::string> words(&pool);
    words.emplace_back("pooling without touching container code");
    words.emplace_back("short");

    std::printf("sum %ld, %zu list nodes in %zu chunk(s), %zu passed-through block(s)\n", sum,
                pool.blocks_in_use(), pool.chunk_count(), pool.oversize_blocks());
    const bool ok = sum == 500500 && pool.blocks_in_use() == 1000 && pool.chunk_count() == 3 &&
                    words[0].get_allocator().resource() == &pool;
    return ok ? 0 : 1;
}
