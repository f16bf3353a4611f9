#pragma once
// What the delivery queue carries: a reading, or a gap message announcing readings that will
// never come (design.md §6). Both wait in the same window and leave on their own PUBACK.
#include "bridge/model/gap.hpp"
#include "bridge/model/reading.hpp"

#include <variant>

namespace mb::buffer {

using item = std::variant<model::reading, model::gap>;

[[nodiscard]] inline const std::string& device_of(const item& i) {
    return std::visit([](const auto& x) -> const std::string& { return x.device; }, i);
}

} // namespace mb::buffer
