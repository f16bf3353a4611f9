#include "drivers/modbus_rtu/codec.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <limits>

namespace mb::drivers::rtu {
namespace {

// Exact powers of ten as doubles (10^22 is the largest one a double holds exactly).
constexpr std::array<double, 23> pow10 = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                          1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                          1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
constexpr double exact_limit = 9007199254740992.0; // 2^53

// factor = mantissa / 10^digits with an integer mantissa, when such a form with few digits
// exists (0.1 -> 1/10, 0.25 -> 25/100, 2.5 -> 25/10, 1000 -> 1000/1).
struct decimal {
    double mantissa;
    int digits;
};

std::optional<decimal> as_decimal(double factor) {
    if (!std::isfinite(factor) || factor == 0.0) return std::nullopt;
    for (int d = 0; d <= 12; ++d) {
        const double m = factor * pow10[static_cast<std::size_t>(d)];
        const double r = std::round(m);
        if (std::fabs(r) >= exact_limit) return std::nullopt;
        if (r != 0.0 && std::fabs(m - r) <= 1e-9 * std::fabs(r)) return decimal{r, d};
    }
    return std::nullopt;
}

// Registers of a 2- or 4-register value in big-endian word order.
std::uint64_t join_words(std::span<const std::uint16_t> regs, word_order order) {
    std::uint64_t v = 0;
    const std::size_t n = regs.size();
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint16_t w = order == word_order::high_first ? regs[i] : regs[n - 1 - i];
        v = (v << 16U) | w;
    }
    return v;
}

void split_words(std::uint64_t v, std::size_t n, word_order order,
                 std::vector<std::uint16_t>& out) {
    out.assign(n, 0);
    for (std::size_t i = 0; i < n; ++i) {
        const auto w = static_cast<std::uint16_t>(v >> (16U * (n - 1 - i)));
        out[order == word_order::high_first ? i : n - 1 - i] = w;
    }
}

// An f32 as the double of its shortest decimal form: a meter's float carries ~7 digits, the
// rest of a plain widening (230.1f -> 230.10000610351562) is noise.
double clean_float(float f) {
    if (!std::isfinite(f)) return static_cast<double>(f);
    std::array<char, 64> buf{};
    auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), f);
    auto d = static_cast<double>(f);
    if (ec == std::errc{}) std::from_chars(buf.data(), end, d);
    return d;
}

} // namespace

std::optional<double> decode_raw(std::span<const std::uint16_t> regs, value_type type,
                                 word_order order, int bit) {
    if (regs.size() != static_cast<std::size_t>(register_count(type))) return std::nullopt;
    switch (type) {
    case value_type::u16:
        return static_cast<double>(regs[0]);
    case value_type::i16:
        return static_cast<double>(static_cast<std::int16_t>(regs[0]));
    case value_type::bits:
        if (bit < 0 || bit > 15) return std::nullopt;
        return static_cast<double>((regs[0] >> static_cast<unsigned>(bit)) & 1U);
    case value_type::u32:
        return static_cast<double>(join_words(regs, order));
    case value_type::i32:
        return static_cast<double>(static_cast<std::int32_t>(join_words(regs, order)));
    case value_type::u64:
        return static_cast<double>(join_words(regs, order));
    case value_type::i64:
        return static_cast<double>(static_cast<std::int64_t>(join_words(regs, order)));
    case value_type::f32:
        return clean_float(
            std::bit_cast<float>(static_cast<std::uint32_t>(join_words(regs, order))));
    case value_type::f64:
        return std::bit_cast<double>(join_words(regs, order));
    }
    return std::nullopt;
}

double scale_clean(double raw, double factor) {
    if (factor == 1.0 || !std::isfinite(raw)) return raw * factor;
    const auto dec = as_decimal(factor);
    if (!dec) return raw * factor;
    const double p = pow10[static_cast<std::size_t>(dec->digits)];
    // Integral raw: raw * mantissa is exact below 2^53, and one correctly rounded division by
    // an exact power of ten yields the double nearest to the decimal result.
    if (raw == std::trunc(raw) && std::fabs(raw * dec->mantissa) < exact_limit)
        return raw * dec->mantissa / p;
    // Floats: a pure decimal scale (0.1, 0.001) is still one rounding as a division.
    if (dec->mantissa == 1.0) return raw / p;
    return raw * factor;
}

double ratio_factor(ratio_kind kind, double pt, double ct) {
    switch (kind) {
    case ratio_kind::pt:
        return pt;
    case ratio_kind::ct:
        return ct;
    case ratio_kind::ptct:
        return pt * ct;
    case ratio_kind::none:
        break;
    }
    return 1.0;
}

std::optional<double> decode_value(std::span<const std::uint16_t> regs, const value_def& def,
                                   word_order order, double ratio) {
    const auto raw = decode_raw(regs, def.type, order, def.bit);
    if (!raw || !std::isfinite(*raw)) return std::nullopt;
    const double v = scale_clean(*raw, def.scale * ratio);
    if (!std::isfinite(v)) return std::nullopt;
    return v;
}

namespace {

// value / scale, snapped to the nearest integer when it is one up to rounding noise.
double unscale(double value, double scale) {
    const auto dec = as_decimal(scale);
    double raw = value / scale;
    if (dec) raw = value * pow10[static_cast<std::size_t>(dec->digits)] / dec->mantissa;
    const double r = std::round(raw);
    if (std::fabs(raw - r) <= 1e-9 * std::max(1.0, std::fabs(r))) return r;
    return raw;
}

template <typename T> bool fits(double raw) {
    return raw >= static_cast<double>(std::numeric_limits<T>::min()) &&
           raw <= static_cast<double>(std::numeric_limits<T>::max());
}

} // namespace

encoded encode_value(double value, const value_def& def, word_order order) {
    encoded out;
    if (!std::isfinite(value)) {
        out.error = "not a finite number";
        return out;
    }
    if (def.scale == 0.0 || !std::isfinite(def.scale)) {
        out.error = "profile scale is zero";
        return out;
    }
    const double raw = unscale(value, def.scale);
    const auto n = static_cast<std::size_t>(register_count(def.type));
    const bool integral = raw == std::trunc(raw);
    auto range_error = [&] { out.error = "out of range for " + std::string(to_string(def.type)); };
    switch (def.type) {
    case value_type::bits:
        out.error = "a bit field cannot be written on its own";
        return out;
    case value_type::f32: {
        if (std::fabs(raw) > static_cast<double>(std::numeric_limits<float>::max())) {
            range_error();
            return out;
        }
        split_words(std::bit_cast<std::uint32_t>(static_cast<float>(raw)), n, order, out.regs);
        return out;
    }
    case value_type::f64:
        split_words(std::bit_cast<std::uint64_t>(raw), n, order, out.regs);
        return out;
    default:
        break;
    }
    if (!integral) {
        out.error = "more decimals than the register holds";
        return out;
    }
    bool ok = false;
    std::uint64_t bits = 0;
    switch (def.type) {
    case value_type::u16:
        ok = fits<std::uint16_t>(raw);
        break;
    case value_type::i16:
        ok = fits<std::int16_t>(raw);
        break;
    case value_type::u32:
        ok = fits<std::uint32_t>(raw);
        break;
    case value_type::i32:
        ok = fits<std::int32_t>(raw);
        break;
    // 2^64 and 2^63 are exact doubles: the upper bound is exclusive.
    case value_type::u64:
        ok = raw >= 0.0 && raw < 18446744073709551616.0;
        break;
    case value_type::i64:
        ok = raw >= -9223372036854775808.0 && raw < 9223372036854775808.0;
        break;
    default:
        break;
    }
    if (!ok) {
        range_error();
        return out;
    }
    if (def.type == value_type::u64)
        bits = static_cast<std::uint64_t>(raw);
    else
        bits = static_cast<std::uint64_t>(static_cast<std::int64_t>(raw));
    split_words(bits, n, order, out.regs);
    return out;
}

} // namespace mb::drivers::rtu
