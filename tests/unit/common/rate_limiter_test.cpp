// Repeated errors are rate-limited per key: the first line goes out, then at most one per
// period, and the next allowed line learns how many were held back.
#include "common/log.hpp"

#include <boost/test/unit_test.hpp>

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

BOOST_AUTO_TEST_CASE(first_occurrence_is_allowed_then_held_back_for_the_period) {
    mb::log::rate_limiter rl(30s);
    const auto t0 = clock_type::time_point{} + 1h;
    BOOST_TEST(rl.allow("rtu[bus1] timeout", t0) == 0);
    BOOST_TEST(rl.allow("rtu[bus1] timeout", t0 + 1s) == -1);
    BOOST_TEST(rl.allow("rtu[bus1] timeout", t0 + 29s) == -1);
    // After the period: allowed again, and told that 2 lines were suppressed.
    BOOST_TEST(rl.allow("rtu[bus1] timeout", t0 + 30s) == 2);
    BOOST_TEST(rl.allow("rtu[bus1] timeout", t0 + 31s) == -1);
}

BOOST_AUTO_TEST_CASE(keys_are_limited_independently) {
    mb::log::rate_limiter rl(10s);
    const auto t0 = clock_type::time_point{} + 1h;
    BOOST_TEST(rl.allow("a", t0) == 0);
    BOOST_TEST(rl.allow("b", t0) == 0);
    BOOST_TEST(rl.allow("a", t0 + 1s) == -1);
    BOOST_TEST(rl.allow("b", t0 + 10s) == 0);
}

BOOST_AUTO_TEST_CASE(a_burst_goes_out_then_the_rest_of_the_period_is_counted) {
    mb::log::rate_limiter rl(10s, 3);
    const auto t0 = clock_type::time_point{} + 1h;
    BOOST_TEST(rl.allow("new", t0) == 0);
    BOOST_TEST(rl.allow("new", t0 + 1s) == 0);
    BOOST_TEST(rl.allow("new", t0 + 2s) == 0);
    for (int i = 0; i < 500; ++i)
        BOOST_TEST(rl.allow("new", t0 + 3s) == -1);
    BOOST_TEST(rl.allow("new", t0 + 10s) == 500);
    BOOST_TEST(rl.allow("new", t0 + 11s) == 0);
}

BOOST_AUTO_TEST_CASE(what_a_flood_that_stopped_held_back_is_told_once) {
    mb::log::rate_limiter rl(10s);
    const auto t0 = clock_type::time_point{} + 1h;
    BOOST_TEST(rl.allow("refused", t0) == 0);
    BOOST_TEST(rl.allow("refused", t0 + 1s) == -1);
    BOOST_TEST(rl.allow("refused", t0 + 2s) == -1);
    BOOST_TEST(rl.allow("quiet", t0) == 0);
    BOOST_TEST(rl.overdue(t0 + 9s).empty()); // the period is not over
    const auto due = rl.overdue(t0 + 10s);
    BOOST_REQUIRE_EQUAL(due.size(), 1U);
    BOOST_TEST(due[0].first == "refused");
    BOOST_TEST(due[0].second == 2);
    BOOST_TEST(rl.overdue(t0 + 30s).empty());       // told once
    BOOST_TEST(rl.allow("refused", t0 + 11s) == 0); // a new period, nothing to carry
}

BOOST_AUTO_TEST_CASE(level_filter) {
    mb::log::set_level(mb::log::level::warn);
    BOOST_TEST(mb::log::enabled(mb::log::level::error));
    BOOST_TEST(mb::log::enabled(mb::log::level::warn));
    BOOST_TEST(!mb::log::enabled(mb::log::level::info));
    BOOST_TEST(!mb::log::enabled(mb::log::level::debug));
    mb::log::set_level(mb::log::level::info);
}
