// SPDX-License-Identifier: MIT
// thread_exit: a thread's state, held on the heap, handed to its exit function once when the
// thread exits.
//
// Why not a thread_local object with a destructor: under MinGW-w64 (GCC's emulated TLS over
// winpthreads) a thread started by std::thread has the storage of all its thread_local variables
// freed before the destructors of its thread_local objects run (GCC PR 80816), so such a
// destructor reads freed memory; concurrent_pool_resource's thread caches crashed that way at
// thread exit. Here the state lives on the heap and the exit path reaches it without
// touching thread_local storage:
// - Windows: a fiber-local storage slot (FlsAlloc) whose callback gets the state. It runs when the
//   thread exits, before DLL_THREAD_DETACH; not for the thread that ends the process.
// - elsewhere: a thread_local holder whose destructor calls the exit function, as every runtime
//   that keeps a thread's TLS until its destructors have run does (glibc, musl, macOS).
// One client (detail::cache_registry), so one state per thread.
#pragma once

namespace pmrkit::detail {

// Base of a thread's state: on_exit(self) owns it from the moment it is called.
struct thread_exit_state {
    void (*on_exit)(thread_exit_state* self) noexcept;
};

// Whether an exit function may still read and write thread_local variables. False on Windows:
// under MinGW their storage may be gone (see above), so the exit function must leave them alone;
// a call made on the thread after it (from a DLL_THREAD_DETACH handler or a thread_local
// destructor) must not rely on state the exit function released.
#ifdef _WIN32
inline constexpr bool thread_locals_live_at_exit = false;
#else
inline constexpr bool thread_locals_live_at_exit = true;
#endif

// The calling thread's state, or nullptr (none set yet, or already handed to on_exit).
[[nodiscard]] thread_exit_state* this_thread_exit_state() noexcept;
// Makes state the calling thread's, which has none; state->on_exit(state) runs once when the
// thread exits. Throws std::bad_alloc when the system has no slot left (Windows: FLS indexes).
void set_this_thread_exit_state(thread_exit_state* state);
// True once the calling thread's exit function has run: calls made later on this thread (from
// other thread-exit handlers) must not set up state again, which nothing would release.
[[nodiscard]] bool this_thread_exited() noexcept;

} // namespace pmrkit::detail
