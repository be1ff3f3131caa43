// SPDX-License-Identifier: MIT
#include "pmrkit/detail/thread_exit.hpp"

#include "windows.hpp"

#include <new>

namespace pmrkit::detail {

#ifdef _WIN32

namespace {

void WINAPI on_fls_exit(void* state);

// Both allocated on first use and never freed (freeing an FLS index runs its callback for every
// thread that holds a value).
DWORD fls_index() {
    static const DWORD index = ::FlsAlloc(&on_fls_exit);
    return index;
}
// Set once the thread's exit function has run. TLS slots (TlsAlloc) live in the thread's own TEB
// until it is gone, unlike the emulated thread_local variables.
DWORD exited_index() {
    static const DWORD index = ::TlsAlloc();
    return index;
}

void WINAPI on_fls_exit(void* state) {
    // Marked first: on_exit may run code that asks whether the thread has exited.
    ::TlsSetValue(exited_index(), reinterpret_cast<void*>(1));
    auto* s = static_cast<thread_exit_state*>(state);
    s->on_exit(s);
}

} // namespace

thread_exit_state* this_thread_exit_state() noexcept {
    const DWORD index = fls_index();
    return index == FLS_OUT_OF_INDEXES ? nullptr
                                       : static_cast<thread_exit_state*>(::FlsGetValue(index));
}

void set_this_thread_exit_state(thread_exit_state* state) {
    const DWORD index = fls_index();
    if (index == FLS_OUT_OF_INDEXES || exited_index() == TLS_OUT_OF_INDEXES ||
        ::FlsSetValue(index, state) == FALSE) {
        throw std::bad_alloc();
    }
}

bool this_thread_exited() noexcept {
    const DWORD index = exited_index();
    return index != TLS_OUT_OF_INDEXES && ::TlsGetValue(index) != nullptr;
}

#else

namespace {

constinit thread_local bool t_exited = false;

struct holder {
    thread_exit_state* state = nullptr;

    holder() = default;
    holder(const holder&) = delete;
    holder& operator=(const holder&) = delete;
    ~holder() {
        t_exited = true;
        if (state != nullptr) {
            state->on_exit(state);
        }
    }
};

holder& local() {
    thread_local holder h;
    return h;
}

} // namespace

thread_exit_state* this_thread_exit_state() noexcept {
    return local().state;
}

void set_this_thread_exit_state(thread_exit_state* state) {
    local().state = state;
}

bool this_thread_exited() noexcept {
    return t_exited;
}

#endif

} // namespace pmrkit::detail
