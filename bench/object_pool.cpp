// SPDX-License-Identifier: MIT
// object_pool<T> against std::make_unique and against a plain fixed_block_resource (placement
// new into its blocks, reached through std::pmr::memory_resource* as in the main harness), on
// three object workloads:
//
//   churn      make one 64-byte object, destroy it (the main harness's W1, in objects)
//   batch      make 1000 objects, destroy them in shuffled order (W2, in objects)
//   recycled   take a std::vector<int>, fill it with 256 ints, give it back: make_unique and
//              fixed_block build and free the vector (and its buffer) every time; object_pool in
//              recycling mode keeps the vector with its capacity (reset = clear)
//
// Repetitions run interleaved in random order; the table gives median ns per object and the ratio
// to make_unique from the same run. Defaults (overridable on the command line):
// --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true
// --benchmark_report_aggregates_only=true --benchmark_min_time=0.2
#include <pmrkit/fixed_block_resource.hpp>
#include <pmrkit/object_pool.hpp>

#include "benchmark_defaults.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <memory_resource>
#include <new>
#include <numeric>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

// A typical small entity: a constructor that writes every field.
struct particle {
    explicit particle(std::uint64_t seed) {
        for (double& v : state) {
            v = static_cast<double>(seed++);
        }
    }
    std::array<double, 8> state;
};
static_assert(sizeof(particle) == 64);

constexpr std::size_t batch_size = 1000;
constexpr std::array<std::string_view, 3> workloads = {"churn", "batch", "recycled"};
constexpr std::array<std::string_view, 3> variants = {"make_unique", "fixed_block",
                                                       "object_pool"};

// Placement new into a plain fixed_block_resource, with the deleter a user would write.
template <class T>
class fixed_block_objects {
public:
    struct deleter {
        std::pmr::memory_resource* resource;
        void operator()(T* p) const noexcept {
            p->~T();
            resource->deallocate(p, sizeof(T), alignof(T));
        }
    };

    template <class... Args>
    std::unique_ptr<T, deleter> make(Args&&... args) {
        void* block = m_resource->allocate(sizeof(T), alignof(T));
        return {::new (block) T(std::forward<Args>(args)...), deleter{m_resource}};
    }

private:
    pmrkit::fixed_block_resource m_pool{{.block_size = sizeof(T), .block_alignment = alignof(T)}};
    std::pmr::memory_resource* m_resource = &m_pool;
};

void churn(benchmark::State& state, std::string_view variant) {
    std::uint64_t seed = 0;
    if (variant == "make_unique") {
        for (auto _ : state) {
            auto p = std::make_unique<particle>(seed++);
            benchmark::DoNotOptimize(p.get());
        }
    } else if (variant == "fixed_block") {
        fixed_block_objects<particle> objects;
        for (auto _ : state) {
            auto p = objects.make(seed++);
            benchmark::DoNotOptimize(p.get());
        }
    } else {
        pmrkit::object_pool<particle> pool;
        for (auto _ : state) {
            auto p = pool.make(seed++);
            benchmark::DoNotOptimize(p.get());
        }
    }
    state.SetItemsProcessed(state.iterations());
}

// Makes batch_size objects with `make`, then drops them in the shuffled `order`.
template <class Handle, class Make>
void batch_round(std::vector<Handle>& live, const std::vector<std::size_t>& order, Make make) {
    for (std::size_t i = 0; i < batch_size; ++i) {
        live[i] = make(i);
    }
    for (const std::size_t i : order) {
        live[i].reset();
    }
}

void batch(benchmark::State& state, std::string_view variant) {
    std::vector<std::size_t> order(batch_size);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::shuffle(order.begin(), order.end(), std::mt19937_64(20261122));
    if (variant == "make_unique") {
        std::vector<std::unique_ptr<particle>> live(batch_size);
        for (auto _ : state) {
            batch_round(live, order, [](std::size_t i) { return std::make_unique<particle>(i); });
        }
    } else if (variant == "fixed_block") {
        fixed_block_objects<particle> objects;
        std::vector<decltype(objects.make(0U))> live(batch_size);
        for (auto _ : state) {
            batch_round(live, order, [&](std::size_t i) { return objects.make(i); });
        }
    } else {
        pmrkit::object_pool<particle> pool;
        std::vector<pmrkit::object_pool<particle>::handle> live(batch_size);
        for (auto _ : state) {
            batch_round(live, order, [&](std::size_t i) { return pool.make(i); });
        }
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch_size));
}

void fill(std::vector<int>& v) {
    for (int i = 0; i < 256; ++i) {
        v.push_back(i);
    }
    benchmark::DoNotOptimize(v.data());
}

void recycled(benchmark::State& state, std::string_view variant) {
    using buffer = std::vector<int>;
    if (variant == "make_unique") {
        for (auto _ : state) {
            fill(*std::make_unique<buffer>());
        }
    } else if (variant == "fixed_block") {
        fixed_block_objects<buffer> objects;
        for (auto _ : state) {
            fill(*objects.make());
        }
    } else {
        pmrkit::object_pool<buffer> pool({.reset = [](buffer& v) { v.clear(); }});
        for (auto _ : state) {
            fill(*pool.acquire());
        }
    }
    state.SetItemsProcessed(state.iterations());
}

// Keeps the console output and collects the median objects per second of every benchmark.
class ratio_reporter final : public benchmark::ConsoleReporter {
public:
    void ReportRuns(const std::vector<Run>& runs) override {
        ConsoleReporter::ReportRuns(runs);
        pmrkit_bench::collect_medians(runs, "items_per_second", m_per_second);
    }

    void print_table() const {
        std::printf("\nObjects: median ns per object (ratio to make_unique, same run)\n");
        std::printf("%-10s %20s %20s %20s\n", "workload", "make_unique", "fixed_block",
                    "object_pool");
        for (const std::string_view w : workloads) {
            const double base = ns(w, variants[0]);
            if (base <= 0) {
                continue;
            }
            std::printf("%-10s", std::string(w).c_str());
            for (const std::string_view v : variants) {
                std::printf(" %11.1f (%5.2f)", ns(w, v), ns(w, v) / base);
            }
            std::printf("\n");
        }
    }

private:
    [[nodiscard]] double ns(std::string_view workload, std::string_view variant) const {
        const auto it =
            m_per_second.find("objects/" + std::string(workload) + "/" + std::string(variant));
        return it == m_per_second.end() || it->second <= 0 ? 0.0 : 1e9 / it->second;
    }

    std::map<std::string, double> m_per_second; // objects per second
};

} // namespace

int main(int argc, char** argv) {
    if (!pmrkit_bench::initialize_with_defaults(argc, argv,
                                                pmrkit_bench::interleaved_medians)) {
        return 2;
    }

    using body = void (*)(benchmark::State&, std::string_view);
    const std::array<body, 3> bodies = {churn, batch, recycled};
    for (std::size_t w = 0; w < workloads.size(); ++w) {
        for (const std::string_view v : variants) {
            const std::string name = "objects/" + std::string(workloads[w]) + "/" + std::string(v);
            benchmark::RegisterBenchmark(name.c_str(), [run = bodies[w], v](benchmark::State& s) {
                run(s, v);
            });
        }
    }
    ratio_reporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    reporter.print_table();
    benchmark::Shutdown();
    return 0;
}
