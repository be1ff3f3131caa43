// SPDX-License-Identifier: MIT
#pragma once

// The pmrkit allocation trace format (docs/trace-format.md), shared by the capture library, which
// writes it from inside malloc (so nothing here allocates or uses the C++ runtime), and the reader.

#include <cstddef>
#include <cstdint>

namespace pmrkit::trace {

inline constexpr unsigned char magic[8] = {'P', 'M', 'R', 'K', 'T', 'R', 'C', 'E'};
inline constexpr std::uint16_t version = 1;
inline constexpr std::size_t header_size = 12; // magic, version (u16 LE), reserved (u16, 0)

// The first byte of a record.
enum class op : std::uint8_t {
    malloc = 1,  // thread, size, pointer
    calloc = 2,  // thread, size (count * size), pointer
    realloc = 3, // thread, old pointer, size, new pointer (both non-null)
    free = 4,    // thread, pointer
    aligned =
        5,    // thread, alignment, size, pointer: aligned_alloc, posix_memalign, memalign, valloc
    end = 15, // thread, number of records before it, flags (end_capped)
};

// Flags of the end record.
inline constexpr std::uint64_t end_capped = 1; // the event cap was reached: later ones unrecorded

// A varint is at most this long (64 bits in 7-bit groups).
inline constexpr std::size_t max_varint_size = 10;
// Thread indices are dense from 0 and below this: the capture records no thread past it, and the
// reader's table of threads seen stays at 2 MB whatever a corrupted file says.
inline constexpr std::uint64_t max_threads = std::uint64_t{1} << 24;
// The longest record: op, thread and three varints.
inline constexpr std::size_t max_record_size = 1 + 4 * max_varint_size;

// Writes v as a little-endian base-128 varint at out; returns the end.
inline unsigned char* put_varint(unsigned char* out, std::uint64_t v) noexcept {
    while (v >= 0x80) {
        *out++ = static_cast<unsigned char>(v | 0x80);
        v >>= 7;
    }
    *out++ = static_cast<unsigned char>(v);
    return out;
}

// Pointers are written as the zigzag-encoded difference to the previous pointer in the file:
// consecutive heap addresses are close, so most take 2 or 3 bytes instead of 8.
inline constexpr std::uint64_t zigzag(std::uint64_t delta) noexcept {
    return (delta << 1) ^ (0 - (delta >> 63));
}
inline constexpr std::uint64_t unzigzag(std::uint64_t v) noexcept {
    return (v >> 1) ^ (0 - (v & 1));
}

} // namespace pmrkit::trace
