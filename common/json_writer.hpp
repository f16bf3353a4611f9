#pragma once
// A small append-only JSON writer for the payloads of docs/topics.md. Hand-rolled rather than
// nlohmann::json::dump so that number text and key order are exactly what the contract shows.
#include <cstdint>
#include <string>
#include <string_view>

namespace mb::common {

// Shortest text that reads back as the same double, without an exponent for ordinary meter
// values: 230.1 -> "230.1", 3456.0 -> "3456", 1e6 -> "1000000", 0.001 -> "0.001".
// Exponents only outside [1e-5, 1e15) in magnitude ("1e-07", "1e+16"). -0 prints as "0".
// NaN and infinities have no JSON form: "null".
std::string format_number(double v);
void append_number(std::string& out, double v);

// Appends `s` as a JSON string literal (quotes included), escaping what JSON requires.
void append_string(std::string& out, std::string_view s);

class json_writer {
public:
    json_writer() = default;
    // Writes into `buf`, emptied first: a caller that hands the same string back each time
    // (take(), then again here) formats without allocating.
    explicit json_writer(std::string buf);

    json_writer& begin_object();
    json_writer& end_object();
    json_writer& begin_array();
    json_writer& end_array();
    json_writer& key(std::string_view k);
    // A key already in JSON form, quotes included ("\"voltage_l1\""): copied, not escaped.
    json_writer& quoted_key(std::string_view quoted);
    json_writer& value(std::string_view s);
    json_writer& value(const char* s) { return value(std::string_view(s)); }
    json_writer& value(double v);
    json_writer& value(std::int64_t v);
    json_writer& value(std::uint64_t v);
    json_writer& value(int v) { return value(static_cast<std::int64_t>(v)); }
    json_writer& value(bool b);
    json_writer& null();
    json_writer& raw(std::string_view json); // an already-encoded JSON value

    [[nodiscard]] const std::string& str() const { return out_; }
    std::string take() { return std::move(out_); }

private:
    void separate();
    std::string out_;
    bool need_comma_ = false;
};

} // namespace mb::common
