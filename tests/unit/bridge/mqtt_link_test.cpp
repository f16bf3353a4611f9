// Component tests: mqtt_link on a real uv loop against a real mosquitto.
#include "bridge/errors.hpp"
#include "bridge/mqtt_link.hpp"
#include "broker_fixture.hpp"

#include <boost/test/unit_test.hpp>
#include <memory>
#include <optional>
#include <vector>

using namespace std::chrono_literals;
using namespace mb::bridge;

namespace {

link_settings local(int port, std::string id) {
    link_settings s;
    s.name = id;
    s.host = "127.0.0.1";
    s.port = port;
    s.client_id = std::move(id);
    s.keepalive = 10s;
    s.reconnect = {100ms, 400ms};
    s.stop_grace = 2s;
    return s;
}

// A subscribing link that records what arrives.
struct recorder {
    std::vector<std::pair<std::string, std::string>> got;
    bool up = false;
    std::unique_ptr<mqtt_link> link;

    recorder(uv_loop_t& loop, int port, const std::string& filter) {
        mqtt_link::callbacks cb;
        cb.on_connect = [this, filter] {
            up = true;
            BOOST_TEST(!link->subscribe(filter, 1));
        };
        cb.on_message = [this](const incoming_message& m) {
            got.emplace_back(std::string(m.topic), std::string(m.payload));
        };
        link = std::make_unique<mqtt_link>(loop, local(port, "recorder"), cb);
        BOOST_REQUIRE(!link->start());
    }
    [[nodiscard]] std::optional<std::string> find(const std::string& topic) const {
        for (const auto& [t, p] : got)
            if (t == topic) return p;
        return std::nullopt;
    }
};

} // namespace

BOOST_AUTO_TEST_SUITE(mqtt_link_component)

BOOST_AUTO_TEST_CASE(connect_publish_puback_stop) {
    mbtest::broker broker;
    uv_loop_t loop;
    uv_loop_init(&loop);
    {
        recorder rec(loop, broker.port(), "t/#");
        bool up = false;
        bool stopped = false;
        std::vector<int> acked;
        mqtt_link::callbacks cb;
        cb.on_connect = [&] { up = true; };
        cb.on_ack = [&](int mid, delivery d, bool windowed) {
            BOOST_TEST((d == delivery::ok));
            BOOST_TEST(windowed);
            acked.push_back(mid);
        };
        cb.on_stopped = [&] { stopped = true; };
        mqtt_link link(loop, local(broker.port(), "pub"), cb);
        BOOST_TEST(link.publish("t/x", "early", {}).value() ==
                   static_cast<int>(link_errc::not_connected));
        BOOST_REQUIRE(!link.start());
        BOOST_REQUIRE(mbtest::run_until(
            loop, [&] { return up && rec.up; }, 5s));
        BOOST_TEST(link.connected());

        int mid = 0;
        BOOST_REQUIRE(!link.publish("t/x", R"({"v":1})", {}, &mid));
        BOOST_TEST(link.inflight() == 1U);
        BOOST_REQUIRE(mbtest::run_until(
            loop, [&] { return !acked.empty(); }, 5s));
        BOOST_TEST(acked.front() == mid);
        BOOST_TEST(link.inflight() == 0U);
        BOOST_REQUIRE(mbtest::run_until(
            loop, [&] { return rec.find("t/x").has_value(); }, 5s));
        BOOST_TEST(*rec.find("t/x") == R"({"v":1})");

        link.stop();
        BOOST_REQUIRE(mbtest::run_until(
            loop, [&] { return stopped; }, 5s));
        BOOST_TEST(!link.connected());
        rec.link->stop();
        mbtest::run_until(
            loop, [] { return false; }, 50ms);
    }
    BOOST_REQUIRE_EQUAL(mbtest::drain_and_close(loop), 0);
}

BOOST_AUTO_TEST_CASE(window_bounds_what_is_handed_over) {
    mbtest::broker broker;
    uv_loop_t loop;
    uv_loop_init(&loop);
    {
        bool up = false;
        int acks = 0;
        mqtt_link::callbacks cb;
        cb.on_connect = [&] { up = true; };
        cb.on_ack = [&](int, delivery, bool windowed) { acks += windowed ? 1 : 0; };
        auto s = local(broker.port(), "window");
        s.max_inflight = 3;
        mqtt_link link(loop, s, cb);
        BOOST_REQUIRE(!link.start());
        BOOST_REQUIRE(mbtest::run_until(
            loop, [&] { return up; }, 5s));
        for (int i = 0; i < 3; ++i)
            BOOST_REQUIRE(!link.publish("w", "x", {}));
        BOOST_TEST(link.window_room() == 0U);
        BOOST_TEST(link.publish("w", "x", {}) == make_error_code(link_errc::window_full));
        publish_options control;
        control.windowed = false;
        BOOST_TEST(!link.publish("w", "control", control)); // control messages still go
        BOOST_REQUIRE(mbtest::run_until(
            loop, [&] { return acks == 3; }, 5s));
        BOOST_TEST(link.window_room() == 3U);
    }
    BOOST_REQUIRE_EQUAL(mbtest::drain_and_close(loop), 0);
}

BOOST_AUTO_TEST_CASE(broker_restart_reconnects_within_backoff) {
    mbtest::broker broker;
    uv_loop_t loop;
    uv_loop_init(&loop);
    {
        int connects = 0;
        int losses = 0;
        mqtt_link::callbacks cb;
        cb.on_connect = [&] { ++connects; };
        cb.on_disconnect = [&](std::error_code) { ++losses; };
        mqtt_link link(loop, local(broker.port(), "restart"), cb);
        BOOST_REQUIRE(!link.start());
        BOOST_REQUIRE(mbtest::run_until(
            loop, [&] { return connects == 1; }, 5s));

        broker.stop();
        BOOST_REQUIRE(mbtest::run_until(
            loop, [&] { return losses == 1; }, 5s));
        BOOST_TEST(!link.connected());
        BOOST_TEST(link.publish("t", "x", {}) == make_error_code(link_errc::not_connected));
        // Refused connects while it is down: retries back off (100 ms .. 400 ms here).
        mbtest::run_until(
            loop, [] { return false; }, 1s);
        BOOST_TEST(link.attempt_for_test() >= 2U);

        const auto restarted = std::chrono::steady_clock::now();
        broker.start();
        BOOST_REQUIRE(mbtest::run_until(
            loop, [&] { return connects == 2; }, 5s));
        BOOST_TEST((std::chrono::steady_clock::now() - restarted < 1500ms));
        BOOST_TEST(link.connected());
    }
    BOOST_REQUIRE_EQUAL(mbtest::drain_and_close(loop), 0);
}

BOOST_AUTO_TEST_CASE(bad_password_keeps_retrying_at_the_cap) {
    const std::string pw_dir = "/tmp/mb-pw-" + std::to_string(::getpid());
    std::filesystem::create_directories(pw_dir);
    const std::string pw = pw_dir + "/passwd";
    BOOST_REQUIRE_EQUAL(std::system(("mosquitto_passwd -b -c " + pw + " gw secret").c_str()), 0);
    mbtest::broker broker("allow_anonymous false\npassword_file " + pw + "\n");
    uv_loop_t loop;
    uv_loop_init(&loop);
    {
        bool up = false;
        mqtt_link::callbacks cb;
        cb.on_connect = [&] { up = true; };
        auto s = local(broker.port(), "auth");
        s.username = "gw";
        s.password = "wrong";
        mqtt_link link(loop, s, cb);
        BOOST_REQUIRE(!link.start());
        mbtest::run_until(
            loop, [] { return false; }, 1200ms);
        BOOST_TEST(!up);
        BOOST_TEST(link.attempt_for_test() > cap_attempt(s.reconnect)); // jumped to the cap

        bool up2 = false;
        mqtt_link::callbacks cb2;
        cb2.on_connect = [&] { up2 = true; };
        s.password = "secret";
        s.client_id = "auth-ok";
        mqtt_link good(loop, s, cb2);
        BOOST_REQUIRE(!good.start());
        BOOST_TEST(mbtest::run_until(
            loop, [&] { return up2; }, 5s));
    }
    BOOST_REQUIRE_EQUAL(mbtest::drain_and_close(loop), 0);
    std::filesystem::remove_all(pw_dir);
}

BOOST_AUTO_TEST_CASE(hostname_is_resolved_off_the_loop) {
    mbtest::broker broker;
    uv_loop_t loop;
    uv_loop_init(&loop);
    {
        bool up = false;
        mqtt_link::callbacks cb;
        cb.on_connect = [&] { up = true; };
        auto s = local(broker.port(), "byname");
        s.host = "localhost";
        mqtt_link link(loop, s, cb);
        BOOST_REQUIRE(!link.start());
        // localhost may resolve to ::1 first, where this broker does not listen: then the
        // retry takes the next attempt; either way it must come up.
        BOOST_TEST(mbtest::run_until(
            loop, [&] { return up; }, 5s));
    }
    BOOST_REQUIRE_EQUAL(mbtest::drain_and_close(loop), 0);
}

BOOST_AUTO_TEST_SUITE_END()
