#include "bridge/command.hpp"

#include "common/json_writer.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace mb::bridge {
namespace {

using json = nlohmann::json;

std::string range_text(const model::writable_range& r) {
    std::string s;
    if (r.min) s += common::format_number(*r.min);
    s += "..";
    if (r.max) s += common::format_number(*r.max);
    return s;
}

// Empty string: accepted.
std::string check_set(const json& set, const model::device_info& device, command& out) {
    if (!set.is_object()) return "set: must be an object of name: number";
    if (set.empty()) return "set: names no value";
    if (set.size() > max_command_names) return "set: too many values";
    for (const auto& [name, v] : set.items()) {
        const auto w = device.writable.find(name);
        if (w == device.writable.end())
            return fmt::format("{}: {}", name,
                               device.units.contains(name) ? "not writable" : "unknown value");
        if (!v.is_number()) return fmt::format("{}: value must be a number", name);
        const double x = v.get<double>();
        const auto& r = w->second;
        if ((r.min && x < *r.min) || (r.max && x > *r.max))
            return fmt::format("{}: {} is out of range {}", name, common::format_number(x),
                               range_text(r));
        out.set.emplace_back(name, x);
    }
    return {};
}

std::string check_read(const json& read, const model::device_info& device, command& out) {
    if (!read.is_array()) return "read: must be an array of names";
    if (read.empty()) return "read: names no value";
    if (read.size() > max_command_names) return "read: too many values";
    for (const auto& v : read) {
        if (!v.is_string()) return "read: names must be strings";
        const auto& name = v.get_ref<const std::string&>();
        if (!device.units.contains(name)) return fmt::format("{}: unknown value", name);
        out.read.push_back(name);
    }
    return {};
}

// Empty string: every key is one a command may have.
std::string check_keys(const json& doc, signing mode) {
    for (const auto& [key, v] : doc.items()) {
        (void)v;
        if (key == "id" || key == "set" || key == "read" || (key == "ts" && mode == signing::on))
            continue;
        if (key == "ts" || key == "sig")
            return fmt::format("{}: this gateway takes unsigned commands ([uplink] "
                               "command_key_file is not set), so it cannot check a signature; "
                               "send the command without ts and sig",
                               key);
        return fmt::format("{}: unknown key (expected id and one of set, read)", key);
    }
    return {};
}

command_parse parse(std::string_view payload, const model::device_info& device, signing mode) {
    command_parse res;
    if (payload.size() > max_command_bytes) {
        res.error = fmt::format("command too large ({} bytes, at most {})", payload.size(),
                                max_command_bytes);
        return res;
    }
    const json doc = json::parse(payload.begin(), payload.end(), nullptr, false);
    if (doc.is_discarded()) {
        res.error = "malformed JSON";
        return res;
    }
    if (!doc.is_object()) {
        res.error = "command must be a JSON object";
        return res;
    }
    if (const auto id = doc.find("id"); id != doc.end()) {
        if (!id->is_string() && !id->is_number()) {
            res.error = "id: must be a string or a number";
            return res;
        }
        res.id_json = id->dump(-1, ' ', false, json::error_handler_t::replace);
    } else {
        res.error = "id: missing";
        return res;
    }
    res.error = check_keys(doc, mode);
    if (!res.error.empty()) return res;
    const bool has_set = doc.contains("set");
    const bool has_read = doc.contains("read");
    if (has_set == has_read) {
        res.error = has_set ? "set and read: give one, not both" : "give one of set or read";
        return res;
    }
    if (device.commands_refused) {
        res.error = fmt::format("{}: {}", device.name, *device.commands_refused);
        return res;
    }
    command c;
    c.id_json = res.id_json;
    c.what = has_set ? command::kind::set : command::kind::read;
    res.error = has_set ? check_set(doc["set"], device, c) : check_read(doc["read"], device, c);
    if (res.error.empty()) res.cmd = std::move(c);
    return res;
}

} // namespace

command_parse parse_command(std::string_view payload, const model::device_info& device,
                            signing mode) noexcept {
    try {
        return parse(payload, device, mode);
    } catch (const std::exception& e) {
        // Only allocation failures or a nlohmann corner case can land here.
        command_parse res;
        res.error = fmt::format("command refused: {}", e.what());
        return res;
    }
}

} // namespace mb::bridge
