// meterbridge check [-c FILE]: validate the config and the profiles it uses (docs/command-line.md);
// meterbridge check --profile FILE: validate one profile alone, e.g. a draft for a new meter.
#include "daemon/commands.hpp"
#include "daemon/config/endpoint.hpp"
#include "daemon/config/load_profile.hpp"
#include "daemon/config/secret_warnings.hpp"
#include "daemon/load_for_command.hpp"

#include <cstdio>
#include <string>
#include <variant>

namespace mb::daemon {
namespace {

constexpr const char* check_usage =
    "usage: meterbridge check [-c FILE]\n"
    "       meterbridge check --profile FILE\n"
    "  validates FILE (default /etc/meterbridge/meterbridge.toml) and the profiles it names,\n"
    "  or with --profile one profile file alone; exit 0 when valid, 1 if not, 2 on bad\n"
    "  arguments\n";

// The FILE of --profile FILE / --profile=FILE, "" when absent; error set on a bad use.
std::string profile_arg(arguments args, std::string& error) {
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string_view a = args[i];
        std::string file;
        if (a == "--profile") {
            if (i + 1 >= args.size()) {
                error = "--profile needs a FILE";
                return {};
            }
            file = args[i + 1];
        } else if (a.starts_with("--profile=")) {
            file = a.substr(10);
        } else {
            continue;
        }
        if (args.size() != (a == "--profile" ? 2U : 1U))
            error = "--profile FILE takes no other argument";
        else if (file.empty())
            error = "--profile: empty file name";
        return file;
    }
    return {};
}

// One profile file: every error as FILE:LINE:COL: key: message on stderr, or a summary line.
int check_profile(const std::string& file) {
    const auto loaded = config::load_profile(file);
    if (const auto* errors = std::get_if<std::vector<config::config_error>>(&loaded)) {
        for (const auto& e : *errors)
            std::fprintf(stderr, "%s\n", e.to_string().c_str());
        std::fprintf(stderr, "meterbridge check: %s in %s\n",
                     count(errors->size(), "error", "errors").c_str(), file.c_str());
        return 1;
    }
    const auto& p = std::get<drivers::rtu::profile>(loaded);
    std::printf("profile OK: %s (%s %s), %s (%s)\n", p.id.c_str(), p.vendor.c_str(),
                p.model.c_str(), count(p.values.size(), "value", "values").c_str(), file.c_str());
    return 0;
}

// What `run` would warn about too (docs/configuration.md#warnings: secret files others can
// read, a command key with commands = false, a [[native]] on the uplink's broker without its
// own login, sn- names, host names that reach one converter), each as
// "warning: FILE[:LINE:COL]: key: message" on stderr.
void print_warnings(const config::config& cfg) {
    for (const auto& w : config::secret_warnings(cfg))
        std::fprintf(stderr, "warning: %s\n", w.to_string().c_str());
    for (const auto& w : cfg.warnings)
        std::fprintf(stderr, "warning: %s\n", w.to_string().c_str());
}

} // namespace

int check_command(arguments args) {
    std::string error;
    const auto profile = profile_arg(args, error);
    if (!error.empty()) {
        std::fprintf(stderr, "meterbridge check: %s\n%s", error.c_str(), check_usage);
        return 2;
    }
    if (!profile.empty()) return check_profile(profile);
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
