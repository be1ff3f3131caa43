// SPDX-License-Identifier: MIT
// Boost.JSON parse throughput by storage, as Boost.JSON's own benchmark measures it: every parse
// gets fresh storage and a fresh boost::json::stream_parser, parses a whole document, and drops
// the value.
//
//   heap              default storage (new/delete through Boost.JSON's default resource)
//   boost_monotonic   a new boost::json::monotonic_resource per parse (Boost's "pool" row)
//   pmrkit_arena      one pmrkit::arena_resource, reset() after every parse, given to Boost.JSON
//                     through pmrkit::boost_json_arena (the std -> Boost adaptor)
//
// Documents: twitter, citm_catalog and canada from the directory PMRKIT_JSON_DIR (environment),
// else the one compiled in (../shared/data/json beside the source tree); a missing document is
// reported and left out. Repetitions run interleaved in random order; the summary table gives the
// median MB/s of each and the ratios. Defaults (overridable on the command line):
// --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true
// --benchmark_report_aggregates_only=true --benchmark_min_time=0.2
#include <pmrkit/arena_resource.hpp>
#include <pmrkit/boost/json.hpp>

#include "benchmark_defaults.hpp"

#include <benchmark/benchmark.h>
#include <boost/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#ifndef PMRKIT_JSON_DIR
#define PMRKIT_JSON_DIR "../shared/data/json"
#endif

namespace {

constexpr std::array<std::string_view, 3> documents = {"twitter", "citm_catalog", "canada"};
constexpr std::array<std::string_view, 3> storages = {"heap", "boost_monotonic", "pmrkit_arena"};

// Parses `text` with fresh parser and the given storage; the value dies at the end.
void parse_once(std::string_view text, boost::json::storage_ptr storage) {
    boost::json::stream_parser parser;
    parser.reset(std::move(storage));
    boost::system::error_code ec;
    parser.write(text.data(), text.size(), ec);
    if (!ec) {
        parser.finish(ec);
    }
    if (ec) {
        std::fprintf(stderr, "json_parse: %s\n", ec.message().c_str());
        std::abort();
    }
    boost::json::value v = parser.release();
    benchmark::DoNotOptimize(v);
}

void run(benchmark::State& state, const std::string& text, std::string_view storage) {
    if (storage == "heap") {
        for (auto _ : state) {
            parse_once(text, {});
        }
    } else if (storage == "boost_monotonic") {
        for (auto _ : state) {
            boost::json::monotonic_resource monotonic;
            parse_once(text, &monotonic);
        }
    } else {
        pmrkit::arena_resource arena;
        pmrkit::boost_json_arena json_memory(arena);
        // One untimed parse sizes the arena; from then on its kept memory serves every parse.
        parse_once(text, &json_memory);
        arena.reset();
        const std::size_t calls = arena.upstream_allocations();
        for (auto _ : state) {
            parse_once(text, &json_memory);
            arena.reset();
        }
        state.counters["arena_upstream_allocations_per_parse"] =
            static_cast<double>(arena.upstream_allocations() - calls) /
            static_cast<double>(state.iterations());
        state.counters["arena_upstream_bytes"] = static_cast<double>(arena.upstream_bytes());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                            static_cast<std::int64_t>(text.size()));
}

// Keeps the console output and collects the median throughput (bytes/s) of every benchmark.
class summary_reporter final : public benchmark::ConsoleReporter {
public:
    void ReportRuns(const std::vector<Run>& runs) override {
        ConsoleReporter::ReportRuns(runs);
        pmrkit_bench::collect_medians(runs, "bytes_per_second", m_median);
    }

    void print_table() const {
        std::printf("\nBoost.JSON parse, median MB/s (fresh storage per parse)\n");
        std::printf("%-14s %10s %16s %13s %14s %14s\n", "document", "heap", "boost_monotonic",
                    "pmrkit_arena", "arena/monot.", "arena/heap");
        for (const std::string_view doc : documents) {
            const double heap = median(doc, "heap");
            const double monotonic = median(doc, "boost_monotonic");
            const double arena = median(doc, "pmrkit_arena");
            if (heap > 0 && monotonic > 0 && arena > 0) {
                std::printf("%-14s %10.1f %16.1f %13.1f %13.2fx %13.2fx\n",
                            std::string(doc).c_str(), heap, monotonic, arena, arena / monotonic,
                            arena / heap);
            }
        }
    }

private:
    [[nodiscard]] double median(std::string_view doc, std::string_view storage) const {
        const auto it = m_median.find("json/" + std::string(doc) + "/" + std::string(storage));
        return it == m_median.end() ? 0.0 : it->second / 1e6;
    }

    std::map<std::string, double> m_median;
};

std::string json_dir() {
    const char* env = std::getenv("PMRKIT_JSON_DIR");
    return env != nullptr ? env : PMRKIT_JSON_DIR;
}

} // namespace

int main(int argc, char** argv) {
    if (!pmrkit_bench::initialize_with_defaults(argc, argv, pmrkit_bench::interleaved_medians)) {
        return 2;
    }

    // Registered benchmarks refer to the texts: they live until the end of main.
    std::vector<std::string> texts;
    texts.reserve(documents.size());
    for (const std::string_view doc : documents) {
        const std::string path = json_dir() + "/" + std::string(doc) + ".json";
        std::ifstream in(path, std::ios::binary);
        if (!in) {
            std::fprintf(stderr, "json_parse: %s not found; %s left out\n", path.c_str(),
                         std::string(doc).c_str());
            continue;
        }
        std::ostringstream content;
        content << in.rdbuf();
        const std::string& text = texts.emplace_back(content.str());
        for (const std::string_view storage : storages) {
            const std::string name = "json/" + std::string(doc) + "/" + std::string(storage);
            benchmark::RegisterBenchmark(name.c_str(), [&text, storage](benchmark::State& state) {
                run(state, text, storage);
            })->Unit(benchmark::kMicrosecond);
        }
    }

    summary_reporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    reporter.print_table();
    benchmark::Shutdown();
    return 0;
}
