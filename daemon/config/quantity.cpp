#include "daemon/config/quantity.hpp"

#include <array>
#include <fmt/format.h>
#include <limits>
#include <utility>

namespace mb::config {
namespace {

struct split_text {
    std::string_view digits;
    std::string_view unit;
};

split_text split_number(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9')
        ++i;
    return {text.substr(0, i), text.substr(i)};
}

// Whole number times a unit factor; false on overflow of T.
template <typename T> bool multiply(std::string_view digits, T factor, T& out) {
    T n = 0;
    constexpr T max = std::numeric_limits<T>::max();
    for (char c : digits) {
        const auto d = static_cast<T>(c - '0');
        if (n > (max - d) / 10) return false;
        n = n * 10 + d;
    }
    if (factor != 0 && n > max / factor) return false;
    out = n * factor;
    return true;
}

template <typename T, std::size_t N>
parsed<T> parse_with_units(std::string_view text,
                           const std::array<std::pair<std::string_view, T>, N>& units,
                           std::string_view what) {
    parsed<T> r;
    const auto [digits, unit] = split_number(text);
    if (text.empty()) {
        r.error = fmt::format("empty {}", what);
        return r;
    }
    if (digits.empty()) {
        r.error = fmt::format("\"{}\" is not a {}: it must start with a whole number", text, what);
        return r;
    }
    if (unit.empty()) {
        r.error = fmt::format("\"{}\" has no unit", text);
        return r;
    }
    for (const auto& [name, factor] : units) {
        if (name != unit) continue;
        if (!multiply(digits, factor, r.value)) r.error = fmt::format("\"{}\" is too large", text);
        return r;
    }
    if (unit.front() == '.' || unit.front() == ',')
        r.error = fmt::format("\"{}\" is not a whole number", text);
    else
        r.error = fmt::format(R"("{}" has an unknown unit "{}")", text, unit);
    return r;
}

} // namespace

parsed<std::chrono::milliseconds> parse_duration(std::string_view text) {
    using rep = std::chrono::milliseconds::rep;
    static constexpr std::array<std::pair<std::string_view, rep>, 5> units{{
        {"ms", 1},
        {"s", 1000},
        {"m", 60'000},
        {"h", 3'600'000},
        {"d", 86'400'000},
    }};
    auto r = parse_with_units(text, units, "duration");
    return {std::chrono::milliseconds(r.value), std::move(r.error)};
}

parsed<std::uint64_t> parse_size(std::string_view text) {
    static constexpr std::array<std::pair<std::string_view, std::uint64_t>, 4> units{{
        {"B", 1},
        {"KiB", 1ULL << 10U},
        {"MiB", 1ULL << 20U},
        {"GiB", 1ULL << 30U},
    }};
    return parse_with_units(text, units, "size");
}

parsed<std::uint64_t> parse_power(std::string_view text) {
    static constexpr std::array<std::pair<std::string_view, std::uint64_t>, 3> units{{
        {"W", 1},
        {"kW", 1'000},
        {"MW", 1'000'000},
    }};
    return parse_with_units(text, units, "power");
}

std::string format_duration(std::chrono::milliseconds d) {
    const auto ms = d.count();
    static constexpr std::array<std::pair<std::string_view, long long>, 4> units{{
        {"d", 86'400'000},
        {"h", 3'600'000},
        {"m", 60'000},
        {"s", 1000},
    }};
    for (const auto& [name, factor] : units)
        if (ms != 0 && ms % factor == 0) return fmt::format("{}{}", ms / factor, name);
    return fmt::format("{}ms", ms);
}

} // namespace mb::config
