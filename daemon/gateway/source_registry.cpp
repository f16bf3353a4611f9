#include "daemon/gateway/source_registry.hpp"

#include "daemon/config/port_identity.hpp"
#include "daemon/gateway/component_settings.hpp"
#include "drivers/modbus_rtu/rtu_source.hpp"
#include "drivers/native/native_source.hpp"

#include <fmt/format.h>

namespace mb::daemon {
namespace {

std::vector<source_spec> rtu_sources(const config::config& cfg) {
    std::vector<source_spec> out;
    for (auto& bus : rtu_bus_settings(cfg)) {
        source_spec s;
        s.kind = "rtu";
        // Two spellings of one device (a by-id symlink and its tty) are one key: a reload
        // that respells the port waits for the old bus to let go of it.
        s.key = "rtu:" + config::port_identity(bus.port);
        s.settings = std::make_shared<settings_of<drivers::rtu::bus_settings>>(bus);
        s.make = [bus = std::move(bus)](uv_loop_t& loop, drivers::source::callbacks cb,
                                        const common::clock& clock) {
            return std::make_unique<drivers::rtu::rtu_source>(
                loop, std::vector<drivers::rtu::bus_settings>{bus}, std::move(cb), clock);
        };
        out.push_back(std::move(s));
    }
    return out;
}

drivers::native::native_settings native_source_settings(const config::config& cfg,
                                                        const config::native_config& n) {
    drivers::native::native_settings s;
    s.name = n.name;
    s.link = native_link_settings(cfg, n);
    s.subscribe = n.subscribe;
    s.format.format = n.format;
    s.format.serial_path = n.serial_path;
    s.format.ts_path = n.ts_path;
    for (const auto& [name, field] : n.values)
        s.format.values.emplace(name, drivers::native::json_field{field.path, field.scale});
    s.relay_unknown = n.unknown == config::unknown_policy::relay;
    for (const auto& m : n.meters)
        s.meters.push_back({m.serial, m.name, m.max_power_w ? m.max_power_w : n.max_power_w});
    // Sharing the uplink's broker: what meterbridge publishes there is never relayed back.
    if (n.url.host == cfg.uplink.url.host && n.url.port == cfg.uplink.url.port)
        s.own_topics = cfg.uplink.topic_prefix + "/";
    s.offline_after = n.offline_after;
    s.max_relayed = n.max_meters;
    s.forget_after = n.forget_after;
    s.max_power_w = n.max_power_w;
    return s;
}

std::vector<source_spec> native_sources(const config::config& cfg) {
    std::vector<source_spec> out;
    for (const auto& n : cfg.natives) {
        auto settings = native_source_settings(cfg, n);
        source_spec s;
        s.kind = "native";
        // One session per client id on a broker: a new source with the same id waits for
        // the old one to disconnect.
        s.key = fmt::format("native:{}:{}:{}", settings.link.host, settings.link.port,
                            settings.link.client_id);
        s.settings = std::make_shared<settings_of<drivers::native::native_settings>>(settings);
        s.make = [settings = std::move(settings)](uv_loop_t& loop, drivers::source::callbacks cb,
                                                  const common::clock& clock) {
            return std::make_unique<drivers::native::native_source>(loop, settings, std::move(cb),
                                                                    clock);
        };
        out.push_back(std::move(s));
    }
    return out;
}

} // namespace

const std::vector<source_kind>& source_kinds() {
    static const std::vector<source_kind> kinds{{"rtu", &rtu_sources}, {"native", &native_sources}};
    return kinds;
}

std::vector<source_spec> sources_of(const config::config& cfg) {
    std::vector<source_spec> out;
    for (const auto& kind : source_kinds())
        for (auto& s : kind.specs(cfg))
            out.push_back(std::move(s));
    return out;
}

} // namespace mb::daemon
