// The counter guard (docs/measurements.md#energy-counters): what a consumer sees of an energy
// counter when the meter glitches to 0, is replaced, jumps, or wraps its register.
#include "daemon/gateway/counter_guard.hpp"

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

// "held" for a value the guard took out of its reading.
template <> struct boost::test_tools::tt_detail::print_log_value<std::optional<double>> {
    void operator()(std::ostream& os, const std::optional<double>& v) {
        if (v)
            os << *v;
        else
            os << "held";
    }
};

using mb::daemon::counter_guard;
using mb::model::counter_limits;
using mb::model::reading;

namespace {

constexpr std::int64_t minute_ms = 60'000;

// One poll of device "m1" every minute: energy_import_total = `kwh`, voltage_l1 = 230.
struct meter {
    counter_guard guard;
    std::int64_t ts = 1'700'000'000'000;
    const counter_limits* limits = nullptr;
    counter_guard::outcome last;

    // What the reading carries for energy_import_total after the guard: nullopt when held.
    std::optional<double> poll(double kwh) {
        reading r{"m1", ts, 0, {{"voltage_l1", 230.0}, {"energy_import_total", kwh}}};
        ts += minute_ms;
        last = guard.check(r, limits);
        BOOST_TEST(r.values.front().name() == "voltage_l1"); // never touched
        if (r.values.size() == 1) return std::nullopt;
        BOOST_TEST(r.values.back().name() == "energy_import_total");
        return r.values.back().value;
    }
};

} // namespace

BOOST_AUTO_TEST_SUITE(counter_guard_checks)

BOOST_AUTO_TEST_CASE(a_rising_counter_passes_unchanged) {
    meter m;
    for (const double v : {100.0, 100.0, 100.5, 101.25})
        BOOST_TEST(m.poll(v) == std::optional(v));
    BOOST_TEST(m.guard.glitches("m1") == 0U);
}

BOOST_AUTO_TEST_CASE(a_zero_for_one_poll_is_never_published_and_is_counted) {
    meter m;
    BOOST_TEST(m.poll(12345.67) == std::optional(12345.67));
    BOOST_TEST(!m.poll(0).has_value());
    BOOST_TEST(m.last.held == 1U);
    BOOST_TEST(m.last.note.find("held back") != std::string::npos);
    BOOST_TEST(m.poll(12345.7) == std::optional(12345.7));
    BOOST_TEST(m.last.glitches == 1U);
    BOOST_TEST(m.last.resets.empty());
    BOOST_TEST(m.guard.glitches("m1") == 1U);
}

BOOST_AUTO_TEST_CASE(a_glitch_of_two_polls_is_still_a_glitch) {
    meter m;
    m.poll(500);
    BOOST_TEST(!m.poll(0).has_value());
    BOOST_TEST(!m.poll(0).has_value());
    BOOST_TEST(m.poll(500.1) == std::optional(500.1));
    BOOST_TEST(m.guard.glitches("m1") == 1U);
}

BOOST_AUTO_TEST_CASE(a_reset_is_published_on_the_third_poll_with_its_event) {
    meter m;
    m.poll(12345.67);
    BOOST_TEST(!m.poll(5.0).has_value());
    BOOST_TEST(!m.poll(5.0).has_value());
    BOOST_TEST(m.poll(5.1) == std::optional(5.1));
    BOOST_REQUIRE(m.last.resets.size() == 1U);
    const auto& e = m.last.resets.front();
    BOOST_TEST(e.device == "m1");
    BOOST_TEST(mb::model::name_of(e.value) == "energy_import_total");
    BOOST_TEST(e.from == 12345.67);
    BOOST_TEST(e.to == 5.1);
    BOOST_TEST(e.ts_ms == m.ts - minute_ms);
    BOOST_TEST(m.guard.glitches("m1") == 0U); // a reset is not a glitch
    // From then on the new meter's counter is followed.
    BOOST_TEST(m.poll(5.2) == std::optional(5.2));
    BOOST_TEST(!m.poll(0).has_value());
}

BOOST_AUTO_TEST_CASE(two_different_suspects_start_the_count_again) {
    meter m;
    m.poll(1000);
    BOOST_TEST(!m.poll(5).has_value());
    BOOST_TEST(!m.poll(3).has_value()); // below the first suspect: not the same new counter
    BOOST_TEST(!m.poll(3).has_value());
    BOOST_TEST(m.poll(3) == std::optional(3.0));
    BOOST_TEST(m.last.resets.size() == 1U);
    BOOST_TEST(m.guard.glitches("m1") == 1U); // the 5
}

BOOST_AUTO_TEST_CASE(a_jump_beyond_max_power_is_held_and_dropped) {
    const counter_limits limits{10'000.0, {}}; // 10 kW: at most 0.17 kWh a minute
    meter m;
    m.limits = &limits;
    m.poll(100);
    BOOST_TEST(m.poll(100.15) == std::optional(100.15));
    BOOST_TEST(!m.poll(81'250).has_value()); // the dashboard spike of the issue
    BOOST_TEST(m.poll(100.4) == std::optional(100.4));
    BOOST_TEST(m.guard.glitches("m1") == 1U);
    // Within twice what 10 kW meters in a minute, plus the slack: taken.
    BOOST_TEST(m.poll(100.4 + 2 * 10'000.0 / 60 / 1000 + 0.9).has_value());
}

BOOST_AUTO_TEST_CASE(without_max_power_a_rise_of_any_size_passes) {
    meter m;
    m.poll(100);
    BOOST_TEST(m.poll(81'250) == std::optional(81'250.0));
}

BOOST_AUTO_TEST_CASE(a_u32_register_wraps_and_the_total_goes_on) {
    // A u32 counter of 0.01 kWh: it starts again at 0 after 42 949 672.95 kWh.
    const double range = std::ldexp(1.0, 32) * 0.01;
    const auto id = *mb::model::measurement_of("energy_import_total");
    const counter_limits limits{std::nullopt, {{id, range}}};
    meter m;
    m.limits = &limits;
    const double top = range - 0.5;
    BOOST_TEST(m.poll(top) == std::optional(top));
    const auto after = m.poll(0.25); // the register went past its maximum
    BOOST_REQUIRE(after.has_value());
    BOOST_TEST(*after == range + 0.25);
    BOOST_TEST(m.last.wraps == 1U);
    BOOST_TEST(m.last.resets.empty());
    BOOST_TEST(*m.poll(1.0) == range + 1.0); // and it stays on the far side
    BOOST_TEST(m.guard.glitches("m1") == 0U);
}

BOOST_AUTO_TEST_CASE(a_fall_far_from_the_top_is_not_a_wrap) {
    const double range = std::ldexp(1.0, 32) * 0.01;
    const auto id = *mb::model::measurement_of("energy_import_total");
    const counter_limits limits{std::nullopt, {{id, range}}};
    meter m;
    m.limits = &limits;
    m.poll(12345.67);
    BOOST_TEST(!m.poll(0).has_value()); // a glitch, as without wraps
    BOOST_TEST(m.last.wraps == 0U);
}

BOOST_AUTO_TEST_CASE(only_energy_counters_are_guarded) {
    counter_guard guard;
    reading r{"m1", 1000, 0, {{"voltage_l1", 230.0}, {"energy_export_l2", 50.0}}};
    guard.check(r, nullptr);
    reading next{"m1", 2000, 0, {{"voltage_l1", 0.0}, {"energy_export_l2", 49.0}}};
    guard.check(next, nullptr);
    BOOST_TEST(next.values.size() == 1U);
    BOOST_TEST(next.values.front().name() == "voltage_l1");
    BOOST_TEST(next.values.front().value == 0.0);
}

BOOST_AUTO_TEST_CASE(devices_are_kept_apart_and_forgotten) {
    counter_guard guard;
    reading a{"a", 1000, 0, {{"energy_import_total", 100.0}}};
    reading b{"b", 1000, 0, {{"energy_import_total", 5.0}}};
    guard.check(a, nullptr);
    guard.check(b, nullptr);
    BOOST_TEST(guard.devices() == 2U);
    guard.forget("a");
    BOOST_TEST(guard.devices() == 1U);
    reading again{"a", 2000, 0, {{"energy_import_total", 1.0}}};
    guard.check(again, nullptr); // a new meter under that name: its first value is taken
    BOOST_TEST(again.values.size() == 1U);
    guard.keep_only([](std::string_view d) { return d == "a"; });
    BOOST_TEST(guard.devices() == 1U);
}

BOOST_AUTO_TEST_SUITE_END()
