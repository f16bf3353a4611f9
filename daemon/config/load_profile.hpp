#pragma once
// Loading and validating one profile file (docs/profiles.md), and finding a profile by
// id in the configured profile directories. Errors are located in the profile file.
#include "daemon/config/load_config.hpp"
#include "drivers/modbus_rtu/profile.hpp"

#include <filesystem>
#include <optional>
#include <string_view>
#include <variant>
#include <vector>

namespace mb::config {

using profile_result = std::variant<drivers::rtu::profile, std::vector<config_error>>;

// Parses and validates <id>.toml: every error in the file, not just the first.
profile_result load_profile(const std::filesystem::path& file);

// The first <id>.toml in dirs, in order; relative dirs are taken relative to base (the config
// file's directory). nullopt when no directory has it.
std::optional<std::filesystem::path> find_profile(std::string_view id,
                                                  const std::vector<std::filesystem::path>& dirs,
                                                  const std::filesystem::path& base);

} // namespace mb::config
