#pragma once
// Something that happened to one device, told once on {p}/{gw}/{dev}/event (docs/topics.md).
#include "model/measurements.hpp"

#include <cstdint>
#include <string>

namespace mb::model {

// An energy counter fell (or jumped) and kept the new value for counter_confirm_polls
// readings: the meter was replaced or cleared. Published from then on, starting at `to`.
struct counter_reset {
    std::string device;
    std::int64_t ts_ms = 0; // the reading that confirmed it
    measurement value{};
    double from = 0; // the last value published before
    double to = 0;   // the first value published after
};

} // namespace mb::model
