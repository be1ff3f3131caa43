// SPDX-License-Identifier: MIT
// The comparison benchmark: every row of rows.cpp on every workload it applies to. Resources are
// reached only through std::pmr::memory_resource*, hidden from the optimizer, so every call stays
// virtual as in user code. Random inputs are computed once, outside the timed loops.
//
// Each benchmark reports the counter ops_per_iter: time per operation = time / ops_per_iter.
// The process exits non-zero when any benchmark failed (Google Benchmark 1.7.1 itself exits 0).
#include "rows.hpp"

#include <pmrkit/decorators/synchronized_resource.hpp>

#include <benchmark/benchmark.h>

#include <malloc.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

using pmrkit_bench::row;

bool g_failed = false;

// --- Inputs, computed once per process with fixed seeds -----------------------------------------

std::vector<std::uint32_t> permutation(std::size_t n, std::uint64_t seed) {
    std::vector<std::uint32_t> order(n);
    for (std::size_t i = 0; i < n; ++i) {
        order[i] = static_cast<std::uint32_t>(i);
    }
    std::mt19937_64 rng(seed);
    std::shuffle(order.begin(), order.end(), rng);
    return order;
}

// 4096 strings of min_length..60 random letters.
std::vector<std::string> random_texts(std::size_t min_length, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<std::size_t> length(min_length, 60);
    std::uniform_int_distribution<int> letter('a', 'z');
    std::vector<std::string> v(4096);
    for (std::string& s : v) {
        s.resize(length(rng));
        for (char& c : s) {
            c = static_cast<char>(letter(rng));
        }
    }
    return v;
}

// Strings of 20..60 characters: too long for the small-string buffer, so each one allocates.
std::string_view text(std::size_t i) {
    static const std::vector<std::string> all = random_texts(20, 1);
    return all[i % all.size()];
}

// Strings of 10..60 characters, as a request's fields: the shortest fit the small-string buffer.
std::string_view field_text(std::size_t i) {
    static const std::vector<std::string> all = random_texts(10, 8);
    return all[i % all.size()];
}

// One step of a random-replacement workload: free live[victim], allocate `bytes` in its place.
struct replacement {
    std::uint32_t victim;
    std::uint32_t bytes;
};

template <class Bytes>
std::vector<replacement> replacements(std::size_t steps, std::size_t live, std::uint64_t seed,
                                      Bytes bytes) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<std::size_t> victim(0, live - 1);
    std::vector<replacement> v(steps);
    for (replacement& r : v) {
        r.victim = static_cast<std::uint32_t>(victim(rng));
        r.bytes = static_cast<std::uint32_t>(bytes(rng));
    }
    return v;
}

// --- Workloads ----------------------------------------------------------------------------------
// A workload is constructed over the resource (untimed set-up), runs iteration() in the timed
// loop, and gives its live memory back in its destructor.

class workload_base {
public:
    explicit workload_base(std::pmr::memory_resource* mr) : m_mr(mr) {}
    [[nodiscard]] bool misaligned() const { return m_misaligned != 0; }

protected:
    // Low address bits that must be zero, OR-ed per block and checked once after the loop.
    static std::uintptr_t low_bits(const void* p, std::size_t alignment) {
        return reinterpret_cast<std::uintptr_t>(p) & (alignment - 1);
    }
    // Allocates, notes the alignment in `bad`, and writes the first word, as a user would.
    static void* take(std::pmr::memory_resource* mr, std::size_t bytes, std::size_t alignment,
                      std::uintptr_t& bad) {
        void* p = mr->allocate(bytes, alignment);
        bad |= low_bits(p, alignment);
        std::memcpy(p, &bytes, sizeof bytes);
        return p;
    }

    std::pmr::memory_resource* m_mr;
    std::uintptr_t m_misaligned = 0;
};

// Allocate and free Bytes, aligned to Alignment. W1: 64 B, alignment 8. W8: 256 B, alignment 64,
// as a pool of SIMD buffers or cache-line-padded nodes churns them.
template <pmrkit_bench::workload Id, std::size_t Bytes, std::size_t Alignment>
class churn_of : public workload_base {
public:
    static constexpr pmrkit_bench::workload id = Id;
    static constexpr std::size_t ops = 1000;
    using workload_base::workload_base;

    void iteration() {
        std::pmr::memory_resource* mr = m_mr;
        std::uintptr_t bad = 0;
        for (std::size_t i = 0; i < ops; ++i) {
            mr->deallocate(take(mr, Bytes, Alignment, bad), Bytes, Alignment);
        }
        m_misaligned |= bad;
    }
};
using churn = churn_of<pmrkit_bench::W1, 64, 8>;
using aligned_churn = churn_of<pmrkit_bench::W8, 256, 64>;

// W2: 1000 x 64 B, then freed in a fixed shuffled order.
class batch : public workload_base {
public:
    static constexpr pmrkit_bench::workload id = pmrkit_bench::W2;
    static constexpr std::size_t ops = 1000;

    explicit batch(std::pmr::memory_resource* mr) : workload_base(mr), m_blocks(ops) {}

    void iteration() {
        static const std::vector<std::uint32_t> order = permutation(ops, 2);
        std::pmr::memory_resource* mr = m_mr;
        std::uintptr_t bad = 0;
        for (std::size_t i = 0; i < ops; ++i) {
            m_blocks[i] = take(mr, 64, 8, bad);
        }
        for (std::uint32_t i : order) {
            mr->deallocate(m_blocks[i], 64, 8);
        }
        m_misaligned |= bad;
    }

private:
    std::vector<void*> m_blocks;
};

// The live set of a random-replacement workload (W3, W7), taken from and given back to the
// resource outside the timed loop.
class live_set : public workload_base {
public:
    live_set(std::pmr::memory_resource* mr, const std::vector<replacement>& steps, std::size_t live,
             std::size_t alignment = alignof(std::max_align_t))
        : workload_base(mr), m_steps(steps), m_blocks(live), m_alignment(alignment) {
        for (std::size_t i = 0; i < live; ++i) {
            m_blocks[i] = {take(mr, steps[i].bytes, alignment, m_misaligned), steps[i].bytes};
            m_live_bytes += steps[i].bytes;
        }
        m_peak_live_bytes = m_live_bytes;
    }
    live_set(const live_set&) = delete;
    live_set& operator=(const live_set&) = delete;
    ~live_set() {
        for (const block& b : m_blocks) {
            m_mr->deallocate(b.p, b.bytes, m_alignment);
        }
    }

    // The most bytes live at once: the least a resource must hold from upstream.
    [[nodiscard]] std::size_t peak_live_bytes() const { return m_peak_live_bytes; }
    // Continues from another place in the steps (W6b: each thread its own).
    void start_at(std::size_t step) { m_next = step % m_steps.size(); }

protected:
    struct block {
        void* p;
        std::size_t bytes;
    };

    // Frees a random live block and allocates the next size in its place.
    const block& replace() {
        const replacement& step = m_steps[m_next];
        m_next = (m_next + 1) % m_steps.size();
        block& b = m_blocks[step.victim];
        m_mr->deallocate(b.p, b.bytes, m_alignment);
        m_live_bytes = m_live_bytes - b.bytes + step.bytes;
        m_peak_live_bytes = std::max(m_peak_live_bytes, m_live_bytes);
        b = {take(m_mr, step.bytes, m_alignment, m_misaligned), step.bytes};
        return b;
    }

private:
    const std::vector<replacement>& m_steps;
    std::vector<block> m_blocks;
    std::size_t m_alignment;
    std::size_t m_next = 0;
    std::size_t m_live_bytes = 0;
    std::size_t m_peak_live_bytes = 0;
};

// The sizes of W3 (and W6b, W6c): 8..1024 B, 70% <= 128 B; victims among 10,000 live blocks.
const std::vector<replacement>& mixed_steps() {
    static const std::vector<replacement> all =
        replacements(1 << 16, 10'000, 3, [](std::mt19937_64& rng) {
            std::bernoulli_distribution small(0.7);
            std::uniform_int_distribution<std::size_t> small_size(8, 128);
            std::uniform_int_distribution<std::size_t> large_size(129, 1024);
            return small(rng) ? small_size(rng) : large_size(rng);
        });
    return all;
}

// Live set of 10,000 blocks of 8..1024 B (70% <= 128 B), random replacement, every block
// aligned to Alignment. W3: alignment 16 (max_align_t). W9: alignment 64.
template <pmrkit_bench::workload Id, std::size_t Alignment>
class mixed_of : public live_set {
public:
    static constexpr pmrkit_bench::workload id = Id;
    static constexpr std::size_t ops = 1000;
    static constexpr std::size_t live = 10'000;

    explicit mixed_of(std::pmr::memory_resource* mr)
        : live_set(mr, mixed_steps(), live, Alignment) {}

    void iteration() {
        for (std::size_t i = 0; i < ops; ++i) {
            replace();
        }
    }
};

using mixed = mixed_of<pmrkit_bench::W3, alignof(std::max_align_t)>;
using aligned_mixed = mixed_of<pmrkit_bench::W9, 64>;

// W7: live set of 4 blocks of 256 KiB x 2^u (u uniform in [0, 4)) rounded to 4 KiB, alignment
// 16, random replacement, one byte written per page. Timed in a warm pool; W7f times fresh pools.
class large : public live_set {
public:
    static constexpr pmrkit_bench::workload id = pmrkit_bench::W7;
    static constexpr std::size_t ops = 1;
    static constexpr std::size_t live = 4;
    static constexpr std::size_t page = 4096;
    // Untimed steps before timing a row: enough for a pool's cache (or a malloc's) to have seen
    // every size class of the cycle many times.
    static constexpr std::size_t warm_up = 256;

    explicit large(std::pmr::memory_resource* mr) : live_set(mr, steps(), live, 16) {}

    void iteration() {
        const block& b = replace();
        auto* bytes = static_cast<unsigned char*>(b.p);
        for (std::size_t offset = page; offset < b.bytes; offset += page) {
            bytes[offset] = 1;
        }
    }

private:
    static const std::vector<replacement>& steps() {
        static const std::vector<replacement> all =
            replacements(1024, live, 7, [](std::mt19937_64& rng) {
                std::uniform_real_distribution<double> u(0.0, 4.0);
                const double bytes = 256.0 * 1024.0 * std::exp2(u(rng));
                return static_cast<std::size_t>(std::llround(bytes / page)) * page;
            });
        return all;
    }
};

// W4a: pmr::vector of 10,000 pmr::strings, built and destroyed.
class string_vector : public workload_base {
public:
    static constexpr pmrkit_bench::workload id = pmrkit_bench::W4a;
    static constexpr std::size_t ops = 10'000;
    using workload_base::workload_base;

    void iteration() {
        std::pmr::vector<std::pmr::string> v(m_mr);
        for (std::size_t i = 0; i < ops; ++i) {
            v.emplace_back(text(i));
        }
        m_misaligned |= low_bits(v.data(), alignof(std::pmr::string));
    }
};

// W4b: pmr::map<int, pmr::string>: 10,000 inserts, then 10,000 erases; ops counts both.
class string_map : public workload_base {
public:
    static constexpr pmrkit_bench::workload id = pmrkit_bench::W4b;
    static constexpr std::size_t keys = 10'000;
    static constexpr std::size_t ops = 2 * keys;
    using workload_base::workload_base;

    void iteration() {
        static const std::vector<std::uint32_t> insert_order = permutation(keys, 4);
        static const std::vector<std::uint32_t> erase_order = permutation(keys, 5);
        using map = std::pmr::map<int, std::pmr::string>;
        map m(m_mr);
        std::uintptr_t bad = 0;
        for (std::uint32_t key : insert_order) {
            const auto it = m.try_emplace(static_cast<int>(key), text(key)).first;
            bad |= low_bits(&*it, alignof(map::value_type));
        }
        for (std::uint32_t key : erase_order) {
            m.erase(static_cast<int>(key));
        }
        m_misaligned |= bad;
    }
};

// W4c: pmr::unordered_map<u64, u64>: 100,000 inserts of random keys, then destroyed.
class hash_map : public workload_base {
public:
    static constexpr pmrkit_bench::workload id = pmrkit_bench::W4c;
    static constexpr std::size_t ops = 100'000;
    using workload_base::workload_base;

    void iteration() {
        static const std::vector<std::uint64_t> keys = [] {
            std::mt19937_64 rng(6);
            std::vector<std::uint64_t> v(ops);
            for (std::uint64_t& k : v) {
                k = rng();
            }
            return v;
        }();
        using map = std::pmr::unordered_map<std::uint64_t, std::uint64_t>;
        map m(m_mr);
        std::uintptr_t bad = 0;
        for (std::size_t i = 0; i < ops; ++i) {
            bad |= low_bits(&*m.emplace(keys[i], i).first, alignof(map::value_type));
        }
        m_misaligned |= bad;
    }
};

// One request: a vector of Items strings of 10..60 characters and an unordered_map of Entries
// such strings, then dropped. W5: 200 and 100. W5s: 8 and 4, a small request (about 20 blocks)
// from a fresh resource each time: where a pool's set-up, not its blocks, is the cost.
template <pmrkit_bench::workload Id, std::size_t Items, int Entries>
class request_of : public workload_base {
public:
    static constexpr pmrkit_bench::workload id = Id;
    static constexpr std::size_t ops = 1;
    using workload_base::workload_base;

    void iteration() {
        std::pmr::vector<std::pmr::string> items(m_mr);
        for (std::size_t i = 0; i < Items; ++i) {
            items.emplace_back(field_text(m_next++));
        }
        using map = std::pmr::unordered_map<int, std::pmr::string>;
        map index(m_mr);
        std::uintptr_t bad = low_bits(items.data(), alignof(std::pmr::string));
        for (int key = 0; key < Entries; ++key) {
            const auto it = index.try_emplace(key, field_text(m_next++)).first;
            bad |= low_bits(&*it, alignof(map::value_type));
        }
        m_misaligned |= bad;
    }

private:
    std::size_t m_next = 0;
};
using request = request_of<pmrkit_bench::W5, 200, 100>;
using small_request = request_of<pmrkit_bench::W5s, 8, 4>;

// A known under-alignment is marked for the report; any other fails the benchmark.
void report_misaligned(benchmark::State& state, const row& r, pmrkit_bench::workload id,
                       bool misaligned) {
    if (!misaligned) {
        return;
    }
    if ((r.known_misaligned & id) != 0) {
        state.counters["misaligned"] = 1;
    } else {
        g_failed = true;
        state.SkipWithError("a block was not aligned as requested");
    }
}

// --- Threaded workloads (W6) --------------------------------------------------------------------
// Every thread runs its part of a round between two barriers; a benchmark iteration is one round,
// timed in real time (the main thread only waits). Per-thread state is built by its own thread in
// an untimed first round, so that it comes from that thread's cache.

// Worker threads running body(i) once per call to round(). A worker waits for the next round by
// yielding on its own CPU (bounded, about a millisecond), and only then sleeps in
// std::atomic::wait: a worker woken from sleep every round was often placed on the CPU of the
// other worker and waited for it, so that two threads ran one after the other (measured on the
// 2-core machine: a round of two 100 us bodies took 196-230 us when sleeping, 109 us when
// yielding). Yielding, not spinning, so that with more threads than cores a waiting worker hands
// its CPU to one still running its part. The main thread waits for the end of a round the same
// way while a CPU is left over for it, else it sleeps at once rather than take turns with the
// workers. No mutex: 16 workers queueing on one lock to start and to finish each round made that
// queue a part of every round's time (a round with empty bodies on 2 cores: 5.5 us with a mutex
// and condition variables, 0.6 us at 1 thread and 1.9 us at 2 without).
class team {
public:
    team(std::size_t threads, std::function<void(std::size_t)> body)
        : m_body(std::move(body)),
          m_main_yields(threads < std::thread::hardware_concurrency() ? max_yields : 0) {
        for (std::size_t i = 0; i < threads; ++i) {
            m_threads.emplace_back([this, i] { work(i); });
        }
    }
    team(const team&) = delete;
    team& operator=(const team&) = delete;
    ~team() {
        m_stop.store(true, std::memory_order_relaxed);
        start_round();
        for (std::thread& t : m_threads) {
            t.join();
        }
    }

    void round() {
        m_running.store(m_threads.size(), std::memory_order_relaxed);
        start_round();
        for (std::size_t left = m_threads.size(); left != 0;) {
            left = await_change(m_running, left, m_main_yields);
        }
    }

private:
    void start_round() {
        m_generation.fetch_add(1, std::memory_order_release);
        m_generation.notify_all();
    }

    // The value of a once it differs from old.
    static std::size_t await_change(const std::atomic<std::size_t>& a, std::size_t old,
                                    int yields) {
        for (int n = 0; n < yields && a.load(std::memory_order_acquire) == old; ++n) {
            std::this_thread::yield();
        }
        a.wait(old, std::memory_order_acquire);
        return a.load(std::memory_order_acquire);
    }

    void work(std::size_t i) {
        for (std::size_t seen = 0;;) {
            seen = await_change(m_generation, seen, max_yields);
            if (m_stop.load(std::memory_order_relaxed)) {
                return;
            }
            m_body(i);
            if (m_running.fetch_sub(1, std::memory_order_acq_rel) == 1) {
                m_running.notify_one();
            }
        }
    }

    static constexpr int max_yields = 2000;
    std::function<void(std::size_t)> m_body;
    int m_main_yields;

    // round() starts the next round only once every worker has finished this one, so that each
    // worker sees every generation.
    // Lines of their own: every worker polls m_generation while the others count m_running down.
    alignas(128) std::atomic<std::size_t> m_generation{0};
    alignas(128) std::atomic<std::size_t> m_running{0};
    std::atomic<bool> m_stop{false};
    std::vector<std::thread> m_threads;
};

// W6a, W6b: a single-threaded workload in every thread, Repeats iterations per round.
template <class Part, pmrkit_bench::workload Id, std::size_t Repeats>
class each_thread {
public:
    static constexpr pmrkit_bench::workload id = Id;
    static constexpr std::size_t ops = Part::ops * Repeats;
    struct shared {
        explicit shared(std::size_t /*threads*/) {}
        void drain(std::pmr::memory_resource* /*mr*/) {}
    };

    each_thread(std::pmr::memory_resource* mr, std::size_t index, shared& /*s*/) : m_part(mr) {
        // Each thread at its own place in the steps, as in larson: threads replaying one sequence
        // in lockstep would overflow a shared cache's class at the same moments.
        if constexpr (requires { m_part.start_at(index); }) {
            m_part.start_at(index * 7919);
        }
    }
    void round(std::size_t /*r*/) {
        for (std::size_t i = 0; i < Repeats; ++i) {
            m_part.iteration();
        }
    }
    [[nodiscard]] bool misaligned() const { return m_part.misaligned(); }

private:
    Part m_part;
};

// W6c, Larson-style: each round, every thread frees the 10,000 blocks (W3 sizes) its neighbour
// allocated in the round before, and allocates 10,000 for its other neighbour. With one thread,
// the blocks come back to the thread that took them. A round is as long as W6b's: with 1000
// blocks, the wake-up and the wait for the slowest thread between two rounds were as long as the
// round's work at 16 threads.
class larson : public workload_base {
public:
    static constexpr pmrkit_bench::workload id = pmrkit_bench::W6c;
    static constexpr std::size_t ops = 10'000; // frees + allocations, counted as pairs
    static constexpr std::size_t alignment = alignof(std::max_align_t);

    struct block {
        void* p;
        std::size_t bytes;
    };
    // A thread's list on lines of its own: one thread appends to it while its neighbours append
    // to theirs (adjacent vector headers made every append a write to a line shared with them).
    struct alignas(128) blocks {
        std::vector<block> list;
    };
    // [parity][thread]: the blocks thread t frees in the rounds of that parity.
    struct shared {
        explicit shared(std::size_t threads) : count(threads) {
            for (auto& side : slots) {
                side.resize(threads);
                for (blocks& b : side) {
                    b.list.reserve(ops);
                }
            }
        }
        void drain(std::pmr::memory_resource* mr) {
            for (auto& side : slots) {
                for (blocks& b : side) {
                    for (const block& x : b.list) {
                        mr->deallocate(x.p, x.bytes, alignment);
                    }
                    b.list.clear();
                }
            }
        }
        std::size_t count;
        std::array<std::vector<blocks>, 2> slots;
    };

    larson(std::pmr::memory_resource* mr, std::size_t index, shared& s)
        // Each thread starts at its own place in the sizes (wrapped: with 9 threads or more the
        // stride passes the end).
        : workload_base(mr), m_index(index), m_shared(s),
          m_next(index * 7919 % mixed_steps().size()) {}

    void round(std::size_t r) {
        std::pmr::memory_resource* mr = m_mr;
        std::vector<block>& in = m_shared.slots[r % 2][m_index].list;
        for (const block& b : in) {
            mr->deallocate(b.p, b.bytes, alignment);
        }
        in.clear();
        std::vector<block>& out = m_shared.slots[(r + 1) % 2][(m_index + 1) % m_shared.count].list;
        const std::vector<replacement>& steps = mixed_steps();
        std::uintptr_t bad = 0;
        for (std::size_t i = 0; i < ops; ++i) {
            const std::size_t bytes = steps[m_next].bytes;
            m_next = (m_next + 1) % steps.size();
            out.push_back({take(mr, bytes, alignment, bad), bytes});
        }
        m_misaligned |= bad;
    }

private:
    std::size_t m_index;
    shared& m_shared;
    std::size_t m_next;
};

using threaded_churn = each_thread<churn, pmrkit_bench::W6a, 20>;
using threaded_mixed = each_thread<mixed, pmrkit_bench::W6b, 10>;

template <class Threaded, std::size_t Threads>
void run_threaded(benchmark::State& state, const row& r) {
    // The rows call upstream from several threads (most under their own lock, not all).
    pmrkit::synchronized_resource<pmrkit_bench::counting_resource> counting(
        std::pmr::new_delete_resource());
    const auto calls_now = [&counting] {
        return counting.with_lock([](pmrkit_bench::counting_resource& c) { return c.calls(); });
    };
    pmrkit_bench::stack stack = r.make(r.is_upstream ? std::pmr::new_delete_resource() : &counting);
    // The workers reach the resource through the std::function below, opaque to the optimizer.
    std::pmr::memory_resource* const mr = stack.resource;

    typename Threaded::shared shared(Threads);
    std::vector<std::unique_ptr<Threaded>> parts(Threads);
    std::size_t round = 0;
    std::size_t calls = 0;
    {
        team workers(Threads, [&](std::size_t i) {
            if (!parts[i]) {
                parts[i] = std::make_unique<Threaded>(mr, i, shared);
            }
            parts[i]->round(round);
        });
        workers.round();
        ++round;
        const std::size_t calls_before = calls_now();
        for (auto _ : state) {
            workers.round();
            ++round;
        }
        calls = calls_now() - calls_before;
    }
    const bool misaligned =
        std::any_of(parts.begin(), parts.end(), [](const auto& p) { return p->misaligned(); });
    shared.drain(mr);
    parts.clear();

    const double ops_per_iter = static_cast<double>(Threaded::ops * Threads);
    const double ops = static_cast<double>(state.iterations()) * ops_per_iter;
    state.counters["ops_per_iter"] = ops_per_iter;
    // new_delete is every operation a malloc; its peak is not measured here (none is reported).
    state.counters["upstream_calls_per_op"] =
        r.is_upstream ? 1.0 : static_cast<double>(calls) / ops;
    if (!r.is_upstream) {
        state.counters["upstream_peak_bytes"] =
            counting.with_lock([](auto& c) { return static_cast<double>(c.peak_bytes()); });
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(ops));
    report_misaligned(state, r, Threaded::id, misaligned);
}

// --- The benchmark ------------------------------------------------------------------------------

// The counters every single-threaded benchmark reports; peak_live_bytes only where the workload
// keeps a live set (W3, W7, W9), so that the report can set the peak upstream against it.
void set_counters(benchmark::State& state, double ops_per_iter, double calls_per_op,
                  double peak_bytes, std::size_t peak_live_bytes) {
    state.counters["ops_per_iter"] = ops_per_iter;
    state.counters["upstream_calls_per_op"] = calls_per_op;
    state.counters["upstream_peak_bytes"] = peak_bytes;
    if (peak_live_bytes != 0) {
        state.counters["peak_live_bytes"] = static_cast<double>(peak_live_bytes);
    }
    state.SetItemsProcessed(
        static_cast<std::int64_t>(static_cast<double>(state.iterations()) * ops_per_iter));
}

// Workload::warm_up where the workload sets it, else 1.
template <class Workload>
constexpr std::size_t warm_up_iterations() {
    if constexpr (requires { Workload::warm_up; }) {
        return Workload::warm_up;
    } else {
        return 1;
    }
}

template <class Workload>
std::size_t peak_live_bytes_of(const Workload& w) {
    if constexpr (requires { w.peak_live_bytes(); }) {
        return w.peak_live_bytes();
    } else {
        return 0;
    }
}

// Runs `steps` iterations of a workload over a fresh stack of row r on upstream.
template <class Workload>
struct fresh_run {
    fresh_run(const row& r, std::pmr::memory_resource* upstream, std::size_t steps)
        : stack(r.make(upstream)), workload(stack.resource) {
        for (std::size_t i = 0; i < steps; ++i) {
            workload.iteration();
        }
    }
    pmrkit_bench::stack stack;
    Workload workload;
};

template <class Workload>
void run(benchmark::State& state, const row& r) {
    pmrkit_bench::counting_resource counting(std::pmr::new_delete_resource());
    pmrkit_bench::stack stack = build_timed(r, counting);
    std::pmr::memory_resource* mr = stack.resource;
    benchmark::DoNotOptimize(mr);

    std::size_t calls = 0;
    bool misaligned = false;
    std::size_t peak_live = 0;
    {
        Workload w(mr);
        const auto one_iteration = [&w, &stack] {
            w.iteration();
            if (stack.after_request) {
                stack.after_request();
            }
        };
        // Untimed and uncounted: the counts show the steady state (an arena or a stack that keeps
        // its memory across requests makes no upstream call once warm).
        // new_delete too: a preloaded malloc has caches to warm as a pool does.
        const std::size_t warm_up = warm_up_iterations<Workload>();
        for (std::size_t i = 0; i < warm_up; ++i) {
            one_iteration();
        }
        const std::size_t calls_before = counting.calls();
        for (auto _ : state) {
            one_iteration();
        }
        calls = counting.calls() - calls_before;
        misaligned = w.misaligned();
        peak_live = peak_live_bytes_of(w);
    }
    const double ops = static_cast<double>(state.iterations()) * Workload::ops;
    double calls_per_op = static_cast<double>(calls) / ops;
    auto peak_bytes = static_cast<double>(counting.peak_bytes());

    if (r.is_upstream) {
        pmrkit_bench::counting_resource untimed(std::pmr::new_delete_resource());
        pmrkit_bench::stack counted = r.make(&untimed);
        Workload w(counted.resource);
        const std::size_t calls_before = untimed.calls();
        w.iteration();
        calls_per_op = static_cast<double>(untimed.calls() - calls_before) /
                       static_cast<double>(Workload::ops);
        peak_bytes = static_cast<double>(untimed.peak_bytes());
    }
    set_counters(state, Workload::ops, calls_per_op, peak_bytes, peak_live);
    report_misaligned(state, r, Workload::id, misaligned);
}

// A fresh stack per benchmark iteration, which runs the workload's first Steps steps: what a pool
// costs before it is warm, its construction, first blocks and destruction included (W5f, W5s,
// W7f).
template <class Workload, pmrkit_bench::workload Id, std::size_t Steps>
void run_fresh(benchmark::State& state, const row& r) {
    static_assert(Workload::ops == 1, "a step is one operation");
    pmrkit_bench::counting_resource counting(std::pmr::new_delete_resource());
    bool misaligned = false;
    std::size_t peak_live = 0;
    for (auto _ : state) {
        const fresh_run<Workload> one(
            r, r.is_upstream ? std::pmr::new_delete_resource() : &counting, Steps);
        misaligned = misaligned || one.workload.misaligned();
        peak_live = std::max(peak_live, peak_live_bytes_of(one.workload));
    }
    const double ops = static_cast<double>(state.iterations()) * Steps;
    double calls_per_op = static_cast<double>(counting.calls()) / ops;
    auto peak_bytes = static_cast<double>(counting.peak_bytes());
    if (r.is_upstream) {
        pmrkit_bench::counting_resource untimed(std::pmr::new_delete_resource());
        { const fresh_run<Workload> counted(r, &untimed, Steps); }
        calls_per_op = static_cast<double>(untimed.calls()) / Steps;
        peak_bytes = static_cast<double>(untimed.peak_bytes());
    }
    set_counters(state, Steps, calls_per_op, peak_bytes, peak_live);
    report_misaligned(state, r, Id, misaligned);
}

struct workload_entry {
    pmrkit_bench::workload id;
    const char* name;
    const char* unit; // what one operation is, for the report
    void (*run)(benchmark::State&, const row&);
    bool threaded = false; // timed in real time, ops summed over the threads
};

template <class Workload>
constexpr workload_entry entry(const char* name, const char* unit) {
    return {Workload::id, name, unit, &run<Workload>};
}

template <class Workload, pmrkit_bench::workload Id, std::size_t Steps>
constexpr workload_entry fresh_entry(const char* name, const char* unit) {
    return {Id, name, unit, &run_fresh<Workload, Id, Steps>};
}

template <class Threaded, std::size_t Threads>
constexpr workload_entry threaded_entry(const char* name, const char* unit) {
    return {Threaded::id, name, unit, &run_threaded<Threaded, Threads>, true};
}

const workload_entry workloads[] = {
    entry<churn>("W1", "ns per 64 B alloc+free"),
    entry<batch>("W2", "ns per 64 B alloc+free"),
    entry<mixed>("W3", "ns per free+alloc"),
    entry<string_vector>("W4a", "ns per string"),
    entry<string_map>("W4b", "ns per insert or erase"),
    entry<hash_map>("W4c", "ns per insert"),
    entry<request>("W5", "ns per request"),
    fresh_entry<request, pmrkit_bench::W5f, 1>(
        "W5f", "ns per request, a fresh resource per request (its set-up and release included)"),
    fresh_entry<small_request, pmrkit_bench::W5s, 1>(
        "W5s", "ns per small request (8 strings, a map of 4), a fresh resource per request (its "
               "set-up and release included)"),
    entry<large>("W7", "ns per free+alloc+touch, warm pool"),
    fresh_entry<large, pmrkit_bench::W7f, 100>(
        "W7f", "ns per free+alloc+touch, a fresh pool every 100 steps (its set-up and release "
               "included)"),
    entry<aligned_churn>("W8", "ns per 256 B alloc+free, alignment 64"),
    entry<aligned_mixed>("W9", "ns per free+alloc, alignment 64"),
    threaded_entry<threaded_churn, 1>("W6a_t1", "ns per 64 B alloc+free, all threads"),
    threaded_entry<threaded_churn, 2>("W6a_t2", "ns per 64 B alloc+free, all threads"),
    threaded_entry<threaded_churn, 4>("W6a_t4", "ns per 64 B alloc+free, all threads"),
    threaded_entry<threaded_mixed, 1>("W6b_t1", "ns per free+alloc, all threads"),
    threaded_entry<threaded_mixed, 2>("W6b_t2", "ns per free+alloc, all threads"),
    threaded_entry<threaded_mixed, 4>("W6b_t4", "ns per free+alloc, all threads"),
    threaded_entry<larson, 1>("W6c_t1", "ns per free+alloc, all threads"),
    threaded_entry<larson, 2>("W6c_t2", "ns per cross-thread free+alloc, all threads"),
    threaded_entry<larson, 4>("W6c_t4", "ns per cross-thread free+alloc, all threads"),
    // More threads than this machine has cores, typically: a contention and correctness check.
    threaded_entry<threaded_churn, 8>("W6a_t8", "ns per 64 B alloc+free, all threads"),
    threaded_entry<threaded_churn, 16>("W6a_t16", "ns per 64 B alloc+free, all threads"),
    threaded_entry<threaded_mixed, 8>("W6b_t8", "ns per free+alloc, all threads"),
    threaded_entry<threaded_mixed, 16>("W6b_t16", "ns per free+alloc, all threads"),
    threaded_entry<larson, 8>("W6c_t8", "ns per cross-thread free+alloc, all threads"),
    threaded_entry<larson, 16>("W6c_t16", "ns per cross-thread free+alloc, all threads"),
};

// A long-running process's heap is grown and faulted in: without this, whichever row the random
// order runs first pays the process's first page faults (a fresh pool's 17 MiB, 100-400 times a
// step's time under glibc, up to 58 times under jemalloc). Less than glibc's trim threshold once
// raised (see set_glibc_state), so glibc keeps it.
void grow_heap() {
    constexpr std::size_t chunk = std::size_t{1} << 20;
    std::array<char*, 24> grown{};
    for (char*& c : grown) {
        c = static_cast<char*>(std::malloc(chunk));
        for (std::size_t offset = 0; offset < chunk; offset += large::page) {
            c[offset] = 1;
        }
        benchmark::DoNotOptimize(c);
    }
    for (char* c : grown) {
        std::free(c);
    }
}

// The state of glibc's malloc, from the environment variable PMRKIT_BENCH_GLIBC (compare.py runs
// W5f, W5s, W7 and W7f in one process per state). "mapped": the mmap threshold fixed at glibc's
// default, 128 KiB (mallopt also turns off its dynamic raise, which would lift the trim threshold
// with it), so that every block of 128 KiB or more is mapped when allocated and unmapped when
// freed, and the heap top is given back once 128 KiB of it is free, as in a fresh process. "warm":
// one 16 MiB block allocated and freed first, whose free raises glibc's dynamic mmap threshold to
// 16 MiB and its trim threshold to 32 MiB, as the frees of a long-running process do: large blocks
// then come from the heap and stay there; then grow_heap. Returns the state set ("default" without
// the variable), read back from glibc: a state that does not hold (an environment setting that
// overrides it) is reported as such, and report.py refuses the process's rows.
std::string set_glibc_state() {
    const char* wanted = std::getenv("PMRKIT_BENCH_GLIBC");
    const std::string state = wanted == nullptr || *wanted == '\0' ? "default" : wanted;
#if defined(__GLIBC__)
    // Whether glibc maps a large block (one of W7's sizes) rather than serving it from the heap.
    const auto maps_large_block = [] {
        const std::size_t before = mallinfo2().hblkhd;
        void* block = std::malloc(std::size_t{1} << 20);
        benchmark::DoNotOptimize(block);
        const bool mapped = mallinfo2().hblkhd > before;
        std::free(block);
        return mapped;
    };
    if (state == "mapped") {
        if (mallopt(M_MMAP_THRESHOLD, 128 * 1024) != 1) {
            return "mallopt failed";
        }
        return maps_large_block() ? state : "mapped set, but a 1 MiB block came from the heap";
    }
    if (state == "warm") {
        void* block = std::malloc(std::size_t{16} << 20);
        benchmark::DoNotOptimize(block);
        std::free(block);
        grow_heap();
        return maps_large_block() ? "warm set, but a 1 MiB block was mapped" : state;
    }
#endif
    return state == "default" ? state : "unknown (" + state + ")";
}

} // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        return 2;
    }

    const pmrkit_bench::malloc_check check = pmrkit_bench::check_malloc();
    benchmark::AddCustomContext("malloc_expected", check.expected);
    benchmark::AddCustomContext("malloc_resolved", check.resolved);
    benchmark::AddCustomContext("malloc_check", check.ok ? "ok" : "FAILED");
    benchmark::AddCustomContext("glibc_state", set_glibc_state());
    // A preloaded malloc's process runs the large blocks too, in the state of a long-running one.
    if (check.expected != "libc") {
        grow_heap();
    }
    if (!check.ok) {
        std::fprintf(stderr, "pmrkit_bench: malloc resolves to %s, expected %s\n",
                     check.resolved.c_str(), check.expected.c_str());
    }
#if defined(__clang__)
    benchmark::AddCustomContext("compiler", "clang " __clang_version__);
#else
    benchmark::AddCustomContext("compiler", "g++ " __VERSION__);
#endif
#if defined(NDEBUG)
    benchmark::AddCustomContext("pmrkit_build", "NDEBUG");
#else
    benchmark::AddCustomContext("pmrkit_build", "assertions on (not a release build)");
#endif
    // The instructions the compiler could use, named as the x86-64 levels: a figure that needs
    // POPCNT, say, does not hold for a build of the baseline level (g++'s default).
#if defined(__x86_64__) && defined(__AVX2__) && defined(__BMI2__) && defined(__FMA__)
    benchmark::AddCustomContext("target_isa", "x86-64-v3 or later");
#elif defined(__x86_64__) && defined(__SSE4_2__) && defined(__POPCNT__)
    benchmark::AddCustomContext("target_isa", "x86-64-v2");
#elif defined(__x86_64__)
    benchmark::AddCustomContext("target_isa", "x86-64 (baseline)");
#else
    benchmark::AddCustomContext("target_isa", "not x86-64");
#endif

    std::string row_order;
    for (const row& r : pmrkit_bench::rows()) {
        row_order += std::string(r.name) + ",";
        benchmark::AddCustomContext("note:" + std::string(r.name), std::string(r.note));
    }
    benchmark::AddCustomContext("rows", row_order);

    for (const workload_entry& w : workloads) {
        benchmark::AddCustomContext("unit:" + std::string(w.name), w.unit);
        for (const row& r : pmrkit_bench::rows()) {
            if ((r.workloads & w.id) != 0) {
                const std::string name = std::string(w.name) + "/" + std::string(r.name);
                auto* b = benchmark::RegisterBenchmark(
                    name.c_str(), [run = w.run, &r](benchmark::State& state) { run(state, r); });
                b->Unit(benchmark::kNanosecond);
                if (w.threaded) {
                    b->UseRealTime();
                }
            }
        }
    }

    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return g_failed ? 1 : 0;
}
