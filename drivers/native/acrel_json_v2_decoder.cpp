#include "drivers/native/acrel_json_v2_decoder.hpp"

#include "drivers/native/json_input.hpp"
#include "model/measurements.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <system_error>

namespace mb::drivers::native {
namespace {

struct id_entry {
    std::string_view name; // empty: handled apart (serial, ICCID, DI)
    std::string_view unit; // as the meter sends it
};

constexpr std::size_t serial_id = 0;
constexpr std::size_t iccid_id = 33;
constexpr std::size_t di_id = 41;

// The header's table, indexed by id.
constexpr std::array<id_entry, 73> id_table = {{
    {"", ""}, // 0 serial
    {"voltage_l1", "V"},
    {"voltage_l2", "V"},
    {"voltage_l3", "V"},
    {"voltage_l1_l2", "V"},
    {"voltage_l2_l3", "V"},
    {"voltage_l3_l1", "V"},
    {"current_l1", "A"},
    {"current_l2", "A"},
    {"current_l3", "A"},
    {"active_power_l1", "kW"}, // 10
    {"active_power_l2", "kW"},
    {"active_power_l3", "kW"},
    {"active_power_total", "kW"},
    {"reactive_power_l1", "kvar"},
    {"reactive_power_l2", "kvar"},
    {"reactive_power_l3", "kvar"},
    {"reactive_power_total", "kvar"},
    {"apparent_power_l1", "kVA"},
    {"apparent_power_l2", "kVA"},
    {"apparent_power_l3", "kVA"}, // 20
    {"apparent_power_total", "kVA"},
    {"power_factor_l1", "1"},
    {"power_factor_l2", "1"},
    {"power_factor_l3", "1"},
    {"power_factor_total", "1"},
    {"frequency", "Hz"},
    {"signal_strength", "dBm"},
    {"energy_import_total", "kWh"},
    {"energy_export_total", "kWh"},
    {"energy_reactive_import_total", "kvarh"}, // 30
    {"energy_reactive_export_total", "kvarh"},
    {"demand_active_import", "kW"},
    {"", ""}, // 33 ICCID
    {"pt_ratio", "1"},
    {"ct_ratio", "1"},
    {"temperature_l1", "°C"},
    {"temperature_l2", "°C"},
    {"temperature_l3", "°C"},
    {"temperature_n", "°C"},
    {"residual_current", "A"}, // 40
    {"", ""},                  // 41 DI bitmask
    {"energy_import_l1", "kWh"},
    {"energy_export_l1", "kWh"},
    {"energy_reactive_import_l1", "kvarh"},
    {"energy_reactive_export_l1", "kvarh"},
    {"energy_import_l2", "kWh"},
    {"energy_export_l2", "kWh"},
    {"energy_reactive_import_l2", "kvarh"},
    {"energy_reactive_export_l2", "kvarh"},
    {"energy_import_l3", "kWh"}, // 50
    {"energy_export_l3", "kWh"},
    {"energy_reactive_import_l3", "kvarh"},
    {"energy_reactive_export_l3", "kvarh"},
    {"thd_voltage_l1", "%"},
    {"thd_voltage_l2", "%"},
    {"thd_voltage_l3", "%"},
    {"thd_current_l1", "%"},
    {"thd_current_l2", "%"},
    {"thd_current_l3", "%"},
    {"demand_active_export", "kW"}, // 60
    {"demand_reactive_import", "kvar"},
    {"demand_reactive_export", "kvar"},
    {"voltage_unbalance", "%"},
    {"current_unbalance", "%"},
    {"energy_import_tariff_sharp", "kWh"},
    {"energy_import_tariff_peak", "kWh"},
    {"energy_import_tariff_flat", "kWh"},
    {"energy_import_tariff_valley", "kWh"},
    {"energy_reactive_q1", "kvarh"},
    {"energy_reactive_q2", "kvarh"}, // 70
    {"energy_reactive_q3", "kvarh"},
    {"energy_reactive_q4", "kvarh"},
}};

constexpr std::array<std::string_view, 4> di_names = {"di_1", "di_2", "di_3", "di_4"};

// The table's names as measurements, looked up once rather than for every value.
const std::array<std::optional<model::measurement>, id_table.size()>& table_measurements() {
    static const auto table = [] {
        std::array<std::optional<model::measurement>, id_table.size()> out{};
        for (std::size_t i = 0; i < id_table.size(); ++i)
            if (!id_table[i].name.empty()) out[i] = model::measurement_of(id_table[i].name);
        return out;
    }();
    return table;
}

// "data[1].point[3].val": built only when there is something to say.
std::string point_path(std::size_t entry, std::size_t point, std::string_view field) {
    std::string s = "data[" + std::to_string(entry) + "].point[" + std::to_string(point) + "]";
    if (!field.empty()) s.append(".").append(field);
    return s;
}
std::string entry_path(std::size_t entry, std::string_view field) {
    std::string s = "data[" + std::to_string(entry) + "]";
    if (!field.empty()) s.append(".").append(field);
    return s;
}

constexpr std::string_view an_object = "an object";
constexpr std::string_view an_array = "an array";
constexpr std::string_view a_string = "a string";

// Builds the decode_result from a stream of JSON events (the reader below, or nlohmann's SAX
// parser), never a tree. It answers exactly as a lookup in the parsed document would: a key
// given twice counts with its last value, errors come in document order per entry (tp, then
// the points, then the serial), whatever the order of the keys in the text.
class json_v2_builder {
public:
    explicit json_v2_builder(decode_result& out)
        : out_(out) {}

    void start_object() { open(true); }
    void start_array() { open(false); }
    void end_container() {
        if (skip_ > 0) {
            --skip_;
            return;
        }
        const frame f = frames_[--depth_];
        if (f == frame::point) end_point();
        if (f == frame::entry) end_entry();
    }
    void key(std::string_view k) {
        if (skip_ > 0) return;
        switch (frames_[depth_ - 1]) {
        case frame::top:
            key_role_ = k == "data" ? role::data : role::other;
            break;
        case frame::entry:
            key_role_ = k == "tp" ? role::tp : k == "point" ? role::points : role::other;
            break;
        case frame::point:
            key_role_ = k == "id" ? role::id : k == "val" ? role::val : role::other;
            break;
        default:
            key_role_ = role::other;
        }
    }
    // A number, a boolean or null.
    void scalar(json&& v) {
        if (skip_ > 0) return;
        if (json* slot = place(type_name(v))) *slot = std::move(v);
    }
    void string(std::string_view s) {
        if (skip_ > 0) return;
        if (json* slot = place(a_string)) *slot = std::string(s);
    }
    void finish() {
        if (!top_type_.empty())
            out_.error = "top level: " + std::string(top_type_) +
                         " where an object with \"data\" is expected";
        else if (data_ == shape::missing)
            out_.error = "data: missing";
        else if (data_ == shape::other)
            out_.error = "data: " + std::string(data_type_) + " where an array is expected";
        else
            out_.error = problems_.text();
    }

private:
    // What the next value is to this dialect, and what the open containers are.
    enum class role : std::uint8_t { top, data, entry, tp, points, point, id, val, other };
    enum class frame : std::uint8_t { top, data, entry, points, point };
    enum class shape : std::uint8_t { missing, array, other };
    static constexpr std::size_t max_frames = 5;

    // One entry of `data` as it is being read.
    struct entry_state {
        std::size_t index = 0;
        decoded_reading reading;
        bool has_serial = false;
        std::optional<json> tp;
        shape points = shape::missing;
        std::string_view points_type;
        problem_list problems; // its points'
        std::size_t skipped = 0;
        std::size_t next_point = 0;
    };
    struct point_state {
        std::size_t index = 0;
        std::optional<json> id;
        std::optional<json> val;
    };

    [[nodiscard]] role next_role() const {
        if (depth_ == 0) return role::top;
        switch (frames_[depth_ - 1]) {
        case frame::data:
            return role::entry;
        case frame::points:
            return role::point;
        default:
            return key_role_;
        }
    }
    void push(frame f) { frames_[depth_++] = f; }
    static json of_type(bool object) {
        return object ? json(json::value_t::object) : json(json::value_t::array);
    }

    void open(bool object) {
        if (skip_ > 0) {
            ++skip_;
            return;
        }
        const role r = next_role();
        if (r == role::top && object) {
            push(frame::top);
            return;
        }
        if (r == role::data && !object) {
            begin_data();
            push(frame::data);
            return;
        }
        if (r == role::entry && object) {
            begin_entry();
            push(frame::entry);
            return;
        }
        if (r == role::points && !object) {
            begin_points();
            push(frame::points);
            return;
        }
        if (r == role::point && object) {
            begin_point();
            push(frame::point);
            return;
        }
        // Anything else is one value to this dialect: its type is all that counts.
        if (json* slot = place(object ? an_object : an_array)) *slot = of_type(object);
        ++skip_;
    }

    // A value that does not open a container of the dialect's shape starts: notes what it
    // means there, and returns where to keep it when its value counts.
    json* place(std::string_view type) {
        switch (next_role()) {
        case role::top:
            top_type_ = type;
            return nullptr;
        case role::data:
            begin_data();
            data_ = shape::other;
            data_type_ = type;
            return nullptr;
        case role::entry:
            problems_.add(entry_path(entry_index_++, ""),
                          std::string(type) + " where an object is expected");
            return nullptr;
        case role::tp:
            return &entry_.tp.emplace();
        case role::points:
            begin_points();
            entry_.points = shape::other;
            entry_.points_type = type;
            return nullptr;
        case role::point:
            entry_.problems.add(point_path(entry_.index, entry_.next_point++, ""),
                                std::string(type) + " where an object is expected");
            return nullptr;
        case role::id:
            return &point_.id.emplace();
        case role::val:
            return &point_.val.emplace();
        default:
            return nullptr;
        }
    }

    void begin_data() { // a second "data" replaces the first
        out_.readings.clear();
        out_.skipped = 0;
        problems_ = {};
        entry_index_ = 0;
        data_ = shape::array;
    }
    void begin_entry() {
        entry_.index = entry_index_++;
        entry_.tp.reset();
        begin_points();
        entry_.points = shape::missing;
    }
    void begin_points() { // a second "point" replaces the first
        entry_.reading = {};
        entry_.has_serial = false;
        entry_.points = shape::array;
        entry_.points_type = {};
        entry_.problems = {};
        entry_.skipped = 0;
        entry_.next_point = 0;
    }
    void begin_point() {
        point_.index = entry_.next_point++;
        point_.id.reset();
        point_.val.reset();
    }

    void end_entry() {
        entry_state& e = entry_;
        if (e.tp) {
            const auto t = to_number(*e.tp);
            if (t.value) {
                e.reading.ts_ms = to_ms(*t.value, 1);
                if (!e.reading.ts_ms)
                    problems_.add(entry_path(e.index, "tp"),
                                  json(*t.value).dump() + " is out of range");
            } else if (!t.no_value) {
                problems_.add(entry_path(e.index, "tp"), t.problem); // the values still count
            }
        }
        if (e.points != shape::array) {
            problems_.add(entry_path(e.index, "point"),
                          e.points == shape::missing
                              ? std::string("missing")
                              : std::string(e.points_type) + " where an array is expected");
            return;
        }
        problems_.merge(e.problems);
        out_.skipped += e.skipped;
        if (!e.has_serial) {
            problems_.add(entry_path(e.index, ""), "no serial (id 0)");
            return;
        }
        out_.readings.push_back(std::move(e.reading));
        e.reading = {};
    }

    void end_point();
    void take_serial(const json& val);
    void take_di_bits(double mask);
    void problem(std::string_view field, std::string_view what) {
        entry_.problems.add(point_path(entry_.index, point_.index, field), what);
    }

    decode_result& out_;
    problem_list problems_;
    std::array<frame, max_frames> frames_{};
    std::size_t depth_ = 0;
    std::size_t skip_ = 0; // > 0: inside a value whose content does not count
    role key_role_ = role::other;
    std::string_view top_type_; // set: the document is not an object
    shape data_ = shape::missing;
    std::string_view data_type_;
    std::size_t entry_index_ = 0;
    entry_state entry_;
    point_state point_;
};

void json_v2_builder::take_serial(const json& val) {
    std::string why;
    auto serial = to_serial(val, why);
    if (!serial) {
        problem("val", why);
    } else if (entry_.has_serial && *serial != entry_.reading.serial) {
        problem("val", "a second serial \"" + printable(*serial) + "\" (the entry's is \"" +
                           printable(entry_.reading.serial) + "\")");
    } else {
        entry_.reading.serial = std::move(*serial);
        entry_.has_serial = true;
    }
}

void json_v2_builder::take_di_bits(double mask) {
    const auto bits = whole(mask);
    if (!bits || *bits < 0) {
        problem("val", json(mask).dump() + " is not a DI bitmask (a whole number >= 0)");
        return;
    }
    for (std::size_t bit = 0; bit < di_names.size(); ++bit)
        entry_.reading.values.push_back(
            {di_names[bit], static_cast<double>((*bits >> bit) & 1), std::string_view("1")});
}

void json_v2_builder::end_point() {
    if (!point_.id || !point_.val) {
        problem(point_.id ? "val" : "id", "missing");
        return;
    }
    const auto id_number = to_number(*point_.id);
    if (!id_number.value) {
        problem("id", id_number.no_value ? std::string("no id") : id_number.problem);
        return;
    }
    const double id_value = *id_number.value;
    if (std::trunc(id_value) != id_value) {
        problem("id", json(id_value).dump() + " is not a whole number");
        return;
    }
    if (id_value < 0 || id_value >= static_cast<double>(id_table.size())) {
        ++entry_.skipped; // an id this table does not know: newer firmware, not an error
        return;
    }
    const auto id = static_cast<std::size_t>(id_value);
    const json& val = *point_.val;
    if (id == serial_id) return take_serial(val);
    if (id == iccid_id) {
        if (val.is_string() && !val.get_ref<const std::string&>().empty())
            entry_.reading.iccid = printable(val.get_ref<const std::string&>(), 64);
        else if (val.is_null() || val.is_string())
            ++entry_.skipped;
        else
            problem("val", std::string(type_name(val)) + " where the ICCID (a string) is expected");
        return;
    }
    const auto number = to_number(val);
    if (number.no_value) {
        ++entry_.skipped;
        return;
    }
    if (!number.value) {
        problem("val", number.problem);
        return;
    }
    if (id == di_id) return take_di_bits(*number.value);
    const auto& entry = id_table[id];
    entry_.reading.values.push_back(
        {entry.name, *number.value, entry.unit, table_measurements()[id]});
}

// nlohmann's SAX interface onto the builder: the exact reader, for whatever read_plain()
// leaves (escapes, non-ASCII text, any syntax error and its wording).
class sax_adapter {
public:
    explicit sax_adapter(json_v2_builder& b)
        : b_(b) {}
    bool null() { return scalar(json()); }
    bool boolean(bool v) { return scalar(json(v)); }
    bool number_integer(json::number_integer_t v) { return scalar(json(v)); }
    bool number_unsigned(json::number_unsigned_t v) { return scalar(json(v)); }
    bool number_float(json::number_float_t v, const std::string& /*text*/) {
        return scalar(json(v));
    }
    bool string(std::string& v) {
        b_.string(v);
        return true;
    }
    static bool binary(json::binary_t& /*v*/) { return true; } // not in JSON text
    bool start_object(std::size_t /*size*/) {
        b_.start_object();
        return true;
    }
    bool key(std::string& k) {
        b_.key(k);
        return true;
    }
    bool end_object() {
        b_.end_container();
        return true;
    }
    bool start_array(std::size_t /*size*/) {
        b_.start_array();
        return true;
    }
    bool end_array() {
        b_.end_container();
        return true;
    }
    bool parse_error(std::size_t /*position*/, const std::string& /*token*/,
                     const json::exception& e) {
        error = not_json(e);
        return false;
    }
    std::string error;

private:
    bool scalar(json&& v) {
        b_.scalar(std::move(v));
        return true;
    }
    json_v2_builder& b_;
};

// A plain JSON text as a meter writes it: strings of printable ASCII without escapes, numbers
// as nlohmann reads them (an integer as int64 or uint64, else a double), blanks between tokens.
// Feeds `b` and says true when it read the whole text. On anything else (an escape, a byte
// >= 0x80, a number nlohmann would read differently, a syntax error) it stops and says false:
// nlohmann's parser then reads the text afresh (a new builder), so that what is accepted, the
// values, and every error text stay nlohmann's.
class plain_reader {
public:
    plain_reader(std::string_view text, json_v2_builder& b)
        : p_(text.data())
        , end_(text.data() + text.size())
        , b_(b) {}

    bool read() {
        std::array<bool, max_json_depth> is_object{}; // the open containers
        std::size_t depth = 0;
        bool want_key = false;
        for (;;) {
            if (want_key) {
                std::string_view k;
                if (!blank_then('"') || !string_at(k)) return false;
                b_.key(k);
                if (!blank_then(':')) return false;
                ++p_;
            }
            skip_blanks();
            if (p_ == end_) return false;
            const char c = *p_;
            if (c == '{' || c == '[') {
                if (depth == is_object.size()) return false; // too deep: check_depth says so
                const bool object = c == '{';
                ++p_;
                if (object)
                    b_.start_object();
                else
                    b_.start_array();
                skip_blanks();
                if (p_ != end_ && *p_ == (object ? '}' : ']')) {
                    ++p_;
                    b_.end_container();
                } else {
                    is_object[depth++] = object;
                    want_key = object;
                    continue;
                }
            } else if (!scalar_at()) {
                return false;
            }
            // After a value: the containers it ends, then a comma or the end of the text.
            for (;;) {
                skip_blanks();
                if (depth == 0) return p_ == end_;
                if (p_ == end_) return false;
                if (*p_ == ',') {
                    ++p_;
                    want_key = is_object[depth - 1];
                    break;
                }
                if (*p_ != (is_object[depth - 1] ? '}' : ']')) return false;
                ++p_;
                --depth;
                b_.end_container();
            }
        }
    }

private:
    void skip_blanks() {
        while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t'))
            ++p_;
    }
    bool blank_then(char c) {
        skip_blanks();
        return p_ != end_ && *p_ == c;
    }
    bool word(std::string_view text, json&& v) {
        if (static_cast<std::size_t>(end_ - p_) < text.size() ||
            std::string_view(p_, text.size()) != text)
            return false;
        p_ += text.size();
        b_.scalar(std::move(v));
        return true;
    }
    // At '"': the string up to the next '"', if it is plain.
    bool string_at(std::string_view& s) {
        const char* const start = ++p_;
        for (; p_ != end_; ++p_) {
            const auto c = static_cast<unsigned char>(*p_);
            if (c == '"') {
                s = std::string_view(start, static_cast<std::size_t>(p_ - start));
                ++p_;
                return true;
            }
            if (c == '\\' || c < 0x20 || c >= 0x80) return false;
        }
        return false;
    }
    bool digits() {
        const char* const start = p_;
        while (p_ != end_ && *p_ >= '0' && *p_ <= '9')
            ++p_;
        return p_ != start;
    }
    // [start, p_) as "-123.45" with at most 15 digits: digits / 10^decimals, both exact as
    // doubles, is the correctly rounded value (as strtod's). Else false: from_chars reads it.
    bool short_decimal(const char* start, double& d) const {
        static constexpr std::array<double, 16> pow10 = {
            1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
        const bool negative = *start == '-';
        std::uint64_t digits = 0;
        std::size_t count = 0;
        std::size_t decimals = 0;
        bool after_point = false;
        for (const char* q = start + (negative ? 1 : 0); q != p_; ++q) {
            if (*q == '.') {
                after_point = true;
                continue;
            }
            if (*q < '0' || *q > '9' || ++count > 15) return false; // an exponent, or long
            digits = digits * 10 + static_cast<std::uint64_t>(*q - '0');
            if (after_point) ++decimals;
        }
        d = static_cast<double>(digits) / pow10[decimals];
        if (negative) d = -d;
        return true;
    }
    // JSON's number grammar, then the value nlohmann would make of it.
    bool number_at() {
        const char* const start = p_;
        const bool negative = *p_ == '-';
        if (negative) ++p_;
        if (p_ == end_ || *p_ < '0' || *p_ > '9') return false;
        if (*p_ == '0')
            ++p_;
        else
            digits();
        bool is_float = false;
        if (p_ != end_ && *p_ == '.') {
            ++p_;
            if (!digits()) return false;
            is_float = true;
        }
        if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
            ++p_;
            if (p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
            if (!digits()) return false;
            is_float = true;
        }
        if (is_float) {
            double d = 0;
            if (!short_decimal(start, d)) {
                const auto [end, ec] = std::from_chars(start, p_, d);
                if (ec != std::errc{} || end != p_ || !std::isfinite(d)) return false;
            }
            b_.scalar(json(d));
        } else if (negative) {
            std::int64_t n = 0;
            const auto [end, ec] = std::from_chars(start, p_, n);
            if (ec != std::errc{} || end != p_) return false;
            b_.scalar(json(n));
        } else {
            std::uint64_t n = 0;
            const auto [end, ec] = std::from_chars(start, p_, n);
            if (ec != std::errc{} || end != p_) return false;
            b_.scalar(json(n));
        }
        return true;
    }
    bool scalar_at() {
        switch (*p_) {
        case '"': {
            std::string_view s;
            if (!string_at(s)) return false;
            b_.string(s);
            return true;
        }
        case 't':
            return word("true", json(true));
        case 'f':
            return word("false", json(false));
        case 'n':
            return word("null", json());
        default:
            return number_at();
        }
    }

    const char* p_;
    const char* end_;
    json_v2_builder& b_;
};

} // namespace

decode_result acrel_json_v2_decoder::decode(std::string_view /*topic*/,
                                            std::string_view payload) const {
    decode_result out;
    try {
        out.error = check_size(payload);
        if (!out.error.empty()) return out;
        {
            // Stops at a 17th level, so a text it reads in full passes check_depth as it is.
            json_v2_builder b(out);
            if (plain_reader(payload, b).read()) {
                b.finish();
                return out;
            }
        }
        out = {};
        out.error = check_depth(payload);
        if (!out.error.empty()) return out;
        json_v2_builder b(out);
        sax_adapter sax(b);
        if (!json::sax_parse(payload.begin(), payload.end(), &sax)) {
            out = {};
            out.error = std::move(sax.error);
            return out;
        }
        b.finish();
    } catch (...) { // nothing leaves decode()
        out.error = decode_failure();
    }
    return out;
}

std::map<std::string, std::string> acrel_json_v2_decoder::units() const {
    std::map<std::string, std::string> out;
    for (const auto& entry : id_table)
        if (!entry.name.empty()) out.emplace(entry.name, model::unit_of(entry.name).value_or(""));
    for (const auto name : di_names)
        out.emplace(name, model::unit_of(name).value_or(""));
    return out;
}

} // namespace mb::drivers::native
