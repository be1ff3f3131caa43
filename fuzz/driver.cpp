// SPDX-License-Identifier: MIT
// The libFuzzer driver, built once per target in targets.hpp (PMRKIT_FUZZ_TARGET names it). The
// input is a sequence of operations on the target's stack, built over a pmrkit::test_resource
// (which aborts on a foreign pointer, a double free, a size or alignment mismatch, an overrun, a
// write after free or a leak). A model of the live blocks checks every answer:
//   - a possible request gets a non-null block aligned as asked, overlapping no live block
//     (unless the target documents a budget that may refuse it);
//   - an impossible one (size or alignment near SIZE_MAX, an alignment that is not a power of
//     two and above 4096) throws std::bad_alloc;
//   - a block's contents (a pattern unique to it) are intact when it is freed and at the end;
//   - after the stack is destroyed, everything is back in the test_resource, and in the target's
//     own source if it has one (source_bytes).
#include "input.hpp"
#include "targets.hpp"

#include "support/patterned_block.hpp"

#include "pmrkit/detail/math.hpp"
#include "pmrkit/decorators/test_resource.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <new>
#include <vector>

namespace pmrkit::fuzz {
namespace {

[[noreturn]] void fail(const char* what, std::size_t bytes, std::size_t alignment) {
    std::fprintf(stderr, "pmrkit fuzz: %s (bytes %zu, alignment %zu)\n", what, bytes, alignment);
    std::abort();
}

constexpr std::size_t max_live_blocks = 2000;
constexpr std::size_t max_live_bytes = std::size_t{32} << 20;

struct request {
    std::size_t bytes;
    std::size_t alignment;
};

// Sizes: mostly small, some up to pages and large blocks, zero, and near SIZE_MAX. Alignments:
// powers of two up to 4 MiB, at or near 2^63, and others (all above 4096 unless the target
// defines small ones).
request draw_request(input& in, bool small_odd_alignments) {
    constexpr std::size_t max = std::numeric_limits<std::size_t>::max();
    request r{};
    switch (in.below(8)) {
    case 0:
        r.bytes = 0;
        break;
    case 1:
        r.bytes = in.below(70000);
        break;
    case 2:
        r.bytes = in.below(std::size_t{1} << 18);
        break;
    case 3:
        r.bytes = max - in.below(std::size_t{1} << 20) * (in.boolean() ? 1 : std::size_t{1} << 40);
        break;
    default:
        r.bytes = in.below(300);
        break;
    }
    switch (in.below(16)) {
    case 0:
        r.alignment = std::size_t{1} << (13 + in.below(10));
        break;
    case 1:
        r.alignment = std::size_t{1} << (62 + in.below(2));
        break;
    case 2:
        r.alignment = 1 + in.below(20000);
        if (!small_odd_alignments && !detail::is_power_of_two(r.alignment) &&
            r.alignment <= 4096) {
            r.alignment += 4096;
        }
        break;
    default:
        r.alignment = std::size_t{1} << in.below(13);
        break;
    }
    return r;
}

class model {
public:
    explicit model(std::pmr::memory_resource& resource) : m_resource(resource) {}

    template <bool MayRefuse>
    void allocate(request r) {
        if (m_blocks.size() >= max_live_blocks || m_live_bytes + r.bytes > max_live_bytes) {
            r.bytes = std::min(r.bytes, std::size_t{64}); // keep the run small, not the request
        }
        const bool power = detail::is_power_of_two(r.alignment);
        const bool impossible = (power && !detail::is_satisfiable(r.bytes, r.alignment)) ||
                                (!power && r.alignment > 4096) || r.bytes > max_live_bytes;
        void* p = nullptr;
        try {
            p = m_resource.allocate(r.bytes, r.alignment);
        } catch (const std::bad_alloc&) {
            if (!impossible && power && !MayRefuse) {
                fail("a possible request was refused", r.bytes, r.alignment);
            }
            return;
        }
        if (impossible) {
            fail("an impossible request was served", r.bytes, r.alignment);
        }
        if (p == nullptr) {
            fail("null returned", r.bytes, r.alignment);
        }
        const auto address = reinterpret_cast<std::uintptr_t>(p);
        if (power && address % r.alignment != 0) {
            fail("misaligned block", r.bytes, r.alignment);
        }
        check_disjoint(address, std::max<std::size_t>(r.bytes, 1), r);
        const block b{static_cast<std::byte*>(p), r.bytes, r.alignment, m_next_seq++};
        b.fill();
        m_by_address.emplace(address, m_blocks.size());
        m_blocks.push_back(b);
        m_live_bytes += r.bytes;
    }

    void deallocate(std::size_t choice) {
        if (m_blocks.empty()) {
            return;
        }
        const block b = take(choice % m_blocks.size());
        m_resource.deallocate(b.p, b.bytes, b.alignment);
    }

    // Drops the blocks allocated at or after sequence number `first` without freeing them or
    // reading them: the resource took them back by itself (release, reset, rewind).
    void forget_since(std::uint64_t first) {
        for (std::size_t i = m_blocks.size(); i-- > 0;) {
            if (m_blocks[i].tag >= first) {
                remove(i);
            }
        }
    }

    void check_all() const {
        for (const block& b : m_blocks) {
            check(b);
        }
    }

    [[nodiscard]] std::uint64_t next_seq() const noexcept { return m_next_seq; }
    [[nodiscard]] bool empty() const noexcept { return m_blocks.empty(); }

private:
    using block = test::patterned_block;

    static void check(const block& b) {
        if (b.first_change() != b.bytes) {
            fail("contents of a live block changed", b.bytes, b.alignment);
        }
    }

    void check_disjoint(std::uintptr_t address, std::size_t extent, request r) const {
        const auto next = m_by_address.lower_bound(address);
        if (next != m_by_address.end() && address + extent > next->first) {
            fail("the new block overlaps a live block", r.bytes, r.alignment);
        }
        if (next != m_by_address.begin()) {
            const block& prev = m_blocks[std::prev(next)->second];
            if (reinterpret_cast<std::uintptr_t>(prev.p) + std::max<std::size_t>(prev.bytes, 1) >
                address) {
                fail("the new block overlaps a live block", r.bytes, r.alignment);
            }
        }
    }

    // Checks block `index` and removes it from the model.
    block take(std::size_t index) {
        const block b = m_blocks[index];
        check(b);
        remove(index);
        return b;
    }

    // Swap-removal.
    void remove(std::size_t index) {
        const block b = m_blocks[index];
        m_by_address.erase(reinterpret_cast<std::uintptr_t>(b.p));
        if (index + 1 != m_blocks.size()) {
            m_blocks[index] = m_blocks.back();
            m_by_address[reinterpret_cast<std::uintptr_t>(m_blocks[index].p)] = index;
        }
        m_blocks.pop_back();
        m_live_bytes -= b.bytes;
    }

    std::pmr::memory_resource& m_resource;
    std::vector<block> m_blocks;
    std::map<std::uintptr_t, std::size_t> m_by_address;
    std::size_t m_live_bytes = 0;
    std::uint64_t m_next_seq = 1;
};

template <class Target>
void run(std::pmr::memory_resource& upstream, input& in) {
    const bool free_at_end = in.boolean();
    Target target(&upstream, in);
    model live(target.top());
    std::vector<std::uint64_t> marks; // the sequence number at each marker of the target
    while (!in.done()) {
        switch (in.below(8)) {
        case 0:
        case 1:
        case 2:
            live.deallocate(in.below(max_live_blocks));
            break;
        case 3: {
            const effect e = target.control(in);
            if (e.kind == effect::forget_all) {
                live.forget_since(0);
                marks.clear();
            } else if (e.kind == effect::mark) {
                marks.push_back(live.next_seq());
            } else if (e.kind == effect::rewind) {
                live.forget_since(marks[e.marker]);
                marks.resize(e.marker + 1);
            }
            break;
        }
        default:
            live.template allocate<Target::may_refuse>(
                draw_request(in, Target::small_odd_alignments));
            break;
        }
    }
    live.check_all();
    if (free_at_end) {
        while (!live.empty()) {
            live.deallocate(0);
        }
    }
}

// Once the stack is destroyed: everything is back in the checking upstream, and in the target's
// own source if it has one.
template <class Target>
void check_given_back(const test_resource& upstream) {
    if (upstream.live_blocks() != 0) {
        fail("memory not given back to upstream", upstream.live_bytes(), 0);
    }
    if constexpr (requires { Target::source_bytes(); }) {
        if (Target::source_bytes() != 0) {
            fail("memory not given back to the source", Target::source_bytes(), 0);
        }
    }
}

} // namespace
} // namespace pmrkit::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    pmrkit::fuzz::input in(data, size);
    // Aborts (the default error action) on anything the stack gives back wrongly.
    pmrkit::test_resource upstream(std::pmr::new_delete_resource());
    pmrkit::fuzz::run<pmrkit::fuzz::PMRKIT_FUZZ_TARGET>(upstream, in);
    pmrkit::fuzz::check_given_back<pmrkit::fuzz::PMRKIT_FUZZ_TARGET>(upstream);
    return 0;
}
