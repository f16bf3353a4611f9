#pragma once
// A native meter dialect (docs/native.md, docs/configuration.md): one MQTT payload in, zero or
// more readings out, keyed by the meter's serial. Decoders map the dialect's own ids and keys
// to vocabulary names (docs/measurements.md) and say in which unit each value came; converting
// units, checking names and numbers, and sanity-checking time is the normalizer's
// (drivers/normalize). decode() never throws: a payload it cannot use comes back with `error` set.
#include "model/device_status.hpp"
#include "model/measurements.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mb::drivers::native {

// The largest payload a decoder looks at, and the deepest JSON nesting it accepts: a bigger or
// deeper document is rejected before it is parsed (never a deep recursion or a huge tree).
constexpr std::size_t max_payload_bytes = std::size_t{256} * 1024;
constexpr int max_json_depth = 16;

struct decoded_value {
    std::string_view name; // a vocabulary name; points into the decoder (static tables, config)
    double value = 0;
    std::string_view unit; // the unit it came in ("kW", "V", …); empty: the vocabulary's own
    // The name's measurement when the decoder looked it up once for its table; else normalize
    // looks it up.
    std::optional<model::measurement> id{};
};

struct decoded_reading {
    std::string serial;                       // the meter's id as the dialect gives it
    std::optional<std::int64_t> ts_ms;        // the meter's own time, Unix ms UTC; nullopt: arrival
    std::vector<decoded_value> values;        // payload order for arrays; object keys by name
    std::optional<std::string> iccid;         // json-v2 id 33: for the device's meta
    std::optional<model::device_state> state; // shadow: per-meter ONLINE/OFFLINE
};

struct decode_result {
    std::vector<decoded_reading> readings;
    // Set when (part of) the payload could not be used: "not JSON: …", "data[0].tp: not a
    // number", … Readings decoded before the problem are still returned.
    std::string error;
    std::size_t skipped = 0; // entries left out that are not errors (unknown ids, keys)
};

class decoder {
public:
    decoder() = default;
    virtual ~decoder() = default;
    decoder(const decoder&) = delete;
    decoder& operator=(const decoder&) = delete;

    [[nodiscard]] virtual decode_result decode(std::string_view topic,
                                               std::string_view payload) const = 0;
    // Every vocabulary name this dialect can produce, with its unit: the device meta's units.
    [[nodiscard]] virtual std::map<std::string, std::string> units() const = 0;
};

// The generic "json" format's field map (docs/configuration.md).
struct json_field {
    std::string path; // dot path into the document ("a.b", array index "a.0.b")
    double scale = 1.0;

    bool operator==(const json_field&) const = default;
};
struct format_settings {
    std::string format;      // acrel-json-v2 | acrel-shadow | json
    std::string serial_path; // json: dot path, or "topic:N" (0-based topic level)
    std::string ts_path;     // json: dot path of Unix s, Unix ms or ISO 8601; empty: arrival
    std::map<std::string, json_field> values; // json: vocabulary name -> field

    bool operator==(const format_settings&) const = default;
};

// nullptr for a format this build does not know (the config check refuses those first).
[[nodiscard]] std::unique_ptr<decoder> make_decoder(const format_settings& settings);

} // namespace mb::drivers::native
