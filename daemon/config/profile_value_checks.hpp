#pragma once
// What one profile value says that cannot be true of its measurement name or of its profile:
// a PT/CT ratio that does not scale that quantity (or any ratio in a "primary" profile), a
// bit or a scale on a 0/1 state, a scaled or bit-read quantity, a writable input register.
// Each error names the key, the value and the fix.
#include "daemon/config/toml_reader.hpp"
#include "drivers/modbus_rtu/profile.hpp"

namespace mb::config {

// `v` as read from the [[value]] table of `r` (its name is a vocabulary name); `p` holds the
// profile's header (ratios, function).
void check_value_meaning(toml_reader& r, const drivers::rtu::value_def& v,
                         const drivers::rtu::profile& p);

} // namespace mb::config
