#pragma once
// What one native source needs (docs/native.md), filled by the daemon from its config
// so that drivers/ does not depend on daemon/config.
#include "bridge/link/link_settings.hpp"
#include "drivers/native/decoder.hpp"

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace mb::drivers::native {

struct named_meter {
    std::string serial;
    std::string name;                  // the device name the config gives it
    std::optional<double> max_power_w; // the counter guard's bound (docs/measurements.md)

    bool operator==(const named_meter&) const = default;
};

struct native_settings {
    std::string name;           // the [[native]] name: "native[lan]" in log lines
    bridge::link_settings link; // the broker where the meters publish
    std::string subscribe;      // the topic filter
    format_settings format;
    bool relay_unknown = true; // unknown = "relay": unlisted serials become sn-<serial>
    std::vector<named_meter> meters;
    // Topics under this prefix ("meterbridge/plant1-gw01/") are meterbridge's own output when
    // the source shares the uplink's broker: never consumed. Empty: another broker.
    std::string own_topics;
    // A meter is offline after max(this, 3 × its observed interval) without a message.
    std::chrono::milliseconds offline_after{std::chrono::minutes(3)};
    // Relayed meters one source takes at most: a flood of made-up serials must not grow the
    // device list (and the uplink's retained meta) without end. [[native]] max_meters.
    std::size_t max_relayed = 50'000;
    // A relayed meter silent this long is forgotten (its retained meta and status cleared), so
    // that meters gone for good free their place. [[native]] forget_after.
    std::chrono::milliseconds forget_after{std::chrono::hours(24 * 7)};
    // The counter guard's bound for the meters relayed as sn-<serial>. [[native]] max_power.
    std::optional<double> max_power_w;

    // A reload compares them whole: a field added here takes part by itself.
    bool operator==(const native_settings&) const = default;
};

} // namespace mb::drivers::native
