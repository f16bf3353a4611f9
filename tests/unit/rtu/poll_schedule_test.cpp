// Poll schedule on a fake clock: grid without drift, spread, skips, fairness, back-off.
#include "drivers/modbus_rtu/poll_schedule.hpp"

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <map>
#include <vector>

using namespace mb::drivers::rtu;
using std::chrono::milliseconds;
using namespace std::chrono_literals;

namespace {
const sched_clock::time_point t0{std::chrono::hours(1000)};

milliseconds at(sched_clock::time_point t) {
    return std::chrono::duration_cast<milliseconds>(t - t0);
}

// Runs a bus where every poll takes `cost` (or `dead_cost` for devices in `dead`), stepping
// the fake clock from event to event until `until`. Returns the poll start times per device.
std::map<std::size_t, std::vector<milliseconds>> simulate(poll_schedule& s, milliseconds cost,
                                                          milliseconds until,
                                                          const std::vector<std::size_t>& dead = {},
                                                          milliseconds dead_cost = 300ms) {
    std::map<std::size_t, std::vector<milliseconds>> starts;
    auto now = t0;
    while (now - t0 < until) {
        auto dev = s.next(now);
        if (!dev) {
            now = std::max(now, s.next_due());
            continue;
        }
        starts[*dev].push_back(at(now));
        const bool is_dead = std::find(dead.begin(), dead.end(), *dev) != dead.end();
        now += is_dead ? dead_cost : cost;
        s.finished(*dev, is_dead ? poll_outcome::no_answer : poll_outcome::answered, cost);
    }
    return starts;
}
} // namespace

BOOST_AUTO_TEST_SUITE(schedule)

BOOST_AUTO_TEST_CASE(devices_are_spread_over_the_interval) {
    poll_schedule s({1000ms, 1000ms, 1000ms, 1000ms}, t0);
    BOOST_TEST(at(s.due(0)).count() == 0);
    BOOST_TEST(at(s.due(1)).count() == 250);
    BOOST_TEST(at(s.due(2)).count() == 500);
    BOOST_TEST(at(s.due(3)).count() == 750);
}

BOOST_AUTO_TEST_CASE(fixed_grid_without_drift) {
    poll_schedule s({1000ms}, t0);
    // polls take 37 ms and start late by a varying amount: the grid stays on whole seconds
    auto now = t0;
    for (int k = 0; k < 50; ++k) {
        now = s.next_due() + milliseconds(k % 7);
        auto dev = s.next(now);
        BOOST_REQUIRE(dev.has_value());
        BOOST_TEST(at(now).count() == k * 1000 + k % 7);
        BOOST_TEST(!s.next(now + 37ms).has_value());
        s.finished(*dev, poll_outcome::answered, 37ms);
    }
    BOOST_TEST(at(s.next_due()).count() == 50000);
    BOOST_TEST(s.counters(0).polls == 50U);
    BOOST_TEST(s.counters(0).skipped == 0U);
    BOOST_TEST(s.counters(0).last_rtt.count() == 37);
}

BOOST_AUTO_TEST_CASE(late_polls_are_skipped_and_counted) {
    poll_schedule s({1000ms}, t0);
    BOOST_TEST(s.next(t0).has_value());
    s.finished(0, poll_outcome::answered, 10ms);
    // the bus was blocked for 3.5 s: the slots at 1 s, 2 s are gone, 3 s is polled late
    auto dev = s.next(t0 + 3500ms);
    BOOST_REQUIRE(dev.has_value());
    BOOST_TEST(s.counters(0).skipped == 2U);
    s.finished(0, poll_outcome::answered, 10ms);
    BOOST_TEST(at(s.next_due()).count() == 4000); // still on the grid
    BOOST_TEST(!s.next(t0 + 3600ms).has_value()); // nothing queued
}

BOOST_AUTO_TEST_CASE(saturated_bus_is_fair) {
    // 8 devices each due every 100 ms, each poll takes 40 ms: the bus can serve 2.5 polls
    // per 100 ms, so most polls are skipped, but each device gets the same share
    std::vector<milliseconds> iv(8, 100ms);
    poll_schedule s(iv, t0);
    auto starts = simulate(s, 40ms, 60s);
    std::size_t least = SIZE_MAX;
    std::size_t most = 0;
    std::size_t total = 0;
    for (std::size_t i = 0; i < 8; ++i) {
        least = std::min(least, starts[i].size());
        most = std::max(most, starts[i].size());
        total += starts[i].size();
        BOOST_TEST(s.counters(i).skipped > 0U);
    }
    BOOST_TEST(total >= 1499U); // the line is never idle: 60 s / 40 ms
    BOOST_TEST(most - least <= 1U, "least " << least << " most " << most);
}

BOOST_AUTO_TEST_CASE(dead_device_backs_off_and_live_ones_keep_interval) {
    poll_schedule s({1000ms, 1000ms, 1000ms}, t0);
    auto starts = simulate(s, 20ms, 120s, {1}, 300ms);
    // the live devices: one poll per interval, each within 10 % of the grid
    for (std::size_t dev : {0U, 2U}) {
        BOOST_TEST(starts[dev].size() >= 119U);
        for (std::size_t k = 1; k < starts[dev].size(); ++k) {
            const auto gap = starts[dev][k] - starts[dev][k - 1];
            BOOST_TEST(std::abs(gap.count() - 1000) <= 100,
                       "device " << dev << " gap " << gap.count());
        }
    }
    // the dead one: 3 misses at its interval, then 2 s, 4 s, 8 s, then 10 s (10 x interval)
    const auto& d = starts[1];
    BOOST_TEST_REQUIRE(d.size() >= 8U);
    std::vector<long> gaps;
    for (std::size_t k = 1; k < d.size(); ++k)
        gaps.push_back((d[k] - d[k - 1]).count());
    BOOST_TEST(gaps[0] == 1000);
    BOOST_TEST(gaps[1] == 1000);
    BOOST_TEST(gaps[2] == 2000);
    BOOST_TEST(gaps[3] == 4000);
    BOOST_TEST(gaps[4] == 8000);
    for (std::size_t k = 5; k < gaps.size(); ++k)
        BOOST_TEST(gaps[k] == 10000);
    BOOST_TEST(s.offline(1));
    BOOST_TEST(!s.offline(0));
    BOOST_TEST(s.counters(1).timeouts == d.size());
}

BOOST_AUTO_TEST_CASE(answer_restores_interval) {
    poll_schedule s({1000ms}, t0);
    auto now = t0;
    for (int k = 0; k < 6; ++k) {
        now = s.next_due();
        BOOST_REQUIRE(s.next(now).has_value());
        s.finished(0, poll_outcome::no_answer, 300ms);
    }
    BOOST_TEST(s.offline(0));
    now = s.next_due();
    BOOST_REQUIRE(s.next(now).has_value());
    s.finished(0, poll_outcome::partial, 50ms);
    BOOST_TEST(!s.offline(0));
    BOOST_TEST((s.next_due() - now == milliseconds(1000)));
    BOOST_TEST(s.counters(0).errors == 7U);
    BOOST_TEST(s.counters(0).timeouts == 6U);
}

BOOST_AUTO_TEST_CASE(backoff_caps) {
    BOOST_TEST(poll_schedule::period(1s, 0).count() == 1000);
    BOOST_TEST(poll_schedule::period(1s, 2).count() == 1000);
    BOOST_TEST(poll_schedule::period(1s, 3).count() == 2000);
    BOOST_TEST(poll_schedule::period(1s, 50).count() == 10000);
    BOOST_TEST(poll_schedule::period(60s, 50).count() == 300000);  // 5 min, not 10 min
    BOOST_TEST(poll_schedule::period(600s, 50).count() == 600000); // never below interval
}

BOOST_AUTO_TEST_SUITE_END()
