// SPDX-License-Identifier: MIT
// One pmrkit resource under std and Boost containers alike: Boost.Container's small_vector,
// flat_map, stable_vector and devector take std::pmr::polymorphic_allocator directly; Boost's own
// pmr containers (boost::container::pmr::vector, flat_map) take it through boost_resource_adaptor;
// and in the other direction a Boost pmr resource serves std::pmr containers through
// std_resource_adaptor. Exit status 0 means the checked result held.
#include <pmrkit/boost/adaptor.hpp>
#include <pmrkit/size_class_resource.hpp>
#include <pmrkit/decorators/stats_resource.hpp>

#include <boost/container/devector.hpp>
#include <boost/container/flat_map.hpp>
#include <boost/container/pmr/flat_map.hpp>
#include <boost/container/pmr/monotonic_buffer_resource.hpp>
#include <boost/container/pmr/vector.hpp>
#include <boost/container/small_vector.hpp>
#include <boost/container/stable_vector.hpp>

#include <cstdio>
#include <functional>
#include <list>
#include <memory_resource>
#include <string>
#include <utility>

template <class T>
using pmr_alloc = std::pmr::polymorphic_allocator<T>;

int main() {
    pmrkit::stats_resource heap(std::pmr::new_delete_resource()); // what reaches the heap
    pmrkit::size_class_resource pool(&heap);
    pmrkit::stats_resource top(&pool); // what the containers ask for
    pmrkit::boost_resource_adaptor for_boost(top);
    bool ok = true;
    {
        // std::pmr::polymorphic_allocator under Boost.Container.
        using small_ints = boost::container::small_vector<int, 16, pmr_alloc<int>>;
        small_ints recent(small_ints::allocator_type(pmr_alloc<int>{&top}));
        boost::container::flat_map<int, double, std::less<>, pmr_alloc<std::pair<int, double>>>
            prices(pmr_alloc<std::pair<int, double>>{&top});
        boost::container::stable_vector<std::pmr::string, pmr_alloc<std::pmr::string>> names(
            pmr_alloc<std::pmr::string>{&top});
        boost::container::devector<int, pmr_alloc<int>> window(pmr_alloc<int>{&top});
        // std::pmr on the same resource.
        std::pmr::list<int> history(&top);
        // Boost's own pmr containers, through the adaptor.
        boost::container::pmr::vector<int> samples(&for_boost);
        boost::container::pmr::flat_map<int, int> index(&for_boost);

        for (int i = 0; i < 200; ++i) {
            recent.push_back(i);
            prices.emplace(i, i * 0.5);
            names.emplace_back("instrument-with-a-long-name-" + std::to_string(i));
            window.push_front(-i);
            window.push_back(i);
            history.push_back(i);
            samples.push_back(i * i);
            index.emplace(i, 2 * i);
        }
        std::printf("containers built: %llu allocations from the pool, %zu bytes in use; the pool "
                    "took %llu chunks (%zu bytes) from the heap\n",
                    static_cast<unsigned long long>(top.allocations()),
                    static_cast<std::size_t>(top.bytes_in_use()),
                    static_cast<unsigned long long>(heap.allocations()), pool.upstream_bytes());
        ok = ok && recent[199] == 199 && prices.at(10) == 5.0 && window.front() == -199 &&
             window.back() == 199 && samples[100] == 10000 && index.at(50) == 100 &&
             names.back().get_allocator().resource() == &top && history.size() == 200;
        // Strictly more calls reached the pool than the heap: it served most of them itself.
        ok = ok && top.allocations() > 8 * heap.allocations();
    }
    ok = ok && top.bytes_in_use() == 0;

    // The other direction: a Boost resource (a monotonic buffer on the stack) under std::pmr.
    {
        char buffer[4096];
        boost::container::pmr::monotonic_buffer_resource boost_arena(buffer, sizeof buffer);
        pmrkit::std_resource_adaptor for_std(boost_arena);
        std::pmr::vector<int> numbers(&for_std);
        numbers.reserve(100);
        for (int i = 0; i < 100; ++i) {
            numbers.push_back(i);
        }
        const auto* first = reinterpret_cast<const char*>(numbers.data());
        ok = ok && first >= buffer && first < buffer + sizeof buffer;
        std::printf("std::pmr::vector on a Boost monotonic_buffer_resource: %zu ints in the stack "
                    "buffer\n",
                    numbers.size());
    }
    pool.release();
    ok = ok && heap.bytes_in_use() == 0;
    return ok ? 0 : 1;
}
