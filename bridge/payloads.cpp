#include "bridge/payloads.hpp"

#include "common/json_writer.hpp"
#include "model/measurements.hpp"

#include <string>
#include <vector>

namespace mb::bridge {
namespace {

void put_id(common::json_writer& w, std::string_view id_json) {
    w.key("id");
    if (id_json.empty()) {
        w.null();
    } else {
        w.raw(id_json);
    }
}

void put_values(common::json_writer& w, const std::vector<std::pair<std::string, double>>& values) {
    w.key("values").begin_object();
    for (const auto& [name, v] : values)
        w.key(name).value(v);
    w.end_object();
}

// Every measurement's name as a JSON key, made once: a reading's keys are copied, not escaped
// (they were 12 % of the relay's instructions).
const std::vector<std::string>& quoted_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> out(model::measurement_count());
        for (std::size_t i = 0; i < out.size(); ++i)
            common::append_string(out[i], model::name_of(static_cast<model::measurement>(i)));
        return out;
    }();
    return names;
}

void put_values(common::json_writer& w, const std::vector<model::reading_value>& values) {
    const auto& names = quoted_names();
    w.key("values").begin_object();
    for (const auto& v : values)
        w.quoted_key(names[static_cast<std::size_t>(v.id)]).value(v.value);
    w.end_object();
}

} // namespace

void reading_payload_into(std::string& out, const model::reading& r) {
    common::json_writer w(std::move(out));
    w.begin_object().key("ts").value(r.ts_ms).key("seq").value(r.seq);
    put_values(w, r.values);
    out = w.end_object().take();
}

std::string reading_payload(const model::reading& r) {
    std::string out;
    std::size_t guess = 64; // ts, seq, braces
    for (const auto& v : r.values)
        guess += v.name().size() + 24; // quotes, colon, comma and a number
    out.reserve(guess);
    reading_payload_into(out, r);
    return out;
}

std::string gateway_online_payload(std::int64_t ts_ms, std::string_view version, int devices,
                                   std::uint64_t oversize,
                                   const std::map<std::string, std::string>& errors,
                                   const model::buffer_stats& buffer) {
    common::json_writer w;
    w.begin_object().key("state").value("online").key("ts").value(ts_ms);
    w.key("version").value(version).key("devices").value(devices);
    w.key("oversize").value(oversize);
    if (!errors.empty()) {
        w.key("errors").begin_object();
        for (const auto& [part, what] : errors)
            w.key(part).value(what);
        w.end_object();
    }
    w.key("buffer").begin_object().key("readings").value(buffer.readings).key("oldest_ts");
    if (buffer.oldest_ts) {
        w.value(*buffer.oldest_ts);
    } else {
        w.null();
    }
    w.key("dropped").value(buffer.dropped);
    if (!buffer.dropped_by_device.empty()) { // which meters' data the drops cost
        w.key("dropped_by_device").begin_object();
        for (const auto& [device, n] : buffer.dropped_by_device)
            w.key(device).value(n);
        w.end_object();
    }
    if (!buffer.error.empty()) w.key("error").value(buffer.error);
    if (buffer.held > 0) w.key("held").value(buffer.held);
    if (!buffer.moved_aside.empty()) w.key("moved_aside").value(buffer.moved_aside);
    if (!buffer.rebuilt.empty()) w.key("rebuilt").value(buffer.rebuilt);
    if (!buffer.store_id.empty()) w.key("store_id").value(buffer.store_id);
    return w.end_object().end_object().take();
}

std::string gateway_will_payload() {
    return R"({"state":"offline"})";
}

std::string gateway_offline_payload(std::int64_t ts_ms) {
    common::json_writer w;
    w.begin_object().key("state").value("offline").key("ts").value(ts_ms);
    return w.end_object().take();
}

std::string meta_payload(const model::device_info& d) {
    common::json_writer w;
    w.begin_object().key("profile").value(d.profile).key("vendor").value(d.vendor);
    w.key("model").value(d.model).key("source").value(d.source).key("bus").value(d.bus);
    w.key("unit").value(d.unit).key("interval_ms").value(d.interval_ms);
    if (d.source == "native") {
        w.key("format").value(d.profile).key("serial").value(d.serial);
        if (!d.iccid.empty()) w.key("iccid").value(d.iccid);
        if (d.clock_offset_s) w.key("clock_offset_s").value(*d.clock_offset_s);
    }
    if (d.pt_ratio) w.key("pt_ratio").value(*d.pt_ratio);
    if (d.ct_ratio) w.key("ct_ratio").value(*d.ct_ratio);
    w.key("units").begin_object();
    for (const auto& [name, unit] : d.units)
        w.key(name).value(unit);
    w.end_object();
    return w.end_object().take();
}

std::string_view state_name(model::device_state s) {
    switch (s) {
    case model::device_state::online:
        return "online";
    case model::device_state::offline:
        return "offline";
    case model::device_state::error:
        return "error";
    }
    return "error";
}

std::string status_payload(const model::device_status& s) {
    common::json_writer w;
    w.begin_object().key("state").value(state_name(s.state)).key("ts").value(s.ts_ms);
    w.key("last_error");
    if (s.last_error) {
        w.value(*s.last_error);
    } else {
        w.null();
    }
    w.key("polls").value(s.polls).key("errors").value(s.errors);
    w.key("glitches").value(s.glitches);
    if (s.line) {
        w.key("timeouts").value(s.line->timeouts).key("skipped").value(s.line->skipped);
        w.key("rtt_ms");
        if (s.line->rtt_ms) {
            w.value(*s.line->rtt_ms);
        } else {
            w.null();
        }
    }
    return w.end_object().take();
}

std::string gap_payload(const model::gap& g) {
    common::json_writer w;
    w.begin_object()
        .key("reason")
        .value(model::reason_name(g.reason))
        .key("from_seq")
        .value(g.from_seq);
    w.key("to_seq").value(g.to_seq).key("from_ts").value(g.from_ts).key("to_ts").value(g.to_ts);
    return w.end_object().take();
}

std::string event_payload(const model::counter_reset& e) {
    common::json_writer w;
    w.begin_object().key("ts").value(e.ts_ms).key("event").value("counter_reset");
    w.key("value").value(model::name_of(e.value)).key("from").value(e.from).key("to").value(e.to);
    return w.end_object().take();
}

std::string cmd_ok_payload(std::string_view id_json) {
    common::json_writer w;
    w.begin_object();
    put_id(w, id_json);
    w.key("ok").value(true);
    return w.end_object().take();
}

std::string cmd_error_payload(std::string_view id_json, std::string_view error) {
    common::json_writer w;
    w.begin_object();
    put_id(w, id_json);
    w.key("ok").value(false).key("error").value(error);
    return w.end_object().take();
}

std::string cmd_values_payload(std::string_view id_json,
                               const std::vector<std::pair<std::string, double>>& values) {
    common::json_writer w;
    w.begin_object();
    put_id(w, id_json);
    w.key("ok").value(true);
    put_values(w, values);
    return w.end_object().take();
}

} // namespace mb::bridge
