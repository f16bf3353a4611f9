// The one normalize step (drivers/normalize): vocabulary names only, units converted, absurd
// and non-finite numbers dropped and counted, a meter clock far off replaced by the gateway's.
#include "drivers/normalize.hpp"

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <limits>

using mb::drivers::normalize;
using mb::drivers::raw_reading;
using mb::drivers::unit_factor;

namespace {

constexpr std::int64_t now = 1'764'095'000'000; // 2025-11-25

double value_of(const mb::model::reading& r, std::string_view name) {
    for (const auto& v : r.values)
        if (v.name() == name) return v.value;
    return std::nan("");
}

} // namespace

BOOST_AUTO_TEST_SUITE(normalize_step)

BOOST_AUTO_TEST_CASE(converts_units_to_the_vocabulary) {
    raw_reading in{"m",
                   now - 1000,
                   {{"active_power_total", 3.456, "kW"},
                    {"reactive_power_l1", 0.5, "kvar"},
                    {"apparent_power_total", 2, "kVA"},
                    {"energy_import_total", 1500, "Wh"},
                    {"residual_current", 30, "mA"},
                    {"voltage_l1", 230.1, ""},
                    {"voltage_l2", 229.5, "V"}}};
    const auto out = normalize(std::move(in), now);
    BOOST_TEST(out.reading.device == "m");
    BOOST_TEST(out.reading.ts_ms == now - 1000);
    BOOST_TEST(out.drops.total() == 0U);
    BOOST_TEST(value_of(out.reading, "active_power_total") == 3456.0);
    BOOST_TEST(value_of(out.reading, "reactive_power_l1") == 500.0);
    BOOST_TEST(value_of(out.reading, "apparent_power_total") == 2000.0);
    BOOST_TEST(value_of(out.reading, "energy_import_total") == 1.5);
    BOOST_TEST(value_of(out.reading, "residual_current") == 0.03);
    BOOST_TEST(value_of(out.reading, "voltage_l1") == 230.1);
    BOOST_TEST(value_of(out.reading, "voltage_l2") == 229.5);
    BOOST_TEST(out.reading.values.size() == 7U);
    BOOST_TEST(!out.clock_offset_ms.has_value());
}

BOOST_AUTO_TEST_CASE(drops_and_counts_what_no_meter_can_mean) {
    raw_reading in{"m",
                   std::nullopt,
                   {{"voltage_l1", std::numeric_limits<double>::quiet_NaN(), ""},
                    {"voltage_l2", std::numeric_limits<double>::infinity(), ""},
                    {"voltage_l3", 1e300, ""},
                    {"power_factor_total", 65.4, ""},
                    {"frequency", -1, ""},
                    {"energy_import_total", 1, "kW"},
                    {"iccid", 1, ""},
                    {"di_1", 1, ""},
                    {"current_l1", 5, "A"}}};
    const auto out = normalize(std::move(in), now);
    BOOST_TEST(out.reading.ts_ms == now, "no meter time: the gateway's");
    BOOST_TEST(out.drops.not_finite == 2U);
    BOOST_TEST(out.drops.out_of_range == 3U);
    BOOST_TEST(out.drops.unknown_unit == 1U);
    BOOST_TEST(out.drops.unknown_name == 1U);
    BOOST_TEST(out.drops.total() == 7U);
    BOOST_TEST(out.first_drop == "voltage_l1: not a finite number");
    BOOST_REQUIRE(out.reading.values.size() == 2U);
    BOOST_TEST(out.reading.values[0].name() == "di_1");
    BOOST_TEST(out.reading.values[1].name() == "current_l1");
}

BOOST_AUTO_TEST_CASE(a_meter_clock_far_off_gets_the_gateway_time) {
    constexpr std::int64_t three_years = 3LL * 365 * 24 * 3600 * 1000;
    auto behind = normalize(raw_reading{"m", now - three_years, {{"voltage_l1", 230, ""}}}, now);
    BOOST_TEST(behind.reading.ts_ms == now);
    BOOST_TEST(behind.clock_offset_ms.value_or(0) == -three_years);
    BOOST_TEST(behind.reading.values.size() == 1U, "its values still go");

    auto ahead = normalize(raw_reading{"m", now + 11LL * 60'000, {{"voltage_l1", 230, ""}}}, now);
    BOOST_TEST(ahead.reading.ts_ms == now);
    BOOST_TEST(ahead.clock_offset_ms.value_or(0) == 11LL * 60'000);

    // A little ahead (drift) or days behind (a late back-fill) is the meter's own time.
    auto drift = normalize(raw_reading{"m", now + 9LL * 60'000, {}}, now);
    BOOST_TEST(drift.reading.ts_ms == now + 9LL * 60'000);
    auto late = normalize(raw_reading{"m", now - 7LL * 24 * 3600 * 1000, {}}, now);
    BOOST_TEST(late.reading.ts_ms == now - 7LL * 24 * 3600 * 1000);
    BOOST_TEST(!late.clock_offset_ms.has_value());
}

BOOST_AUTO_TEST_CASE(unit_factors) {
    BOOST_TEST(unit_factor("kW", "W").value_or(0) == 1000.0);
    BOOST_TEST(unit_factor("MWh", "kWh").value_or(0) == 1000.0);
    BOOST_TEST(unit_factor("", "V").value_or(0) == 1.0);
    BOOST_TEST(unit_factor("Hz", "Hz").value_or(0) == 1.0);
    BOOST_TEST(!unit_factor("kW", "kWh").has_value());
    BOOST_TEST(!unit_factor("V", "A").has_value());
}

BOOST_AUTO_TEST_SUITE_END()
