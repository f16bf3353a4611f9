#pragma once
// The heap and object bytes an item held in memory takes (an estimate that errs high): what
// bounds the queue while its file cannot take the backlog.
#include "buffer/item.hpp"

#include <cstddef>

namespace mb::buffer {

[[nodiscard]] inline std::size_t footprint(const item& i) {
    // A map node with the entry, and each value's pair plus its name when it does not fit the
    // string's inline buffer.
    constexpr std::size_t node_overhead = 64 + sizeof(item) + 64;
    const auto* r = std::get_if<model::reading>(&i);
    if (r == nullptr) return node_overhead + std::get<model::gap>(i).device.capacity();
    std::size_t n = node_overhead + r->device.capacity();
    n += r->values.capacity() * sizeof(r->values.front());
    for (const auto& [name, value] : r->values)
        n += name.capacity() + 1;
    return n;
}

} // namespace mb::buffer
