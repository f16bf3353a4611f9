#pragma once
// The uplink of the component tests: gateway gw1 under the prefix "mb" on a test broker at
// 127.0.0.1:`port`, reconnecting within 100..400 ms, commands timing out after 300 ms.
#include "bridge/uplink.hpp"

#include <chrono>

namespace mbtest {

inline mb::bridge::uplink_settings uplink_settings_for(int port) {
    using namespace std::chrono_literals;
    mb::bridge::uplink_settings s;
    s.link.host = "127.0.0.1";
    s.link.port = port;
    s.link.client_id = "meterbridge-gw1";
    s.link.reconnect = {100ms, 400ms};
    s.topic_prefix = "mb";
    s.gateway_id = "gw1";
    s.command_timeout = 300ms;
    return s;
}

} // namespace mbtest
