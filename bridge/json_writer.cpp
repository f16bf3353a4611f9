#include "bridge/json_writer.hpp"

#include <array>
#include <charconv>
#include <cmath>

namespace mb::bridge {

std::string format_number(double v) {
    std::string out;
    append_number(out, v);
    return out;
}

void append_number(std::string& out, double v) {
    if (!std::isfinite(v)) {
        out += "null";
        return;
    }
    if (v == 0.0) v = 0.0; // -0 -> 0
    std::array<char, 64> buf{};
    const double mag = std::fabs(v);
    // Shortest round-trip; plain decimal in the range meters report, exponent form outside.
    const auto fmt = (mag == 0.0 || (mag >= 1e-5 && mag < 1e15)) ? std::chars_format::fixed
                                                                 : std::chars_format::general;
    const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), v, fmt);
    out.append(buf.data(), res.ptr);
}

namespace {

bool needs_escape(char c) {
    return c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20;
}

template <typename Int> void append_integer(std::string& out, Int v) {
    std::array<char, 24> buf{};
    const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    out.append(buf.data(), res.ptr);
}

} // namespace

void append_string(std::string& out, std::string_view s) {
    static constexpr std::string_view hex = "0123456789abcdef";
    out += '"';
    // Names and values rarely need escaping: copy the plain runs whole, not char by char.
    while (!s.empty()) {
        std::size_t run = 0;
        while (run < s.size() && !needs_escape(s[run]))
            ++run;
        out.append(s.data(), run);
        if (run == s.size()) break;
        const char c = s[run];
        s.remove_prefix(run + 1);
        const auto u = static_cast<unsigned char>(c);
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        default: // the other control characters
            out += "\\u00";
            out += hex[u >> 4U];
            out += hex[u & 0xFU];
        }
    }
    out += '"';
}

json_writer::json_writer(std::string buf)
    : out_(std::move(buf)) {
    out_.clear();
}

void json_writer::separate() {
    if (need_comma_) out_ += ',';
    need_comma_ = true;
}

json_writer& json_writer::begin_object() {
    separate();
    out_ += '{';
    need_comma_ = false;
    return *this;
}

json_writer& json_writer::end_object() {
    out_ += '}';
    need_comma_ = true;
    return *this;
}

json_writer& json_writer::begin_array() {
    separate();
    out_ += '[';
    need_comma_ = false;
    return *this;
}

json_writer& json_writer::end_array() {
    out_ += ']';
    need_comma_ = true;
    return *this;
}

json_writer& json_writer::key(std::string_view k) {
    separate();
    append_string(out_, k);
    out_ += ':';
    need_comma_ = false; // the value follows without a comma
    return *this;
}

json_writer& json_writer::value(std::string_view s) {
    separate();
    append_string(out_, s);
    return *this;
}

json_writer& json_writer::value(double v) {
    separate();
    append_number(out_, v);
    return *this;
}

json_writer& json_writer::value(std::int64_t v) {
    separate();
    append_integer(out_, v);
    return *this;
}

json_writer& json_writer::value(std::uint64_t v) {
    separate();
    append_integer(out_, v);
    return *this;
}

json_writer& json_writer::value(bool b) {
    separate();
    out_ += b ? "true" : "false";
    return *this;
}

json_writer& json_writer::null() {
    separate();
    out_ += "null";
    return *this;
}

json_writer& json_writer::raw(std::string_view json) {
    separate();
    out_ += json;
    return *this;
}

} // namespace mb::bridge
