// The in-memory delivery queue: seq per device, order, PUBACKs, the byte bound (oldest
// readings not in flight dropped, counted per device, announced as one gap per run), and
// readings refused for good (dropped, announced with reason "refused", the rest flowing on).
#define BOOST_TEST_MODULE buffer
#include "buffer/memory_queue.hpp"

#include <boost/test/unit_test.hpp>
#include <optional>
#include <string>
#include <vector>

using mb::buffer::memory_queue;
using mb::model::gap;
using mb::model::gap_reason;
using mb::model::publish_attempt;
using mb::model::reading;
using outcome = publish_attempt::outcome;

namespace {

reading make(const std::string& device, std::int64_t ts) {
    return reading{device, ts, 0, {{"voltage_l1", 230.1}, {"energy_import_total", 12345.67}}};
}

// A fake outlet: takes up to `room` items, numbering them from 1; refuses the readings of
// `refuse_device` for good.
struct fake_outlet final : mb::model::outlet {
    std::size_t room = 100;
    int next_mid = 1;
    std::string refuse_device;
    std::vector<std::pair<std::string, std::uint64_t>> sent; // device, seq
    std::vector<gap> gaps;

    publish_attempt take() {
        if (room == 0) return {};
        --room;
        return {outcome::sent, next_mid++, {}};
    }
    publish_attempt publish(const reading& r) override {
        if (r.device == refuse_device) return {outcome::refused, 0, "too large"};
        auto a = take();
        if (a.what == outcome::sent) sent.emplace_back(r.device, r.seq);
        return a;
    }
    publish_attempt publish(const gap& g) override {
        auto a = take();
        if (a.what == outcome::sent) gaps.push_back(g);
        return a;
    }
    [[nodiscard]] bool connected() const override { return true; }
};

using sent_list = std::vector<std::pair<std::string, std::uint64_t>>;

} // namespace

BOOST_AUTO_TEST_CASE(seq_counts_per_device_from_one) {
    memory_queue q(1 << 20);
    fake_outlet out;
    BOOST_TEST(q.push(make("a", 1)) == 1U);
    BOOST_TEST(q.push(make("b", 2)) == 1U);
    BOOST_TEST(q.push(make("a", 3)) == 2U);
    q.pump(out);
    const sent_list want{{"a", 1}, {"b", 1}, {"a", 2}};
    BOOST_TEST(out.sent == want);
    BOOST_TEST(q.inflight() == 3U);
}

BOOST_AUTO_TEST_CASE(window_full_keeps_the_rest_in_order) {
    memory_queue q(1 << 20);
    fake_outlet out;
    out.room = 2;
    for (int i = 0; i < 5; ++i)
        q.push(make("a", i));
    q.pump(out);
    BOOST_TEST(out.sent.size() == 2U);
    q.acked(1);
    out.room = 10;
    q.pump(out);
    BOOST_TEST(out.sent.size() == 5U);
    BOOST_TEST(out.sent.back().second == 5U);
    BOOST_TEST(q.size() == 4U); // one acknowledged
    BOOST_TEST(*q.stats().oldest_ts == 1);
}

BOOST_AUTO_TEST_CASE(acked_readings_leave_and_free_their_bytes) {
    memory_queue q(1 << 20);
    fake_outlet out;
    q.push(make("a", 1));
    BOOST_TEST(q.bytes() > 0U);
    q.pump(out);
    q.acked(1);
    BOOST_TEST(q.size() == 0U);
    BOOST_TEST(q.bytes() == 0U);
    BOOST_TEST(!q.stats().oldest_ts.has_value());
    q.acked(1); // a duplicate PUBACK changes nothing
    BOOST_TEST(q.size() == 0U);
}

BOOST_AUTO_TEST_CASE(past_the_byte_bound_the_oldest_unsent_go_as_one_gap_per_run) {
    const auto one = memory_queue::footprint(make("a", 0));
    memory_queue q(one * 4);
    fake_outlet out;
    out.room = 1;
    q.push(make("a", 1));
    q.pump(out); // seq 1 in flight: never dropped
    for (int i = 2; i <= 7; ++i)
        q.push(make("a", std::int64_t{i} * 10)); // over the bound: seq 2, 3, 4 … go, oldest first
    const auto s = q.stats();
    BOOST_TEST(s.dropped >= 3U);
    BOOST_TEST(s.dropped_by_device.at("a") == s.dropped);
    BOOST_TEST(q.bytes() <= one * 4);
    out.room = 100;
    q.pump(out);
    // One gap for the whole run, with the seqs and times of its first and last reading.
    BOOST_REQUIRE(out.gaps.size() == 1U);
    const auto& g = out.gaps.front();
    BOOST_TEST(g.device == "a");
    BOOST_TEST((g.reason == gap_reason::max_size));
    BOOST_TEST(g.from_seq == 2U);
    BOOST_TEST(g.to_seq == 1 + s.dropped);
    BOOST_TEST(g.from_ts == 20);
    BOOST_TEST(g.to_ts == static_cast<std::int64_t>(g.to_seq * 10));
    // What was not dropped arrives, in order, right after the gap's run.
    BOOST_TEST(out.sent.front().second == 1U);
    BOOST_TEST(out.sent[1].second == g.to_seq + 1);
    BOOST_TEST(out.sent.back().second == 7U);
}

BOOST_AUTO_TEST_CASE(refused_at_publish_is_dropped_announced_and_the_rest_flow_on) {
    memory_queue q(1 << 20);
    fake_outlet out;
    out.refuse_device = "big";
    q.push(make("big", 1));
    q.push(make("small", 2));
    q.push(make("big", 3));
    q.push(make("small", 4));
    q.pump(out);
    const sent_list want{{"small", 1}, {"small", 2}};
    BOOST_TEST(out.sent == want);
    // Both refused readings of "big" are one run: one gap.
    BOOST_REQUIRE(out.gaps.size() == 1U);
    BOOST_TEST(out.gaps[0].device == "big");
    BOOST_TEST((out.gaps[0].reason == gap_reason::refused));
    BOOST_TEST(out.gaps[0].from_seq == 1U);
    BOOST_TEST(out.gaps[0].to_seq == 2U);
    BOOST_TEST(q.stats().dropped_by_device.at("big") == 2U);
    BOOST_TEST(!q.stats().dropped_by_device.contains("small"));
    // The gap is a queue item: it leaves on its own PUBACK.
    BOOST_TEST(q.size() == 3U);
    for (int mid = 1; mid <= 3; ++mid)
        q.acked(mid);
    BOOST_TEST(q.size() == 0U);
}

BOOST_AUTO_TEST_CASE(refused_by_puback_is_dropped_and_announced) {
    memory_queue q(1 << 20);
    fake_outlet out;
    bool ready = false;
    q.on_ready([&] { ready = true; });
    q.push(make("a", 1));
    q.push(make("a", 2));
    q.pump(out);
    q.refused(1, "quota exceeded");
    BOOST_TEST(ready);
    BOOST_TEST(q.stats().dropped == 1U);
    q.pump(out);
    BOOST_REQUIRE(out.gaps.size() == 1U);
    BOOST_TEST(out.gaps[0].from_seq == 1U);
    BOOST_TEST(out.gaps[0].to_seq == 1U);
    q.acked(2);
    q.acked(3); // the gap's PUBACK
    BOOST_TEST(q.size() == 0U);
}

BOOST_AUTO_TEST_CASE(requeue_sends_in_flight_items_again_in_order) {
    memory_queue q(1 << 20);
    fake_outlet out;
    q.push(make("a", 1));
    q.push(make("a", 2));
    q.pump(out);
    q.requeue_inflight(); // a new uplink instance: the old one's mids mean nothing now
    BOOST_TEST(q.inflight() == 0U);
    q.acked(1); // a late PUBACK from the old instance must not remove anything
    BOOST_TEST(q.size() == 2U);
    q.pump(out);
    BOOST_TEST(out.sent.size() == 4U);
    BOOST_TEST(out.sent[2].second == 1U);
    BOOST_TEST(out.sent[3].second == 2U);
}
