// The forwarder between the delivery queue and the uplink, on a real uv loop: against a real
// mosquitto (readings and gaps in one in-flight window, a reading larger than the broker's
// maximum packet size refused with a gap while the rest flow on, drain before stop), and with
// fake outlets for the receipts of a replaced uplink.
#include "bridge/uplink.hpp"
#include "buffer/forwarder.hpp"
#include "tests/support/broker_fixture.hpp"
#include "tests/support/loop_test.hpp"
#include "tests/support/mqtt_observer.hpp"
#include "tests/support/uplink_settings.hpp"
#include "tests/unit/buffer/fake_outlet.hpp"
#include "tests/unit/buffer/temp_buffer.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

using namespace std::chrono_literals;
namespace model = mb::model;
using mb::buffer::forwarder;

namespace {

// Each test's loop; it is left with nothing open.
// Readings of this run: ts is `offset` ms after the test binary started (older ones would be
// past max_age and dropped as such).
const std::int64_t t0 = mb::common::real_clock().unix_ms();

model::reading make(const std::string& device, std::size_t values, std::int64_t offset) {
    model::reading r;
    r.device = device;
    r.ts_ms = t0 + offset;
    for (std::size_t i = 0; i < values; ++i)
        r.values.emplace_back(fmt::format("harmonic_voltage_l1_h{}", 2 + i % 30),
                              1.25 + static_cast<double>(i));
    return r;
}

// The queue, the forwarder and a real uplink wired as the gateway wires them; connected when
// made.
struct rig {
    mbtest::temp_dir dir;
    std::unique_ptr<mb::buffer::sqlite_queue> q;
    mb::buffer::sqlite_queue& queue;
    std::unique_ptr<mb::bridge::uplink> up;
    forwarder fwd; // after up: it detaches from the uplink before the uplink goes
    bool stopped = false;

    rig(uv_loop_t& loop, int port)
        : q(mbtest::open_queue(loop, mbtest::settings_in(dir)))
        , queue(*q)
        , fwd(loop, queue) {
        mb::bridge::uplink::callbacks cb;
        cb.on_stopped = [this] { stopped = true; };
        up = std::make_unique<mb::bridge::uplink>(loop, mbtest::uplink_settings_for(port), cb,
                                                  mb::bridge::command_handler{});
        fwd.attach(up.get());
        BOOST_REQUIRE(!up->start());
        BOOST_REQUIRE(mbtest::run_until(
            loop, [this] { return up->connected(); }, 5s));
    }
    void push(model::reading r) {
        queue.push(std::move(r));
        fwd.pump();
    }
    // Stops the uplink and waits until it has.
    void stop(uv_loop_t& loop) {
        up->stop();
        BOOST_REQUIRE(mbtest::run_until(
            loop, [this] { return stopped; }, 5s));
    }
};

} // namespace

BOOST_FIXTURE_TEST_CASE(readings_larger_than_the_broker_takes_leave_a_refused_gap_the_rest_flow,
                        mbtest::on_loop) {
    // mosquitto tells MQTT 5 clients its Maximum Packet Size in the CONNACK.
    mbtest::broker broker("allow_anonymous true\nmax_packet_size 600\n");
    mbtest::mqtt_observer obs(loop, broker.port(), "mb/gw1/#");
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return obs.up; }, 5s));
    rig r(loop, broker.port());
    for (int i = 0; i < 3; ++i) {
        r.push(make("big", 60, 1000 + i));  // ~2 KB of JSON: over the limit
        r.push(make("small", 2, 1000 + i)); // fits
    }
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return obs.count("mb/gw1/small/data") == 3 && r.queue.size() == 0; }, 5s));
    // Every seq of "big" is explained by a gap of reason "refused", with its reading's ts
    // (each refusal is announced as it happens, so here one gap per reading).
    std::vector<std::uint64_t> explained;
    for (const auto& [topic, payload] : obs.got) {
        if (topic != "mb/gw1/big/gap") continue;
        const auto gap = nlohmann::json::parse(payload);
        BOOST_TEST(gap["reason"] == "refused");
        for (auto seq = gap["from_seq"].get<std::uint64_t>();
             seq <= gap["to_seq"].get<std::uint64_t>(); ++seq) {
            explained.push_back(seq);
            if (seq == gap["from_seq"]) BOOST_TEST(gap["from_ts"] == t0 + 999 + seq);
        }
    }
    const std::vector<std::uint64_t> all{1, 2, 3};
    BOOST_TEST(explained == all, boost::test_tools::per_element());
    BOOST_TEST(obs.count("mb/gw1/big/data") == 0U);
    const auto s = r.queue.stats();
    BOOST_TEST(s.dropped == 3U);
    BOOST_TEST(s.dropped_by_device.at("big") == 3U);
    BOOST_TEST(!s.dropped_by_device.contains("small"));
    // The uplink is still connected: a refusal costs the reading, never the link.
    BOOST_TEST(r.up->connected());
    r.stop(loop);
    obs.link->stop();
}

BOOST_FIXTURE_TEST_CASE(drain_waits_for_every_puback, mbtest::on_loop) {
    mbtest::broker broker;
    rig r(loop, broker.port());
    for (int i = 0; i < 20; ++i)
        r.push(make("a", 3, i));
    // The first readings wait for their seq reservation to be on disk (milliseconds).
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return r.queue.inflight() > 0U; }, 5s));
    std::optional<mb::buffer::drain_result> end;
    r.fwd.drain(5s, [&](const mb::buffer::drain_result& d) { end = d; });
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return end.has_value(); }, 6s));
    BOOST_TEST(end->left == 0U);
    BOOST_TEST((end->how == mb::buffer::drain_result::ending::drained));
    BOOST_TEST(r.queue.size() == 0U);
    r.push(make("a", 3, 99)); // after the drain nothing is pumped any more
    BOOST_TEST(r.queue.inflight() == 0U);
    r.stop(loop);
}

BOOST_FIXTURE_TEST_CASE(drain_of_a_disconnected_uplink_ends_at_once_with_what_is_left,
                        mbtest::on_loop) {
    mbtest::broker broker;
    rig r(loop, broker.port());
    broker.stop(SIGKILL);
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return !r.up->connected(); }, 5s));
    r.push(make("a", 3, 1));
    std::optional<mb::buffer::drain_result> end;
    r.fwd.drain(60s, [&](const mb::buffer::drain_result& d) { end = d; });
    BOOST_REQUIRE(end.has_value());   // no PUBACK can come: no need to wait
    BOOST_TEST(r.queue.size() == 1U); // kept, not acknowledged
    r.stop(loop);
}

BOOST_FIXTURE_TEST_CASE(a_drain_says_how_it_ended_and_after_how_long, mbtest::on_loop) {
    // The stop's log line tells these apart: the outlet down from the start (nothing to wait
    // for), going down while the drain waits, and the wait running out with the outlet up.
    using ending = mb::buffer::drain_result::ending;
    const auto drain_with = [&](bool up_at_start, std::chrono::milliseconds wait,
                                const std::function<void(mbtest::fake_outlet&)>& meanwhile) {
        mbtest::temp_dir dir;
        auto q = mbtest::open_queue(loop, mbtest::settings_in(dir));
        mbtest::fake_outlet out;
        out.room = 4;
        forwarder fwd(loop, *q);
        fwd.attach(&out);
        q->push(make("a", 3, 1));
        q->push(make("a", 3, 2));
        fwd.pump();
        BOOST_REQUIRE(mbtest::run_until(
            loop, [&] { return q->inflight() == 2U; }, 5s));
        out.up = up_at_start;
        std::optional<mb::buffer::drain_result> end;
        fwd.drain(wait, [&](const mb::buffer::drain_result& d) { end = d; });
        meanwhile(out);
        if (!out.up) out.receipts->disconnected();
        BOOST_REQUIRE(mbtest::run_until(
            loop, [&] { return end.has_value(); }, 5s));
        return *end;
    };
    const auto nothing = [](mbtest::fake_outlet& /*out*/) {};
    auto d = drain_with(false, 60s, nothing);
    BOOST_TEST((d.how == ending::link_down));
    BOOST_TEST(d.left == 2U);
    BOOST_TEST(d.waited.count() < 1000);

    d = drain_with(true, 60s, [&](mbtest::fake_outlet& out) {
        mbtest::run_until(
            loop, [] { return false; }, 100ms);
        out.up = false; // the link drops while the drain waits
    });
    BOOST_TEST((d.how == ending::link_lost));
    BOOST_TEST(d.left == 2U);
    BOOST_TEST(d.waited.count() >= 90); // libuv's loop time is cached: a few ms early

    d = drain_with(true, 200ms, nothing);
    BOOST_TEST((d.how == ending::deadline));
    BOOST_TEST(d.left == 2U);
    BOOST_TEST(d.waited.count() >= 190);
}

namespace {

struct counting_outlet final : model::outlet {
    int next_mid = 1;
    int sent = 0;
    model::delivery_receipts* receipts = nullptr;
    model::publish_attempt publish(const model::reading& /*r*/) override {
        ++sent;
        return {model::publish_attempt::outcome::sent, next_mid++, {}};
    }
    model::publish_attempt publish(const model::gap& /*g*/) override {
        ++sent;
        return {model::publish_attempt::outcome::sent, next_mid++, {}};
    }
    [[nodiscard]] bool connected() const override { return true; }
    void report_to(model::delivery_receipts* r) override { receipts = r; }
};

} // namespace

BOOST_FIXTURE_TEST_CASE(a_replaced_outlet_reports_to_nobody_and_its_flight_is_sent_again,
                        mbtest::on_loop) {
    mbtest::temp_dir dir;
    auto queue = mbtest::open_queue(loop, mbtest::settings_in(dir));
    auto& q = *queue;
    counting_outlet old_out;
    counting_outlet new_out;
    {
        forwarder f(loop, q);
        f.attach(&old_out);
        BOOST_TEST(old_out.receipts == &f);
        q.push(make("a", 1, 1));
        q.push(make("a", 1, 2));
        f.pump();
        // Sent once their seq reservation is on disk (the queue then pumps by itself).
        BOOST_REQUIRE(mbtest::run_until(
            loop, [&] { return old_out.sent == 2; }, 5s));
        f.attach(&new_out);
        // The old one (an uplink still stopping after a reload) cannot acknowledge mid 1 of
        // its libmosquitto instance: it reports to nobody.
        BOOST_TEST(old_out.receipts == nullptr);
        BOOST_TEST(new_out.receipts == &f);
        BOOST_TEST(q.size() == 2U);
        new_out.receipts->connected(); // pumps on the next iteration
        BOOST_REQUIRE(mbtest::run_until(
            loop, [&] { return new_out.sent == 2; }, 2s));
        new_out.receipts->acked(1);
        new_out.receipts->acked(2);
        BOOST_TEST(q.size() == 0U);
    }
    // A forwarder gone leaves its outlet reporting to nobody.
    BOOST_TEST(new_out.receipts == nullptr);
}
