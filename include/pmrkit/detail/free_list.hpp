// SPDX-License-Identifier: MIT
// Intrusive LIFO list of free blocks: the link lives in the free block itself, so a pool needs no
// per-block header. LIFO order hands back the most recently freed (cache-warm) block first.
#pragma once

#include <cstddef>

namespace pmrkit::detail {

class free_list {
public:
    // Precondition: block is at least sizeof(void*) bytes and aligned for a pointer.
    void push(void* block) noexcept {
        auto* n = static_cast<node*>(block);
        n->next = m_head;
        m_head = n;
    }

    // Returns nullptr when empty.
    [[nodiscard]] void* pop() noexcept {
        node* n = m_head;
        if (n != nullptr) [[likely]] {
            m_head = n->next;
        }
        return n;
    }

    // For walking the list without changing it: the first block, and the one after a block.
    [[nodiscard]] void* front() const noexcept { return m_head; }
    [[nodiscard]] static void* next(const void* block) noexcept {
        return static_cast<const node*>(block)->next;
    }

    [[nodiscard]] bool empty() const noexcept { return m_head == nullptr; }
    void clear() noexcept { m_head = nullptr; }

    // O(n): for observers and tests, never on an allocation path.
    [[nodiscard]] std::size_t size() const noexcept {
        std::size_t n = 0;
        for (const node* p = m_head; p != nullptr; p = p->next) {
            ++n;
        }
        return n;
    }

private:
    struct node {
        node* next;
    };
    node* m_head = nullptr;
};

} // namespace pmrkit::detail
