#pragma once
// The one normalized record every source produces (docs/architecture.md).
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace mb::model {

struct reading {
    std::string device;     // gateway-local device name
    std::int64_t ts_ms = 0; // Unix ms UTC: when the meter was read (poll start)
    std::uint64_t seq = 0;  // per device; assigned by the buffer, 0 until then
    std::vector<std::pair<std::string, double>> values; // measurement name -> number, in read order
};

} // namespace mb::model
