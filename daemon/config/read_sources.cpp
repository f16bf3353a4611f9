// [[bus]], [[device]] and [[native]] of meterbridge.toml (docs/configuration.md).
#include "daemon/config/config_sections.hpp"
#include "daemon/config/port_identity.hpp"
#include "drivers/modbus_rtu/port_address.hpp"
#include "model/measurements.hpp"

#include <array>
#include <chrono>
#include <cmath>
#include <fmt/format.h>

namespace mb::config::detail {
namespace {

constexpr std::array standard_bauds{1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200};
// A response timeout ([[bus]] or [[device]]).
constexpr std::chrono::milliseconds min_timeout{10};
constexpr std::chrono::milliseconds max_timeout{60'000};
// The silence before a request: real meters want up to some hundred ms; a stop or a command
// waits for it, so it is bounded.
constexpr std::chrono::milliseconds max_request_gap{5'000};

// A name that must be unique: read it and remember where it was written.
std::optional<std::string> unique_name(toml_reader& r, std::vector<name_mark>& marks) {
    auto name = r.name("name", true);
    if (name) marks.push_back({*name, r.path(), r.table().get("name")->source()});
    return name;
}

// MQTT subscription filter rules: '#' only as the whole last level, '+' only as a whole level.
bool valid_filter(std::string_view f) {
    if (f.empty() || f.find('\0') != std::string_view::npos) return false;
    std::size_t start = 0;
    for (;;) {
        const auto end = f.find('/', start);
        const auto level =
            f.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
        if (level.find_first_of("+#") != std::string_view::npos && level.size() != 1) return false;
        if (level == "#" && end != std::string_view::npos) return false;
        if (end == std::string_view::npos) return true;
        start = end + 1;
    }
}

// "sn", "data.meter.id" or "topic:N".
bool valid_field_path(std::string_view p) {
    if (p.starts_with("topic:")) {
        const auto n = p.substr(6);
        return !n.empty() && n.size() <= 3 &&
               n.find_first_not_of("0123456789") == std::string_view::npos;
    }
    return !p.empty() && !p.starts_with('.') && !p.ends_with('.') &&
           p.find("..") == std::string_view::npos;
}

void read_json_values(const toml::table& values, const std::string& path, native_config& n,
                      error_list& errors) {
    for (const auto& [k, node] : values) {
        const std::string key = fmt::format("{}.{}", path, k.str());
        if (!model::unit_of(k.str()))
            errors.add(k.source(), key,
                       fmt::format("\"{}\" is not a measurement name (the names of "
                                   "docs/measurements.md, e.g. voltage_l1)",
                                   k.str()));
        json_field field;
        if (const auto* s = node.as_string()) {
            field.path = s->get();
        } else if (const auto* t = node.as_table()) {
            toml_reader fr(*t, key, errors);
            field.path = fr.string("path", true).value_or("");
            if (const auto scale = fr.number("scale")) {
                if (*scale == 0 || !std::isfinite(*scale))
                    errors.add(*t->get("scale"), key + ".scale",
                               fmt::format("{} is not a usable scale (a finite number other "
                                           "than 0)",
                                           *scale));
                else
                    field.scale = *scale;
            }
            fr.finish();
            if (!t->contains("path")) continue;
        } else {
            errors.add(node, key,
                       fmt::format("{} where a path string or {{ path = \"...\", scale = N }} is "
                                   "expected",
                                   describe(node.type())));
            continue;
        }
        if (!valid_field_path(field.path))
            errors.add(node, key,
                       fmt::format(R"("{}" is not a field path (a dot path such as "data.ua"))",
                                   field.path));
        n.values.emplace(k.str(), field);
    }
}

// max_meters and forget_after bound the meters relayed as sn-<serial>; with unknown =
// "ignore" there are none, and a setting that does nothing is an error.
void read_relay_limits(toml_reader& r, native_config& n) {
    if (n.unknown == unknown_policy::ignore) {
        // The one thing wrong with them then, whatever their values.
        for (const auto* k : {"max_meters", "forget_after"})
            if (const auto* node = r.get(k))
                r.errors().add(*node, r.key(k),
                               "only applies to meters relayed as sn-<serial>, and unknown = "
                               "\"ignore\" relays none (remove it, or set unknown = \"relay\")");
        return;
    }
    n.max_meters = static_cast<std::size_t>(
        r.integer("max_meters", 1, 1'000'000).value_or(static_cast<std::int64_t>(n.max_meters)));
    const auto forget = r.duration("forget_after", std::chrono::seconds(1));
    if (!forget) return;
    if (*forget > n.offline_after)
        n.forget_after = *forget;
    else
        r.errors().add(*r.table().get("forget_after"), r.key("forget_after"),
                       fmt::format("{} ms is not longer than offline_after ({} ms): a meter is "
                                   "forgotten after it went offline (a longer duration)",
                                   forget->count(), n.offline_after.count()));
}

void read_json_format(toml_reader& r, native_config& n) {
    const bool json = n.format == "json";
    const std::string only_json = "only allowed with format = \"json\"";
    for (const auto* k : {"serial", "ts", "values"})
        if (const auto* node = r.get(k); node != nullptr && !json && !n.format.empty())
            r.errors().add(*node, r.key(k),
                           fmt::format("{} (remove it, or set format)", only_json));
    if (!json) return;
    n.serial_path = r.string("serial", true).value_or("");
    if (r.table().get("serial") != nullptr && r.table().get("serial")->is_string() &&
        !valid_field_path(n.serial_path))
        r.errors().add(*r.table().get("serial"), r.key("serial"),
                       fmt::format("\"{}\" is not a field path (a dot path such as \"meter.sn\" "
                                   "or \"topic:N\")",
                                   n.serial_path));
    n.ts_path = r.string("ts").value_or("");
    if (r.table().get("ts") != nullptr && r.table().get("ts")->is_string() &&
        !valid_field_path(n.ts_path))
        r.errors().add(
            *r.table().get("ts"), r.key("ts"),
            fmt::format(R"("{}" is not a field path (a dot path such as "time"))", n.ts_path));
    const auto* node = r.table().get("values");
    if (node == nullptr) {
        r.errors().add(r.table().source(), r.key("values"),
                       "required key is missing ([native.values] with measurement = \"path\")");
    } else if (const auto* values = node->as_table()) {
        read_json_values(*values, r.key("values"), n, r.errors());
        if (values->empty())
            r.errors().add(*values, r.key("values"), "empty (at least one measurement = \"path\")");
    } else {
        r.errors().add(
            *node, r.key("values"),
            fmt::format("{} where a table ([native.values]) is expected", describe(node->type())));
    }
}

} // namespace

void read_buses(toml_reader& root, config& cfg, load_context& ctx) {
    for (const auto& [index, table] : root.tables("bus")) {
        toml_reader r(*table, fmt::format("bus[{}]", index), ctx.errors);
        bus_config b;
        const auto name = unique_name(r, ctx.bus_names);
        const auto port = r.string("port", true);
        const auto where = drivers::rtu::parse_port(port.value_or(""));
        if (port && !where.ok())
            ctx.errors.add(*table->get("port"), r.key("port"), where.error);
        else if (port)
            ctx.bus_ports.push_back({*port, port_identity(*port), where.address.host,
                                     where.address.port, r.path(), table->get("port")->source()});
        if (const auto* node = r.get("baud")) {
            const auto* i = node->as_integer();
            bool ok = false;
            for (int baud : standard_bauds)
                ok = ok || (i != nullptr && i->get() == baud);
            if (ok)
                b.baud = static_cast<int>(i->get());
            else
                ctx.errors.add(*node, r.key("baud"),
                               fmt::format("{} is not a standard baud rate (1200 | 2400 | 4800 | "
                                           "9600 | 19200 | 38400 | 57600 | 115200)",
                                           i != nullptr ? std::to_string(i->get())
                                                        : std::string(describe(node->type()))));
        }
        b.parity = r.choice<char>("parity", {{"none", 'N'}, {"even", 'E'}, {"odd", 'O'}})
                       .value_or(b.parity);
        b.data_bits = static_cast<int>(r.integer("data_bits", 7, 8).value_or(b.data_bits));
        b.stop_bits = static_cast<int>(r.integer("stop_bits", 1, 2).value_or(b.stop_bits));
        b.timeout = r.duration("timeout", min_timeout, max_timeout).value_or(b.timeout);
        b.request_gap = r.duration("request_gap", std::chrono::milliseconds(0), max_request_gap)
                            .value_or(b.request_gap);
        b.rs485 = r.boolean("rs485").value_or(b.rs485);
        b.max_gap = static_cast<int>(r.integer("max_gap", 0, 125).value_or(b.max_gap));
        // A converter's serial side is set up on the converter, not here.
        for (const auto* k : {"baud", "parity", "data_bits", "stop_bits", "rs485"})
            if (const auto* node = table->get(k); node != nullptr && where.address.network())
                ctx.errors.add(*node, r.key(k),
                               fmt::format("serial settings do not apply to {} (the "
                                           "converter's own setup sets the line); remove it",
                                           where.address.kind_phrase()));
        r.finish();
        // Kept even when other keys are wrong, so that devices naming it are not also reported.
        if (!name) continue;
        b.name = *name;
        b.port = port.value_or("");
        cfg.buses.push_back(std::move(b));
    }
}

void read_devices(toml_reader& root, config& cfg, load_context& ctx) {
    for (const auto& [index, table] : root.tables("device")) {
        toml_reader r(*table, fmt::format("device[{}]", index), ctx.errors);
        device_config d;
        const auto name = unique_name(r, ctx.device_names);
        const auto bus = r.string("bus", true);
        const auto unit = r.integer("unit", 1, 247, true);
        const auto profile = r.name("profile", true);
        d.interval = r.duration("interval", std::chrono::milliseconds(100)).value_or(d.interval);
        d.static_interval =
            r.duration("static_interval", std::chrono::seconds(1)).value_or(d.static_interval);
        d.timeout = r.duration("timeout", min_timeout, max_timeout);
        d.request_gap = r.duration("request_gap", std::chrono::milliseconds(0), max_request_gap);
        d.max_power_w = r.power("max_power");
        for (const auto* k : {"ct_ratio", "pt_ratio"}) {
            const auto v = r.number(k);
            if (v && (!(*v > 0) || !std::isfinite(*v)))
                ctx.errors.add(*table->get(k), r.key(k),
                               fmt::format("{} is out of range (a number > 0)", *v));
            else if (v)
                (std::string_view(k) == "ct_ratio" ? d.ct_ratio : d.pt_ratio) = *v;
        }
        const auto* only = r.array("only");
        if (only != nullptr) {
            for (std::size_t g = 0; g < only->size(); ++g) {
                const auto* s = only->get(g)->as_string();
                if (s != nullptr && !s->get().empty())
                    d.only.push_back(s->get());
                else
                    ctx.errors.add(
                        *only->get(g), fmt::format("{}.only[{}]", r.path(), g),
                        fmt::format("{} where a glob such as \"voltage_*\" is expected",
                                    s != nullptr ? "\"\"" : describe(only->get(g)->type())));
            }
            if (only->empty())
                ctx.errors.add(*only, r.key("only"),
                               "empty list (leave it out for all values, or list globs)");
        }
        r.finish();
        // Kept when only other keys are wrong, so its bus and profile are still checked.
        if (!bus || !profile) continue;
        d.name = name.value_or("");
        d.bus = *bus;
        d.unit = static_cast<int>(unit.value_or(d.unit));
        d.profile = *profile;
        ctx.devices.push_back(
            {r.path(), table->get("bus")->source(), table->get("profile")->source(),
             d.only.size() == (only != nullptr ? only->size() : 0) ? only : nullptr,
             unit ? std::optional(table->get("unit")->source()) : std::nullopt,
             table->get("static_interval")});
        cfg.devices.push_back(std::move(d));
    }
}

void read_natives(toml_reader& root, config& cfg, load_context& ctx) {
    std::vector<name_mark> source_names;
    for (const auto& [index, table] : root.tables("native")) {
        toml_reader r(*table, fmt::format("native[{}]", index), ctx.errors);
        native_config n;
        const auto name = unique_name(r, source_names);
        // Its own session by default, also on the uplink's broker.
        const bool url = read_broker_options(
            r, n, fmt::format("meterbridge-{}-{}", cfg.gateway.id, name.value_or("")), ctx);
        const auto subscribe = r.string("subscribe", true);
        if (subscribe && !valid_filter(*subscribe))
            ctx.errors.add(*table->get("subscribe"), r.key("subscribe"),
                           fmt::format("\"{}\" is not an MQTT topic filter (levels split by /, + "
                                       "and # only as a whole level, # only last)",
                                       *subscribe));
        n.format = r.choice<std::string>("format",
                                         {{"acrel-json-v2", "acrel-json-v2"},
                                          {"acrel-shadow", "acrel-shadow"},
                                          {"json", "json"}},
                                         true)
                       .value_or("");
        n.unknown = r.choice<unknown_policy>("unknown", {{"relay", unknown_policy::relay},
                                                         {"ignore", unknown_policy::ignore}})
                        .value_or(n.unknown);
        n.offline_after =
            r.duration("offline_after", std::chrono::seconds(1)).value_or(n.offline_after);
        read_relay_limits(r, n);
        n.max_power_w = r.power("max_power");
        std::vector<name_mark> serials;
        for (const auto& [mi, mt] : r.tables("meter")) {
            toml_reader mr(*mt, fmt::format("{}.meter[{}]", r.path(), mi), ctx.errors);
            const auto serial = mr.string("serial", true);
            if (serial && serial->empty())
                ctx.errors.add(*mt->get("serial"), mr.key("serial"), "empty (the meter's serial)");
            else if (serial)
                serials.push_back({*serial, mr.path(), mt->get("serial")->source()});
            const auto meter_name = unique_name(mr, ctx.device_names);
            const auto max_power = mr.power("max_power");
            mr.finish();
            if (serial && meter_name) n.meters.push_back({*serial, *meter_name, max_power});
        }
        report_repeats(serials, ctx, ".serial", [](const auto& repeat, const auto& first) {
            return fmt::format("serial \"{}\" is already named by {} (each serial once per source)",
                               repeat.name, first.path);
        });
        read_json_format(r, n);
        r.finish();
        if (!name || !url || !subscribe) continue;
        n.name = *name;
        n.subscribe = *subscribe;
        cfg.natives.push_back(std::move(n));
    }
    report_repeats(source_names, ctx, ".name", [](const auto& repeat, const auto& first) {
        return fmt::format("\"{}\" is already used by {} (native names must be unique)",
                           repeat.name, first.path);
    });
}

} // namespace mb::config::detail
