// The path out (delivery_path) on a real uv loop with the daemon's queue on a real SQLite file,
// the real uplink and a real mosquitto: the order of a stop (PUBACKs, offline status, then the
// buffer's close keeps what got none), and a reload's replacement of the uplink (the old
// session ends before the next starts; the last settings win).
#include "buffer/inspect.hpp"
#include "daemon/gateway/delivery_path.hpp"
#include "tests/support/broker_fixture.hpp"
#include "tests/support/loop_test.hpp"
#include "tests/support/mqtt_observer.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/uplink_settings.hpp"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using mb::daemon::delivery_path;

namespace {

mb::model::reading reading_of(const std::string& device, double v) {
    mb::model::reading r;
    r.device = device;
    r.ts_ms = mb::common::real_clock().unix_ms();
    r.values.emplace_back("voltage_l1", v);
    return r;
}

// A path on a fresh buffer file, its uplink's connects and disconnects counted.
struct rig {
    uv_loop_t& loop;
    mbtest::temp_dir dir;
    int connects = 0;
    int disconnects = 0;
    std::unique_ptr<delivery_path> path;

    explicit rig(uv_loop_t& l)
        : loop(l) {
        mb::buffer::buffer_settings s;
        s.path = dir.path / "buffer.db";
        s.flush_interval = 100ms;
        auto opened = mb::buffer::open_delivery_queue(loop, s);
        BOOST_REQUIRE_MESSAGE(opened.queue, opened.error);
        delivery_path::callbacks cb;
        cb.on_connect = [this] { ++connects; };
        cb.on_disconnect = [this] { ++disconnects; };
        cb.on_start_failed = [](std::error_code ec) {
            BOOST_FAIL("the uplink did not start: " << ec.message());
        };
        path = std::make_unique<delivery_path>(loop, std::move(opened.queue), std::move(cb));
    }
    ~rig() {
        if (path) close();
    }
    rig(const rig&) = delete;
    rig& operator=(const rig&) = delete;
    rig(rig&&) = delete;
    rig& operator=(rig&&) = delete;

    // The stop's two steps, each awaited.
    void stop_uplink() {
        bool done = false;
        path->stop_uplink(5s, [&] { done = true; });
        BOOST_REQUIRE(mbtest::run_until(
            loop, [&] { return done; }, 8s));
    }
    void close() {
        bool closed = false;
        path->close([&] { closed = true; });
        mbtest::run_until(
            loop, [&] { return closed; }, 5s);
        path.reset();
    }
    [[nodiscard]] mb::buffer::inspect_result file() const {
        return mb::buffer::inspect_buffer(dir.path / "buffer.db");
    }
};

mb::bridge::uplink_settings with_prefix(int port, const std::string& prefix) {
    auto s = mbtest::uplink_settings_for(port);
    s.topic_prefix = prefix;
    s.commands = false;
    return s;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(delivery_path_tests, mbtest::on_loop)

BOOST_AUTO_TEST_CASE(a_stop_waits_for_the_pubacks_says_offline_and_the_close_keeps_the_rest) {
    mbtest::broker broker;
    mbtest::mqtt_observer obs(loop, broker.port(), "mb/gw1/#");
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return obs.up; }, 5s));
    rig r(loop);
    r.path->connect(with_prefix(broker.port(), "mb"), {});
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return r.connects == 1; }, 5s));
    for (int i = 0; i < 5; ++i)
        r.path->push(reading_of("a", 230 + i));
    // Sent once their seq reservation is on disk (milliseconds); what is still held back
    // when the stop begins is not sent any more (it stays in the buffer).
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return r.path->queue().inflight() > 0U; }, 5s));
    r.stop_uplink();
    // Every PUBACK came before the goodbye: nothing is left in flight, all five arrived, and
    // the offline status came after them.
    BOOST_TEST(r.path->queue().size() == 0U);
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return obs.count("mb/gw1/a/data") == 5 && obs.count("mb/gw1/status") >= 2; },
        5s));
    BOOST_TEST(obs.got.back().first == "mb/gw1/status");
    BOOST_TEST(obs.got.back().second.find(R"("state":"offline")") != std::string::npos);
    // The queue stays open for what a stopping source still hands over; nothing is sent.
    r.path->push(reading_of("a", 240));
    BOOST_TEST(r.path->queue().inflight() == 0U);
    r.close();
    const auto f = r.file();
    BOOST_REQUIRE_MESSAGE(f.ok(), f.error);
    BOOST_TEST(f.readings == 1U);
    obs.link->stop();
    mbtest::run_until(
        loop, [&] { return !obs.link->connected(); }, 2s);
}

BOOST_AUTO_TEST_CASE(a_stop_with_the_broker_gone_ends_at_once_and_keeps_everything) {
    mbtest::broker broker;
    rig r(loop);
    r.path->connect(with_prefix(broker.port(), "mb"), {});
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return r.connects == 1; }, 5s));
    broker.stop(SIGKILL);
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return r.disconnects == 1; }, 5s));
    for (int i = 0; i < 3; ++i)
        r.path->push(reading_of("a", 230 + i));
    const auto t0 = std::chrono::steady_clock::now();
    r.stop_uplink();
    const auto took = std::chrono::steady_clock::now() - t0;
    BOOST_TEST((took < 2s)); // no PUBACK can come: no wait for one
    r.close();
    const auto f = r.file();
    BOOST_REQUIRE_MESSAGE(f.ok(), f.error);
    BOOST_TEST(f.readings == 3U);
}

BOOST_AUTO_TEST_CASE(a_replaced_uplink_ends_its_session_before_the_last_one_asked_for_starts) {
    mbtest::broker broker;
    mbtest::mqtt_observer obs(loop, broker.port(), "+/gw1/#");
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return obs.up; }, 5s));
    rig r(loop);
    r.path->connect(with_prefix(broker.port(), "one"), {});
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return r.connects == 1; }, 5s));
    r.path->push(reading_of("a", 1));
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return obs.count("one/gw1/a/data") == 1 && r.path->queue().size() == 0; }, 5s));

    // Two reloads in a row: the first one's settings never get an uplink of their own.
    r.path->connect(with_prefix(broker.port(), "two"), {});
    BOOST_TEST(r.path->uplink() == nullptr); // the old one is still saying goodbye
    r.path->connect(with_prefix(broker.port(), "three"), {});
    r.path->push(reading_of("a", 2)); // waits in the queue meanwhile
    // Delivered, and its PUBACK (which may come after the observer has it) taken.
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return obs.count("three/gw1/a/data") == 1 && r.path->queue().size() == 0; },
        5s));
    BOOST_TEST(r.connects == 2);
    BOOST_TEST(obs.count("two/gw1/status") == 0U);
    // One client id, one session at a time: the old one's offline status came before the new
    // one's birth.
    std::vector<std::string> statuses;
    for (const auto& [topic, payload] : obs.got)
        if (topic.ends_with("/gw1/status"))
            statuses.push_back(
                topic.substr(0, topic.find('/')) +
                (payload.find("offline") != std::string::npos ? " offline" : " online"));
    const std::vector<std::string> order{"one online", "one offline", "three online"};
    BOOST_TEST(statuses == order, boost::test_tools::per_element());

    r.stop_uplink();
    r.path->connect(with_prefix(broker.port(), "four"), {}); // nothing starts after a stop
    BOOST_REQUIRE(r.path->uplink() != nullptr);
    BOOST_TEST(r.path->uplink()->topic_scheme().gateway_status() == "three/gw1/status");
    obs.link->stop();
    mbtest::run_until(
        loop, [&] { return !obs.link->connected(); }, 2s);
}

BOOST_AUTO_TEST_SUITE_END()
