#include "bridge/link/subscriptions.hpp"

#include <boost/test/unit_test.hpp>
#include <chrono>

using namespace std::chrono_literals;
using mb::bridge::subscription_table;

namespace {

const auto t0 = std::chrono::steady_clock::time_point{} + 1h;

subscription_table table() {
    return subscription_table({1000ms, 8000ms}, 42);
}

} // namespace

BOOST_AUTO_TEST_SUITE(subscriptions)

BOOST_AUTO_TEST_CASE(a_grant_is_told_once_and_leaves_nothing_to_retry) {
    auto t = table();
    t.sent(7, {"meters/#", 1, 0});
    BOOST_TEST(t.pending() == 1U);
    const auto a = t.answered(7, 1, t0);
    BOOST_REQUIRE(a.has_value());
    BOOST_TEST(a->granted());
    BOOST_TEST(a->filter == "meters/#");
    BOOST_TEST(a->reason == 1);
    BOOST_TEST(a->refusals == 0U);
    BOOST_TEST(t.pending() == 0U);
    BOOST_TEST(t.waiting() == 0U);
    BOOST_TEST(!t.answered(7, 1, t0).has_value(), "a mid is answered once");
    BOOST_TEST(t.due(t0 + 1h).empty());
}

BOOST_AUTO_TEST_CASE(a_suback_for_a_mid_not_ours_is_ignored) {
    auto t = table();
    t.sent(3, {"a", 1, 0});
    BOOST_TEST(!t.answered(4, 0x87, t0).has_value());
    BOOST_TEST(t.pending() == 1U);
}

BOOST_AUTO_TEST_CASE(a_refusal_is_asked_again_on_a_growing_back_off) {
    auto t = table();
    t.sent(1, {"meters/#", 1, 0x20});
    auto a = t.answered(1, 0x87, t0);
    BOOST_REQUIRE(a.has_value());
    BOOST_TEST(!a->granted());
    BOOST_TEST(a->refusals == 1U);
    BOOST_TEST(a->retry_in == 1000ms, "the first retry waits the minimum");
    BOOST_TEST(t.due(t0 + 999ms).empty());
    auto again = t.due(t0 + 1000ms);
    BOOST_REQUIRE(again.size() == 1U);
    BOOST_TEST(again[0].filter == "meters/#");
    BOOST_TEST(again[0].options == 0x20, "asked again as it was asked");
    BOOST_TEST(t.waiting() == 0U);

    // Refused again: the count goes on and the wait grows (half jitter: within [1 s, 2 s]).
    t.sent(2, again[0]);
    a = t.answered(2, 0x80, t0 + 1s);
    BOOST_REQUIRE(a.has_value());
    BOOST_TEST(a->refusals == 2U);
    BOOST_TEST(a->retry_in >= 1000ms);
    BOOST_TEST(a->retry_in <= 2000ms);
    auto now = t0 + 1s;
    for (int n = 3; n <= 8; ++n) {
        now += 1min;
        auto r = t.due(now);
        BOOST_REQUIRE(r.size() == 1U);
        t.sent(n, r[0]);
        a = t.answered(n, 0x87, now);
        BOOST_TEST(a->retry_in <= 8000ms, "never beyond the cap");
    }
    BOOST_TEST(a->retry_in >= 4000ms, "at the cap, half jitter");
    // Granted at last: the count starts over for the next refusal.
    auto r = t.due(now + 1min);
    t.sent(9, r.at(0));
    BOOST_TEST(t.answered(9, 1, now)->granted());
    t.sent(10, {"meters/#", 1, 0});
    BOOST_TEST(t.answered(10, 0x87, now)->refusals == 1U);
}

BOOST_AUTO_TEST_CASE(a_new_connection_forgets_what_was_pending_or_waiting) {
    auto t = table();
    t.sent(1, {"a", 1, 0});
    t.sent(2, {"b", 1, 0});
    (void)t.answered(2, 0x87, t0);
    BOOST_TEST(t.waiting() == 1U);
    t.clear();
    BOOST_TEST(t.pending() == 0U);
    BOOST_TEST(t.waiting() == 0U);
    BOOST_TEST(t.due(t0 + 1h).empty());
    BOOST_TEST(!t.answered(1, 1, t0).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
