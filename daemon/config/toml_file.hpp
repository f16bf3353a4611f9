#pragma once
// Reading a text file and parsing it as TOML, with every failure turned into a config_error.
#include "daemon/config/load_config.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <toml++/toml.h>
#include <vector>

namespace mb::config {

// The whole file, or nullopt with why not in `why` ("No such file or directory").
std::optional<std::string> read_text_file(const std::filesystem::path& file, std::string& why);

// The parsed document, or nullopt after appending one error (unreadable file or syntax error
// with its line and column) to errors.
std::optional<toml::table> parse_toml_file(const std::filesystem::path& file,
                                           std::vector<config_error>& errors);

} // namespace mb::config
