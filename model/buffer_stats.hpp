#pragma once
// What the delivery queue holds and what it dropped, for the gateway status (docs/topics.md).
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace mb::model {

struct buffer_stats {
    std::uint64_t readings = 0;
    std::optional<std::int64_t> oldest_ts; // null when the buffer is empty
    std::uint64_t dropped = 0;             // the total of dropped_by_device
    std::map<std::string, std::uint64_t> dropped_by_device;
    std::uint64_t held = 0;  // readings not published yet: their seq is not reserved on disk
    std::string error;       // why the buffer cannot keep readings on disk now; empty when it can
    std::string moved_aside; // where an unusable buffer file found at start was moved; or empty
    std::string rebuilt;     // the file was lost while running and made again (this run); or empty
    std::string store_id;    // the buffer file's id (16 hex digits): a new one, a new seq count
};

} // namespace mb::model
