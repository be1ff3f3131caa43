// SPDX-License-Identifier: MIT
// libpmrkit_capture.so: records a program's malloc family calls in the pmrkit trace format
// (docs/trace-format.md), for pmrkit_replay.
//
//     PMRKIT_TRACE=/tmp/prog.%p.trace LD_PRELOAD=libpmrkit_capture.so prog args...
//
// PMRKIT_TRACE        output path; %p becomes the process id (one file per process: a compiler
//                     driver's children, forked workers). Unset: nothing is recorded.
// PMRKIT_TRACE_MAX    stop recording after this many events (the program runs on unrecorded).
// PMRKIT_TRACE_THREADS=first  record only the first thread that allocates (normally main);
//                     default: every thread, each record tagged with its thread's index.
//
// How: every function forwards to the next definition (dlsym(RTLD_NEXT)), so the program runs on
// its own malloc, preloaded ones included. Records are encoded into a static buffer under a spin
// lock and written with write(2) when it fills and at exit: nothing here calls malloc or stdio.
// A free is recorded before the block is freed and an allocation after it returns, and realloc
// holds the lock across the call, so the record order is an order in which every address is
// allocated before it is freed, even when another thread gets the same address at once.
// dlsym may itself call calloc before the real one is known: such calls are served from a small
// static buffer and never recorded. A thread-local flag passes calls made from inside a hook
// (by the real allocator or by dlsym) straight through. After fork the child drops the parent's
// buffer and starts its own file if the path has %p, or records nothing; so does a process started
// while another records into the same file (a lock on it says so).

#include "trace_format.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/file.h>
#include <unistd.h>

namespace {

namespace fmt = pmrkit::trace;

using malloc_fn = void* (*)(std::size_t);
using free_fn = void (*)(void*);
using calloc_fn = void* (*)(std::size_t, std::size_t);
using realloc_fn = void* (*)(void*, std::size_t);
using aligned_alloc_fn = void* (*)(std::size_t, std::size_t);
using posix_memalign_fn = int (*)(void**, std::size_t, std::size_t);
using valloc_fn = void* (*)(std::size_t);

struct real_functions {
    malloc_fn malloc = nullptr;
    free_fn free = nullptr;
    calloc_fn calloc = nullptr;
    realloc_fn realloc = nullptr;
    aligned_alloc_fn aligned_alloc = nullptr;
    posix_memalign_fn posix_memalign = nullptr;
    aligned_alloc_fn memalign = nullptr;
    valloc_fn valloc = nullptr;
    valloc_fn pvalloc = nullptr;
};
real_functions g_real;

// What dlsym allocates while the real functions are being looked up (glibc: one small calloc).
// Each block has a 16-byte prefix holding its size, for realloc.
alignas(16) unsigned char g_boot[16 * 1024];
std::size_t g_boot_used = 0;
std::atomic<int> g_boot_state{0}; // 0: not started, 1: looking up, 2: done

bool from_boot(const void* p) noexcept {
    auto* b = static_cast<const unsigned char*>(p);
    return b >= g_boot && b < g_boot + sizeof g_boot;
}

void* boot_alloc(std::size_t n) noexcept {
    const std::size_t need = 16 + ((n + 15) & ~std::size_t{15});
    if (n > sizeof g_boot || need > sizeof g_boot - g_boot_used) {
        return nullptr;
    }
    unsigned char* p = g_boot + g_boot_used;
    g_boot_used += need;
    std::memcpy(p, &n, sizeof n);
    return p + 16; // zero already: the buffer is static and never reused
}

std::size_t boot_size(const void* p) noexcept {
    std::size_t n = 0;
    std::memcpy(&n, static_cast<const unsigned char*>(p) - 16, sizeof n);
    return n;
}

// Recording state, guarded by g_lock.
std::atomic_flag g_lock = ATOMIC_FLAG_INIT;
int g_fd = -1;
bool g_recording = false;
bool g_first_thread_only = false;
bool g_path_has_pid = false;
bool g_capped = false;
std::uint64_t g_max_events = UINT64_MAX;
std::uint64_t g_events = 0;
std::uint64_t g_previous_pointer = 0;
char g_path_pattern[4096];
unsigned char g_buffer[1 << 20];
std::size_t g_used = 0;
std::atomic<std::uint32_t> g_next_thread{0};

constexpr std::uint32_t no_thread = UINT32_MAX;
// initial-exec: a preloaded library has static TLS, and the general model may call malloc.
[[gnu::tls_model("initial-exec")]] thread_local std::uint32_t t_thread = no_thread;
[[gnu::tls_model("initial-exec")]] thread_local bool t_in_hook = false;

// The holder may be in a slow call (a realloc that copies, a 1 MiB write): a waiter that keeps
// failing gives up its time slice rather than spinning through it.
void lock() noexcept {
    for (unsigned tries = 1; g_lock.test_and_set(std::memory_order_acquire); ++tries) {
        if (tries % 64 == 0) {
            ::sched_yield();
        }
    }
}
void unlock() noexcept {
    g_lock.clear(std::memory_order_release);
}

void write_all(const unsigned char* p, std::size_t n) noexcept {
    while (n > 0 && g_fd >= 0) {
        const ssize_t w = ::write(g_fd, p, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            g_recording = false; // a full disk ends the trace; its missing end record says so
            return;
        }
        p += w;
        n -= static_cast<std::size_t>(w);
    }
}

void flush_locked() noexcept {
    write_all(g_buffer, g_used);
    g_used = 0;
}

// Copies the pattern to out with %p replaced by the process id.
void expand_path(char* out, std::size_t size) noexcept {
    char pid[24];
    int len = 0;
    for (auto v = static_cast<unsigned long>(::getpid()); v != 0 || len == 0; v /= 10) {
        pid[len++] = static_cast<char>('0' + v % 10);
    }
    std::size_t o = 0;
    for (const char* s = g_path_pattern; *s != '\0' && o + 1 < size; ++s) {
        if (s[0] == '%' && s[1] == 'p') {
            for (int i = len; i > 0 && o + 1 < size; --i) {
                out[o++] = pid[i - 1];
            }
            ++s;
        } else {
            out[o++] = *s;
        }
    }
    out[o] = '\0';
}

void open_output_locked() noexcept {
    char path[sizeof g_path_pattern + 24];
    expand_path(path, sizeof path);
    g_fd = ::open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    // A process started while another records into the same file (a child that execs, as
    // system() does, when the path has no %p) would truncate it under the writer: the writer holds
    // a lock on it, and such a process records nothing.
    if (g_fd >= 0 && (::flock(g_fd, LOCK_EX | LOCK_NB) != 0 || ::ftruncate(g_fd, 0) != 0)) {
        ::close(g_fd);
        g_fd = -1;
    }
    g_recording = g_fd >= 0;
    g_events = 0;
    g_previous_pointer = 0;
    g_capped = false;
    g_used = 0;
    if (g_recording) {
        std::memcpy(g_buffer, fmt::magic, sizeof fmt::magic);
        g_buffer[8] = static_cast<unsigned char>(fmt::version & 0xff);
        g_buffer[9] = static_cast<unsigned char>(fmt::version >> 8);
        g_buffer[10] = 0;
        g_buffer[11] = 0;
        g_used = fmt::header_size;
        flush_locked(); // a process that ends in _exit leaves a trace that says it is cut short
    }
}

void before_fork() noexcept {
    lock();
}
void after_fork_parent() noexcept {
    unlock();
}
void after_fork_child() noexcept {
    // The parent's records are the parent's to write; the child's file (if any) starts empty.
    g_used = 0;
    g_next_thread.store(1, std::memory_order_relaxed);
    t_thread = 0;
    if (g_fd >= 0) {
        g_fd = -1; // close-on-exec; left open rather than closed under the parent's feet
    }
    g_recording = false;
    if (g_path_has_pid) {
        open_output_locked();
    }
    unlock();
}

void read_settings() noexcept {
    const char* path = std::getenv("PMRKIT_TRACE");
    if (path == nullptr || *path == '\0' || std::strlen(path) >= sizeof g_path_pattern) {
        return;
    }
    std::strcpy(g_path_pattern, path);
    g_path_has_pid = std::strstr(path, "%p") != nullptr;
    if (const char* max = std::getenv("PMRKIT_TRACE_MAX"); max != nullptr && *max != '\0') {
        g_max_events = std::strtoull(max, nullptr, 10);
    }
    if (const char* threads = std::getenv("PMRKIT_TRACE_THREADS")) {
        g_first_thread_only = std::strcmp(threads, "first") == 0;
    }
    lock();
    open_output_locked();
    unlock();
}

template <class F>
F next(const char* name) noexcept {
    return reinterpret_cast<F>(::dlsym(RTLD_NEXT, name));
}

void bootstrap() noexcept {
    int expected = 0;
    if (t_in_hook) {
        return; // a call from inside this lookup (not malloc, calloc or realloc): fails
    }
    if (!g_boot_state.compare_exchange_strong(expected, 1)) {
        while (g_boot_state.load() != 2) {
        }
        return;
    }
    t_in_hook = true;
    g_real.malloc = next<malloc_fn>("malloc");
    g_real.free = next<free_fn>("free");
    g_real.calloc = next<calloc_fn>("calloc");
    g_real.realloc = next<realloc_fn>("realloc");
    g_real.aligned_alloc = next<aligned_alloc_fn>("aligned_alloc");
    g_real.posix_memalign = next<posix_memalign_fn>("posix_memalign");
    g_real.memalign = next<aligned_alloc_fn>("memalign");
    g_real.valloc = next<valloc_fn>("valloc");
    g_real.pvalloc = next<valloc_fn>("pvalloc");
    g_boot_state.store(2); // pthread_atfork may allocate: t_in_hook passes that through
    ::pthread_atfork(before_fork, after_fork_parent, after_fork_child);
    read_settings();
    t_in_hook = false;
}

bool ready() noexcept {
    if (g_boot_state.load(std::memory_order_acquire) != 2) {
        bootstrap();
    }
    return g_boot_state.load(std::memory_order_acquire) == 2 && g_real.malloc != nullptr;
}

// Encodes one record; fields are the varints after op and thread (pointers already zigzagged).
struct record {
    fmt::op code;
    std::uint64_t fields[3];
    int count;
};

std::uint64_t pointer_field(const void* p) noexcept {
    const auto a = reinterpret_cast<std::uintptr_t>(p);
    const std::uint64_t delta = a - g_previous_pointer;
    g_previous_pointer = a;
    return fmt::zigzag(delta);
}

// The recording side of a hook: the caller holds the lock.
bool wants_record_locked() noexcept {
    if (!g_recording) {
        return false;
    }
    if (t_thread == no_thread) {
        t_thread = g_next_thread.fetch_add(1, std::memory_order_relaxed);
    }
    if ((g_first_thread_only && t_thread != 0) || t_thread >= fmt::max_threads) {
        return false;
    }
    if (g_events == g_max_events) {
        g_capped = true;
        g_recording = false;
        return false;
    }
    return true;
}

void append_locked(fmt::op code, std::uint64_t a, std::uint64_t b, std::uint64_t c,
                   int count) noexcept {
    if (sizeof g_buffer - g_used < fmt::max_record_size) {
        flush_locked();
    }
    unsigned char* out = g_buffer + g_used;
    *out++ = static_cast<unsigned char>(code);
    out = fmt::put_varint(out, t_thread);
    const std::uint64_t fields[3] = {a, b, c};
    for (int i = 0; i < count; ++i) {
        out = fmt::put_varint(out, fields[i]);
    }
    g_used = static_cast<std::size_t>(out - g_buffer);
    ++g_events;
}

// An allocation that returned p (null: failed, not recorded).
void record_allocation(fmt::op code, std::size_t alignment, std::size_t size, void* p) noexcept {
    if (p == nullptr || t_in_hook) {
        return;
    }
    lock();
    if (wants_record_locked()) {
        if (code == fmt::op::aligned) {
            append_locked(code, alignment, size, pointer_field(p), 3);
        } else {
            append_locked(code, size, pointer_field(p), 0, 2);
        }
    }
    unlock();
}

void record_free(void* p) noexcept {
    lock();
    if (wants_record_locked()) {
        append_locked(fmt::op::free, pointer_field(p), 0, 0, 1);
    }
    unlock();
}

// Runs f with the hook flag set, so that what the real allocator calls is passed through.
template <class F>
auto in_hook(F f) noexcept {
    const bool outer = t_in_hook;
    t_in_hook = true;
    auto r = f();
    t_in_hook = outer;
    return r;
}

// The aligned forms: call the real one (known once ready) and record what it gave. glibc's
// memalign (aligned_alloc is the same function) takes any alignment and rounds it up to a power of
// two, 0 to 1: the trace records the alignment the block has, which the format requires.
template <class Call>
void* aligned_hook(std::size_t alignment, std::size_t size, Call call) noexcept {
    if (!ready()) {
        return nullptr;
    }
    void* p = in_hook(call);
    if (p != nullptr) { // then the alignment was at most half the address space
        alignment = std::bit_ceil(std::max<std::size_t>(alignment, 1));
    }
    record_allocation(fmt::op::aligned, alignment, size, p);
    return p;
}

std::size_t page_size() noexcept {
    return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

[[gnu::destructor]] void finish() noexcept {
    lock();
    if (g_fd >= 0) {
        const bool capped = g_capped;
        // The end record is written even after the cap: it says the trace is whole.
        g_recording = true;
        if (t_thread == no_thread) {
            t_thread = g_next_thread.fetch_add(1, std::memory_order_relaxed);
        }
        const std::uint64_t events = g_events;
        append_locked(fmt::op::end, events, capped ? fmt::end_capped : 0, 0, 2);
        flush_locked();
        ::close(g_fd);
        g_fd = -1;
    }
    g_recording = false;
    unlock();
}

[[gnu::constructor]] void start() noexcept {
    ready();
}

} // namespace

extern "C" {

[[gnu::visibility("default")]] void* malloc(std::size_t size) {
    if (g_boot_state.load(std::memory_order_acquire) == 1) {
        return boot_alloc(size);
    }
    if (!ready()) {
        return nullptr;
    }
    if (t_in_hook) {
        return g_real.malloc(size);
    }
    void* p = in_hook([&] { return g_real.malloc(size); });
    record_allocation(fmt::op::malloc, 0, size, p);
    return p;
}

[[gnu::visibility("default")]] void* calloc(std::size_t count, std::size_t size) {
    if (g_boot_state.load(std::memory_order_acquire) == 1) {
        std::size_t total = 0;
        return __builtin_mul_overflow(count, size, &total) ? nullptr : boot_alloc(total);
    }
    if (!ready()) {
        return nullptr;
    }
    if (t_in_hook) {
        return g_real.calloc(count, size);
    }
    void* p = in_hook([&] { return g_real.calloc(count, size); });
    record_allocation(fmt::op::calloc, 0, count * size, p); // count * size fits: p is not null
    return p;
}

[[gnu::visibility("default")]] void free(void* p) {
    if (p == nullptr || from_boot(p)) {
        return;
    }
    if (!ready()) {
        return;
    }
    if (!t_in_hook) {
        record_free(p);
    }
    g_real.free(p);
}

[[gnu::visibility("default")]] void* realloc(void* old, std::size_t size) {
    if (g_boot_state.load(std::memory_order_acquire) == 1) {
        void* p = boot_alloc(size);
        if (p != nullptr && old != nullptr) {
            std::memcpy(p, old, boot_size(old) < size ? boot_size(old) : size);
        }
        return p;
    }
    if (!ready()) {
        return nullptr;
    }
    if (old != nullptr && from_boot(old)) {
        void* p = malloc(size);
        if (p != nullptr) {
            std::memcpy(p, old, boot_size(old) < size ? boot_size(old) : size);
        }
        return p;
    }
    if (t_in_hook) {
        return g_real.realloc(old, size);
    }
    if (old == nullptr) {
        void* p = in_hook([&] { return g_real.realloc(nullptr, size); });
        record_allocation(fmt::op::malloc, 0, size, p);
        return p;
    }
    // Under the lock: no other thread may record an allocation at `old` before this record.
    lock();
    void* p = in_hook([&] { return g_real.realloc(old, size); });
    if (wants_record_locked()) {
        if (p != nullptr) {
            const std::uint64_t from = pointer_field(old);
            append_locked(fmt::op::realloc, from, size, pointer_field(p), 3);
        } else if (size == 0) {
            append_locked(fmt::op::free, pointer_field(old), 0, 0, 1); // glibc frees it
        }
    }
    unlock();
    return p;
}

[[gnu::visibility("default")]] void* reallocarray(void* old, std::size_t count, std::size_t size) {
    std::size_t total = 0;
    if (__builtin_mul_overflow(count, size, &total)) {
        errno = ENOMEM;
        return nullptr;
    }
    return realloc(old, total);
}

[[gnu::visibility("default")]] void* aligned_alloc(std::size_t alignment, std::size_t size) {
    return aligned_hook(alignment, size, [&] { return g_real.aligned_alloc(alignment, size); });
}

[[gnu::visibility("default")]] void* memalign(std::size_t alignment, std::size_t size) {
    return aligned_hook(alignment, size, [&] { return g_real.memalign(alignment, size); });
}

[[gnu::visibility("default")]] int posix_memalign(void** out, std::size_t alignment,
                                                  std::size_t size) {
    if (!ready()) {
        return ENOMEM;
    }
    const int r = in_hook([&] { return g_real.posix_memalign(out, alignment, size); });
    if (r == 0) {
        record_allocation(fmt::op::aligned, alignment, size, *out);
    }
    return r;
}

[[gnu::visibility("default")]] void* valloc(std::size_t size) {
    return aligned_hook(page_size(), size, [&] { return g_real.valloc(size); });
}

[[gnu::visibility("default")]] void* pvalloc(std::size_t size) {
    const std::size_t page = page_size();
    return aligned_hook(page, (size + page - 1) & ~(page - 1),
                        [&] { return g_real.pvalloc(size); });
}

} // extern "C"
