#pragma once
// Energy counters that never go backwards in what the gateway publishes
// (docs/measurements.md#energy-counters). Every reading of every source passes here after
// normalize, before the queue. An energy_* value that fell, or rose by more than the device's
// max_power could have metered since its last value, is held back: when the next reading is
// back in line it was a glitch (dropped and counted); when the new value holds for
// confirm_polls readings it is a reset (meter replaced or cleared), published from then on
// and told as an event. A register that wraps at its maximum is followed across the wrap.
//
// State is in memory, per device and counter, a few bytes each: after a restart the first
// value of each counter is taken as it comes. Loop thread only.
#include "model/counter_limits.hpp"
#include "model/device_event.hpp"
#include "model/measurements.hpp"
#include "model/reading.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace mb::daemon {

class counter_guard {
public:
    // Readings a new counter value must hold for before it is taken as a reset.
    static constexpr int confirm_polls = 3;
    // A rise is allowed this many times what max_power meters, plus rise_slack_kwh: meters
    // count in steps (0.01 kWh and coarser), and clocks of readings jitter.
    static constexpr double rise_margin = 2.0;
    static constexpr double rise_slack_kwh = 1.0;
    // Without max_power, a fall counts as a wrap only when the rise across it is at most this
    // share of the register's range.
    static constexpr double wrap_share = 1.0 / 16;

    // What one reading's check did, for the log and the device status.
    struct outcome {
        std::vector<model::counter_reset> resets;
        std::size_t held = 0;     // values held back from this reading
        std::size_t glitches = 0; // values held earlier that turned out to be glitches
        std::size_t wraps = 0;    // counters that wrapped
        std::string note;         // the first of those, in words; empty when none
    };

    // Checks the reading's energy_* values in place: held ones are taken out, wrapped ones
    // carry the total across the wrap. `limits` may be null (no max_power, nothing wraps).
    outcome check(model::reading& r, const model::counter_limits* limits);
    // The device is gone: its counters are forgotten.
    void forget(std::string_view device);
    // Forgets every device `known` says no to (after a reload).
    void keep_only(const std::function<bool(std::string_view)>& known);
    // Glitches dropped for this device since it was first seen.
    [[nodiscard]] std::uint64_t glitches(std::string_view device) const;
    // Devices with state, for tests and the benches.
    [[nodiscard]] std::size_t devices() const { return devices_.size(); }

private:
    // 16 bytes per counter: 20 000 relayed meters of 24 counters each hold 7.3 MiB here.
    struct counter {
        double last = 0;        // the last value published (across wraps)
        std::uint32_t at_s = 0; // when `last` was read: whole seconds after the device's base
        model::measurement id{};
        bool has_extra = false; // an entry in `extras`
    };
    // What few counters need: a value held back, or wraps seen.
    struct extra {
        model::measurement id{};
        double offset = 0;           // added to the register's value: the wraps seen
        double held = 0;             // held_polls > 0: the suspect value, as the register says
        std::int64_t held_ts_ms = 0; // of the last reading that agreed with it
        int held_polls = 0;
    };
    struct device_counters {
        std::int64_t base_ms = 0;      // the first reading's ts: counters' times count from it
        std::vector<counter> counters; // sorted by id
        std::vector<extra> extras;
        std::uint64_t glitches = 0;
        extra& extra_of(counter& c);
        void drop_extra(counter& c);
        [[nodiscard]] std::uint32_t seconds_at(std::int64_t ts_ms) const;
        [[nodiscard]] std::int64_t ms_of(const counter& c) const;
    };
    enum class verdict : std::uint8_t { publish, hold };

    static verdict step(device_counters& d, counter& c, double& value, std::int64_t ts_ms,
                        const model::counter_limits* limits, std::string_view device, outcome& out);
    static void count_glitch(device_counters& d, outcome& out);
    static bool rise_ok(double from, std::int64_t from_ts, double to, std::int64_t to_ts,
                        const model::counter_limits* limits);

    std::map<std::string, device_counters, std::less<>> devices_;
};

// True for the measurements the guard watches: the energy totals (energy_*).
[[nodiscard]] bool is_energy_counter(model::measurement m);

} // namespace mb::daemon
