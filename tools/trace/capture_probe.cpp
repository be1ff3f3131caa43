// SPDX-License-Identifier: MIT
// Run under the capture by the trace_capture_probe test: calls the trace must hold in its format
// (memalign alignments that glibc accepts but that are not powers of two), and a child that execs,
// as system() does, which must not write into its parent's trace (the path has no %p).
#include <cstdlib>
#include <malloc.h>

int main() {
    void* odd = memalign(24, 100); // glibc rounds the alignment up: 32
    void* zero = memalign(0, 100);
    std::free(odd);
    std::free(zero);
    return std::system("sort /dev/null > /dev/null") == 0 ? 0 : 1;
}
