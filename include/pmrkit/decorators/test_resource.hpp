// SPDX-License-Identifier: MIT
#pragma once

#include "pmrkit/resource_stats.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <memory_resource>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

namespace pmrkit {

/// What test_resource found wrong.
enum class allocation_error_kind {
    unknown_pointer,    ///< deallocate of a pointer it never gave (foreign, or freed long ago)
    double_free,        ///< deallocate of a block still in quarantine, i.e. freed recently
    size_mismatch,      ///< deallocate with a size other than the allocation's
    alignment_mismatch, ///< deallocate with an alignment other than the allocation's
    overrun_before,     ///< a guard byte before the block was overwritten
    overrun_after,      ///< a guard byte after the block was overwritten
    write_after_free,   ///< a freed (scribbled) block was written to while in quarantine
    leak,               ///< blocks still live when the resource is destroyed
    exception_leak,     ///< blocks left live by a run of exception_test that failed
};

/// The report of one detection; what() is the full message, naming the pointer, size and
/// alignment involved (and, for leaks, the count, the bytes and the first offenders).
class allocation_error : public std::logic_error {
public:
    /// What was found, the block concerned, and the full message what() returns.
    allocation_error(allocation_error_kind kind, const void* pointer, const std::string& message)
        : std::logic_error(message), m_kind(kind), m_pointer(pointer) {}
    /// What was found wrong.
    [[nodiscard]] allocation_error_kind kind() const noexcept { return m_kind; }
    /// The block concerned (for leaks, the oldest leaked block).
    [[nodiscard]] const void* pointer() const noexcept { return m_pointer; }

private:
    allocation_error_kind m_kind;
    const void* m_pointer;
};

/// Thrown by an injected allocation failure: a std::bad_alloc, distinct from a real one so that
/// exception_test and tests can tell them apart.
struct injected_bad_alloc : std::bad_alloc {
    /// A fixed "pmrkit::injected_bad_alloc".
    [[nodiscard]] const char* what() const noexcept override {
        return "pmrkit::injected_bad_alloc";
    }
};

/// What test_resource does on finding an error (test_resource_options::on_error).
enum class error_action {
    abort,        ///< print the message to stderr and call std::abort (the default)
    throw_error,  ///< throw allocation_error (from the destructor, where throwing is not possible,
                  ///< this acts as abort)
    call_handler, ///< call options.handler and carry on
};

/// Options of test_resource, for designated initializers.
struct test_resource_options {
    /// Guard bytes on each side of every block, checked on deallocate and by check().
    std::size_t guard_bytes = 16;
    /// Freed blocks kept (scribbled) before going back upstream, so that a write after free is
    /// caught when they leave quarantine or by check(), and a double free is named as such.
    std::size_t quarantine_blocks = 16;
    /// What to do on an error: abort (the default), throw allocation_error, or call handler.
    error_action on_error = error_action::abort;
    /// Called with each error when on_error is call_handler, outside the resource's lock (so it
    /// may use the resource), from whichever thread hit the error. It may throw, except from the
    /// destructor's leak report.
    std::function<void(const allocation_error&)> handler = {};
    /// How many leaked blocks a leak report names (oldest first).
    std::size_t leaks_listed = 5;
};

class test_resource;

namespace detail {
std::size_t run_exception_test(test_resource& resource, void (*call)(void*), void* f);
}

/// test_resource: a checking resource for tests, after Bloomberg's bslma::TestAllocator. It
/// records every live allocation and detects, with a message naming the pointer, size and
/// alignment:
///   - deallocation of a pointer it never gave (foreign pointer) or gave and took back (double
///     free; named as such while the block is in quarantine),
///   - a deallocation size or alignment that differs from the allocation's,
///   - writes past either end of a block (guard bytes, checked on deallocate and by check()),
///   - writes into freed blocks (scribbled with 0xA5 and kept in a small quarantine),
///   - leaks when it is destroyed (count, bytes and the first offenders, oldest first).
/// New blocks are filled with 0xCA so that reads of uninitialized memory show. What happens on an
/// error is options().on_error. Allocation failures can be injected (fail_allocation), and
/// exception_test() drives exception-safety loops.
///
/// Memory: every block is taken from upstream with its guards (front guard rounded up to the
/// alignment); the records live outside the blocks, in memory from upstream too, so a foreign
/// pointer is looked up, never dereferenced, and an overrun cannot corrupt the bookkeeping.
/// Complexity: O(size of the block) per call for filling and checking; O(1) bookkeeping.
/// Errors: std::bad_alloc for alignments that are not powers of two and impossible sizes;
/// upstream exceptions propagate; injected failures throw injected_bad_alloc.
/// Thread safety: every member may be called from any thread (one mutex; the error action runs
/// outside it).
///
/// Example:
///
///     pmrkit::test_resource tr;
///     {
///         std::pmr::vector<int> v(&tr);
///         v.push_back(1);
///     }
///     assert(tr.live_blocks() == 0);   // and the destructor would have reported a leak
class test_resource final : public std::pmr::memory_resource {
public:
    /// Takes no memory. Blocks come from `upstream`, each with its guards.
    explicit test_resource(test_resource_options options = {},
                           std::pmr::memory_resource* upstream = std::pmr::get_default_resource());
    /// Default options over `upstream`.
    explicit test_resource(std::pmr::memory_resource* upstream)
        : test_resource(test_resource_options{}, upstream) {}

    test_resource(const test_resource&) = delete;
    test_resource& operator=(const test_resource&) = delete;

    /// Checks the quarantine, reports leaks, and gives every block back to upstream.
    ~test_resource() override;

    /// The n-th allocation from now (1 = the next) and the times - 1 after it throw
    /// injected_bad_alloc. n == 0 or times == 0 disarms.
    void fail_allocation(std::size_t n, std::size_t times = 1) noexcept;

    /// Checks the guards of every live block and the scribble of every quarantined block,
    /// reporting each error found. Returns the number of errors found.
    std::size_t check();

    /// The resource every block (with its guards) and the records come from.
    [[nodiscard]] std::pmr::memory_resource* upstream_resource() const noexcept {
        return m_upstream;
    }
    /// The options given to the constructor.
    [[nodiscard]] const test_resource_options& options() const noexcept { return m_options; }

    /// Blocks allocated and not yet deallocated.
    [[nodiscard]] std::size_t live_blocks() const { return locked_read(m_live_blocks); }
    /// Requested bytes of the live blocks.
    [[nodiscard]] std::size_t live_bytes() const { return locked_read(m_live_bytes); }
    /// Successful allocations since construction.
    [[nodiscard]] std::size_t allocations() const { return locked_read(m_serial); }
    /// Deallocations since construction.
    [[nodiscard]] std::size_t deallocations() const { return locked_read(m_deallocations); }
    ///@{
    /// Size and alignment of the latest successful allocation.
    [[nodiscard]] std::size_t last_bytes() const { return locked_read(m_last_bytes); }
    [[nodiscard]] std::size_t last_alignment() const { return locked_read(m_last_alignment); }
    ///@}
    /// Errors reported since construction.
    [[nodiscard]] std::size_t errors() const { return locked_read(m_errors); }
    /// The snapshot in the common shape; every allocation is an upstream allocation.
    [[nodiscard]] resource_stats stats() const;

    ///@{
    /// The bytes new blocks, freed (quarantined) blocks and guards are filled with.
    static constexpr std::byte allocated_fill{0xCA};
    static constexpr std::byte freed_fill{0xA5};
    static constexpr std::byte guard_fill{0xB6};
    ///@}

private:
    friend std::size_t detail::run_exception_test(test_resource&, void (*)(void*), void*);

    struct record {
        std::byte* outer;
        std::size_t outer_bytes;
        std::size_t bytes;
        std::size_t alignment;
        std::size_t serial; // 1 for the first allocation
        bool freed;
    };
    using record_map = std::pmr::unordered_map<const void*, record>;
    using error_list = std::vector<allocation_error>;

    void* do_allocate(std::size_t bytes, std::size_t alignment) override;
    void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override;
    [[nodiscard]] bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
        return this == &other;
    }

    [[nodiscard]] std::size_t front_bytes(std::size_t alignment) const noexcept;
    void check_guards(const void* p, const record& r, error_list& errors) const;
    void check_scribble(const void* p, const record& r, error_list& errors) const;
    // Scribbles a block just freed and keeps it in quarantine, evicting the oldest if full.
    void quarantine(record_map::iterator it, error_list& errors);
    // Checks the scribble of a quarantined block, gives it back upstream and forgets it.
    void evict(record_map::iterator it, error_list& errors);
    // Appends the report of the live blocks whose serial is at least first_serial, if any.
    void report_live_since(std::size_t first_serial, allocation_error_kind kind,
                           const std::string& headline, error_list& errors) const;
    // Runs the error action for each error, outside the lock.
    void dispatch(const error_list& errors, bool from_destructor);

    [[nodiscard]] std::size_t locked_read(const std::size_t& field) const;

    // For exception_test.
    [[nodiscard]] std::size_t next_serial() const { return locked_read(m_serial) + 1; }
    void report_exception_leaks(std::size_t first_serial, std::size_t failed_allocation);

    test_resource_options m_options;
    std::pmr::memory_resource* m_upstream;
    mutable std::mutex m_mutex;
    record_map m_blocks;                  // live and quarantined blocks, by user pointer
    std::pmr::vector<const void*> m_ring; // quarantine, oldest at m_ring_next once full
    std::size_t m_ring_next = 0;
    std::size_t m_serial = 0;
    std::size_t m_live_blocks = 0;
    std::size_t m_live_bytes = 0;
    std::size_t m_peak_bytes = 0;
    std::uint64_t m_total_bytes = 0; // beyond 4 GiB in 32 bits
    std::size_t m_outer_bytes = 0;
    std::size_t m_deallocations = 0;
    std::size_t m_failed = 0;
    std::size_t m_last_bytes = 0;
    std::size_t m_last_alignment = 0;
    std::size_t m_errors = 0;
    std::size_t m_fail_in = 0;   // allocations until an injected failure; 0 = disarmed
    std::size_t m_fail_left = 0; // injected failures still to come in a row
};

/// Exception-safety test, as BDE's test allocator loops do: runs f() with an injected failure at
/// the 1st allocation from `resource`, then the 2nd, and so on until f() completes without one.
/// After each injected failure, every block f() allocated in that run must have been freed; any
/// left live is reported as an exception_leak error (count, bytes, first offenders). Objects f()
/// works on should be created inside f(). Exceptions other than injected_bad_alloc propagate.
/// Returns the number of runs (allocations that f() makes when nothing fails, plus one).
template <class F>
std::size_t exception_test(test_resource& resource, F&& f) {
    return detail::run_exception_test(
        resource, [](void* fn) { (*static_cast<std::remove_reference_t<F>*>(fn))(); },
        const_cast<void*>(static_cast<const void*>(std::addressof(f))));
}

} // namespace pmrkit
