#pragma once
// The daemon's config turned into what each component takes: drivers/ and bridge/ do not
// see daemon/config types.
#include "bridge/uplink.hpp"
#include "buffer/settings.hpp"
#include "daemon/config/config.hpp"
#include "drivers/modbus_rtu/settings.hpp"

#include <vector>

namespace mb::daemon {

// Every bus with its devices.
std::vector<drivers::rtu::bus_settings> rtu_bus_settings(const config::config& cfg);
// One bus's line settings, without devices.
drivers::rtu::bus_settings rtu_line_settings(const config::bus_config& bus);
bridge::uplink_settings uplink_settings(const config::config& cfg);
// The broker connection of one [[native]] source ("native[<name>]" in log lines).
bridge::link_settings native_link_settings(const config::config& cfg,
                                           const config::native_config& n);
buffer::buffer_settings buffer_settings(const config::config& cfg);

} // namespace mb::daemon
