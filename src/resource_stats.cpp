// SPDX-License-Identifier: MIT
#include "pmrkit/resource_stats.hpp"

#include <numeric>
#include <ostream>
#include <sstream>
#include <utility>

namespace pmrkit {

namespace {

void write_count(std::ostream& out, const resource_stats::count& value) {
    if (value) {
        out << *value;
    } else {
        out << "null";
    }
}

void write_histogram(std::ostream& out, const std::optional<pow2_histogram>& histogram) {
    if (!histogram) {
        out << "null";
        return;
    }
    out << '{';
    const char* separator = "";
    for (std::size_t k = 0; k < pow2_histogram::buckets; ++k) {
        if (histogram->counts[k] != 0) {
            out << separator << '"' << pow2_histogram::label(k) << "\": " << histogram->counts[k];
            separator = ", ";
        }
    }
    out << '}';
}

} // namespace

std::uint64_t pow2_histogram::total() const noexcept {
    return std::accumulate(counts.begin(), counts.end(), std::uint64_t{0});
}

void write_json(std::ostream& out, const resource_stats& s) {
    // The resource name is a type name chosen by pmrkit, so it needs no escaping.
    out << "{\"resource\": \"" << s.resource << '"';
    const std::pair<const char*, const resource_stats::count*> counts[] = {
        {"allocations", &s.allocations},
        {"deallocations", &s.deallocations},
        {"failed_allocations", &s.failed_allocations},
        {"blocks_in_use", &s.blocks_in_use},
        {"bytes_in_use", &s.bytes_in_use},
        {"peak_blocks_in_use", &s.peak_blocks_in_use},
        {"peak_bytes_in_use", &s.peak_bytes_in_use},
        {"total_bytes", &s.total_bytes},
        {"served_locally", &s.served_locally},
        {"upstream_allocations", &s.upstream_allocations},
        {"upstream_deallocations", &s.upstream_deallocations},
        {"upstream_bytes", &s.upstream_bytes},
    };
    for (const auto& [key, value] : counts) {
        out << ", \"" << key << "\": ";
        write_count(out, *value);
    }
    out << ", \"sizes\": ";
    write_histogram(out, s.sizes);
    out << ", \"alignments\": ";
    write_histogram(out, s.alignments);
    out << '}';
}

void write_json(std::ostream& out, std::span<const resource_stats> stack) {
    out << '[';
    const char* separator = "\n  ";
    for (const resource_stats& s : stack) {
        out << separator;
        write_json(out, s);
        separator = ",\n  ";
    }
    out << (stack.empty() ? "]" : "\n]");
}

std::string to_json(const resource_stats& stats) {
    std::ostringstream out;
    write_json(out, stats);
    return std::move(out).str();
}

std::string to_json(std::span<const resource_stats> stack) {
    std::ostringstream out;
    write_json(out, stack);
    return std::move(out).str();
}

} // namespace pmrkit
