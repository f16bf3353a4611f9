#include "daemon/config/load_config.hpp"

#include <fmt/format.h>

namespace mb::config {

std::string config_error::to_string() const {
    // Errors about the file as a whole (it cannot be read) have no position and no key.
    std::string out = file.string();
    if (line > 0) out += fmt::format(":{}:{}", line, column);
    if (!key.empty()) out += fmt::format(": {}", key);
    out += fmt::format(": {}", message);
    return out;
}

} // namespace mb::config
