#include "drivers/native/json_input.hpp"

#include "drivers/native/decoder.hpp"

#include <charconv>
#include <cmath>
#include <exception>
#include <limits>
#include <new>
#include <string>
#include <system_error>

namespace mb::drivers::native {
namespace {

// The deepest bracket nesting of a JSON text, counting only brackets outside strings. Stops
// early once past `limit`. Unbalanced text is the parser's to reject.
int nesting_depth(std::string_view text, int limit) {
    int depth = 0;
    int deepest = 0;
    bool in_string = false;
    bool escaped = false;
    for (const char c : text) {
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > deepest) deepest = depth;
            if (deepest > limit) return deepest;
        } else if (c == '}' || c == ']') {
            --depth;
        }
    }
    return deepest;
}

// nlohmann's message without its "[json.exception.parse_error.101] " prefix.
std::string parser_reason(const std::exception& e) {
    std::string_view what = e.what();
    if (what.starts_with("[json.exception.")) {
        if (const auto end = what.find("] "); end != std::string_view::npos)
            what.remove_prefix(end + 2);
    }
    return printable(what, 160);
}

std::string_view trim_blanks(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

} // namespace

std::string check_size(std::string_view& payload) {
    if (payload.size() > max_payload_bytes)
        return "payload of " + std::to_string(payload.size()) + " bytes is larger than the " +
               std::to_string(max_payload_bytes) + " accepted";
    // A C publisher may send its string's terminator along: trailing NULs are not content.
    // Any other NUL is refused here, because the parser would take it as the end of input.
    while (!payload.empty() && payload.back() == '\0')
        payload.remove_suffix(1);
    if (const auto nul = payload.find('\0'); nul != std::string_view::npos)
        return "not JSON: a NUL byte at offset " + std::to_string(nul);
    if (payload.empty()) return "empty payload";
    return {};
}

std::string check_depth(std::string_view payload) {
    if (nesting_depth(payload, max_json_depth) > max_json_depth)
        return "nested deeper than " + std::to_string(max_json_depth) + " levels";
    return {};
}

std::string not_json(const std::exception& e) {
    return "not JSON: " + parser_reason(e);
}

std::string parse_limited(std::string_view payload, json& doc) {
    if (auto problem = check_size(payload); !problem.empty()) return problem;
    if (auto problem = check_depth(payload); !problem.empty()) return problem;
    try {
        doc = json::parse(payload.begin(), payload.end());
    } catch (const json::exception& e) {
        return not_json(e);
    }
    return {};
}

std::string_view type_name(const json& v) {
    switch (v.type()) {
    case json::value_t::object:
        return "an object";
    case json::value_t::array:
        return "an array";
    case json::value_t::string:
        return "a string";
    case json::value_t::boolean:
        return "a boolean";
    case json::value_t::null:
        return "null";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
        return "a number";
    default:
        return "a binary value";
    }
}

std::string printable(std::string_view s, std::size_t max) {
    std::string out;
    const bool cut = s.size() > max;
    for (const char c : s.substr(0, max))
        out += (c >= 0x20 && c < 0x7f) ? c : '?';
    if (cut) out += "...";
    return out;
}

number_field to_number(const json& v) {
    number_field out;
    if (v.is_number()) {
        out.value = v.get<double>();
        return out;
    }
    if (v.is_null()) {
        out.no_value = true;
        return out;
    }
    if (!v.is_string()) {
        out.problem = std::string(type_name(v)) + " where a number is expected";
        return out;
    }
    const auto& text = v.get_ref<const std::string&>();
    const std::string_view s = trim_blanks(text);
    if (s.empty()) {
        out.no_value = true;
        return out;
    }
    double d = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
    if (ec == std::errc::result_out_of_range) {
        out.problem = "a number out of range (\"" + printable(text) + "\")";
    } else if (ec != std::errc{} || end != s.data() + s.size() || !std::isfinite(d)) {
        out.problem = "a string where a number is expected (\"" + printable(text) + "\")";
    } else {
        out.value = d;
    }
    return out;
}

std::optional<std::int64_t> whole(double value) {
    constexpr double limit = 0x1p62;
    if (!std::isfinite(value) || std::fabs(value) >= limit || std::trunc(value) != value)
        return std::nullopt;
    return static_cast<std::int64_t>(value);
}

std::optional<std::int64_t> to_ms(double value, double factor) {
    constexpr double limit = 0x1p62;
    const double ms = std::round(value * factor);
    if (!std::isfinite(ms) || std::fabs(ms) >= limit) return std::nullopt;
    return static_cast<std::int64_t>(ms);
}

std::optional<std::string> to_serial(const json& v, std::string& problem) {
    if (v.is_string()) {
        const auto& s = v.get_ref<const std::string&>();
        if (s.empty()) {
            problem = "an empty serial";
            return std::nullopt;
        }
        for (const char c : s) {
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
                problem = "a serial with control characters (\"" + printable(s) + "\")";
                return std::nullopt;
            }
        }
        return s;
    }
    if (v.is_number()) {
        constexpr double exact_limit = 0x1p53; // above it a double no longer holds every digit
        const auto n = whole(v.get<double>());
        if (v.is_number_unsigned() && v.get<std::uint64_t>() < (std::uint64_t{1} << 53U))
            return std::to_string(v.get<std::uint64_t>());
        if (n && *n >= 0 && static_cast<double>(*n) < exact_limit) return std::to_string(*n);
        problem = "a number that is not a whole serial below 2^53";
        return std::nullopt;
    }
    problem = std::string(type_name(v)) + " where a serial (string or number) is expected";
    return std::nullopt;
}

void problem_list::add(std::string_view where, std::string_view what) {
    if (count_++ == 0) {
        first_.reserve(where.size() + 2 + what.size());
        first_.append(where).append(where.empty() ? "" : ": ").append(what);
    }
}

void problem_list::merge(const problem_list& other) {
    if (other.count_ == 0) return;
    if (count_ == 0) first_ = other.first_;
    count_ += other.count_;
}

std::string problem_list::text() const {
    if (count_ <= 1) return first_;
    return first_ + " (and " + std::to_string(count_ - 1) + " more)";
}

std::string decode_failure() {
    try {
        throw;
    } catch (const std::bad_alloc&) {
        return "out of memory while decoding";
    } catch (const std::exception& e) {
        return "cannot decode: " + printable(e.what(), 160);
    } catch (...) {
        return "cannot decode";
    }
}

} // namespace mb::drivers::native
