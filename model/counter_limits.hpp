#pragma once
// What the counter guard (docs/measurements.md#energy-counters) may know of one device's energy
// counters beyond their values: how fast they can rise, and which of them wrap. Shared and
// immutable: the meters of one native source hold one.
#include "model/measurements.hpp"

#include <optional>
#include <utility>
#include <vector>

namespace mb::model {

struct counter_limits {
    // The most power the device can meter, in W: a counter that rose by more than this over
    // the time since its last value is suspect. Unset: only a fall is.
    std::optional<double> max_power_w;
    // Counters read from an integer register that wraps to 0 past its maximum: the measurement
    // and the register's range in the measurement's unit (2^32 × scale for a u32).
    std::vector<std::pair<measurement, double>> wraps;

    [[nodiscard]] std::optional<double> wrap_of(measurement m) const {
        for (const auto& [id, range] : wraps)
            if (id == m) return range;
        return std::nullopt;
    }
    [[nodiscard]] bool empty() const { return !max_power_w && wraps.empty(); }
    bool operator==(const counter_limits&) const = default;
};

} // namespace mb::model
