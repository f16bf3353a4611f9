#pragma once
// Driver-side settings of a bus and its devices, filled by the daemon from its config so that
// drivers/ does not depend on daemon/config.
// Every field is part of a bus's reload fingerprint (daemon/source_registry.cpp takes each
// struct apart field by field): a field added here does not compile until it is added there.
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
    std::shared_ptr<const profile> prof;
    std::vector<std::string> only;  // globs over the profile's value names; empty = all
    std::optional<double> pt_ratio; // overrides what the meter reports
    std::optional<double> ct_ratio;
};

struct bus_settings {
    std::string name;
    std::string port;
    int baud = 9600;
    char parity = 'N'; // 'N' | 'E' | 'O'
    int data_bits = 8;
    int stop_bits = 1;
    std::chrono::milliseconds timeout{300};
    bool rs485 = false;
    int max_gap = 8;
    std::chrono::milliseconds reopen_every{3'000}; // retry period of a port that is gone
    std::vector<device_settings> devices;
};

// Minimum silence between two frames: 3.5 characters of 11 bits, 1.75 ms above 19200 baud.
constexpr std::chrono::microseconds inter_frame_gap(int baud) {
    if (baud <= 0) return std::chrono::microseconds(1750);
    if (baud > 19200) return std::chrono::microseconds(1750);
    return std::chrono::microseconds((35LL * 11 * 1'000'000 / 10 + baud - 1) / baud);
}

} // namespace mb::drivers::rtu
