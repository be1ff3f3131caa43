// SPDX-License-Identifier: MIT
// What the stand-alone comparison programs (json_parse, object_pool) share: default flags
// (interleaved repetitions with aggregates only, which the command line can override) and the
// collection of medians for their summary tables.
#pragma once

#include <benchmark/benchmark.h>

#include <map>
#include <string>
#include <vector>

namespace pmrkit_bench {

// Initializes Google Benchmark with `defaults` placed before the command line's flags, so that
// later flags win. Returns false (after reporting them) when arguments are not recognized.
inline bool initialize_with_defaults(int argc, char** argv, std::vector<std::string> defaults) {
    std::vector<char*> args{argv[0]};
    for (std::string& d : defaults) {
        args.push_back(d.data());
    }
    args.insert(args.end(), argv + 1, argv + argc);
    int count = static_cast<int>(args.size());
    benchmark::Initialize(&count, args.data());
    return !benchmark::ReportUnrecognizedArguments(count, args.data());
}

inline const std::vector<std::string> interleaved_medians = {
    "--benchmark_repetitions=5", "--benchmark_enable_random_interleaving=true",
    "--benchmark_report_aggregates_only=true", "--benchmark_min_time=0.2"};

// Records, per benchmark name, the median aggregate of `counter` from `runs`; with a single
// repetition there are no aggregates, and the one run stands for the median.
inline void collect_medians(const std::vector<benchmark::BenchmarkReporter::Run>& runs,
                            const std::string& counter, std::map<std::string, double>& medians) {
    using run = benchmark::BenchmarkReporter::Run;
    for (const run& r : runs) {
        const auto found = r.counters.find(counter);
        if (found == r.counters.end()) {
            continue;
        }
        if (r.run_type == run::RT_Aggregate && r.aggregate_name == "median") {
            medians[r.run_name.function_name] = found->second.value;
        } else if (r.run_type == run::RT_Iteration) {
            medians.emplace(r.run_name.function_name, found->second.value);
        }
    }
}

} // namespace pmrkit_bench
