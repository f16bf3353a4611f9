// How meters are wired, checked across tables: a port opens once, and a unit id answers once
// per line. Both mistakes otherwise pass `check` and fail at run time (a bus that never opens,
// one meter polled twice under two names).
#include "daemon/config/config_sections.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace mb::config::detail {
namespace {

std::string where(const load_context& ctx, const toml::source_region& at) {
    return fmt::format("{}:{}:{}", ctx.errors.file().string(), at.begin.line, at.begin.column);
}

void check_ports(load_context& ctx) {
    const auto& ports = ctx.bus_ports;
    for (std::size_t j = 0; j < ports.size(); ++j) {
        for (std::size_t i = 0; i < j; ++i) {
            if (ports[i].name != ports[j].name) continue;
            ctx.errors.add(ports[j].at, ports[j].path + ".port",
                           fmt::format("\"{}\" is also the port of {} ({}): a port opens for "
                                       "one bus only, so this one would never poll (put the "
                                       "devices of both on one [[bus]])",
                                       ports[j].name, ports[i].path, where(ctx, ports[i].at)));
            break;
        }
    }
}

void check_units(const config& cfg, load_context& ctx) {
    const auto bus_exists = [&](const std::string& name) {
        return std::any_of(cfg.buses.begin(), cfg.buses.end(),
                           [&](const bus_config& b) { return b.name == name; });
    };
    for (std::size_t j = 0; j < cfg.devices.size(); ++j) {
        const auto& later = ctx.devices[j];
        if (!later.unit_at || !bus_exists(cfg.devices[j].bus)) continue;
        for (std::size_t i = 0; i < j; ++i) {
            const auto& earlier = ctx.devices[i];
            if (!earlier.unit_at || cfg.devices[i].bus != cfg.devices[j].bus ||
                cfg.devices[i].unit != cfg.devices[j].unit)
                continue;
            ctx.errors.add(*later.unit_at, later.path + ".unit",
                           fmt::format("unit {} on bus \"{}\" is already {}.unit ({}): one "
                                       "meter answers each unit id on a bus (give each meter "
                                       "its own unit, 1..247)",
                                       cfg.devices[j].unit, cfg.devices[j].bus, earlier.path,
                                       where(ctx, *earlier.unit_at)));
            break;
        }
    }
}

} // namespace

void check_wiring(const config& cfg, load_context& ctx) {
    check_ports(ctx);
    check_units(cfg, ctx);
}

} // namespace mb::config::detail
