// SPDX-License-Identifier: MIT
// Prints size_class_resource's utilization report as a Markdown table with its summary (average,
// worst, internal waste):
//     size_class_report [max_pooled_size]
#include "pmrkit/size_class_resource.hpp"

#include <algorithm>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <string>
#include <vector>

namespace {

void print_utilization(std::ostream& out, const pmrkit::size_class_options& options) {
    using classes = pmrkit::size_class_resource::classes;
    const std::vector<pmrkit::size_class_utilization> rows =
        pmrkit::size_class_resource::utilization(options);
    out << "| class | block | alignment | span | blocks/span | wasted/span | utilization |\n"
        << "|---:|---:|---:|---:|---:|---:|---:|\n";
    double sum = 0;
    const pmrkit::size_class_utilization* worst = &rows.front();
    double worst_waste = 0;
    std::size_t previous = 0;
    for (std::size_t c = 0; c < rows.size(); ++c) {
        const pmrkit::size_class_utilization& r = rows[c];
        out << "| " << c << " | " << r.block_size << " | " << r.alignment << " | "
            << r.span_bytes / 1024 << " KiB | " << r.blocks_per_span << " | " << r.wasted_bytes
            << " | " << std::fixed << std::setprecision(1) << 100 * r.utilization << "% |\n";
        sum += r.utilization;
        if (r.utilization < worst->utilization) {
            worst = &r;
        }
        // Worst internal waste: a request one byte above the previous class.
        if (previous >= classes::linear_limit) {
            worst_waste = std::max(worst_waste, static_cast<double>(r.block_size - previous - 1) /
                                                    static_cast<double>(r.block_size));
        }
        previous = r.block_size;
    }
    out << "\nclasses: " << rows.size() << ", span utilization average "
        << 100 * sum / static_cast<double>(rows.size()) << "%, worst " << 100 * worst->utilization
        << "% (" << worst->block_size << "-byte class)\n"
        << "internal waste: under " << classes::granularity << " bytes up to "
        << classes::linear_limit << " bytes, at most " << std::setprecision(3) << 100 * worst_waste
        << "% of the block above\n";
}

} // namespace

int main(int argc, char** argv) {
    pmrkit::size_class_options options;
    if (argc > 1) {
        options.max_pooled_size = std::stoull(argv[1]);
    }
    print_utilization(std::cout, options);
    return EXIT_SUCCESS;
}
