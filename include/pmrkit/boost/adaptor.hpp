// SPDX-License-Identifier: MIT
/// @file
/// Adaptors between std::pmr and Boost.Container's pmr (which Boost.JSON's storage_ptr takes), in
/// both directions. Header-only and optional: only code that includes this header needs Boost
/// (headers of Boost.Container 1.81 or later); the pmrkit library itself never links Boost.
///
///   basic_boost_resource_adaptor<R>  a boost::container::pmr::memory_resource over a std::pmr
///                                    resource R (std::pmr::memory_resource by default; a concrete
///                                    final resource such as arena_resource makes the inner call
///                                    direct instead of a second virtual call)
///   std_resource_adaptor             a std::pmr::memory_resource over a Boost resource
///
/// Both pass every call through with its size and alignment unchanged, so they add nothing to the
/// wrapped resource's guarantees and take nothing away; they do not own the wrapped resource, which
/// must outlive them. Two adaptors compare equal when their wrapped resources do, so containers
/// built on two adaptors of one resource may exchange memory. Thread safety: that of the wrapped
/// resource.
///
/// Example (Boost.JSON on a pmrkit arena; see also pmrkit/boost/json.hpp):
///
///     pmrkit::arena_resource arena;
///     pmrkit::basic_boost_resource_adaptor<pmrkit::arena_resource> adaptor(arena);
///     boost::json::value v = boost::json::parse(text, &adaptor);
#pragma once

#include <boost/container/pmr/memory_resource.hpp>

#include <cstddef>
#include <memory_resource>

namespace pmrkit {

namespace detail {

// The base of every basic_boost_resource_adaptor, whatever its Resource, so that adaptors of two
// types over one resource compare equal.
class boost_adaptor_base : public boost::container::pmr::memory_resource {
protected:
    explicit boost_adaptor_base(std::pmr::memory_resource& wrapped) noexcept
        : m_wrapped(&wrapped) {}

private:
    [[nodiscard]] bool
    do_is_equal(const boost::container::pmr::memory_resource& other) const noexcept final {
        const auto* adaptor = dynamic_cast<const boost_adaptor_base*>(&other);
        return adaptor != nullptr && m_wrapped->is_equal(*adaptor->m_wrapped);
    }

    std::pmr::memory_resource* m_wrapped;
};

} // namespace detail

/// A boost::container::pmr::memory_resource over the std::pmr resource `Resource` (see the file
/// comment).
template <class Resource = std::pmr::memory_resource>
class basic_boost_resource_adaptor final : public detail::boost_adaptor_base {
public:
    /// Adapts `resource`, which must outlive the adaptor.
    explicit basic_boost_resource_adaptor(Resource& resource) noexcept
        : boost_adaptor_base(resource), m_resource(&resource) {}

    /// The wrapped resource.
    [[nodiscard]] Resource& resource() const noexcept { return *m_resource; }

private:
    void* do_allocate(std::size_t bytes, std::size_t alignment) override {
        return m_resource->allocate(bytes, alignment);
    }
    void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override {
        m_resource->deallocate(p, bytes, alignment);
    }

    Resource* m_resource; // the concrete type: calls through it are direct
};

/// The adaptor over any std::pmr::memory_resource (one more virtual call than a concrete one).
using boost_resource_adaptor = basic_boost_resource_adaptor<>;

/// A std::pmr::memory_resource over a Boost.Container resource (see the file comment).
class std_resource_adaptor final : public std::pmr::memory_resource {
public:
    /// Adapts `resource`, which must outlive the adaptor.
    explicit std_resource_adaptor(boost::container::pmr::memory_resource& resource) noexcept
        : m_resource(&resource) {}

    /// The wrapped resource.
    [[nodiscard]] boost::container::pmr::memory_resource& resource() const noexcept {
        return *m_resource;
    }

private:
    void* do_allocate(std::size_t bytes, std::size_t alignment) override {
        return m_resource->allocate(bytes, alignment);
    }
    void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override {
        m_resource->deallocate(p, bytes, alignment);
    }
    [[nodiscard]] bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
        const auto* adaptor = dynamic_cast<const std_resource_adaptor*>(&other);
        return adaptor != nullptr && m_resource->is_equal(*adaptor->m_resource);
    }

    boost::container::pmr::memory_resource* m_resource;
};

} // namespace pmrkit
