// SPDX-License-Identifier: MIT
#pragma once

// Reads a pmrkit allocation trace (docs/trace-format.md) into events over numbered slots, ready
// to replay through any std::pmr::memory_resource.

#include <cstddef>
#include <cstdint>
#include <memory_resource>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace pmrkit::trace {

// A trace that cannot be read: truncated, corrupted, or not a trace. what() names the problem
// and the byte offset; offset() is that offset.
class trace_error final : public std::runtime_error {
public:
    trace_error(const std::string& what, std::size_t offset);
    [[nodiscard]] std::size_t offset() const noexcept { return m_offset; }

private:
    std::size_t m_offset;
};

enum class event_kind : std::uint8_t {
    allocate,      // slot = allocate(size, alignment)
    zero_allocate, // the same, then zeroed (calloc)
    reallocate,    // slot = allocate(size, alignment), copy from old_slot, deallocate old_slot
    deallocate,    // deallocate slot (its size and alignment are those it was allocated with)
};

// One operation of the replay. Slots are the trace's pointers renumbered densely: a slot is
// reused once freed, so the replay needs as many as the trace has blocks live at its peak.
struct event {
    std::uint64_t size;
    std::uint32_t slot;
    std::uint32_t old_slot; // reallocate only
    std::uint32_t thread;
    event_kind kind;
    std::uint8_t alignment_log2;
};

struct trace_summary {
    std::uint64_t records = 0;          // records read, the end record excluded
    std::uint64_t unknown_frees = 0;    // frees of pointers never allocated: skipped
    std::uint64_t unknown_reallocs = 0; // reallocs of such pointers: replayed as allocations
    std::uint64_t reused_live = 0;      // allocations at a live address: the old block freed first
    std::uint64_t allocations = 0;      // allocate, zero_allocate and reallocate events
    std::uint64_t allocated_bytes = 0;  // their sizes summed
    std::uint64_t peak_live_bytes = 0;  // most bytes live at once (sizes asked)
    std::uint64_t peak_live_blocks = 0;
    std::uint64_t live_bytes_at_end = 0;
    std::uint64_t max_size = 0;
    std::uint64_t max_alignment = 0;      // of explicitly aligned requests; 0 if none
    std::uint64_t cross_thread_frees = 0; // blocks freed (or reallocated) by another thread
    std::uint32_t threads = 0;            // distinct thread tags
    std::uint32_t slots = 0;              // slots the replay needs
    bool capped = false;                  // the capture stopped at its event cap
};

struct parsed_trace {
    std::pmr::vector<event> events;
    trace_summary summary;
};

// The alignment a malloc(size) is replayed with: the largest power of two dividing size, at most
// alignof(std::max_align_t); what an object of that size can need, and what a pmr container
// storing such objects asks for. Explicitly aligned requests keep their alignment.
[[nodiscard]] std::size_t malloc_alignment(std::uint64_t size) noexcept;

// Parses a whole trace. events are allocated from `storage` (the replay passes one that does not
// use malloc, so that malloc's memory can be measured around the replay).
// Throws trace_error for a truncated or corrupted trace, std::bad_alloc if storage throws.
[[nodiscard]] parsed_trace
parse(std::span<const std::byte> bytes,
      std::pmr::memory_resource* storage = std::pmr::get_default_resource());

} // namespace pmrkit::trace
