#pragma once
// Durations ("500ms", "10s", "5m", "24h", "30d") and sizes ("64KiB", "256MiB", "1GiB") as
// written in meterbridge.toml (docs/configuration.md). Pure functions: no I/O, no exceptions.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace mb::config {

// What the error messages tell the user would be accepted.
inline constexpr std::string_view duration_syntax =
    R"(a whole number followed by ms, s, m, h or d, e.g. "500ms", "10s", "5m", "24h", "30d")";
inline constexpr std::string_view size_syntax =
    R"(a whole number followed by B, KiB, MiB or GiB, e.g. "64KiB", "256MiB", "1GiB")";
inline constexpr std::string_view power_syntax =
    R"(a whole number followed by W, kW or MW, e.g. "800W", "50kW", "2MW")";

// A parsed value or, when error is not empty, why the text is not one ("what is wrong").
template <typename T> struct parsed {
    T value{};
    std::string error;
    [[nodiscard]] bool ok() const { return error.empty(); }
};

parsed<std::chrono::milliseconds> parse_duration(std::string_view text);
parsed<std::uint64_t> parse_size(std::string_view text);
parsed<std::uint64_t> parse_power(std::string_view text); // in W

// "10s", "5m", "500ms": the shortest exact form, for messages and the annotated example.
std::string format_duration(std::chrono::milliseconds d);

} // namespace mb::config
