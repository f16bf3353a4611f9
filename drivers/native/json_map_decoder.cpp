#include "drivers/native/json_map_decoder.hpp"

#include "drivers/native/json_input.hpp"
#include "model/measurements.hpp"

#include <array>
#include <charconv>
#include <cmath>

namespace mb::drivers::native {
namespace {

using field_ref = json_map_decoder::field_ref;

field_ref parse_field(const std::string& text) {
    field_ref f;
    f.text = text;
    constexpr std::string_view topic_prefix = "topic:";
    if (text.starts_with(topic_prefix)) {
        const std::string_view digits = std::string_view(text).substr(topic_prefix.size());
        std::size_t level = 0;
        const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), level);
        if (!digits.empty() && ec == std::errc{} && end == digits.data() + digits.size()) {
            f.topic_level = level;
            return f;
        }
    }
    std::size_t start = 0;
    for (;;) {
        const auto dot = text.find('.', start);
        f.keys.push_back(text.substr(start, dot == std::string::npos ? dot : dot - start));
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    return f;
}

// Level `level` of an MQTT topic, nullopt when the topic has fewer levels.
std::optional<std::string_view> topic_level(std::string_view topic, std::size_t level) {
    for (std::size_t i = 0; i < level; ++i) {
        const auto slash = topic.find('/');
        if (slash == std::string_view::npos) return std::nullopt;
        topic.remove_prefix(slash + 1);
    }
    return topic.substr(0, topic.find('/'));
}

// The node a field points at, or nullptr with `missing` set. A topic level is copied into
// `topic_slot` (a JSON string) so that callers see one kind of answer.
const json* find_field(const json& doc, std::string_view topic, const field_ref& f,
                       json& topic_slot, std::string& missing) {
    if (f.topic_level) {
        const auto level = topic_level(topic, *f.topic_level);
        if (!level) {
            missing = "the topic \"" + printable(topic, 96) + "\" has no level " +
                      std::to_string(*f.topic_level);
            return nullptr;
        }
        topic_slot = std::string(*level);
        return &topic_slot;
    }
    const json* node = &doc;
    for (const auto& key : f.keys) {
        if (node->is_object()) {
            const auto it = node->find(key);
            node = it == node->end() ? nullptr : &*it;
        } else if (node->is_array()) {
            std::size_t index = 0;
            const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), index);
            const bool usable = !key.empty() && ec == std::errc{} && end == key.data() + key.size();
            node = usable && index < node->size() ? &(*node)[index] : nullptr;
        } else {
            node = nullptr;
        }
        if (node == nullptr) {
            missing = "missing";
            return nullptr;
        }
    }
    return node;
}

// Below this a number is Unix seconds, from it on Unix ms (see the header).
constexpr double seconds_limit = 1e11;

std::optional<std::int64_t> ts_from(const json& node, std::string& problem) {
    const auto number = to_number(node);
    if (number.value) {
        const double factor = std::fabs(*number.value) < seconds_limit ? 1000.0 : 1.0;
        auto ms = to_ms(*number.value, factor);
        if (!ms) problem = json(*number.value).dump() + " is out of range";
        return ms;
    }
    if (number.no_value) return std::nullopt;
    if (node.is_string()) return parse_iso8601_ms(node.get_ref<const std::string&>(), problem);
    problem =
        std::string(type_name(node)) + " where a time (Unix s or ms, or ISO 8601) is expected";
    return std::nullopt;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
    y -= m <= 2 ? 1 : 0;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

unsigned days_in_month(std::int64_t y, unsigned m) {
    constexpr std::array<unsigned, 12> days = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days.at(m - 1);
}

// Reads exactly `width` digits at `pos` of `s`.
bool digits(std::string_view s, std::size_t& pos, std::size_t width, unsigned& out) {
    if (pos + width > s.size()) return false;
    out = 0;
    for (std::size_t i = 0; i < width; ++i) {
        const char c = s[pos + i];
        if (c < '0' || c > '9') return false;
        out = out * 10 + static_cast<unsigned>(c - '0');
    }
    pos += width;
    return true;
}

bool expect(std::string_view s, std::size_t& pos, char c) {
    if (pos >= s.size() || s[pos] != c) return false;
    ++pos;
    return true;
}

} // namespace

std::optional<std::int64_t> parse_iso8601_ms(std::string_view text, std::string& problem) {
    const std::string_view s = text;
    const auto quoted = [&] { // only when there is something to say
        std::string q(1, '"');
        q += printable(s, 40);
        q += '"';
        return q;
    };
    std::size_t pos = 0;
    unsigned year = 0;
    unsigned month = 0;
    unsigned day = 0;
    unsigned hour = 0;
    unsigned minute = 0;
    unsigned second = 0;
    const bool date_ok = digits(s, pos, 4, year) && expect(s, pos, '-') &&
                         digits(s, pos, 2, month) && expect(s, pos, '-') && digits(s, pos, 2, day);
    const bool separator_ok =
        date_ok && pos < s.size() && (s[pos] == 'T' || s[pos] == 't' || s[pos] == ' ');
    if (separator_ok) ++pos;
    const bool time_ok =
        separator_ok && digits(s, pos, 2, hour) && expect(s, pos, ':') && digits(s, pos, 2, minute);
    if (!time_ok) {
        problem = quoted() + " is not a time (Unix s or ms, or ISO 8601 such as "
                             "2025-01-16T10:05:00Z)";
        return std::nullopt;
    }
    if (pos < s.size() && s[pos] == ':' && !(++pos, digits(s, pos, 2, second))) {
        problem = quoted() + ": the seconds are not two digits";
        return std::nullopt;
    }
    unsigned millis = 0;
    if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
        ++pos;
        unsigned scale = 100;
        const std::size_t first = pos;
        for (; pos < s.size() && s[pos] >= '0' && s[pos] <= '9'; ++pos, scale /= 10)
            millis += static_cast<unsigned>(s[pos] - '0') * scale; // digits past ms add 0
        if (pos == first) {
            problem = quoted() + ": no digits after the decimal point";
            return std::nullopt;
        }
    }
    int offset_minutes = 0;
    if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
        ++pos;
    } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
        const int sign = s[pos] == '-' ? -1 : 1;
        ++pos;
        unsigned oh = 0;
        unsigned om = 0;
        bool ok = digits(s, pos, 2, oh);
        if (ok && pos < s.size()) {
            if (s[pos] == ':') ++pos;
            ok = digits(s, pos, 2, om);
        }
        if (!ok || oh > 23 || om > 59) {
            problem = quoted() + ": the time zone is not +hh:mm";
            return std::nullopt;
        }
        offset_minutes = sign * static_cast<int>(oh * 60 + om);
    } else if (pos == s.size()) {
        problem = quoted() + " has no time zone (Z or +hh:mm): a local time is never guessed";
        return std::nullopt;
    }
    if (pos != s.size()) {
        problem = quoted() + ": unexpected text after the time";
        return std::nullopt;
    }
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
        minute > 59 || second > 60) {
        problem = quoted() + " is not a valid date and time";
        return std::nullopt;
    }
    const std::int64_t days = days_from_civil(year, month, day);
    const std::int64_t clock_seconds =
        std::int64_t{hour} * 3600 + std::int64_t{minute} * 60 + second;
    const std::int64_t seconds = days * 86400 + clock_seconds - std::int64_t{offset_minutes} * 60;
    return seconds * 1000 + millis;
}

json_map_decoder::json_map_decoder(const format_settings& settings)
    : serial_(parse_field(settings.serial_path)) {
    if (!settings.ts_path.empty()) ts_ = parse_field(settings.ts_path);
    for (const auto& [name, field] : settings.values)
        values_.push_back({name, parse_field(field.path), field.scale});
}

namespace {

// One reading from one object; `where` prefixes error texts ("" or "[2].").
void decode_object(const json& doc, std::string_view topic, const std::string& where,
                   const field_ref& serial_field, const field_ref& ts_field,
                   const std::vector<json_map_decoder::value_ref>& value_fields, decode_result& out,
                   problem_list& problems) {
    json topic_slot;
    std::string why;
    decoded_reading r;
    const json* serial = find_field(doc, topic, serial_field, topic_slot, why);
    if (serial == nullptr) {
        problems.add(where + serial_field.text, why);
        return;
    }
    auto serial_text = to_serial(*serial, why);
    if (!serial_text) {
        problems.add(where + serial_field.text, why);
        return;
    }
    r.serial = std::move(*serial_text);
    if (ts_field.configured()) {
        why.clear();
        if (const json* ts = find_field(doc, topic, ts_field, topic_slot, why); ts == nullptr) {
            problems.add(where + ts_field.text, why);
        } else {
            r.ts_ms = ts_from(*ts, why);
            if (!r.ts_ms && !why.empty()) problems.add(where + ts_field.text, why);
        }
    }
    r.values.reserve(value_fields.size());
    for (const auto& v : value_fields) {
        why.clear();
        const json* node = find_field(doc, topic, v.field, topic_slot, why);
        if (node == nullptr) { // not sent this time
            ++out.skipped;
            continue;
        }
        const auto number = to_number(*node);
        if (number.value)
            r.values.push_back({v.name, *number.value * v.scale, {}});
        else if (number.no_value)
            ++out.skipped;
        else
            problems.add(where + v.field.text, number.problem);
    }
    out.readings.push_back(std::move(r));
}

} // namespace

decode_result json_map_decoder::decode(std::string_view topic, std::string_view payload) const {
    decode_result out;
    try {
        json doc;
        out.error = parse_limited(payload, doc);
        if (!out.error.empty()) return out;
        problem_list problems;
        if (doc.is_object()) {
            decode_object(doc, topic, "", serial_, ts_, values_, out, problems);
        } else if (doc.is_array()) {
            for (std::size_t i = 0; i < doc.size(); ++i) {
                const std::string where = "[" + std::to_string(i) + "]";
                if (doc[i].is_object())
                    decode_object(doc[i], topic, where + ".", serial_, ts_, values_, out, problems);
                else
                    problems.add(where,
                                 std::string(type_name(doc[i])) + " where an object is expected");
            }
        } else {
            problems.add("top level",
                         std::string(type_name(doc)) + " where an object or an array is expected");
        }
        out.error = problems.text();
    } catch (...) { // nothing leaves decode()
        out.error = decode_failure();
    }
    return out;
}

std::map<std::string, std::string> json_map_decoder::units() const {
    std::map<std::string, std::string> out;
    for (const auto& v : values_)
        if (const auto unit = model::unit_of(v.name)) out.emplace(v.name, *unit);
    return out;
}

} // namespace mb::drivers::native
