// SPDX-License-Identifier: MIT
// A request-server loop: one size_class_resource shared by all requests; per request, a
// limit_resource (the request's memory budget) over it and an arena over that. Everything a
// request builds comes from its arena and is dropped at once when the request ends; a request that
// would pass its budget is refused with pmrkit::limit_exceeded instead of taking the server's
// memory. Prints per-request statistics. Exit status 0 means the checked result held.
#include <pmrkit/arena_resource.hpp>
#include <pmrkit/decorators/limit_resource.hpp>
#include <pmrkit/size_class_resource.hpp>

#include <cstddef>
#include <cstdio>
#include <memory_resource>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace {

constexpr std::size_t request_budget = 256 * 1024;

struct request {
    int id;
    std::string body; // words separated by spaces
};

struct response {
    int status = 200;
    std::size_t words = 0;
    std::size_t distinct = 0;
    std::size_t top_count = 0;
};

// The handler: counts the words of the body. Every container it builds uses `memory`.
response handle(const request& r, std::pmr::memory_resource* memory) {
    std::pmr::vector<std::pmr::string> words(memory);
    std::string_view rest = r.body;
    while (!rest.empty()) {
        const std::size_t end = std::min(rest.find(' '), rest.size());
        if (end > 0) {
            words.emplace_back(rest.substr(0, end));
        }
        rest.remove_prefix(std::min(end + 1, rest.size()));
    }
    std::pmr::unordered_map<std::string_view, std::size_t> counts(memory);
    response out;
    for (const std::pmr::string& w : words) {
        out.top_count = std::max(out.top_count, ++counts[w]);
    }
    out.words = words.size();
    out.distinct = counts.size();
    return out;
}

// Request i: `distinct` different long words, each repeated `repeats` times.
request make_request(int id, std::size_t distinct, std::size_t repeats) {
    request r{id, {}};
    for (std::size_t rep = 0; rep < repeats; ++rep) {
        for (std::size_t w = 0; w < distinct; ++w) {
            r.body += "word-long-enough-to-allocate-" + std::to_string(w) + ' ';
        }
    }
    return r;
}

} // namespace

int main() {
    pmrkit::size_class_resource shared(std::pmr::new_delete_resource());

    struct expected {
        std::size_t distinct;
        std::size_t repeats;
    };
    // Request 3 is far too large for the budget (10000 strings of about 40 bytes).
    const std::vector<expected> plan = {{20, 3}, {100, 2}, {5, 40}, {5000, 2}, {60, 5}};

    bool ok = true;
    std::size_t upstream_after_first_round = 0;
    for (int round = 0; round < 2; ++round) {
        std::printf("round %d\n%4s %6s %6s %8s %9s %7s %12s %8s\n", round + 1, "id", "status",
                    "words", "distinct", "arena B", "chunks", "budget peak", "refused");
        for (std::size_t i = 0; i < plan.size(); ++i) {
            const request r = make_request(static_cast<int>(i), plan[i].distinct, plan[i].repeats);

            pmrkit::limit_resource budget(request_budget, &shared);
            pmrkit::arena_resource arena({.first_chunk_size = 4096}, &budget);
            response out;
            try {
                out = handle(r, &arena);
            } catch (const pmrkit::limit_exceeded&) {
                out.status = 413; // payload too large: refused, and the server carries on
            }
            std::printf("%4d %6d %6zu %8zu %9zu %7zu %12zu %8zu\n", r.id, out.status, out.words,
                        out.distinct, arena.peak_bytes_used(), arena.chunk_count(),
                        budget.peak_bytes_in_use(), budget.refused());

            const bool too_large = i == 3;
            ok = ok && (too_large ? out.status == 413 && budget.refused() == 1
                                  : out.status == 200 && out.distinct == plan[i].distinct &&
                                        out.words == plan[i].distinct * plan[i].repeats &&
                                        out.top_count == plan[i].repeats);
            ok = ok && budget.peak_bytes_in_use() <= request_budget;
        }
        // The arenas gave everything back; the shared pool keeps its spans for the next round.
        if (round == 0) {
            upstream_after_first_round = shared.upstream_bytes();
        }
    }
    std::printf("shared pool: %zu bytes held from upstream after round 1, %zu after round 2, "
                "peak %zu\n",
                upstream_after_first_round, shared.upstream_bytes(), shared.peak_upstream_bytes());
    // The second round ran on memory the pool already held: it took nothing more from upstream.
    ok = ok && shared.upstream_bytes() == upstream_after_first_round &&
         shared.peak_upstream_bytes() == upstream_after_first_round;
    return ok ? 0 : 1;
}
