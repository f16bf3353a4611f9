#pragma once
// Driver-side settings of a bus and its devices, filled by the daemon from its config so that
// drivers/ does not depend on daemon/config.
// A reload compares them whole (operator== = default, the profile by its content): a field
// added here takes part by itself, and one whose type cannot be compared does not compile.
#include "common/backoff.hpp"
#include "common/shared_value.hpp"
#include "drivers/modbus_rtu/profile.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mb::drivers::rtu {

struct device_settings {
    std::string name;
    int unit = 1; // Modbus slave id 1..247
    std::chrono::milliseconds interval{10'000};
    std::chrono::milliseconds static_interval{600'000}; // refresh of the profile's static values
    common::shared_value<profile> prof;                 // one copy per profile, compared by content
    std::vector<std::string> only;  // globs over the profile's value names; empty = all
    std::optional<double> pt_ratio; // overrides what the meter reports
    std::optional<double> ct_ratio;
    // A meter slower than the rest of its bus: its own response timeout, and its own silence
    // before each request to it (instead of the bus's request_gap).
    std::optional<std::chrono::milliseconds> timeout;
    std::optional<std::chrono::milliseconds> request_gap;
    std::optional<double> max_power_w; // the counter guard's bound (docs/measurements.md)

    bool operator==(const device_settings&) const = default;
};

struct bus_settings {
    std::string name;
    std::string port; // a serial device, tcp://HOST:PORT or rtu+tcp://HOST:PORT (port_address)
    int baud = 9600;
    char parity = 'N'; // 'N' | 'E' | 'O'
    int data_bits = 8;
    int stop_bits = 1;
    std::chrono::milliseconds timeout{300};
    // Silence kept on the line before every request, on top of t3.5: meters that ignore a
    // request coming too soon after the last frame on the line.
    std::chrono::milliseconds request_gap{0};
    bool rs485 = false;
    int max_gap = 8;
    std::chrono::milliseconds reopen_every{3'000}; // retry period of a serial port that is gone
    // A converter (tcp://, rtu+tcp://) that refuses or drops the connection: retried on the
    // shared back-off (from 1 s, doubling to 30 s, with jitter: gateways that lost one
    // converter server do not come back in step).
    common::backoff_policy reconnect{};
    std::vector<device_settings> devices;

    bool operator==(const bus_settings&) const = default;
};

// How a request to one device is timed: the device's own timeout and request_gap where it
// has them, else the bus's.
struct request_timing {
    std::chrono::milliseconds timeout{300};
    std::chrono::milliseconds gap{0}; // silence before the request, on top of t3.5
};

inline request_timing timing_for(const bus_settings& b, const device_settings& d) {
    return {d.timeout.value_or(b.timeout), d.request_gap.value_or(b.request_gap)};
}

// Bits of one character on the line: start, data, parity, stop.
constexpr int bits_per_char(const bus_settings& s) {
    return 1 + s.data_bits + (s.parity == 'N' ? 0 : 1) + s.stop_bits;
}

// Minimum silence between two frames: 3.5 characters of the line's own format (10 bits on
// 8N1, 11 on 8E1 or 8N2), 1.75 ms above 19200 baud as the Modbus serial line spec fixes it.
constexpr std::chrono::microseconds inter_frame_gap(int baud, int bits = 11) {
    if (baud <= 0 || baud > 19200) return std::chrono::microseconds(1750);
    return std::chrono::microseconds((35LL * bits * 1'000'000 / 10 + baud - 1) / baud);
}

} // namespace mb::drivers::rtu
