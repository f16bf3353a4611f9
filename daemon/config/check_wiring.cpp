// How meters are wired, checked across tables: a port opens once, and a unit id answers once
// per line. Both mistakes otherwise pass `check` and fail at run time (a bus that never opens,
// one meter polled twice under two names).
#include "daemon/config/config_sections.hpp"
#include "daemon/config/endpoint.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace mb::config::detail {
namespace {

void report_same_port(load_context& ctx, const port_mark& later, const port_mark& earlier) {
    if (later.host.empty()) {
        ctx.errors.add(later.at, later.path + ".port",
                       fmt::format("\"{}\" is also the port of {} ({}): a port opens for one bus "
                                   "only, so this one would never poll (put the devices of both "
                                   "on one [[bus]])",
                                   later.identity, earlier.path, where(ctx, earlier.at)));
        return;
    }
    ctx.errors.add(later.at, later.path + ".port",
                   fmt::format("\"{}\" is the converter at {}, as is {}'s \"{}\" ({}): one "
                               "converter is one bus, two would poll its line at once (put the "
                               "devices of both on one [[bus]])",
                               later.text, endpoint_identity(later.host, later.port), earlier.path,
                               earlier.text, where(ctx, earlier.at)));
}

// Spelled apart, met after resolving: a name can change its address, so only a warning.
void warn_resolved_ports(load_context& ctx) {
    const auto& ports = ctx.bus_ports;
    for (std::size_t j = 0; j < ports.size(); ++j) {
        for (std::size_t i = 0; i < j; ++i) {
            const auto& a = ports[i];
            const auto& b = ports[j];
            if (a.host.empty() || b.host.empty() || a.port != b.port || a.identity == b.identity ||
                (numeric_endpoint(a.host, a.port) && numeric_endpoint(b.host, b.port)))
                continue;
            const auto& reach_a = endpoints_of(ctx, a.host, a.port);
            const auto& reach_b = endpoints_of(ctx, b.host, b.port);
            const auto common = std::ranges::find_first_of(reach_b, reach_a);
            if (common == reach_b.end()) continue;
            ctx.warnings.add(b.at, b.path + ".port",
                             fmt::format("\"{}\" and {}'s \"{}\" ({}) both reach {} once host "
                                         "names are resolved: one converter is one bus (put the "
                                         "devices of both on one [[bus]], or correct the address)",
                                         b.text, a.path, a.text, where(ctx, a.at), *common));
            break;
        }
    }
}

void check_ports(load_context& ctx) {
    const auto& ports = ctx.bus_ports;
    for (std::size_t j = 0; j < ports.size(); ++j) {
        for (std::size_t i = 0; i < j; ++i) {
            if (ports[i].identity != ports[j].identity) continue;
            report_same_port(ctx, ports[j], ports[i]);
            break;
        }
    }
    if (ctx.options.resolve) warn_resolved_ports(ctx);
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

std::string where(const load_context& ctx, const toml::source_region& at) {
    return fmt::format("{}:{}:{}", ctx.errors.file().string(), at.begin.line, at.begin.column);
}

const std::vector<std::string>& endpoints_of(load_context& ctx, const std::string& host, int port) {
    const auto key = endpoint_identity(host, port); // a name in any case is asked once
    if (const auto it = ctx.resolved.find(key); it != ctx.resolved.end()) return it->second;
    std::vector<std::string> found;
    if (auto numeric = numeric_endpoint(host, port))
        found.push_back(std::move(*numeric));
    else if (ctx.options.resolve)
        found = ctx.options.resolve(host, port);
    // A name that does not resolve (or is not looked up) reaches only what is spelled alike.
    if (found.empty()) found.push_back(endpoint_identity(host, port));
    return ctx.resolved.emplace(key, std::move(found)).first->second;
}

void check_wiring(const config& cfg, load_context& ctx) {
    check_ports(ctx);
    check_units(cfg, ctx);
}

} // namespace mb::config::detail
