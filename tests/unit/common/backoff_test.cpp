#include "common/backoff.hpp"

#include <boost/test/unit_test.hpp>

using namespace std::chrono_literals;
using mb::common::backoff_policy;
using mb::common::cap_attempt;
using mb::common::reconnect_delay;

BOOST_AUTO_TEST_SUITE(backoff)

BOOST_AUTO_TEST_CASE(first_retry_is_the_minimum) {
    std::mt19937_64 rng(1);
    for (int i = 0; i < 100; ++i)
        BOOST_TEST(reconnect_delay({}, 0, rng).count() == 1000);
}

BOOST_AUTO_TEST_CASE(ceiling_doubles_with_half_jitter) {
    std::mt19937_64 rng(7);
    for (unsigned attempt = 1; attempt <= 4; ++attempt) { // 2 s .. 16 s, under the cap
        const std::int64_t ceiling = 1000LL << attempt;
        for (int i = 0; i < 200; ++i) {
            const auto d = reconnect_delay({}, attempt, rng).count();
            BOOST_TEST(d >= ceiling / 2);
            BOOST_TEST(d <= ceiling);
        }
    }
}

BOOST_AUTO_TEST_CASE(capped_at_thirty_seconds_by_default_and_never_below_fifteen) {
    // [uplink] reconnect_max's default: a broker back after a short outage waits at most 30 s.
    std::mt19937_64 rng(3);
    std::int64_t lo = 1'000'000;
    std::int64_t hi = 0;
    for (unsigned attempt : {5U, 6U, 10U, 64U, 1000U}) {
        for (int i = 0; i < 500; ++i) {
            const auto d = reconnect_delay({}, attempt, rng).count();
            lo = std::min(lo, d);
            hi = std::max(hi, d);
        }
    }
    BOOST_TEST(hi <= 30'000);
    BOOST_TEST(lo >= 15'000);
    BOOST_TEST(hi - lo > 5'000); // jitter spreads a herd of gateways
}

BOOST_AUTO_TEST_CASE(a_configured_cap_holds_with_jitter_below_it) {
    // reconnect_max = "2s": 1 s, then between 1 and 2 s for ever, spread.
    const backoff_policy p{1s, 2s};
    std::mt19937_64 rng(11);
    std::int64_t lo = 1'000'000;
    std::int64_t hi = 0;
    for (unsigned attempt = 1; attempt < 50; ++attempt) {
        const auto d = reconnect_delay(p, attempt, rng).count();
        lo = std::min(lo, d);
        hi = std::max(hi, d);
    }
    BOOST_TEST(lo >= 1'000);
    BOOST_TEST(hi <= 2'000);
    BOOST_TEST(hi - lo > 300);
    // A cap that is not a power of two times the first retry is reached, never passed.
    const backoff_policy odd{1s, 45s};
    for (int i = 0; i < 200; ++i)
        BOOST_TEST(reconnect_delay(odd, 20, rng).count() <= 45'000);
}

BOOST_AUTO_TEST_CASE(same_seed_same_delays) {
    std::mt19937_64 a(42);
    std::mt19937_64 b(42);
    for (unsigned attempt = 0; attempt < 20; ++attempt)
        BOOST_TEST(reconnect_delay({}, attempt, a).count() ==
                   reconnect_delay({}, attempt, b).count());
}

BOOST_AUTO_TEST_CASE(cap_attempt_reaches_the_cap) {
    BOOST_TEST(cap_attempt({}) == 5U); // 1,2,4,8,16,32 -> 30
    std::mt19937_64 rng(5);
    const auto d = reconnect_delay({}, cap_attempt({}), rng);
    BOOST_TEST(d.count() >= 15'000);
    const backoff_policy fast{100ms, 400ms};
    BOOST_TEST(cap_attempt(fast) == 2U);
    BOOST_TEST(reconnect_delay(fast, 9, rng).count() <= 400);
}

BOOST_AUTO_TEST_SUITE_END()
