#pragma once
// The payloads of docs/topics.md (a contract), as pure functions: same input, same bytes.
#include "model/buffer_stats.hpp"
#include "model/device_event.hpp"
#include "model/device_info.hpp"
#include "model/device_status.hpp"
#include "model/gap.hpp"
#include "model/reading.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mb::bridge {

// data: {"ts":…,"seq":…,"values":{…}}, values in read order.
std::string reading_payload(const model::reading& r);
// The same bytes into `out` (replaced), reusing its capacity: the uplink's per-reading path.
void reading_payload_into(std::string& out, const model::reading& r);

// gateway status: {"state":"online","ts":…,"version":…,"devices":N,"oversize":N,
// "errors":{…},"buffer":{…}}
// oversize: control messages the broker's Maximum Packet Size kept from being sent.
// errors: what keeps a part of the gateway from working, by part ("uplink", "native[lan]");
// left out when empty.
std::string gateway_online_payload(std::int64_t ts_ms, std::string_view version, int devices,
                                   std::uint64_t oversize,
                                   const std::map<std::string, std::string>& errors,
                                   const model::buffer_stats& buffer);
// the gateway's will: {"state":"offline"}
std::string gateway_will_payload();
// the gateway after a clean stop: {"state":"offline","ts":…}
std::string gateway_offline_payload(std::int64_t ts_ms);

// meta: {"profile":…,"vendor":…,"model":…,"source":…,"bus":…,"unit":…,"interval_ms":…,
// "units":{…}}
std::string meta_payload(const model::device_info& d);
// device status: {"state":…,"ts":…,"last_error":…,"polls":…,"errors":…}
std::string status_payload(const model::device_status& s);
std::string_view state_name(model::device_state s);

// gap (docs/buffer.md): {"reason":…,"from_seq":…,"to_seq":…,"from_ts":…,"to_ts":…}
std::string gap_payload(const model::gap& g);

// event: {"ts":…,"event":"counter_reset","value":…,"from":…,"to":…}
std::string event_payload(const model::counter_reset& e);

// command results (docs/commands.md). `id_json` is the command's id as encoded JSON ("\"c-17\"",
// "17"), or empty when it could not be read (then "id":null).
std::string cmd_ok_payload(std::string_view id_json);
std::string cmd_error_payload(std::string_view id_json, std::string_view error);
std::string cmd_values_payload(std::string_view id_json,
                               const std::vector<std::pair<std::string, double>>& values);

} // namespace mb::bridge
