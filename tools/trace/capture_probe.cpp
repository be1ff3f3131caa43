// SPDX-License-Identifier: MIT
// Run under the capture by the trace_capture_probe test: calls the trace must hold in its format
// (memalign alignments that glibc accepts but that are not powers of two), and a child that execs,
// as system() does, which must not write into its parent's trace (the path has no %p).
#include <cstddef>
#include <cstdlib>
#include <malloc.h>

int main() {
    // volatile: compilers warn about alignments they can see are not powers of two.
    volatile std::size_t odd_alignment = 24; // glibc rounds it up: 32
    volatile std::size_t no_alignment = 0;
    void* odd = memalign(odd_alignment, 100);
    void* zero = memalign(no_alignment, 100);
    std::free(odd);
    std::free(zero);
    return std::system("sort /dev/null > /dev/null") == 0 ? 0 : 1;
}
