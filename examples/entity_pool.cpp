// SPDX-License-Identifier: MIT
// A game-style entity pool: entities spawn and die every frame, each one an object in a
// pmrkit::object_pool (blocks of a fixed_block_resource, no malloc per spawn). Each entity also
// borrows a trail buffer (a std::vector) from a recycling pool, so a buffer's capacity survives
// from one entity to the next instead of being allocated again. Exit status 0 means the checked
// result held.
#include <pmrkit/object_pool.hpp>
#include <pmrkit/decorators/stats_resource.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory_resource>
#include <vector>

namespace {

struct point {
    float x;
    float y;
};

using trail_pool = pmrkit::object_pool<std::vector<point>>;

struct entity {
    entity(std::uint32_t id_, point at, point velocity, trail_pool::handle trail_)
        : id(id_), position(at), speed(velocity), trail(std::move(trail_)) {}

    std::uint32_t id;
    point position;
    point speed;
    int health = 100;
    trail_pool::handle trail; // back to its pool when the entity dies
};

// A small deterministic generator, so that every run plays the same game.
class lcg {
public:
    std::uint32_t next() {
        m_state = m_state * 6364136223846793005ULL + 1442695040888963407ULL;
        return static_cast<std::uint32_t>(m_state >> 33);
    }
    float unit() { return static_cast<float>(next() % 2001) / 1000.0F - 1.0F; }

private:
    std::uint64_t m_state = 42;
};

} // namespace

int main() {
    // Counts what the pools take from the heap.
    pmrkit::stats_resource heap(std::pmr::new_delete_resource());
    trail_pool trails({.reset = [](std::vector<point>& t) { t.clear(); }, .preconstructed = 64},
                      &heap);
    pmrkit::object_pool<entity> entities({.initial_objects = 128}, &heap);

    std::vector<pmrkit::object_pool<entity>::handle> world;
    lcg random;
    std::uint32_t next_id = 0;
    std::size_t spawned = 0;
    std::size_t died = 0;
    std::uint64_t heap_calls_at_frame_200 = 0;
    bool ok = true;

    for (int frame = 0; frame < 1000; ++frame) {
        for (std::uint32_t n = random.next() % 6; n > 0; --n) {
            world.push_back(entities.make(next_id++, point{0, 0},
                                          point{random.unit(), random.unit()}, trails.acquire()));
            ++spawned;
        }
        for (auto& e : world) {
            e->position.x += e->speed.x;
            e->position.y += e->speed.y;
            e->trail->push_back(e->position);
            e->health -= static_cast<int>(random.next() % 5);
        }
        // The dead leave: the handle's deleter destroys the entity, returns its block, and hands
        // its trail buffer back (cleared, capacity kept).
        const auto alive_end = std::partition(world.begin(), world.end(),
                                              [](const auto& e) { return e->health > 0; });
        died += static_cast<std::size_t>(world.end() - alive_end);
        world.erase(alive_end, world.end());

        ok = ok && entities.in_use() == world.size() && trails.in_use() == world.size();
        if (frame == 200) {
            heap_calls_at_frame_200 = heap.allocations();
        }
    }

    const std::uint64_t trail_buffers_built = trails.kept() + trails.in_use();
    std::printf("%zu spawned, %zu died, %zu alive; entities: peak %zu, %zu blocks in %zu chunks; "
                "trails: %zu buffers built for %zu entities, %llu recycled; heap calls %llu "
                "(%llu after frame 200)\n",
                spawned, died, world.size(), entities.peak_in_use(),
                entities.blocks().capacity(), entities.blocks().chunk_count(),
                static_cast<std::size_t>(trail_buffers_built), spawned,
                static_cast<unsigned long long>(trails.recycled()),
                static_cast<unsigned long long>(heap.allocations()),
                static_cast<unsigned long long>(heap.allocations() - heap_calls_at_frame_200));

    ok = ok && spawned == died + world.size() && spawned > 1000;
    // Capacity follows the peak (doubling chunks), not the number ever spawned.
    ok = ok && entities.blocks().capacity() < 2 * entities.peak_in_use() + 128;
    // No more trail buffers were ever built than were alive at once (or preconstructed).
    ok = ok && trail_buffers_built == std::max<std::size_t>(64, trails.peak_in_use()) &&
         trails.recycled() == spawned - (trail_buffers_built - 64);
    world.clear();
    ok = ok && entities.in_use() == 0 && entities.blocks().blocks_in_use() == 0;
    return ok ? 0 : 1;
}
