#pragma once
// What the delivery queue carries: a reading, or a gap message announcing readings that will
// never come (docs/buffer.md). Both wait in the same window and leave on their own PUBACK.
#include "model/gap.hpp"
#include "model/reading.hpp"

#include <cstdint>
#include <variant>

namespace mb::buffer {

using item = std::variant<model::reading, model::gap>;

[[nodiscard]] inline const std::string& device_of(const item& i) {
    return std::visit([](const auto& x) -> const std::string& { return x.device; }, i);
}

// The highest seq an item names: a reading's own, a gap's last.
[[nodiscard]] inline std::uint64_t last_seq_of(const item& i) {
    if (const auto* g = std::get_if<model::gap>(&i)) return g->to_seq;
    return std::get<model::reading>(i).seq;
}

} // namespace mb::buffer
