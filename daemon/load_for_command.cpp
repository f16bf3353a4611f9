#include "daemon/load_for_command.hpp"

#include "daemon/config/load_config.hpp"

#include <cstdio>
#include <fmt/format.h>
#include <utility>
#include <variant>
#include <vector>

namespace mb::daemon {

loaded_for_command load_for_command(arguments args, std::string_view name, const char* usage,
                                    bool name_on_count, const config::load_options& options) {
    loaded_for_command out;
    out.file = std::string(default_config);
    const std::string who = fmt::format("meterbridge {}", name);
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string_view a = args[i];
        if ((a == "-c" || a == "--config") && i + 1 < args.size()) {
            out.file = args[++i];
        } else if (a.starts_with("--config=")) {
            out.file = a.substr(9);
        } else if (a == "-h" || a == "--help") {
            std::fputs(usage, stdout);
            out.exit_code = 0;
            return out;
        } else {
            std::fprintf(stderr, "%s: unexpected argument '%s'\n%s", who.c_str(), args[i], usage);
            out.exit_code = 2;
            return out;
        }
    }
    if (out.file.empty()) {
        std::fprintf(stderr, "%s: empty file name\n%s", who.c_str(), usage);
        out.exit_code = 2;
        return out;
    }
    auto loaded = config::load_config(out.file, options);
    if (const auto* errors = std::get_if<std::vector<config::config_error>>(&loaded)) {
        for (const auto& e : *errors)
            std::fprintf(stderr, "%s\n", e.to_string().c_str());
        const std::string counted = count(errors->size(), "error", "errors");
        if (name_on_count)
            std::fprintf(stderr, "%s: %s in the configuration\n", who.c_str(), counted.c_str());
        else
            std::fprintf(stderr, "%s in the configuration\n", counted.c_str());
        out.exit_code = 1;
        return out;
    }
    out.cfg = std::get<config::config>(std::move(loaded));
    return out;
}

std::string count(std::uint64_t n, std::string_view one, std::string_view many) {
    return fmt::format("{} {}", n, n == 1 ? one : many);
}

} // namespace mb::daemon
