#pragma once
// One meter model's register map, as loaded from a profile file (docs/profiles.md).
// A reload compares profiles whole (operator== = default): an edited profile file restarts the
// buses that use it, and a field added here takes part by itself.
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mb::drivers::rtu {

enum class value_type : std::uint8_t { u16, i16, u32, i32, u64, i64, f32, f64, bits };
enum class function_code : std::uint8_t { holding = 3, input = 4 };
enum class word_order : std::uint8_t { high_first, low_first };
enum class ratio_kind : std::uint8_t { none, pt, ct, ptct };

// Registers a value of this type occupies (bits: one register).
constexpr int register_count(value_type t) {
    switch (t) {
    case value_type::u32:
    case value_type::i32:
    case value_type::f32:
        return 2;
    case value_type::u64:
    case value_type::i64:
    case value_type::f64:
        return 4;
    default:
        return 1;
    }
}

struct value_def {
    std::string name; // measurement name from the vocabulary (model/measurements.hpp)
    std::uint16_t address = 0;
    value_type type = value_type::u16;
    function_code function = function_code::holding;
    double scale = 1.0; // multiplier applied to the raw value
    ratio_kind ratio = ratio_kind::none;
    int bit = 0; // bits: 0 = least significant
    bool writable = false;
    // Rarely changes (ratios, serial numbers): read at start, after the device comes back and
    // every static_interval, not on every poll.
    bool is_static = false;
    // An energy counter in an unsigned integer register that starts again at 0 past its
    // maximum: the counter guard follows it across (docs/profiles.md).
    bool wraps = false;
    std::optional<double> min; // writable values: accepted range for commands
    std::optional<double> max;

    bool operator==(const value_def&) const = default;
};

// How far a `wraps` value counts before it starts again, in the measurement's unit: 2^16 or
// 2^32 or 2^64 times its scale.
inline double wrap_range(const value_def& v) {
    return std::ldexp(1.0, 16 * register_count(v.type)) * v.scale;
}

// True when `v` is multiplied by the ratio `which` (pt or ct; ptct values by both).
inline bool needs_ratio(const value_def& v, ratio_kind which) {
    return v.ratio == which || v.ratio == ratio_kind::ptct;
}

struct profile {
    std::string id;
    std::string vendor;
    std::string model;
    function_code function = function_code::holding;
    word_order order = word_order::high_first;
    int max_read = 125;
    bool secondary = false; // ratios = "secondary": multiply by PT/CT
    std::vector<value_def> values;

    bool operator==(const profile&) const = default;
};

} // namespace mb::drivers::rtu

namespace mb::drivers::rtu {
// Names as written in profile files ("u16", "holding", "high_first", "ptct"), both ways.
std::string_view to_string(value_type t);
std::optional<value_type> parse_value_type(std::string_view s);
} // namespace mb::drivers::rtu
