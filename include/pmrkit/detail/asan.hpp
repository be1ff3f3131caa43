// SPDX-License-Identifier: MIT
// Manual AddressSanitizer poisoning, for resources that hand out memory ASan's allocator never
// sees (an arena's chunks): memory not currently handed out is poisoned, so a use after rewind or
// reset is reported like a use after free. Without ASan these compile to nothing.
#pragma once

#include "pmrkit/detail/config.hpp"

#include <cstddef>

#if defined(PMRKIT_ASAN)
#include <sanitizer/asan_interface.h>
#endif

namespace pmrkit::detail {

// ASan tracks 8-byte granules: poisoning may leave the partial granules at either end accessible,
// unpoisoning may make them accessible; never a false report either way.
inline void asan_poison([[maybe_unused]] const void* p,
                        [[maybe_unused]] std::size_t bytes) noexcept {
#if defined(PMRKIT_ASAN)
    ASAN_POISON_MEMORY_REGION(p, bytes);
#endif
}

inline void asan_unpoison([[maybe_unused]] const void* p,
                          [[maybe_unused]] std::size_t bytes) noexcept {
#if defined(PMRKIT_ASAN)
    ASAN_UNPOISON_MEMORY_REGION(p, bytes);
#endif
}

} // namespace pmrkit::detail
