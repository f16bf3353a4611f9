#include "common/json_writer.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>

namespace mb::common {

std::string format_number(double v) {
    std::string out;
    append_number(out, v);
    return out;
}

namespace {

// Meter values carry a few decimals. When |v| is exactly the double nearest to n / 10^k for
// the smallest k <= 6, "n with k decimals" is the shortest text that reads back as v, i.e.
// what to_chars prints, found in a fraction of the time (60 numbers a reading). Below 1e9
// doubles lie far closer together than 10^-6, so no other k-decimal text reads back as v,
// and n is the integer nearest to |v| * 10^k despite that product's rounding.
bool append_short_decimal(std::string& out, double v) {
    static constexpr std::array<double, 7> pow10{1, 10, 100, 1e3, 1e4, 1e5, 1e6};
    static constexpr std::array<std::uint64_t, 7> ipow10{1, 10, 100, 1000, 10000, 100000, 1000000};
    const double mag = std::fabs(v);
    if (!(mag >= 1e-5 && mag < 1e9)) return false;
    for (std::size_t k = 0; k < pow10.size(); ++k) {
        const double scaled = std::round(mag * pow10[k]);
        if (scaled / pow10[k] != mag) continue; // correctly rounded, as a parser would
        const auto n = static_cast<std::uint64_t>(scaled);
        std::array<char, 32> buf{};
        char* p = buf.data();
        if (v < 0) *p++ = '-';
        p = std::to_chars(p, buf.data() + buf.size(), n / ipow10[k]).ptr;
        if (k > 0) {
            *p++ = '.';
            std::uint64_t frac = n % ipow10[k];
            for (std::size_t i = k; i > 0; --i) {
                p[i - 1] = static_cast<char>('0' + frac % 10);
                frac /= 10;
            }
            p += k;
        }
        out.append(buf.data(), p);
        return true;
    }
    return false;
}

} // namespace

void append_number(std::string& out, double v) {
    if (!std::isfinite(v)) {
        out += "null";
        return;
    }
    if (v == 0.0) v = 0.0; // -0 -> 0
    if (append_short_decimal(out, v)) return;
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

json_writer& json_writer::quoted_key(std::string_view quoted) {
    separate();
    out_.append(quoted);
    out_ += ':';
    need_comma_ = false;
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

} // namespace mb::common
