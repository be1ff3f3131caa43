// SPDX-License-Identifier: MIT
#include "trace_reader.hpp"

#include "trace_format.hpp"

#include <pmrkit/size_class_resource.hpp>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstring>
#include <unordered_map>

namespace pmrkit::trace {

trace_error::trace_error(const std::string& what, std::size_t offset)
    : std::runtime_error(what), m_offset(offset) {}

std::size_t malloc_alignment(std::uint64_t size) noexcept {
    constexpr std::uint64_t most = alignof(std::max_align_t);
    return size == 0 ? most : static_cast<std::size_t>(std::min(size & (0 - size), most));
}

namespace {

// Larger sizes or alignments than any allocation can have: a corrupted record.
constexpr std::uint64_t max_size = std::uint64_t{1} << 47;
constexpr std::uint64_t max_alignment = std::uint64_t{1} << 30;

class parser {
public:
    parser(std::span<const std::byte> bytes, std::pmr::memory_resource* storage)
        : m_bytes(bytes), m_pool(storage), m_live(&m_pool), m_slot_sizes(storage),
          m_free_slots(storage),
          m_seen_threads(storage), m_result{std::pmr::vector<event>(storage), {}} {}

    parsed_trace run() {
        read_header();
        while (true) {
            if (m_pos == m_bytes.size()) {
                throw trace_error("truncated trace: it ends at byte " + std::to_string(m_pos) +
                                      " without its end record",
                                  m_pos);
            }
            m_record = m_pos;
            const auto code = static_cast<op>(byte());
            const std::uint64_t thread = varint();
            if (thread >= max_threads) {
                corrupted("thread index " + std::to_string(thread) + " out of range");
            }
            m_thread = static_cast<std::uint32_t>(thread);
            if (code == op::end) {
                read_end();
                return std::move(m_result);
            }
            see_thread();
            switch (code) {
            case op::malloc:
            case op::calloc: {
                const std::uint64_t size = size_field();
                const std::uint64_t p = pointer();
                allocate_at(p, size, malloc_alignment(size),
                            code == op::calloc ? event_kind::zero_allocate : event_kind::allocate);
                break;
            }
            case op::aligned: {
                const std::uint64_t alignment = varint();
                if (alignment == 0 || alignment > max_alignment ||
                    !std::has_single_bit(alignment)) {
                    corrupted("alignment " + std::to_string(alignment) + " is not a power of two");
                }
                const std::uint64_t size = size_field();
                const std::uint64_t p = pointer();
                // A malloc-aligned request is an allocation like malloc's (posix_memalign(8)).
                allocate_at(p, size,
                            std::max(static_cast<std::size_t>(alignment), malloc_alignment(size)),
                            event_kind::allocate);
                m_result.summary.max_alignment =
                    std::max(m_result.summary.max_alignment, alignment);
                break;
            }
            case op::realloc: {
                const std::uint64_t from = pointer();
                const std::uint64_t size = size_field();
                const std::uint64_t to = pointer();
                reallocate(from, size, to);
                break;
            }
            case op::free:
                deallocate_at(pointer());
                break;
            default:
                corrupted("unknown record type " + std::to_string(static_cast<int>(code)));
            }
            ++m_result.summary.records;
        }
    }

private:
    struct live_block {
        std::uint32_t slot;
        std::uint32_t thread;
    };

    [[noreturn]] void corrupted(const std::string& what) const {
        throw trace_error("corrupted trace: " + what + " in the record at byte " +
                              std::to_string(m_record),
                          m_record);
    }

    std::uint8_t byte() {
        if (m_pos == m_bytes.size()) {
            throw trace_error("truncated trace: the record at byte " + std::to_string(m_record) +
                                  " is cut short by the end of the file at byte " +
                                  std::to_string(m_pos),
                              m_record);
        }
        return std::to_integer<std::uint8_t>(m_bytes[m_pos++]);
    }

    std::uint64_t varint() {
        std::uint64_t v = 0;
        for (unsigned shift = 0; shift < 7 * max_varint_size; shift += 7) {
            const std::uint8_t b = byte();
            v |= std::uint64_t{b & 0x7fu} << shift;
            if ((b & 0x80) == 0) {
                // A tenth byte holds bit 63 only: more would be a number of 65 to 70 bits.
                if (shift == 63 && b > 1) {
                    corrupted("a number beyond 64 bits");
                }
                return v;
            }
        }
        corrupted("a number longer than " + std::to_string(max_varint_size) + " bytes");
    }

    std::uint64_t size_field() {
        const std::uint64_t size = varint();
        if (size > max_size) {
            corrupted("size " + std::to_string(size) + " beyond any allocation");
        }
        return size;
    }

    std::uint64_t pointer() {
        m_previous_pointer += unzigzag(varint());
        if (m_previous_pointer == 0) {
            corrupted("a null pointer");
        }
        return m_previous_pointer;
    }

    void read_header() {
        m_record = 0;
        if (m_bytes.size() < header_size) {
            throw trace_error("truncated trace: " + std::to_string(m_bytes.size()) +
                                  " bytes, shorter than the " + std::to_string(header_size) +
                                  "-byte header",
                              m_bytes.size());
        }
        if (std::memcmp(m_bytes.data(), magic, sizeof magic) != 0) {
            throw trace_error("not a pmrkit trace: bad magic at byte 0", 0);
        }
        const auto at = [&](std::size_t i) { return std::to_integer<unsigned>(m_bytes[i]); };
        const unsigned file_version = at(8) | (at(9) << 8);
        if (file_version != version) {
            throw trace_error("unsupported trace version " + std::to_string(file_version) +
                                  " at byte 8 (this reader knows version " +
                                  std::to_string(version) + ")",
                              8);
        }
        if (at(10) != 0 || at(11) != 0) {
            throw trace_error("corrupted trace header: reserved bytes 10-11 are not zero", 10);
        }
        m_pos = header_size;
    }

    void read_end() {
        const std::uint64_t records = varint();
        const std::uint64_t flags = varint();
        if (records != m_result.summary.records) {
            corrupted("end record counts " + std::to_string(records) + " records, the trace has " +
                      std::to_string(m_result.summary.records));
        }
        if ((flags & ~end_capped) != 0) {
            corrupted("unknown end flags " + std::to_string(flags));
        }
        if (m_pos != m_bytes.size()) {
            throw trace_error("corrupted trace: " + std::to_string(m_bytes.size() - m_pos) +
                                  " bytes after the end record, from byte " + std::to_string(m_pos),
                              m_pos);
        }
        auto& s = m_result.summary;
        s.capped = (flags & end_capped) != 0;
        s.slots = static_cast<std::uint32_t>(m_slot_sizes.size());
        s.live_bytes_at_end = m_live_bytes;
    }

    void see_thread() {
        if (m_thread >= m_seen_threads.size()) {
            m_seen_threads.resize(std::size_t{m_thread} + 1);
        }
        if (!m_seen_threads[m_thread]) {
            m_seen_threads[m_thread] = true;
            ++m_result.summary.threads;
        }
    }

    std::uint32_t take_slot() {
        if (!m_free_slots.empty()) {
            const std::uint32_t slot = m_free_slots.back();
            m_free_slots.pop_back();
            return slot;
        }
        m_slot_sizes.push_back(0);
        return static_cast<std::uint32_t>(m_slot_sizes.size() - 1);
    }

    void emit(event_kind kind, std::uint64_t size, std::size_t alignment, std::uint32_t slot,
              std::uint32_t old_slot) {
        m_result.events.push_back(
            {.size = size,
             .slot = slot,
             .old_slot = old_slot,
             .thread = m_thread,
             .kind = kind,
             .alignment_log2 = static_cast<std::uint8_t>(std::countr_zero(alignment))});
    }

    // Forgets the live block at p (already erased from m_live) and frees its slot.
    void end_block(const live_block& block) {
        m_live_bytes -= m_slot_sizes[block.slot];
        m_free_slots.push_back(block.slot);
        if (block.thread != m_thread) {
            ++m_result.summary.cross_thread_frees;
        }
    }

    // A new block at p: an address still live was freed where the trace could not see it.
    std::uint32_t start_block(std::uint64_t p, std::uint64_t size) {
        if (const auto it = m_live.find(p); it != m_live.end()) {
            ++m_result.summary.reused_live;
            emit(event_kind::deallocate, 0, 1, it->second.slot, 0);
            const live_block old = it->second;
            m_live.erase(it);
            end_block(old);
        }
        const std::uint32_t slot = take_slot();
        m_live.emplace(p, live_block{slot, m_thread});
        m_slot_sizes[slot] = size;
        auto& s = m_result.summary;
        ++s.allocations;
        s.allocated_bytes += size;
        s.max_size = std::max(s.max_size, size);
        m_live_bytes += size;
        s.peak_live_bytes = std::max(s.peak_live_bytes, m_live_bytes);
        s.peak_live_blocks = std::max<std::uint64_t>(s.peak_live_blocks, m_live.size());
        return slot;
    }

    void allocate_at(std::uint64_t p, std::uint64_t size, std::size_t alignment, event_kind kind) {
        const std::uint32_t slot = start_block(p, size);
        emit(kind, size, alignment, slot, 0);
    }

    void deallocate_at(std::uint64_t p) {
        const auto it = m_live.find(p);
        if (it == m_live.end()) {
            ++m_result.summary.unknown_frees;
            return;
        }
        const live_block block = it->second;
        m_live.erase(it);
        emit(event_kind::deallocate, 0, 1, block.slot, 0);
        end_block(block);
    }

    void reallocate(std::uint64_t from, std::uint64_t size, std::uint64_t to) {
        const auto it = m_live.find(from);
        if (it == m_live.end()) {
            ++m_result.summary.unknown_reallocs;
            allocate_at(to, size, malloc_alignment(size), event_kind::allocate);
            return;
        }
        const live_block old = it->second;
        m_live.erase(it);
        // The new slot is taken before the old one is freed: both are live during the copy.
        const std::uint32_t slot = start_block(to, size);
        emit(event_kind::reallocate, size, malloc_alignment(size), slot, old.slot);
        end_block(old);
    }

    std::span<const std::byte> m_bytes;
    std::size_t m_pos = 0;
    std::size_t m_record = 0; // offset of the record being read
    std::uint32_t m_thread = 0;
    std::uint64_t m_previous_pointer = 0;
    std::uint64_t m_live_bytes = 0;
    size_class_resource m_pool;
    std::pmr::unordered_map<std::uint64_t, live_block> m_live;
    std::pmr::vector<std::uint64_t> m_slot_sizes; // size of the block in each slot
    std::pmr::vector<std::uint32_t> m_free_slots;
    std::pmr::vector<bool> m_seen_threads;
    parsed_trace m_result;
};

} // namespace

parsed_trace parse(std::span<const std::byte> bytes, std::pmr::memory_resource* storage) {
    return parser(bytes, storage).run();
}

} // namespace pmrkit::trace
