// SPDX-License-Identifier: MIT
// Which form of operator new and delete heap_resource calls, and with what size: this program
// replaces the global operators with ones that log their calls, so it is a test binary of its own.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include "pmrkit/sources/heap_resource.hpp"

#include "pmrkit/detail/math.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <new>
#include <ostream>
#include <vector>

namespace {

enum class form {
    plain_new,
    aligned_new,
    plain_delete,
    sized_delete,
    aligned_delete,
    sized_aligned_delete
};

struct call {
    form kind;
    std::size_t bytes;     // 0 for the unsized deletes
    std::size_t alignment; // 0 for the plain forms
    bool operator==(const call&) const = default;
};

std::ostream& operator<<(std::ostream& os, const call& c) {
    constexpr const char* names[] = {"new",          "aligned new",    "delete",
                                     "sized delete", "aligned delete", "sized aligned delete"};
    return os << names[static_cast<std::size_t>(c.kind)] << "(" << c.bytes << ", " << c.alignment
              << ")";
}

// Fixed storage: the log must not allocate while the operators record into it.
struct call_log {
    static constexpr std::size_t capacity = 8;
    call calls[capacity];
    std::size_t count = 0;
    bool recording = false;
    // The next this many aligned new calls return blocks misaligned by half the alignment, as
    // mimalloc 2.0.9 does for some shapes.
    std::size_t misaligned_answers = 0;

    void record(call c) noexcept {
        if (recording && count < capacity) {
            calls[count++] = c;
        }
    }
};

call_log calls;

// The calls made by `f`, in order.
template <class F>
std::vector<call> calls_of(F f) {
    calls.count = 0;
    calls.recording = true;
    f();
    calls.recording = false;
    return std::vector<call>(calls.calls, calls.calls + calls.count);
}

void* checked(void* p) {
    if (p == nullptr) {
        throw std::bad_alloc();
    }
    return p;
}

} // namespace

void* operator new(std::size_t bytes) {
    calls.record({form::plain_new, bytes, 0});
    return checked(std::malloc(bytes == 0 ? 1 : bytes));
}

void* operator new(std::size_t bytes, std::align_val_t alignment) {
    const auto a = static_cast<std::size_t>(alignment);
    calls.record({form::aligned_new, bytes, a});
    // aligned_alloc wants a non-zero multiple of the alignment; the extra `a` bytes leave room to
    // misalign.
    auto* p = static_cast<char*>(checked(std::aligned_alloc(a, ((bytes + a) & ~(a - 1)) + a)));
    if (calls.misaligned_answers > 0) {
        --calls.misaligned_answers;
        return p + a / 2;
    }
    return p;
}

void operator delete(void* p) noexcept {
    calls.record({form::plain_delete, 0, 0});
    std::free(p);
}

void operator delete(void* p, std::size_t bytes) noexcept {
    calls.record({form::sized_delete, bytes, 0});
    std::free(p);
}

// The aligned deletes undo the misalignment of a faked answer.
void* block_of(void* p, std::align_val_t alignment) noexcept {
    const auto a = static_cast<std::size_t>(alignment);
    return reinterpret_cast<std::uintptr_t>(p) % a == 0 ? p : static_cast<char*>(p) - a / 2;
}

void operator delete(void* p, std::align_val_t alignment) noexcept {
    calls.record({form::aligned_delete, 0, static_cast<std::size_t>(alignment)});
    std::free(block_of(p, alignment));
}

void operator delete(void* p, std::size_t bytes, std::align_val_t alignment) noexcept {
    calls.record({form::sized_aligned_delete, bytes, static_cast<std::size_t>(alignment)});
    std::free(block_of(p, alignment));
}

namespace pmrkit::test {

TEST_CASE("heap_resource: plain new and delete whenever plain new guarantees the alignment") {
    heap_resource& heap = *pmrkit::heap();
    for (std::size_t alignment = 1; alignment <= heap_resource::plain_new_alignment;
         alignment *= 2) {
        for (std::size_t bytes = 0; bytes <= 300; ++bytes) {
            CAPTURE(bytes);
            CAPTURE(alignment);
            void* p = nullptr;
            const auto allocated = calls_of([&] { p = heap.allocate(bytes, alignment); });
            const auto freed = calls_of([&] { heap.deallocate(p, bytes, alignment); });
            REQUIRE(allocated.size() == 1);
            REQUIRE(freed.size() == 1);
            const std::size_t asked = allocated[0].bytes;
            CHECK(allocated[0].kind == form::plain_new);
            // Plain new guarantees alignment a only for sizes that are multiples of a.
            CHECK(asked % alignment == 0);
            CHECK(asked >= std::max<std::size_t>(bytes, 1));
            CHECK(asked - std::max<std::size_t>(bytes, 1) < alignment);
            CHECK(freed[0] == call{form::plain_delete, 0, 0});
        }
    }
}

TEST_CASE("heap_resource: the exact sizes asked of plain new") {
    heap_resource& heap = *pmrkit::heap();
    const auto asked = [&](std::size_t bytes, std::size_t alignment) {
        void* p = nullptr;
        const auto log = calls_of([&] { p = heap.allocate(bytes, alignment); });
        heap.deallocate(p, bytes, alignment);
        return log;
    };
    // a: 16 on x86-64, 8 where the fundamental alignment is 8 (armhf).
    constexpr std::size_t a = heap_resource::plain_new_alignment;
    CHECK(asked(64, a) == std::vector<call>{{form::plain_new, 64, 0}});
    CHECK(asked(64, 8) == std::vector<call>{{form::plain_new, 64, 0}});
    CHECK(asked(24, 8) == std::vector<call>{{form::plain_new, 24, 0}});
    CHECK(asked(a + a / 2, a) == std::vector<call>{{form::plain_new, 2 * a, 0}}); // 24, 16: 32
    CHECK(asked(a / 2, a) == std::vector<call>{{form::plain_new, a, 0}});
    CHECK(asked(0, a) == std::vector<call>{{form::plain_new, a, 0}});
    CHECK(asked(0, 1) == std::vector<call>{{form::plain_new, 1, 0}});
    // Past the fast path's bound (2 GiB), the same rule; malloc maps such a block lazily. In 32
    // bits the size is past half the address space: unsatisfiable, refused before operator new.
    if constexpr (sizeof(void*) == 8) {
        constexpr std::size_t huge = (std::size_t{1} << 31) + 1;
        CHECK(asked(huge, a) == std::vector<call>{{form::plain_new, huge + a - 1, 0}});
    }
}

TEST_CASE("heap_resource: aligned new and delete above plain new's alignment") {
    heap_resource& heap = *pmrkit::heap();
    for (std::size_t alignment = 2 * heap_resource::plain_new_alignment; alignment <= 4096;
         alignment *= 2) {
        for (const std::size_t bytes : {0u, 1u, 24u, 64u, 100u, 4096u, 5000u}) {
            CAPTURE(bytes);
            CAPTURE(alignment);
            void* p = nullptr;
            const auto allocated = calls_of([&] { p = heap.allocate(bytes, alignment); });
            const auto freed = calls_of([&] { heap.deallocate(p, bytes, alignment); });
            CHECK(allocated == std::vector<call>{{form::aligned_new, bytes, alignment}});
            CHECK(freed == std::vector<call>{{form::aligned_delete, 0, alignment}});
        }
    }
}

TEST_CASE("heap_resource: a misaligned answer from aligned new is never handed out") {
    heap_resource& heap = *pmrkit::heap();
    void* p = nullptr;
    calls.misaligned_answers = 1;
    const auto retried = calls_of([&] { p = heap.allocate(256, 256); });
    CHECK(retried == std::vector<call>{{form::aligned_new, 256, 256},
                                       {form::aligned_delete, 0, 256},
                                       {form::aligned_new, 257, 256}});
    CHECK(pmrkit::detail::is_aligned(p, 256));
    heap.deallocate(p, 256, 256);

    calls.misaligned_answers = 2;
    bool threw = false;
    const auto refused = calls_of([&] {
        try {
            p = heap.allocate(512, 512);
        } catch (const std::bad_alloc&) {
            threw = true;
        }
    });
    CHECK(threw);
    CHECK(refused == std::vector<call>{{form::aligned_new, 512, 512},
                                       {form::aligned_delete, 0, 512},
                                       {form::aligned_new, 513, 512},
                                       {form::aligned_delete, 0, 512}});
    calls.misaligned_answers = 0;
}

TEST_CASE("heap_resource: impossible requests never reach operator new") {
    heap_resource& heap = *pmrkit::heap();
    // volatile: these requests are meant to be impossible, which compilers would warn about.
    volatile std::size_t max = std::numeric_limits<std::size_t>::max();
    // {max / 2 - a + 1, a}: one byte past detail::is_satisfiable's bound at plain new's alignment,
    // which in 32 bits the fast path's 2 GiB bound alone would let through.
    constexpr std::size_t a = heap_resource::plain_new_alignment;
    const std::size_t requests[][2] = {
        {max, 1},           {max, 8},     {max, 16},         {max - 15, 16},
        {max - 4095, 4096}, {max / 2, 8}, {max / 2 - 8, 16}, {max / 2 - a + 1, a},
        {64, 24},           {64, 0}};
    for (const auto& request : requests) {
        const std::size_t bytes = request[0]; // not bindings: clang 14 cannot capture those
        const std::size_t alignment = request[1];
        CAPTURE(bytes);
        CAPTURE(alignment);
        bool threw = false;
        const auto log = calls_of([&] {
            try {
                static_cast<void>(heap.allocate(bytes, alignment));
            } catch (const std::bad_alloc&) {
                threw = true;
            }
        });
        CHECK(threw);
        CHECK(log.empty());
    }
}

} // namespace pmrkit::test
