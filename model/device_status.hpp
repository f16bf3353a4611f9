#pragma once
// One device's health (docs/topics.md), kept by its source and published on change.
#include <cstdint>
#include <optional>
#include <string>

namespace mb::model {

enum class device_state : std::uint8_t { online, offline, error };

// What an RS485 line tells of a meter beyond polls and errors (native meters have no line).
struct line_counters {
    std::uint64_t timeouts = 0;         // polls with no answer at all
    std::uint64_t skipped = 0;          // polls dropped because the bus could not keep up
    std::optional<std::int64_t> rtt_ms; // the last answered poll's round trip
};

struct device_status {
    std::string device;
    device_state state = device_state::offline;
    std::int64_t ts_ms = 0;                // when the state last changed
    std::optional<std::string> last_error; // null in the payload when absent
    std::uint64_t polls = 0;
    std::uint64_t errors = 0;
    // Energy counter values dropped as glitches (docs/measurements.md#energy-counters): set
    // by the gateway, which guards every source's counters.
    std::uint64_t glitches = 0;
    std::optional<line_counters> line; // RS485 devices only
};

} // namespace mb::model
