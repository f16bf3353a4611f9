#pragma once
// The one normalized record every source produces (docs/architecture.md).
#include "model/measurements.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mb::model {

// One value of a reading: which measurement, in its vocabulary unit.
struct reading_value {
    measurement id{};
    double value = 0;

    reading_value() = default;
    reading_value(measurement m, double v)
        : id(m)
        , value(v) {}
    // By name, for tools and tests: throws std::invalid_argument for a name outside the
    // vocabulary. The gateway's own paths look the name up once and keep the measurement.
    reading_value(std::string_view name, double v);

    [[nodiscard]] std::string_view name() const { return name_of(id); }
    bool operator==(const reading_value&) const = default;
};

struct reading {
    std::string device;                // gateway-local device name
    std::int64_t ts_ms = 0;            // Unix ms UTC: when the meter was read (poll start)
    std::uint64_t seq = 0;             // per device; assigned by the buffer, 0 until then
    std::vector<reading_value> values; // in read order
};

} // namespace mb::model
