#pragma once
// mqtt://host[:port] and mqtts://host[:port] (docs/configuration.md), taken apart. Pure function.
#include "daemon/config/config.hpp"
#include "daemon/config/quantity.hpp"

#include <string_view>

namespace mb::config {

inline constexpr std::string_view broker_url_syntax =
    "mqtt://HOST[:PORT] or mqtts://HOST[:PORT], default port 1883 / 8883; IPv6 as [::1]";

parsed<broker_url> parse_broker_url(std::string_view text);

} // namespace mb::config
