#include "drivers/normalize.hpp"

#include "model/measurements.hpp"

#include <array>
#include <cmath>
#include <fmt/format.h>
#include <utility>

namespace mb::drivers {
namespace {

struct conversion {
    std::string_view from;
    std::string_view to;
    double factor;
};

// The units sources report that convert to a vocabulary unit (docs/measurements.md: kW and kvar
// sources are converted to W and var).
constexpr std::array conversions = {
    conversion{"kW", "W", 1e3},        conversion{"MW", "W", 1e6},
    conversion{"kvar", "var", 1e3},    conversion{"Mvar", "var", 1e6},
    conversion{"kVA", "VA", 1e3},      conversion{"MVA", "VA", 1e6},
    conversion{"Wh", "kWh", 1e-3},     conversion{"MWh", "kWh", 1e3},
    conversion{"varh", "kvarh", 1e-3}, conversion{"Mvarh", "kvarh", 1e3},
    conversion{"mA", "A", 1e-3},       conversion{"kA", "A", 1e3},
    conversion{"kV", "V", 1e3},
};

struct bounds {
    double low;
    double high;
};

// What no meter can mean, per unit (and for the dimensionless names, per family): generous
// enough for the primary side of a high-voltage feeder, tight enough to catch a misread
// register, a sign-extended u16, or a decoder fed a serial number as a value.
bounds bounds_of(std::string_view name, std::string_view unit) {
    if (unit == "V") return {-1e7, 1e7};
    if (unit == "A") return {-1e6, 1e6};
    if (unit == "W" || unit == "var" || unit == "VA") return {-1e11, 1e11};
    if (unit == "kWh" || unit == "kvarh") return {-1e15, 1e15};
    if (unit == "Hz") return {0, 1000};
    if (unit == "%") return {-1e4, 1e4};
    if (unit == "°C") return {-273.15, 2000};
    if (unit == "dBm") return {-200, 100};
    if (name.starts_with("power_factor_")) return {-1.1, 1.1};
    if (name.starts_with("di_") || name.starts_with("do_")) return {0, 1};
    if (name == "pt_ratio" || name == "ct_ratio") return {0, 1e7};
    return {0, 9007199254740992.0}; // alarm_state: a bitmask that a double holds exactly
}

} // namespace

std::optional<double> unit_factor(std::string_view from, std::string_view unit) {
    if (from.empty() || from == unit) return 1.0;
    for (const auto& c : conversions)
        if (c.from == from && c.to == unit) return c.factor;
    return std::nullopt;
}

normalized normalize(raw_reading&& in, std::int64_t now_ms) {
    normalized out;
    out.reading.device = std::move(in.device);
    out.reading.ts_ms = now_ms;
    if (in.ts_ms) {
        const std::int64_t offset = *in.ts_ms - now_ms;
        if (offset > max_clock_ahead_ms || offset < -max_clock_behind_ms)
            out.clock_offset_ms = offset;
        else
            out.reading.ts_ms = *in.ts_ms;
    }
    out.reading.values.reserve(in.values.size());
    const auto drop = [&out](std::size_t& counter, std::string_view name, std::string_view why) {
        ++counter;
        if (out.first_drop.empty()) out.first_drop = fmt::format("{}: {}", name, why);
    };
    for (const auto& v : in.values) {
        const auto id = v.id ? v.id : model::measurement_of(v.name);
        if (!id) {
            drop(out.drops.unknown_name, v.name, "not a measurement name (docs/measurements.md)");
            continue;
        }
        const auto unit = model::unit_of(*id);
        const auto factor = unit_factor(v.unit, unit);
        if (!factor) {
            drop(out.drops.unknown_unit, v.name,
                 fmt::format("reported in {}, which does not convert to {}", v.unit, unit));
            continue;
        }
        const double value = v.value * *factor;
        if (!std::isfinite(value)) {
            drop(out.drops.not_finite, v.name, "not a finite number");
            continue;
        }
        const auto [low, high] = bounds_of(v.name, unit);
        if (value < low || value > high) {
            drop(out.drops.out_of_range, v.name,
                 fmt::format("{} {} is outside {} .. {}", value, unit, low, high));
            continue;
        }
        out.reading.values.emplace_back(*id, value);
    }
    return out;
}

} // namespace mb::drivers
