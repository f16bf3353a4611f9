#include "daemon/config/load_config.hpp"

#include <fmt/format.h>

namespace mb::config {

std::string config_error::to_string() const {
    return fmt::format("{}:{}:{}: {}: {}", file.string(), line, column, key, message);
}

} // namespace mb::config
