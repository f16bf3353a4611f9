#pragma once
// Secret files that others can read: password_file and key_file of [uplink] and of each
// [[native]], and [uplink] command_key_file. Looked at when asked (a chmod after loading
// counts), in the shape of the other config warnings.
#include "daemon/config/config.hpp"

#include <vector>

namespace mb::config {

// "FILE: native[0].password_file: /etc/meterbridge/lan.password is readable by others (mode
// 0644); chmod 600 it", one per such file, [uplink] first.
[[nodiscard]] std::vector<config_warning> secret_warnings(const config& cfg);

} // namespace mb::config
