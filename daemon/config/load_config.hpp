#pragma once
// Reading meterbridge.toml and the profiles it names, with strict and complete validation.
#include "daemon/config/config.hpp"

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace mb::config {

// config_error and config_warning: config.hpp.
using load_result = std::variant<config, std::vector<config_error>>;

struct load_options {
    // Set (by `check`): converter and broker host names are resolved with it, and two that
    // then reach one endpoint are warned about. Unset (`run`, reload): nothing is looked up.
    // Takes HOST and PORT, gives each endpoint as config/endpoint.hpp writes it.
    std::function<std::vector<std::string>(std::string_view host, int port)> resolve;
};

// Parses, validates and loads profiles. Every error of every file is returned, not the first.
load_result load_config(const std::filesystem::path& file, const load_options& options = {});

} // namespace mb::config
