// SPDX-License-Identifier: MIT
// pmrkit_replay: replays an allocation trace (captured with libpmrkit_capture.so, format in
// docs/trace-format.md) through new_delete_resource and pmrkit's general-purpose resources, and
// says which to use: time per operation, its ratio to new_delete_resource, and the bytes each
// holds at its peak against the bytes the trace has live at its peak.
//
//     pmrkit_replay [--repetitions N] [--json] [--malloc-only] TRACE
//
// --json prints the results as one JSON object; --malloc-only replays new_delete_resource alone
// (bench/real_programs.py compares mallocs, each preloaded in its own process, that way).
// Every resource is called through std::pmr::memory_resource*. The trace's threads are replayed
// in their recorded order on one thread. malloc(n) is allocate(n, the largest power of two dividing
// n, at most 16) (trace_reader.hpp: malloc_alignment); calloc is allocate and zero; realloc is
// allocate, copy, deallocate. Every allocated block is written (a byte per 4 KiB page and its last
// byte), so untouched memory is not mistaken for memory saved.
//
// Time, warm: each repetition makes every resource, replays the trace through it twice (blocks
// still live at the trace's end freed untimed after each) and times the second replay, the state
// of a program that repeats its work; resources in an order rotated each repetition; the ratio to
// new_delete is taken within each repetition, and the median is printed. Time, fresh: the first
// replay of each resource, from construction, each in a child process forked before any replay
// (so that every row meets a fresh malloc, as the program's start did), one sample: page faults
// and upstream calls included, as a program's start pays them; with the child's minor page faults
// during it (getrusage), which is where a first replay's time goes beyond a warm one's.
// Memory: a pool's bytes held are its upstream's bytes outstanding at their peak (a counting
// resource over new_delete_resource), in that first replay. new_delete's are its child's peak
// resident set growth during its first replay (malloc fresh, as in the program):
// /proc/self/status VmHWM after resetting it through /proc/self/clear_refs, minus VmRSS before.
// The trace itself and the replay's own tables live in mmap'ed memory (page_resource), never in
// malloc's heap. Run under LD_PRELOAD=libmimalloc.so.2 (or any malloc) and new_delete's row is
// that malloc's.
//
// Not replayed: arena_resource (deallocate does nothing until release, so on a trace it holds every
// byte ever allocated; the replay prints that figure instead), fixed_block_resource (one block
// size, and a program's trace has hundreds), page_resource (a system call and a page per block).

#include "trace_reader.hpp"

#include <pmrkit/aligned_pool_resource.hpp>
#include <pmrkit/concurrent_pool_resource.hpp>
#include <pmrkit/size_class_resource.hpp>
#include <pmrkit/sources/heap_resource.hpp>
#include <pmrkit/sources/page_resource.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <memory>
#include <memory_resource>
#include <optional>
#include <span>
#include <string>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace {

namespace trace = pmrkit::trace;

// Counts the bytes its resource has outstanding upstream, and their peak.
class counting_resource final : public std::pmr::memory_resource {
public:
    explicit counting_resource(std::pmr::memory_resource* upstream) : m_upstream(upstream) {}
    [[nodiscard]] std::size_t peak() const noexcept { return m_peak; }

private:
    void* do_allocate(std::size_t bytes, std::size_t alignment) override {
        void* p = m_upstream->allocate(bytes, alignment);
        m_now += bytes;
        m_peak = std::max(m_peak, m_now);
        return p;
    }
    void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override {
        m_upstream->deallocate(p, bytes, alignment);
        m_now -= bytes;
    }
    [[nodiscard]] bool do_is_equal(const memory_resource& other) const noexcept override {
        return this == &other;
    }

    std::pmr::memory_resource* m_upstream;
    std::size_t m_now = 0;
    std::size_t m_peak = 0;
};

// One resource under test: how to make a fresh one over an upstream, and what to tell a user.
struct row {
    const char* name;
    const char* declaration; // how to write it, options included
    bool thread_safe;
    // Null for the rows that are malloc itself (new_delete, heap): no upstream to count.
    std::function<std::unique_ptr<std::pmr::memory_resource>(std::pmr::memory_resource*)> make;
    std::pmr::memory_resource* fixed = nullptr;
};

std::vector<row> rows() {
    using std::make_unique;
    return {
        {"new_delete_resource", "std::pmr::new_delete_resource()", true, nullptr,
         std::pmr::new_delete_resource()},
        {"heap_resource", "pmrkit::heap()", true, nullptr, pmrkit::heap()},
        {"size_class", "pmrkit::size_class_resource pool;", false,
         [](auto* up) { return make_unique<pmrkit::size_class_resource>(up); }},
        {"size_class no large cache", "pmrkit::size_class_resource pool({.large_cache_bytes = 0});",
         false,
         [](auto* up) {
             return make_unique<pmrkit::size_class_resource>(
                 pmrkit::size_class_options{.large_cache_bytes = 0}, up);
         }},
        {"size_class lean",
         "pmrkit::size_class_resource pool({.max_empty_spans = 0, .empty_span_decay = 0, "
         ".large_cache_bytes = 0});",
         false,
         [](auto* up) {
             return make_unique<pmrkit::size_class_resource>(
                 pmrkit::size_class_options{
                     .max_empty_spans = 0, .empty_span_decay = 0, .large_cache_bytes = 0},
                 up);
         }},
        {"aligned_pool", "pmrkit::aligned_pool_resource pool;", false,
         [](auto* up) { return make_unique<pmrkit::aligned_pool_resource>(up); }},
        {"concurrent_pool", "pmrkit::concurrent_pool_resource pool;", true,
         [](auto* up) { return make_unique<pmrkit::concurrent_pool_resource>(up); }},
        {"std unsynchronized_pool", "std::pmr::unsynchronized_pool_resource pool;", false,
         [](auto* up) { return make_unique<std::pmr::unsynchronized_pool_resource>(up); }},
    };
}

// The replay's view of the trace's slots; in page_resource memory like the events.
struct slots {
    explicit slots(std::size_t n, std::pmr::memory_resource* storage)
        : pointer(n, nullptr, storage), size(n, 0, storage), alignment(n, 1, storage) {}
    std::pmr::vector<unsigned char*> pointer;
    std::pmr::vector<std::uint64_t> size;
    std::pmr::vector<std::size_t> alignment;
};

void touch(unsigned char* p, std::uint64_t n) noexcept {
    for (std::uint64_t i = 0; i < n; i += 4096) {
        p[i] = 1;
    }
    if (n != 0) {
        p[n - 1] = 1;
    }
}

// Every event of t through r, the blocks kept in s.
void replay_events(std::pmr::memory_resource* r, const trace::parsed_trace& t, slots& s) {
    for (const trace::event& e : t.events) {
        switch (e.kind) {
        case trace::event_kind::allocate:
        case trace::event_kind::zero_allocate:
        case trace::event_kind::reallocate: {
            const std::size_t alignment = std::size_t{1} << e.alignment_log2;
            auto* p = static_cast<unsigned char*>(r->allocate(e.size, alignment));
            if (e.kind == trace::event_kind::zero_allocate) {
                std::memset(p, 0, e.size);
            } else if (e.kind == trace::event_kind::reallocate) {
                std::memcpy(p, s.pointer[e.old_slot], std::min(e.size, s.size[e.old_slot]));
                r->deallocate(s.pointer[e.old_slot], s.size[e.old_slot], s.alignment[e.old_slot]);
                s.pointer[e.old_slot] = nullptr;
            }
            touch(p, e.size);
            s.pointer[e.slot] = p;
            s.size[e.slot] = e.size;
            s.alignment[e.slot] = alignment;
            break;
        }
        case trace::event_kind::deallocate:
            r->deallocate(s.pointer[e.slot], s.size[e.slot], s.alignment[e.slot]);
            s.pointer[e.slot] = nullptr;
            break;
        }
    }
}

// Gives every block still in s back to r.
void free_left(std::pmr::memory_resource* r, slots& s) noexcept {
    for (std::size_t i = 0; i < s.pointer.size(); ++i) {
        if (s.pointer[i] != nullptr) {
            r->deallocate(s.pointer[i], s.size[i], s.alignment[i]);
            s.pointer[i] = nullptr;
        }
    }
}

// Replays every event through r; returns the seconds the events took. Frees what is left after,
// also when an allocation throws (the exception propagates).
double replay(std::pmr::memory_resource* r, const trace::parsed_trace& t, slots& s) {
    try {
        const auto start = std::chrono::steady_clock::now();
        replay_events(r, t, s);
        const auto stop = std::chrono::steady_clock::now();
        free_left(r, s);
        return std::chrono::duration<double>(stop - start).count();
    } catch (...) {
        free_left(r, s);
        throw;
    }
}

// A kB field of /proc/self/status, read without malloc (the replay measures malloc).
std::optional<std::uint64_t> status_kb(const char* field) {
    char buffer[8192];
    const int fd = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return std::nullopt;
    }
    const ssize_t n = ::read(fd, buffer, sizeof buffer - 1);
    ::close(fd);
    if (n <= 0) {
        return std::nullopt;
    }
    buffer[n] = '\0';
    const char* at = std::strstr(buffer, field);
    if (at == nullptr) {
        return std::nullopt;
    }
    return std::strtoull(at + std::strlen(field), nullptr, 10);
}

// Minor page faults of this process so far (pages first touched, or copied on write).
std::uint64_t minor_faults() {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    return static_cast<std::uint64_t>(usage.ru_minflt);
}

// Peak resident growth in bytes while f runs, or nothing where Linux's counters are unavailable.
std::optional<std::uint64_t> peak_rss_growth(const std::function<void()>& f) {
    const int fd = ::open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    const bool reset = fd >= 0 && ::write(fd, "5", 1) == 1;
    if (fd >= 0) {
        ::close(fd);
    }
    const auto before = status_kb("VmRSS:");
    f();
    const auto peak = status_kb("VmHWM:");
    if (!reset || !before || !peak) {
        return std::nullopt;
    }
    return (*peak > *before ? *peak - *before : 0) * 1024;
}

struct result {
    std::optional<std::uint64_t> held; // bytes at peak, in the first replay
    double fresh_seconds = 0;          // the first replay: a fresh resource (and malloc)
    std::uint64_t fresh_faults = 0;    // its minor page faults
    std::vector<double> seconds;       // per repetition
    std::vector<double> ratio;         // to new_delete, per repetition
    std::string error;
    [[nodiscard]] double median_ratio() const {
        auto v = ratio;
        std::sort(v.begin(), v.end());
        return v.empty() ? 0 : v[v.size() / 2];
    }
    [[nodiscard]] double median_seconds() const {
        auto v = seconds;
        std::sort(v.begin(), v.end());
        return v.empty() ? 0 : v[v.size() / 2];
    }
};

std::string malloc_name() {
    const char* preload = std::getenv("LD_PRELOAD");
    if (preload == nullptr || *preload == '\0') {
        return "glibc";
    }
    std::string p = preload;
    if (const auto slash = p.rfind('/'); slash != std::string::npos) {
        p.erase(0, slash + 1);
    }
    return p;
}

std::string mib(std::uint64_t bytes) {
    char b[32];
    std::snprintf(b, sizeof b, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
    return b;
}

struct options {
    int repetitions = 5;
    bool json = false;
    bool malloc_only = false; // new_delete's row alone: to compare mallocs across processes
    const char* path = nullptr;
};

int usage() {
    std::fputs("usage: pmrkit_replay [--repetitions N] [--json] [--malloc-only] TRACE\n", stderr);
    return 2;
}

// Which row to use: the fastest pmrkit row holding at most 1.25x the bytes new_delete holds (any,
// where new_delete's could not be measured); only thread-safe rows for a trace of several threads.
std::optional<std::size_t> recommend(const std::vector<row>& rs, const std::vector<result>& res,
                                     bool threads) {
    const double live_ref = res[0].held ? static_cast<double>(*res[0].held) : 0;
    std::optional<std::size_t> best;
    for (std::size_t i = 1; i < rs.size(); ++i) {
        if (!rs[i].make || !res[i].error.empty() || (threads && !rs[i].thread_safe) ||
            std::string_view(rs[i].name).starts_with("std")) {
            continue;
        }
        const auto held = static_cast<double>(*res[i].held);
        if (live_ref != 0 && held > 1.25 * live_ref) {
            continue;
        }
        if (!best || res[i].median_ratio() < res[*best].median_ratio()) {
            best = i;
        }
    }
    return best;
}

// The baseline could not replay the trace: nothing can be compared.
int no_memory(const char* path, const trace::trace_summary& sum, const char* what) {
    std::fprintf(stderr,
                 "pmrkit_replay: %s: new_delete_resource could not replay the trace (%s): it "
                 "needs %llu bytes live at once, more than this process can get\n",
                 path, what, static_cast<unsigned long long>(sum.peak_live_bytes));
    return 1;
}

// What a first replay measured, passed from the child that ran it.
struct first_replay {
    double seconds = 0;
    std::uint64_t faults = 0; // minor page faults from the construction to the end of the replay
    bool has_held = false;
    std::uint64_t held = 0;
    char error[256] = {};
};

// The first replay of row r, from a fresh instance, in a child forked before any replay: every
// row meets malloc as the program's start met it (only the parser's few blocks taken). Run one
// after another in this process, each row after new_delete's met a malloc that it had warmed
// (heap_resource, the same malloc, then took 0.38 of new_delete's time). The baseline's bytes held
// are the child's resident set growth.
first_replay first_replay_of(const row& r, bool baseline, const trace::parsed_trace& t, slots& s) {
    first_replay out;
    int fds[2];
    if (::pipe(fds) != 0) {
        std::snprintf(out.error, sizeof out.error, "pipe: %s", std::strerror(errno));
        return out;
    }
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::close(fds[0]);
        const std::uint64_t faults_before = minor_faults();
        try {
            if (baseline) {
                const auto held = peak_rss_growth([&] { out.seconds = replay(r.fixed, t, s); });
                out.has_held = held.has_value();
                out.held = held.value_or(0);
            } else if (r.make) {
                counting_resource counter(std::pmr::new_delete_resource());
                out.seconds = replay(r.make(&counter).get(), t, s);
                out.has_held = true;
                out.held = counter.peak();
            } else {
                out.seconds = replay(r.fixed, t, s);
            }
        } catch (const std::exception& e) {
            std::snprintf(out.error, sizeof out.error, "%s", e.what());
        }
        out.faults = minor_faults() - faults_before;
        const bool sent = ::write(fds[1], &out, sizeof out) == static_cast<ssize_t>(sizeof out);
        ::_exit(sent ? 0 : 1);
    }
    ::close(fds[1]);
    const bool received =
        pid > 0 && ::read(fds[0], &out, sizeof out) == static_cast<ssize_t>(sizeof out);
    ::close(fds[0]);
    if (pid > 0) {
        ::waitpid(pid, nullptr, 0);
    }
    if (!received) {
        out = {};
        std::snprintf(out.error, sizeof out.error, "the first replay's process %s",
                      pid < 0 ? "could not start" : "ended without a result");
    }
    return out;
}

} // namespace

int main(int argc, char** argv) {
    options opt;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--repetitions" && i + 1 < argc) {
            opt.repetitions = std::max(1, std::atoi(argv[++i]));
        } else if (a == "--json") {
            opt.json = true;
        } else if (a == "--malloc-only") {
            opt.malloc_only = true;
        } else if (!a.starts_with("-") && opt.path == nullptr) {
            opt.path = argv[i];
        } else {
            return usage();
        }
    }
    if (opt.path == nullptr) {
        return usage();
    }

    pmrkit::page_resource pages; // the trace's storage, outside malloc's heap
    trace::parsed_trace t;
    {
        const int fd = ::open(opt.path, O_RDONLY | O_CLOEXEC);
        struct stat st {};
        if (fd < 0 || ::fstat(fd, &st) != 0) {
            std::fprintf(stderr, "pmrkit_replay: cannot open %s: %s\n", opt.path,
                         std::strerror(errno));
            return 1;
        }
        const auto size = static_cast<std::size_t>(st.st_size);
        void* map = size == 0 ? nullptr : ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
        ::close(fd);
        if (map == MAP_FAILED) {
            std::fprintf(stderr, "pmrkit_replay: cannot map %s: %s\n", opt.path,
                         std::strerror(errno));
            return 1;
        }
        try {
            t = trace::parse({static_cast<const std::byte*>(map), size}, &pages);
        } catch (const trace::trace_error& e) {
            std::fprintf(stderr, "pmrkit_replay: %s: %s\n", opt.path, e.what());
            return 1;
        }
        if (map != nullptr) {
            ::munmap(map, size);
        }
    }
    slots s(t.summary.slots, &pages);
    const auto& sum = t.summary;
    std::vector<row> rs = rows();
    if (opt.malloc_only) {
        rs.resize(1);
    }
    std::vector<result> res(rs.size());

    // Fresh first, each in a process of its own: the time and the memory of a first replay.
    for (std::size_t i = 0; i < rs.size(); ++i) {
        const first_replay first = first_replay_of(rs[i], i == 0, t, s);
        if (first.error[0] != '\0') {
            if (i == 0) {
                return no_memory(opt.path, sum, first.error);
            }
            res[i].error = first.error;
            continue;
        }
        res[i].fresh_seconds = first.seconds;
        res[i].fresh_faults = first.faults;
        if (first.has_held) {
            res[i].held = first.held;
        }
    }
    for (int rep = 0; rep < opt.repetitions; ++rep) {
        std::vector<double> seconds(rs.size(), 0);
        for (std::size_t k = 0; k < rs.size(); ++k) {
            const std::size_t i = (k + static_cast<std::size_t>(rep)) % rs.size();
            if (!res[i].error.empty()) {
                continue;
            }
            // Warm: the second replay on the same instance is timed.
            try {
                if (rs[i].make) {
                    counting_resource counter(std::pmr::new_delete_resource());
                    const auto r = rs[i].make(&counter);
                    replay(r.get(), t, s);
                    seconds[i] = replay(r.get(), t, s);
                } else {
                    replay(rs[i].fixed, t, s);
                    seconds[i] = replay(rs[i].fixed, t, s);
                }
            } catch (const std::exception& e) {
                if (i == 0) {
                    return no_memory(opt.path, sum, e.what());
                }
                res[i].error = e.what();
            }
        }
        for (std::size_t i = 0; i < rs.size(); ++i) {
            res[i].seconds.push_back(seconds[i]);
            res[i].ratio.push_back(seconds[i] / seconds[0]);
        }
    }

    const auto events = static_cast<double>(std::max<std::size_t>(t.events.size(), 1));
    const auto live = static_cast<double>(std::max<std::uint64_t>(sum.peak_live_bytes, 1));
    const bool threads = sum.threads > 1;
    const auto best = recommend(rs, res, threads);
    if (opt.json) {
        std::printf("{\"trace\": \"%s\", \"malloc\": \"%s\", \"events\": %zu, \"records\": %llu, "
                    "\"threads\": %u, \"peak_live_bytes\": %llu, \"allocated_bytes\": %llu, "
                    "\"unknown_frees\": %llu, \"capped\": %s, \"rows\": [",
                    opt.path, malloc_name().c_str(), t.events.size(),
                    static_cast<unsigned long long>(sum.records), sum.threads,
                    static_cast<unsigned long long>(sum.peak_live_bytes),
                    static_cast<unsigned long long>(sum.allocated_bytes),
                    static_cast<unsigned long long>(sum.unknown_frees),
                    sum.capped ? "true" : "false");
        for (std::size_t i = 0; i < rs.size(); ++i) {
            std::printf("%s{\"name\": \"%s\", \"ns_per_op\": %.3f, \"ratio\": %.4f, "
                        "\"fresh_ns_per_op\": %.3f, \"fresh_ratio\": %.4f, "
                        "\"fresh_faults\": %llu, \"held\": %s, \"error\": \"%s\"}",
                        i == 0 ? "" : ", ", rs[i].name, res[i].median_seconds() * 1e9 / events,
                        res[i].median_ratio(), res[i].fresh_seconds * 1e9 / events,
                        res[i].fresh_seconds / res[0].fresh_seconds,
                        static_cast<unsigned long long>(res[i].fresh_faults),
                        res[i].held ? std::to_string(*res[i].held).c_str() : "null",
                        res[i].error.c_str());
        }
        std::printf("], \"recommendation\": \"%s\"}\n",
                    best ? rs[*best].name : "new_delete_resource");
        return 0;
    }

    std::printf("trace %s: %llu records%s, %zu replayed events, %u thread%s\n", opt.path,
                static_cast<unsigned long long>(sum.records),
                sum.capped ? " (capture stopped at its cap)" : "", t.events.size(), sum.threads,
                sum.threads == 1 ? "" : "s (replayed in their recorded order on one thread)");
    std::printf("  peak live %s in %llu blocks; %s allocated in %llu allocations; largest %llu "
                "bytes; largest explicit alignment %llu\n",
                mib(sum.peak_live_bytes).c_str(),
                static_cast<unsigned long long>(sum.peak_live_blocks),
                mib(sum.allocated_bytes).c_str(), static_cast<unsigned long long>(sum.allocations),
                static_cast<unsigned long long>(sum.max_size),
                static_cast<unsigned long long>(sum.max_alignment));
    std::printf("  skipped: %llu frees and %llu reallocs of pointers the trace never allocated "
                "(the realloc's new block is replayed); %llu allocations at a live address (the "
                "old block freed first); %llu cross-thread frees\n\n",
                static_cast<unsigned long long>(sum.unknown_frees),
                static_cast<unsigned long long>(sum.unknown_reallocs),
                static_cast<unsigned long long>(sum.reused_live),
                static_cast<unsigned long long>(sum.cross_thread_frees));
    std::printf("malloc: %s; %d repetitions, interleaved, medians\n\n", malloc_name().c_str(),
                opt.repetitions);
    std::printf(
        "| resource | ns/op (warm) | time vs new_delete (warm) | first replay vs new_delete "
        "(fresh, 1 sample) | page faults (fresh) | held at peak | held / live |\n"
        "|---|---:|---:|---:|---:|---:|---:|\n");
    for (std::size_t i = 0; i < rs.size(); ++i) {
        if (!res[i].error.empty()) {
            std::printf("| %s | failed: %s | | | | |\n", rs[i].name, res[i].error.c_str());
            continue;
        }
        std::string held = "(malloc's)";
        std::string ratio = "—";
        if (res[i].held) {
            held = mib(*res[i].held) + (i == 0 ? " (RSS growth)" : "");
            char b[32];
            std::snprintf(b, sizeof b, "%.2f", static_cast<double>(*res[i].held) / live);
            ratio = b;
        } else if (i == 0) {
            held = "n/a (no /proc/self/clear_refs)";
        }
        std::printf("| %s | %.1f | %.2f | %.2f | %llu | %s | %s |\n", rs[i].name,
                    res[i].median_seconds() * 1e9 / events, res[i].median_ratio(),
                    res[i].fresh_seconds / res[0].fresh_seconds,
                    static_cast<unsigned long long>(res[i].fresh_faults), held.c_str(),
                    ratio.c_str());
    }
    std::printf("\narena_resource: not replayed (deallocate does nothing until release): it would "
                "hold every byte the trace allocates, %s = %.1fx peak live\n",
                mib(sum.allocated_bytes).c_str(), static_cast<double>(sum.allocated_bytes) / live);
    if (best) {
        std::printf("recommendation: %s  (%.2fx new_delete's time, holds %.2fx live)\n",
                    rs[*best].declaration, res[*best].median_ratio(),
                    static_cast<double>(*res[*best].held) / live);
    } else {
        std::printf("recommendation: keep std::pmr::new_delete_resource() (or pmrkit::heap()): "
                    "no pool holds less than 1.25x its memory%s\n",
                    threads ? " among the thread-safe ones" : "");
    }
    return 0;
}
