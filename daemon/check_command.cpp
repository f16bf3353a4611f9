// meterbridge check [-c FILE]: validate the config and the profiles it uses (design.md §7).
#include "bridge/file_mode.hpp"
#include "daemon/commands.hpp"
#include "daemon/config/load_config.hpp"

#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <optional>
#include <string>
#include <variant>

namespace mb::daemon {
namespace {

constexpr const char* check_usage = "usage: meterbridge check [-c FILE]\n"
                                    "  validates FILE (default /etc/meterbridge/meterbridge.toml) "
                                    "and the profiles it names; exit 0 when valid, 1 if not\n";

std::string count(std::size_t n, std::string_view one, std::string_view many) {
    return fmt::format("{} {}", n, n == 1 ? one : many);
}

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
    for (const auto& w : cfg.not_acted_on)
        std::fprintf(stderr, "warning: %s\n", w.to_string().c_str());
}

} // namespace

int check_command(arguments args) {
    std::string file(default_config);
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string_view a = args[i];
        if ((a == "-c" || a == "--config") && i + 1 < args.size()) {
            file = args[++i];
        } else if (a.starts_with("--config=")) {
            file = a.substr(9);
        } else if (a == "-h" || a == "--help") {
            std::fputs(check_usage, stdout);
            return 0;
        } else {
            std::fprintf(stderr, "meterbridge check: unexpected argument '%s'\n%s", args[i],
                         check_usage);
            return 2;
        }
    }
    if (file.empty()) {
        std::fprintf(stderr, "meterbridge check: empty file name\n%s", check_usage);
        return 2;
    }
    const auto result = config::load_config(file);
    if (const auto* errors = std::get_if<std::vector<config::config_error>>(&result)) {
        for (const auto& e : *errors)
            std::fprintf(stderr, "%s\n", e.to_string().c_str());
        std::fprintf(
            stderr, "%s\n",
            count(errors->size(), "error", "errors").append(" in the configuration").c_str());
        return 1;
    }
    const auto& cfg = std::get<config::config>(result);
    print_warnings(cfg);
    std::string natives = count(cfg.natives.size(), "native source", "native sources");
    if (!cfg.natives.empty()) natives += " (not run yet)";
    std::printf("config OK: %s, %s, %s, %s (%s)\n", count(cfg.buses.size(), "bus", "buses").c_str(),
                count(cfg.devices.size(), "device", "devices").c_str(), natives.c_str(),
                count(cfg.profiles.size(), "profile", "profiles").c_str(), file.c_str());
    return 0;
}

} // namespace mb::daemon
