#include "daemon/gateway/component_settings.hpp"

#include <chrono>
#include <memory>

namespace mb::daemon {

drivers::rtu::bus_settings rtu_line_settings(const config::bus_config& b) {
    drivers::rtu::bus_settings s;
    s.name = b.name;
    s.port = b.port;
    s.baud = b.baud;
    s.parity = b.parity;
    s.data_bits = b.data_bits;
    s.stop_bits = b.stop_bits;
    s.timeout = b.timeout;
    s.request_gap = b.request_gap;
    s.rs485 = b.rs485;
    s.max_gap = b.max_gap;
    return s;
}

std::vector<drivers::rtu::bus_settings> rtu_bus_settings(const config::config& cfg) {
    // One shared copy of each profile, however many devices use it.
    std::map<std::string, std::shared_ptr<const drivers::rtu::profile>> profiles;
    for (const auto& [id, prof] : cfg.profiles)
        profiles.emplace(id, std::make_shared<const drivers::rtu::profile>(prof));

    std::vector<drivers::rtu::bus_settings> buses;
    for (const auto& b : cfg.buses) {
        auto s = rtu_line_settings(b);
        for (const auto& d : cfg.devices) {
            if (d.bus != b.name) continue;
            drivers::rtu::device_settings ds;
            ds.name = d.name;
            ds.unit = d.unit;
            ds.interval = d.interval;
            ds.static_interval = d.static_interval;
            ds.prof = profiles.at(d.profile);
            ds.only = d.only;
            ds.pt_ratio = d.pt_ratio;
            ds.ct_ratio = d.ct_ratio;
            ds.timeout = d.timeout;
            ds.request_gap = d.request_gap;
            ds.max_power_w = d.max_power_w;
            s.devices.push_back(std::move(ds));
        }
        buses.push_back(std::move(s));
    }
    return buses;
}

namespace {

bridge::mqtt_protocol protocol_of(config::mqtt_protocol p) {
    switch (p) {
    case config::mqtt_protocol::v5:
        return bridge::mqtt_protocol::v5;
    case config::mqtt_protocol::v311:
        return bridge::mqtt_protocol::v311;
    case config::mqtt_protocol::automatic:
        break;
    }
    return bridge::mqtt_protocol::automatic;
}

// The connection half, the same for the uplink and each native source.
bridge::link_settings link_of(const config::broker_options& b, std::string name) {
    bridge::link_settings s;
    s.name = std::move(name);
    s.host = b.url.host;
    s.port = b.url.port;
    s.tls = b.url.tls;
    if (b.ca_file) s.ca_file = b.ca_file->string();
    if (b.cert_file) s.cert_file = b.cert_file->string();
    if (b.key_file) s.key_file = b.key_file->string();
    s.client_id = b.client_id;
    s.username = b.username;
    if (b.password_file) s.password = b.password;
    s.keepalive = std::chrono::duration_cast<std::chrono::seconds>(b.keepalive);
    s.protocol = protocol_of(b.protocol);
    return s;
}

} // namespace

bridge::uplink_settings uplink_settings(const config::config& cfg) {
    const auto& u = cfg.uplink;
    bridge::uplink_settings s;
    s.link = link_of(u, "uplink");
    s.link.max_inflight = u.max_inflight;
    s.link.reconnect.max = u.reconnect_max;
    s.topic_prefix = u.topic_prefix;
    s.gateway_id = cfg.gateway.id;
    s.version = MB_VERSION;
    s.commands = u.commands;
    if (u.command_key_file) s.command_key = u.command_key;
    return s;
}

bridge::link_settings native_link_settings(const config::config& /*cfg*/,
                                           const config::native_config& n) {
    return link_of(n, "native[" + n.name + "]");
}

buffer::buffer_settings buffer_settings(const config::config& cfg) {
    buffer::buffer_settings s;
    s.path = cfg.buffer.path;
    s.max_size = cfg.buffer.max_size;
    s.max_age = cfg.buffer.max_age;
    s.flush_interval = cfg.buffer.flush_interval;
    s.sync_full = cfg.buffer.sync == config::sync_mode::full;
    return s;
}

} // namespace mb::daemon
