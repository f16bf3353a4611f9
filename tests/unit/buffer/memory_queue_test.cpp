// The in-memory stand-in for the store-and-forward buffer: seq per device, order, PUBACKs,
// and the byte bound (oldest not-in-flight readings dropped and counted).
#define BOOST_TEST_MODULE buffer
#include "buffer/memory_queue.hpp"

#include <boost/test/unit_test.hpp>
#include <optional>
#include <vector>

using mb::buffer::memory_queue;
using mb::model::reading;

namespace {

reading make(const std::string& device, std::int64_t ts) {
    return reading{device, ts, 0, {{"voltage_l1", 230.1}, {"energy_import_total", 12345.67}}};
}

// A fake uplink: takes up to `room` readings, numbering them from 1.
struct fake_uplink {
    std::size_t room = 100;
    int next_mid = 1;
    std::vector<std::pair<std::string, std::uint64_t>> sent; // device, seq
    memory_queue::publish_fn fn() {
        return [this](const reading& r) -> std::optional<int> {
            if (room == 0) return std::nullopt;
            --room;
            sent.emplace_back(r.device, r.seq);
            return next_mid++;
        };
    }
};

} // namespace

BOOST_AUTO_TEST_CASE(seq_counts_per_device_from_one) {
    memory_queue q(1 << 20);
    fake_uplink up;
    q.push(make("a", 1));
    q.push(make("b", 2));
    q.push(make("a", 3));
    q.pump(up.fn());
    const std::vector<std::pair<std::string, std::uint64_t>> want{{"a", 1}, {"b", 1}, {"a", 2}};
    BOOST_TEST(up.sent == want);
}

BOOST_AUTO_TEST_CASE(window_full_keeps_the_rest_in_order) {
    memory_queue q(1 << 20);
    fake_uplink up;
    up.room = 2;
    for (int i = 0; i < 5; ++i)
        q.push(make("a", i));
    q.pump(up.fn());
    BOOST_TEST(up.sent.size() == 2U);
    q.acked(1);
    up.room = 10;
    q.pump(up.fn());
    BOOST_TEST(up.sent.size() == 5U);
    BOOST_TEST(up.sent.back().second == 5U);
    BOOST_TEST(q.size() == 4U); // one acknowledged
    BOOST_TEST(*q.stats().oldest_ts == 1);
}

BOOST_AUTO_TEST_CASE(acked_readings_leave_and_free_their_bytes) {
    memory_queue q(1 << 20);
    fake_uplink up;
    q.push(make("a", 1));
    BOOST_TEST(q.bytes() > 0U);
    q.pump(up.fn());
    q.acked(1);
    BOOST_TEST(q.size() == 0U);
    BOOST_TEST(q.bytes() == 0U);
    BOOST_TEST(!q.stats().oldest_ts.has_value());
    q.acked(1); // a duplicate PUBACK changes nothing
    BOOST_TEST(q.size() == 0U);
}

BOOST_AUTO_TEST_CASE(past_the_byte_bound_the_oldest_unsent_are_dropped_and_counted) {
    const auto one = memory_queue::footprint(make("a", 0));
    memory_queue q(one * 3);
    fake_uplink up;
    up.room = 1;
    q.push(make("a", 1));
    q.pump(up.fn()); // seq 1 in flight: never dropped
    q.push(make("a", 2));
    q.push(make("a", 3));
    q.push(make("a", 4)); // over the bound: seq 2 goes
    BOOST_TEST(q.size() == 3U);
    BOOST_TEST(q.stats().dropped == 1U);
    BOOST_TEST(q.bytes() <= one * 3);
    up.room = 10;
    q.pump(up.fn());
    const std::vector<std::pair<std::string, std::uint64_t>> want{{"a", 1}, {"a", 3}, {"a", 4}};
    BOOST_TEST(up.sent == want);
}

BOOST_AUTO_TEST_CASE(refused_readings_are_dropped_and_counted) {
    memory_queue q(1 << 20);
    fake_uplink up;
    q.push(make("a", 1));
    q.pump(up.fn());
    q.refused(1);
    BOOST_TEST(q.size() == 0U);
    BOOST_TEST(q.stats().dropped == 1U);
}

BOOST_AUTO_TEST_CASE(requeue_sends_in_flight_readings_again_in_order) {
    memory_queue q(1 << 20);
    fake_uplink up;
    q.push(make("a", 1));
    q.push(make("a", 2));
    q.pump(up.fn());
    q.requeue_inflight(); // a new uplink instance: the old one's mids mean nothing now
    q.acked(1);           // a late PUBACK from the old instance must not remove anything
    BOOST_TEST(q.size() == 2U);
    q.pump(up.fn());
    BOOST_TEST(up.sent.size() == 4U);
    BOOST_TEST(up.sent[2].second == 1U);
    BOOST_TEST(up.sent[3].second == 2U);
}
