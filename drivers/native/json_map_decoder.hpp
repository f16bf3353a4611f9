#pragma once
// The generic `json` format (docs/configuration.md): a field map from the config says where the
// serial, the time and each measurement are.
//
//   serial = "sn"                 # dot path, or "topic:N": level N (0-based) of the topic
//   ts = "time"                   # dot path; absent: the time of arrival (ts_ms nullopt)
//   [native.values]
//   voltage_l1 = "ua"
//   active_power_total = { path = "p", scale = 1000 }
//
// - A dot path walks objects by key; on an array a segment of digits is an index ("a.0.b").
//   Keys that contain a dot cannot be reached. Any field may also be "topic:N".
// - A document that is an object is one reading. A document that is an array is a list of
//   readings, one per element (each an object, each with its own serial and time); errors
//   then name the element: "[2].ua: …".
// - serial: a non-empty string or a whole number; missing (or a missing topic level) is an
//   error and that reading is left out.
// - ts: a number or numeric string is Unix seconds when below 100 000 000 000 (1e11, i.e.
//   the year 5138 in seconds), else Unix milliseconds (1e11 ms is March 1973); a fraction of a
//   second is kept to the ms. Any other string must be ISO 8601 / RFC 3339 with a time zone:
//   "2025-01-16T10:05:00Z", "…+08:00", "…+0800", optional fraction, 'T' or ' ' between date
//   and time. Without a zone it is an error: the gateway never guesses a local time zone.
//   A bad ts is an error; the reading's values still go, at arrival time.
// - values: a number or numeric string, multiplied by `scale` here; reported with an empty
//   unit (= the vocabulary's unit). A field that is missing, null or "" is skipped; any other
//   type is an error for that value alone.
#include "drivers/native/decoder.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace mb::drivers::native {

class json_map_decoder final : public decoder {
public:
    explicit json_map_decoder(const format_settings& settings);

    [[nodiscard]] decode_result decode(std::string_view topic,
                                       std::string_view payload) const override;
    [[nodiscard]] std::map<std::string, std::string> units() const override;

    // Where a field is: a dot path split at the dots, or a topic level.
    struct field_ref {
        std::string text; // as configured, for error texts
        std::vector<std::string> keys;
        std::optional<std::size_t> topic_level;
        [[nodiscard]] bool configured() const { return !text.empty(); }
    };
    struct value_ref {
        std::string name; // the vocabulary name
        field_ref field;
        double scale = 1.0;
    };

private:
    field_ref serial_;
    field_ref ts_;
    std::vector<value_ref> values_;
};

// "2025-01-16T10:05:00.250+08:00" → Unix ms; nullopt with `problem` set when it is not ISO 8601
// with a time zone. Exposed for the unit tests.
[[nodiscard]] std::optional<std::int64_t> parse_iso8601_ms(std::string_view text,
                                                           std::string& problem);

} // namespace mb::drivers::native
