#include "daemon/config/secret_warnings.hpp"

#include "common/file_mode.hpp"

#include <fmt/format.h>

namespace mb::config {

std::vector<config_warning> secret_warnings(const config& cfg) {
    std::vector<config_warning> out;
    const auto secret = [&](const std::string& key,
                            const std::optional<std::filesystem::path>& path) {
        if (!path) return;
        if (auto text = common::secret_file_warning(path->string()))
            out.push_back({cfg.source, 0, 0, key, std::move(*text)});
    };
    secret("uplink.password_file", cfg.uplink.password_file);
    secret("uplink.key_file", cfg.uplink.key_file);
    secret("uplink.command_key_file", cfg.uplink.command_key_file);
    for (std::size_t i = 0; i < cfg.natives.size(); ++i) {
        secret(fmt::format("native[{}].password_file", i), cfg.natives[i].password_file);
        secret(fmt::format("native[{}].key_file", i), cfg.natives[i].key_file);
    }
    return out;
}

} // namespace mb::config
