// meterbridge check [-c FILE]: validate the config and the profiles it uses (design.md §7).
#include "bridge/file_mode.hpp"
#include "daemon/commands.hpp"
#include "daemon/load_for_command.hpp"

#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

namespace mb::daemon {
namespace {

constexpr const char* check_usage = "usage: meterbridge check [-c FILE]\n"
                                    "  validates FILE (default /etc/meterbridge/meterbridge.toml) "
                                    "and the profiles it names; exit 0 when valid, 1 if not\n";

// What `run` would warn about (secret files others can read) and what this version does not
// act on yet, each as "warning: FILE[:LINE:COL]: key: message" on stderr.
void print_warnings(const config::config& cfg) {
    const auto secret = [&](const char* key, const std::optional<std::filesystem::path>& path) {
        if (!path) return;
        if (const auto text = bridge::secret_file_warning(path->string())) {
            const config::config_warning w{cfg.source, 0, 0, key, *text};
            std::fprintf(stderr, "warning: %s\n", w.to_string().c_str());
        }
    };
    secret("uplink.password_file", cfg.uplink.password_file);
    secret("uplink.key_file", cfg.uplink.key_file);
    for (const auto& w : cfg.warnings)
        std::fprintf(stderr, "warning: %s\n", w.to_string().c_str());
}

} // namespace

int check_command(arguments args) {
    const auto loaded = load_for_command(args, "check", check_usage, false);
    if (!loaded.cfg) return loaded.exit_code;
    const auto& cfg = *loaded.cfg;
    const std::string& file = loaded.file;
    print_warnings(cfg);
    const std::string natives = count(cfg.natives.size(), "native source", "native sources");
    std::printf("config OK: %s, %s, %s, %s (%s)\n", count(cfg.buses.size(), "bus", "buses").c_str(),
                count(cfg.devices.size(), "device", "devices").c_str(), natives.c_str(),
                count(cfg.profiles.size(), "profile", "profiles").c_str(), file.c_str());
    return 0;
}

} // namespace mb::daemon
