// SPDX-License-Identifier: MIT
// Parses a JSON document into a per-request arena with Boost.JSON, twice, as a server would for
// two requests, and prints what the arena took: bytes, chunks, upstream calls. The second request
// reuses the first one's memory (reset() keeps it), so it takes nothing from upstream.
//
// Usage: example_json_arena [file.json]
// A small embedded document is always parsed and checked too, so the program checks a result even
// where the file is missing. Exit status 0 means every check held.
#include <pmrkit/arena_resource.hpp>
#include <pmrkit/boost/json.hpp>

#include <boost/json.hpp>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace {

constexpr std::string_view embedded = R"({"request":42,"user":{"name":"Ada","roles":["admin"]},
    "items":[{"id":1,"price":9.5},{"id":2,"price":12.25}],
    "note":"a note that is long enough to allocate"})";

std::optional<std::string> read_file(const char* path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return std::nullopt;
    }
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// One request: parse into the arena, summarize the value, drop it, reset the arena.
// Returns the number of top-level members or elements, or nothing if the text is not JSON.
std::optional<std::size_t> handle_request(pmrkit::arena_resource& arena, std::string_view text,
                                          const char* what, int request) {
    std::optional<std::size_t> top_level;
    {
        pmrkit::boost_json_arena json_memory(arena);
        boost::json::stream_parser parser;
        parser.reset(&json_memory);
        boost::system::error_code ec;
        parser.write(text.data(), text.size(), ec);
        if (!ec) {
            parser.finish(ec);
        }
        if (ec) {
            std::printf("%s: not JSON: %s\n", what, ec.message().c_str());
            return std::nullopt;
        }
        const boost::json::value v = parser.release();
        top_level = v.is_object() ? v.get_object().size() : v.is_array() ? v.get_array().size() : 1;
        std::printf("%s, request %d: %zu bytes of JSON -> %zu bytes used in the arena, "
                    "%zu held from upstream in %zu chunk(s), %zu upstream allocation(s) so far\n",
                    what, request, text.size(), arena.bytes_used(), arena.upstream_bytes(),
                    arena.chunk_count(), arena.upstream_allocations());
    }
    arena.reset();
    return top_level;
}

// Two requests on one arena: both must parse alike, and the second take nothing from upstream.
// Returns the top-level size, or nothing if a check failed.
std::optional<std::size_t> serve_twice(std::string_view text, const char* what) {
    pmrkit::arena_resource arena;
    const auto first = handle_request(arena, text, what, 1);
    const std::size_t calls = arena.upstream_allocations();
    const auto second = handle_request(arena, text, what, 2);
    const bool ok = first && second == first && arena.upstream_allocations() == calls;
    std::printf("%s: %s\n", what, ok ? "ok (second request: 0 upstream calls)" : "FAILED");
    return ok ? first : std::nullopt;
}

} // namespace

int main(int argc, char** argv) {
    bool ok = serve_twice(embedded, "embedded document") == std::size_t{4};
    if (argc > 1) {
        if (const auto text = read_file(argv[1])) {
            ok = serve_twice(*text, argv[1]).has_value() && ok;
        } else {
            std::printf("%s: cannot be read; skipped (the embedded document was checked)\n",
                        argv[1]);
        }
    }
    return ok ? 0 : 1;
}
