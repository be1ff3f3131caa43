// SPDX-License-Identifier: MIT
#include "pmrkit/sources/heap_resource.hpp"

#include "pmrkit/detail/math.hpp"

namespace pmrkit {

namespace {

// Constant-initialized storage whose destructor leaves the resource alive: a resource destroyed
// at exit would turn later deallocations from other static destructors into pure virtual calls.
union never_destroyed {
    constexpr never_destroyed() noexcept : resource() {}
    ~never_destroyed() {}
    never_destroyed(const never_destroyed&) = delete;
    never_destroyed& operator=(const never_destroyed&) = delete;
    heap_resource resource;
};

constinit never_destroyed shared;

} // namespace

void* heap_resource::allocate_slow(std::size_t bytes, std::size_t alignment) const {
    if (!detail::is_satisfiable(bytes, alignment)) {
        detail::throw_bad_alloc();
    }
    if (alignment <= plain_new_alignment) {
        return ::operator new(plain_size(bytes, alignment));
    }
    // One byte more moves a request off a buggy fast path (see the class comment); satisfiable
    // sizes leave room for it.
    for (const std::size_t extra : {0u, 1u}) {
        void* p = ::operator new(bytes + extra, std::align_val_t{alignment});
        if (detail::is_aligned(p, alignment)) [[likely]] {
            return p;
        }
        ::operator delete(p, std::align_val_t{alignment});
    }
    detail::throw_bad_alloc();
}

heap_resource* heap() noexcept { return &shared.resource; }

} // namespace pmrkit
