#include "daemon/source_registry.hpp"

#include "daemon/component_settings.hpp"
#include "daemon/config/port_identity.hpp"
#include "drivers/modbus_rtu/rtu_source.hpp"
#include "drivers/native/native_source.hpp"

#include <fmt/format.h>
#include <optional>
#include <string_view>

namespace mb::daemon {
namespace {

// The RTU fingerprint: every field a bus source is made of, profiles included by content (a
// profile file edited on disk restarts the buses using it). Each struct is taken apart by a
// structured binding that names every field: a field added to it stops this compiling until
// it is added here too.

// Strings carry their length, so that no text (an `only` glob) can fake a separator.
std::string text(std::string_view s) {
    return fmt::format("{}:{}", s.size(), s);
}

std::string maybe(const std::optional<std::chrono::milliseconds>& d) {
    return d ? fmt::format("{}ms", d->count()) : std::string("-");
}

template <class T> std::string maybe(const std::optional<T>& v) {
    return v ? fmt::format("{}", *v) : std::string("-");
}

std::string fingerprint_of(const drivers::rtu::value_def& v) {
    const auto& [name, address, type, function, scale, ratio, bit, writable, is_static, min, max] =
        v;
    return fmt::format("v({},{},{},{},{},{},{},{},{},{},{})", text(name), address,
                       static_cast<int>(type), static_cast<int>(function), scale,
                       static_cast<int>(ratio), bit, writable, is_static, maybe(min), maybe(max));
}

std::string fingerprint_of(const drivers::rtu::profile& p) {
    const auto& [id, vendor, model, function, order, max_read, secondary, values] = p;
    std::string f =
        fmt::format("p({},{},{},{},{},{},{}", text(id), text(vendor), text(model),
                    static_cast<int>(function), static_cast<int>(order), max_read, secondary);
    for (const auto& v : values)
        f += fingerprint_of(v);
    return f + ")";
}

std::string fingerprint_of(const drivers::rtu::device_settings& d) {
    const auto& [name, unit, interval, static_interval, prof, only, pt_ratio, ct_ratio, timeout,
                 request_gap] = d;
    std::string f = fmt::format("d({},{},{},{},{},{},{},{},", text(name), unit, interval.count(),
                                static_interval.count(), maybe(pt_ratio), maybe(ct_ratio),
                                maybe(timeout), maybe(request_gap));
    for (const auto& glob : only)
        f += text(glob) + ",";
    return f + (prof ? fingerprint_of(*prof) : "-") + ")";
}

std::string fingerprint_of(const drivers::rtu::bus_settings& b) {
    const auto& [name, port, baud, parity, data_bits, stop_bits, timeout, request_gap, rs485,
                 max_gap, reopen_every, reconnect_first, reconnect_max, devices] = b;
    std::string f =
        fmt::format("b({},{},{},{},{},{},{},{},{},{},{},{},{}", text(name), text(port), baud,
                    parity, data_bits, stop_bits, timeout.count(), request_gap.count(), rs485,
                    max_gap, reopen_every.count(), reconnect_first.count(), reconnect_max.count());
    for (const auto& d : devices)
        f += fingerprint_of(d);
    return f + ")";
}

std::vector<source_spec> rtu_sources(const config::config& cfg) {
    std::vector<source_spec> out;
    for (auto& bus : rtu_bus_settings(cfg)) {
        source_spec s;
        s.kind = "rtu";
        // Two spellings of one device (a by-id symlink and its tty) are one key: a reload
        // that respells the port waits for the old bus to let go of it.
        s.key = "rtu:" + config::port_identity(bus.port);
        s.fingerprint = fingerprint_of(bus);
        s.make = [bus = std::move(bus)](uv_loop_t& loop, drivers::source::callbacks cb,
                                        const model::clock& clock) {
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
        s.meters.push_back({m.serial, m.name});
    // Sharing the uplink's broker: what meterbridge publishes there is never relayed back.
    if (n.url.host == cfg.uplink.url.host && n.url.port == cfg.uplink.url.port)
        s.own_topics = cfg.uplink.topic_prefix + "/";
    s.offline_after = n.offline_after;
    s.max_relayed = n.max_meters;
    s.forget_after = n.forget_after;
    return s;
}

std::string fingerprint_of(const drivers::native::native_settings& s) {
    const auto& l = s.link;
    std::string f = fmt::format(
        "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}", s.name, l.host, l.port,
        l.tls, l.ca_file.value_or(""), l.cert_file.value_or(""), l.key_file.value_or(""),
        l.client_id, l.username.value_or(""), l.password.value_or(""), l.keepalive.count(),
        static_cast<int>(l.protocol), s.subscribe, s.format.format, s.format.serial_path,
        s.format.ts_path, s.relay_unknown, s.own_topics, s.offline_after.count(), s.max_relayed,
        s.forget_after.count());
    for (const auto& [name, field] : s.format.values)
        f += fmt::format("|{}={}*{}", name, field.path, field.scale);
    for (const auto& m : s.meters)
        f += fmt::format("|{}={}", m.serial, m.name);
    return f;
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
        s.fingerprint = fingerprint_of(settings);
        s.make = [settings = std::move(settings)](uv_loop_t& loop, drivers::source::callbacks cb,
                                                  const model::clock& clock) {
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
