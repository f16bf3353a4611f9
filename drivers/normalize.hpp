#pragma once
// The one normalize step every source's readings go through before the buffer
// (docs/measurements.md): only vocabulary names leave the gateway, in their fixed units; numbers
// that are not finite or are absurd for their family are dropped and counted; a meter timestamp far
// from the gateway's clock is replaced by the gateway's time and reported. The RTU path checks
// names and units against the profile at load time and passes values already in vocabulary units;
// native readings come with the unit their dialect uses. Loop thread (no state but counters).
#include "model/measurements.hpp"
#include "model/reading.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mb::drivers {

struct raw_value {
    std::string_view name;
    double value = 0;
    std::string_view unit;                  // empty: already in the vocabulary's unit
    std::optional<model::measurement> id{}; // name's, when the source knows it; else looked up
};

struct raw_reading {
    std::string device;
    std::optional<std::int64_t> ts_ms; // the meter's time; nullopt: now
    std::vector<raw_value> values;
};

// Why values were left out of one reading (all zero: nothing was).
struct normalize_drops {
    std::size_t unknown_name = 0; // not in the vocabulary
    std::size_t unknown_unit = 0; // a unit that does not convert to the name's
    std::size_t not_finite = 0;   // NaN, ±inf
    std::size_t out_of_range = 0; // absurd for its family (a 10 MV phase voltage, PF 7)
    [[nodiscard]] std::size_t total() const {
        return unknown_name + unknown_unit + not_finite + out_of_range;
    }
};

struct normalized {
    model::reading reading; // ts set, values converted; may have no values left
    normalize_drops drops;
    std::string first_drop; // "voltage_l1: not finite", for a log line; empty if none
    // Set when the meter's timestamp was not believable: the reading carries the gateway's
    // time instead, and this says by how much the meter's clock was off (meter − gateway).
    std::optional<std::int64_t> clock_offset_ms;
};

// How far a meter's clock may be from the gateway's before its readings get the gateway's
// time: a little ahead (clocks drift, NTP), a lot behind (readings sent late, back-fill).
constexpr std::int64_t max_clock_ahead_ms = 10LL * 60 * 1000;
constexpr std::int64_t max_clock_behind_ms = 30LL * 24 * 3600 * 1000;

[[nodiscard]] normalized normalize(raw_reading&& in, std::int64_t now_ms);

// The factor that converts `from` to `unit` ("kW" -> "W": 1000), nullopt when it does not.
[[nodiscard]] std::optional<double> unit_factor(std::string_view from, std::string_view unit);

} // namespace mb::drivers
