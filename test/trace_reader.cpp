// SPDX-License-Identifier: MIT
// The allocation trace reader of pmrkit_replay (tools/trace): what it accepts, what it rejects and
// where, and how it turns the trace's pointers into replay slots.
#include "trace_reader.hpp"
#include "trace_format.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace {

namespace trace = pmrkit::trace;

// Writes a trace the way the capture library does.
class writer {
public:
    writer() {
        for (const unsigned char b : trace::magic) {
            m_bytes.push_back(b);
        }
        m_bytes.push_back(static_cast<unsigned char>(trace::version)); // little-endian u16
        m_bytes.resize(trace::header_size, 0);
    }
    writer& malloc(std::uint64_t size, std::uint64_t p, std::uint32_t thread = 0) {
        return record(trace::op::malloc, thread, {size, pointer(p)});
    }
    writer& calloc(std::uint64_t size, std::uint64_t p) {
        return record(trace::op::calloc, 0, {size, pointer(p)});
    }
    writer& aligned(std::uint64_t alignment, std::uint64_t size, std::uint64_t p) {
        return record(trace::op::aligned, 0, {alignment, size, pointer(p)});
    }
    writer& realloc(std::uint64_t from, std::uint64_t size, std::uint64_t to) {
        const std::uint64_t a = pointer(from);
        return record(trace::op::realloc, 0, {a, size, pointer(to)});
    }
    writer& free(std::uint64_t p, std::uint32_t thread = 0) {
        return record(trace::op::free, thread, {pointer(p)});
    }
    writer& end(std::uint64_t flags = 0) {
        const std::uint64_t records = m_records;
        return record(trace::op::end, 0, {records, flags});
    }
    [[nodiscard]] std::vector<std::byte> bytes() const {
        std::vector<std::byte> out;
        for (const unsigned char b : m_bytes) {
            out.push_back(static_cast<std::byte>(b));
        }
        return out;
    }
    std::vector<unsigned char>& raw() { return m_bytes; }

private:
    std::uint64_t pointer(std::uint64_t p) {
        const std::uint64_t field = trace::zigzag(p - m_previous);
        m_previous = p;
        return field;
    }
    writer& record(trace::op code, std::uint32_t thread, std::initializer_list<std::uint64_t> f) {
        unsigned char buffer[trace::max_record_size];
        unsigned char* out = buffer;
        *out++ = static_cast<unsigned char>(code);
        out = trace::put_varint(out, thread);
        for (const std::uint64_t v : f) {
            out = trace::put_varint(out, v);
        }
        m_bytes.insert(m_bytes.end(), buffer, out);
        ++m_records;
        return *this;
    }

    std::vector<unsigned char> m_bytes;
    std::uint64_t m_previous = 0;
    std::uint64_t m_records = 0;
};

trace::parsed_trace parse(const writer& w) {
    const std::vector<std::byte> bytes = w.bytes();
    return trace::parse(bytes);
}

// The offset a rejected trace names, and its message.
std::pair<std::size_t, std::string> rejection(const std::vector<std::byte>& bytes) {
    try {
        (void)trace::parse(bytes);
    } catch (const trace::trace_error& e) {
        return {e.offset(), e.what()};
    }
    FAIL("the trace was accepted");
    return {};
}

} // namespace

TEST_CASE("trace reader: a good trace becomes events over reused slots, with its peaks") {
    writer w;
    w.malloc(100, 0x1000).calloc(48, 0x2000).aligned(64, 256, 0x3000).free(0x1000);
    w.malloc(24, 0x4000).free(0x2000).free(0x3000).free(0x4000).end();
    const trace::parsed_trace t = parse(w);

    REQUIRE(t.events.size() == 8);
    CHECK(t.events[0].kind == trace::event_kind::allocate);
    CHECK(t.events[0].size == 100);
    CHECK(t.events[0].alignment_log2 == 2); // 100 = 4 * 25: an object of 100 bytes needs 4
    CHECK(t.events[1].kind == trace::event_kind::zero_allocate);
    CHECK(t.events[1].alignment_log2 == 4); // 48: capped at max_align_t's 16
    CHECK(t.events[2].alignment_log2 == 6);
    CHECK(t.events[3].kind == trace::event_kind::deallocate);
    CHECK(t.events[3].slot == t.events[0].slot);
    CHECK(t.events[4].slot == t.events[0].slot); // the freed slot is reused
    CHECK(t.summary.slots == 3);
    CHECK(t.summary.records == 8);
    CHECK(t.summary.peak_live_bytes == 100 + 48 + 256);
    CHECK(t.summary.peak_live_blocks == 3);
    CHECK(t.summary.allocated_bytes == 100 + 48 + 256 + 24);
    CHECK(t.summary.live_bytes_at_end == 0);
    CHECK(t.summary.max_alignment == 64);
    CHECK(t.summary.threads == 1);
    CHECK_FALSE(t.summary.capped);
}

TEST_CASE("trace reader: realloc allocates into a new slot, then frees the old one") {
    writer w;
    w.malloc(16, 0x1000).realloc(0x1000, 40, 0x1000).realloc(0x1000, 8, 0x5000).free(0x5000).end();
    const trace::parsed_trace t = parse(w);

    REQUIRE(t.events.size() == 4);
    const trace::event& grow = t.events[1];
    CHECK(grow.kind == trace::event_kind::reallocate);
    CHECK(grow.size == 40);
    CHECK(grow.old_slot == t.events[0].slot);
    CHECK(grow.slot != grow.old_slot); // both live while the bytes are copied
    CHECK(grow.alignment_log2 == 3);
    CHECK(t.events[2].old_slot == grow.slot);
    CHECK(t.events[3].slot == t.events[2].slot);
    CHECK(t.summary.peak_live_bytes == 16 + 40); // old and new together during the copy
    CHECK(t.summary.live_bytes_at_end == 0);
    CHECK(t.summary.slots == 2);
}

TEST_CASE(
    "trace reader: frees and reallocs of pointers never allocated are counted, not replayed") {
    writer w;
    w.malloc(32, 0x1000).free(0x9000).realloc(0x8000, 64, 0x2000).free(0x1000).free(0x1000);
    w.free(0x2000).end();
    const trace::parsed_trace t = parse(w);

    CHECK(t.summary.unknown_frees == 2); // 0x9000, and 0x1000's second free
    CHECK(t.summary.unknown_reallocs == 1);
    REQUIRE(t.events.size() == 4);
    CHECK(t.events[1].kind == trace::event_kind::allocate); // the unknown realloc's new block
    CHECK(t.events[1].size == 64);
    CHECK(t.events[2].kind == trace::event_kind::deallocate);
    CHECK(t.events[3].slot == t.events[1].slot); // its free is known
    CHECK(t.summary.records == 6);
}

TEST_CASE("trace reader: an allocation at a live address frees the old block first") {
    writer w;
    w.malloc(32, 0x1000).malloc(64, 0x1000).free(0x1000).end();
    const trace::parsed_trace t = parse(w);

    CHECK(t.summary.reused_live == 1);
    REQUIRE(t.events.size() == 4);
    CHECK(t.events[1].kind == trace::event_kind::deallocate);
    CHECK(t.events[1].slot == t.events[0].slot);
    CHECK(t.events[2].size == 64);
    CHECK(t.summary.live_bytes_at_end == 0);
}

TEST_CASE("trace reader: threads and cross-thread frees are counted; the cap flag is read") {
    writer w;
    w.malloc(8, 0x1000, 0)
        .malloc(8, 0x2000, 3)
        .free(0x1000, 3)
        .free(0x2000, 3)
        .end(trace::end_capped);
    const trace::parsed_trace t = parse(w);

    CHECK(t.summary.threads == 2);
    CHECK(t.summary.cross_thread_frees == 1);
    CHECK(t.events[1].thread == 3);
    CHECK(t.summary.capped);
}

TEST_CASE("trace reader: a truncated trace is rejected with the offset of the cut record") {
    writer w;
    w.malloc(1000, 0x123456);
    const std::size_t second = w.raw().size();
    w.malloc(2000, 0x223456).end();
    std::vector<std::byte> bytes = w.bytes();

    SUBCASE("cut inside a record") {
        bytes.resize(second + 3);
        const auto [offset, message] = rejection(bytes);
        CHECK(offset == second);
        CHECK(message.find("truncated") != std::string::npos);
        CHECK(message.find("byte " + std::to_string(second)) != std::string::npos);
    }
    SUBCASE("cut before the end record") {
        const std::size_t end = w.raw().size() - 4; // op, thread, count 2, flags 0
        bytes.resize(end);
        const auto [offset, message] = rejection(bytes);
        CHECK(offset == end);
        CHECK(message.find("without its end record") != std::string::npos);
    }
    SUBCASE("shorter than the header") {
        bytes.resize(5);
        CHECK(rejection(bytes).first == 5);
    }
}

TEST_CASE("trace reader: a corrupted trace is rejected with the offset of the bad part") {
    writer w;
    w.malloc(64, 0x1000);
    const std::size_t second = w.raw().size();
    w.free(0x1000).end();

    SUBCASE("bad magic") {
        w.raw()[2] = 'X';
        const auto [offset, message] = rejection(w.bytes());
        CHECK(offset == 0);
        CHECK(message.find("not a pmrkit trace") != std::string::npos);
    }
    SUBCASE("unknown version") {
        w.raw()[8] = 99;
        const auto [offset, message] = rejection(w.bytes());
        CHECK(offset == 8);
        CHECK(message.find("version 99") != std::string::npos);
    }
    SUBCASE("reserved header bytes set") {
        w.raw()[11] = 1;
        CHECK(rejection(w.bytes()).first == 10);
    }
    SUBCASE("unknown record type") {
        w.raw()[second] = 9;
        const auto [offset, message] = rejection(w.bytes());
        CHECK(offset == second);
        CHECK(message.find("unknown record type 9") != std::string::npos);
    }
    SUBCASE("a record count in the end record that does not match") {
        w.raw()[w.raw().size() - 2] = 7;
        CHECK(rejection(w.bytes()).second.find("end record counts 7") != std::string::npos);
    }
    SUBCASE("bytes after the end record") {
        const std::size_t end = w.raw().size();
        w.raw().push_back(1);
        CHECK(rejection(w.bytes()).first == end);
    }
    SUBCASE("an alignment that is not a power of two") {
        writer bad;
        bad.aligned(48, 64, 0x1000).end();
        CHECK(rejection(bad.bytes()).second.find("alignment 48") != std::string::npos);
    }
    SUBCASE("a number that never ends") {
        writer bad;
        bad.raw().push_back(static_cast<unsigned char>(trace::op::malloc));
        bad.raw().push_back(0);
        bad.raw().insert(bad.raw().end(), 11, 0xff);
        CHECK(rejection(bad.bytes()).second.find("longer than 10 bytes") != std::string::npos);
    }
    SUBCASE("a ten-byte number with bits above 64") {
        writer bad;
        bad.raw().push_back(static_cast<unsigned char>(trace::op::free));
        bad.raw().push_back(0);
        bad.raw().push_back(0x81);
        bad.raw().insert(bad.raw().end(), 8, 0x80);
        bad.raw().push_back(0x02); // bit 64: the low bits alone would be a pointer field of 1
        bad.raw().insert(bad.raw().end(), {static_cast<unsigned char>(trace::op::end), 0, 1, 0});
        CHECK(rejection(bad.bytes()).second.find("beyond 64 bits") != std::string::npos);
    }
}
