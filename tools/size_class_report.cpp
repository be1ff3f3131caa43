// SPDX-License-Identifier: MIT
// Prints size_class_resource's utilization report (the table in the README):
//     size_class_report [max_pooled_size]
#include "pmrkit/size_class_resource.hpp"

#include <cstdlib>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
    pmrkit::size_class_options options;
    if (argc > 1) {
        options.max_pooled_size = std::stoull(argv[1]);
    }
    pmrkit::size_class_resource::print_utilization(std::cout, options);
    return EXIT_SUCCESS;
}
