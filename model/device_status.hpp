#pragma once
// One device's health (docs/topics.md), kept by its source and published on change.
#include <cstdint>
#include <optional>
#include <string>

namespace mb::model {

enum class device_state : std::uint8_t { online, offline, error };

struct device_status {
    std::string device;
    device_state state = device_state::offline;
    std::int64_t ts_ms = 0;                // when the state last changed
    std::optional<std::string> last_error; // null in the payload when absent
    std::uint64_t polls = 0;
    std::uint64_t errors = 0;
    std::uint64_t timeouts = 0;
    std::uint64_t skipped = 0;     // polls skipped because the bus could not keep up
    std::int64_t last_rtt_ms = -1; // last round-trip time; -1 before the first answer
};

} // namespace mb::model
