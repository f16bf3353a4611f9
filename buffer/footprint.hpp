#pragma once
// The heap and object bytes an item held in memory takes (an estimate that errs high): what
// bounds the queue while its file cannot take the backlog.
#include "buffer/item.hpp"

#include <cstddef>

namespace mb::buffer {

[[nodiscard]] inline std::size_t footprint(const item& i) {
    // A map node with the entry, and the values (a measurement and a number each: no string).
    constexpr std::size_t node_overhead = 64 + sizeof(item) + 64;
    const auto* r = std::get_if<model::reading>(&i);
    if (r == nullptr) return node_overhead + std::get<model::gap>(i).device.capacity();
    std::size_t n = node_overhead + r->device.capacity();
    n += r->values.capacity() * sizeof(model::reading_value);
    return n;
}

} // namespace mb::buffer
