// SPDX-License-Identifier: MIT
// One JSON report for a whole stack: a stats_resource on top (what the containers ask for), the
// pool (what it serves itself and what it takes from upstream), and the test_resource at the
// bottom (what reaches the system allocator, checked). Exit status 0 means the checked result
// held.
#include <pmrkit/fixed_block_resource.hpp>
#include <pmrkit/decorators/stats_resource.hpp>
#include <pmrkit/decorators/test_resource.hpp>

#include <iostream>
#include <list>
#include <memory_resource>

int main() {
    pmrkit::test_resource checked(std::pmr::new_delete_resource());
    pmrkit::fixed_block_resource pool({.block_size = 32, .initial_blocks = 64}, &checked);
    pmrkit::stats_resource stats(&pool);

    {
        std::pmr::list<int> numbers(&stats);
        for (int i = 0; i < 1000; ++i) {
            numbers.push_back(i);
        }
        numbers.remove_if([](int n) { return n % 2 == 0; });
    }

    const auto report = pmrkit::stack_stats(stats, pool, checked);
    std::cout << pmrkit::to_json(report) << '\n';

    // The list made 1000 node allocations of 24 bytes; the pool served them from 5 chunks
    // (64, 128, 256, 512 and 1024 blocks), which are what reached the system allocator.
    const bool ok = report[0].allocations == 1000 && report[0].bytes_in_use == 0 &&
                    report[1].peak_blocks_in_use == 1000 && report[1].upstream_allocations == 5 &&
                    report[2].allocations == 5 && checked.errors() == 0;
    return ok ? 0 : 1;
}
