// meterbridge check [-c FILE]: validate the config and the profiles it uses (design.md §7).
#include "daemon/commands.hpp"
#include "daemon/config/endpoint.hpp"
#include "daemon/config/secret_warnings.hpp"
#include "daemon/load_for_command.hpp"

#include <cstdio>
#include <string>

namespace mb::daemon {
namespace {

constexpr const char* check_usage = "usage: meterbridge check [-c FILE]\n"
                                    "  validates FILE (default /etc/meterbridge/meterbridge.toml) "
                                    "and the profiles it names; exit 0 when valid, 1 if not\n";

// What `run` would warn about too (secret files others can read, settings that do not do what
// they seem to, converters or brokers that are one though spelled apart), each as
// "warning: FILE[:LINE:COL]: key: message" on stderr.
void print_warnings(const config::config& cfg) {
    for (const auto& w : config::secret_warnings(cfg))
        std::fprintf(stderr, "warning: %s\n", w.to_string().c_str());
    for (const auto& w : cfg.warnings)
        std::fprintf(stderr, "warning: %s\n", w.to_string().c_str());
}

} // namespace

int check_command(arguments args) {
    // Only check looks host names up: to tell converters and brokers that are one apart.
    config::load_options options;
    options.resolve = [](std::string_view host, int port) {
        return config::resolve_endpoints(host, port);
    };
    const auto loaded = load_for_command(args, "check", check_usage, false, options);
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
