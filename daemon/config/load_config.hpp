#pragma once
// Reading meterbridge.toml and the profiles it names, with strict and complete validation.
#include "daemon/config/config.hpp"

#include <filesystem>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace mb::config {

// config_error and config_warning: config.hpp.
using load_result = std::variant<config, std::vector<config_error>>;

// Parses, validates and loads profiles. Every error of every file is returned, not the first.
load_result load_config(const std::filesystem::path& file);

} // namespace mb::config
