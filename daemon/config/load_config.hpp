#pragma once
// Reading meterbridge.toml and the profiles it names, with strict and complete validation.
#include "daemon/config/config.hpp"

#include <filesystem>
#include <string>
#include <variant>
#include <vector>

namespace mb::config {

// One problem in one file: "FILE:LINE:COL: key: what is wrong (what would be accepted)".
struct config_error {
    std::filesystem::path file;
    int line = 0;
    int column = 0;
    std::string key;     // dotted path, e.g. "device[2].unit"
    std::string message; // what is wrong (what would be accepted)

    [[nodiscard]] std::string to_string() const;
};

using load_result = std::variant<config, std::vector<config_error>>;

// Parses, validates and loads profiles. Every error of every file is returned, not the first.
load_result load_config(const std::filesystem::path& file);

} // namespace mb::config
