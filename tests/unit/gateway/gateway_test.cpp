// The gateway as a whole on a real uv loop: a real mosquitto (tests/support/broker_fixture),
// the real SQLite buffer in a temporary directory, the real uplink, and test sources made by
// their own catalog. What the device directory tells the broker (meta of every source's
// devices, cleared when a reload drops one, a relayed name given to a configured device),
// where a command goes, and the order a stop takes (docs/command-line.md#run).
#include "buffer/inspect.hpp"
#include "daemon/gateway/gateway.hpp"
#include "tests/support/broker_fixture.hpp"
#include "tests/support/loop_test.hpp"
#include "tests/support/mqtt_observer.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/gateway/test_source.hpp"

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <fmt/format.h>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using mbtest::bus_list;

namespace {

const std::string meta_prefix = "mb/gw1/";

std::int64_t now_ms() {
    return mb::common::real_clock().unix_ms();
}

// A broker, a buffer directory, the test catalog and the gateway on the test's loop.
struct rig {
    uv_loop_t& loop;
    mbtest::broker broker;
    mbtest::temp_dir dir;
    mbtest::test_sources sources;
    mbtest::mqtt_observer obs;
    std::unique_ptr<mb::daemon::gateway> gw;
    bool stopped = false;

    explicit rig(uv_loop_t& l)
        : loop(l)
        , obs(l, broker.port(), "mb/gw1/#") {
        BOOST_REQUIRE(mbtest::run_until(
            loop, [&] { return obs.up; }, 5s));
    }
    ~rig() {
        if (gw && !stopped) { // a test that failed half-way: never throw from here
            gw->stop([this] { stopped = true; });
            mbtest::run_until(
                loop, [&] { return stopped; }, 12s);
            gw.reset();
        }
        obs.link->stop();
        mbtest::run_until(
            loop, [&] { return !obs.link->connected(); }, 2s);
    }
    rig(const rig&) = delete;
    rig& operator=(const rig&) = delete;
    rig(rig&&) = delete;
    rig& operator=(rig&&) = delete;

    [[nodiscard]] mb::config::config config_of(const bus_list& buses) const {
        auto cfg = mbtest::config_of(buses);
        cfg.source = dir.path / "meterbridge.toml";
        cfg.gateway.id = "gw1";
        cfg.uplink.url.host = "127.0.0.1";
        cfg.uplink.url.port = broker.port();
        cfg.uplink.url.text = fmt::format("mqtt://127.0.0.1:{}", broker.port());
        cfg.uplink.client_id = "meterbridge-gw1";
        cfg.uplink.topic_prefix = "mb";
        cfg.buffer.path = dir.path / "buffer.db";
        cfg.buffer.flush_interval = 100ms;
        return cfg;
    }

    void start(const bus_list& buses) {
        gw = std::make_unique<mb::daemon::gateway>(loop, config_of(buses), sources.catalog());
        gw->start();
        BOOST_REQUIRE(mbtest::run_until(
            loop, [&] { return gw->summary().ends_with("uplink connected"); }, 5s));
    }
    void stop() {
        gw->stop([this] { stopped = true; });
        BOOST_REQUIRE(mbtest::run_until(
            loop, [&] { return stopped; }, 12s));
        gw.reset();
    }

    [[nodiscard]] mbtest::test_source& source(std::string_view name) const {
        return sources.live(name);
    }
    [[nodiscard]] std::optional<std::string> meta(const std::string& device) const {
        return obs.last(meta_prefix + device + "/meta");
    }

    // A command on {p}/{gw}/<device>/cmd; returns its answer, or "" when none came.
    std::string command(const std::string& device, const std::string& id, const std::string& body) {
        const auto result = meta_prefix + device + "/cmd/result";
        const auto tag = fmt::format(R"("id":"{}")", id);
        const auto answer = [&] {
            return std::ranges::find_if(obs.got, [&](const auto& m) {
                return m.first == result && m.second.find(tag) != std::string::npos;
            });
        };
        obs.publish(meta_prefix + device + "/cmd", fmt::format(R"({{{},{}}})", tag, body));
        if (!mbtest::run_until(
                loop, [&] { return answer() != obs.got.end(); }, 5s))
            return "";
        return answer()->second;
    }
    // Until the broker has granted the uplink's command subscription: from then on a command
    // published arrives (`device` names what the test commands next).
    void wait_for_commands(const std::string& device) {
        BOOST_REQUIRE_MESSAGE(mbtest::run_until(
                                  loop, [&] { return gw->commands_ready(); }, 5s),
                              "no command subscription granted before commanding " << device);
    }
};

const bus_list two_buses{{"b1", {"a1", "a2"}}, {"b2", {"c1"}}};

} // namespace

BOOST_FIXTURE_TEST_SUITE(gateway_tests, mbtest::on_loop)

BOOST_AUTO_TEST_CASE(every_source_s_devices_are_published_and_a_command_reaches_its_owner) {
    rig r(loop);
    r.start(two_buses);
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return r.meta("a1") && r.meta("a2") && r.meta("c1"); }, 5s));
    BOOST_TEST(r.meta("a1")->find(R"("bus":"test[b1]")") != std::string::npos);
    BOOST_TEST(r.meta("c1")->find(R"("bus":"test[b2]")") != std::string::npos);
    r.wait_for_commands("c1");

    BOOST_TEST(r.command("c1", "w1", R"("set":{"do_1":1})") == R"({"id":"w1","ok":true})");
    BOOST_TEST(r.command("a2", "r1", R"("read":["voltage_l1"])") ==
               R"({"id":"r1","ok":true,"values":{"voltage_l1":230.5}})");
    const std::vector<std::string> to_b1{"read a2 voltage_l1"};
    const std::vector<std::string> to_b2{"write c1 do_1=1"};
    BOOST_TEST(r.source("test[b1]").commands == to_b1, boost::test_tools::per_element());
    BOOST_TEST(r.source("test[b2]").commands == to_b2, boost::test_tools::per_element());

    // A device no source has: the downlink answers, no source sees it.
    BOOST_TEST(r.command("zz", "u1", R"("set":{"do_1":1})") ==
               R"({"id":"u1","ok":false,"error":"zz: unknown device"})");
    BOOST_TEST(r.source("test[b1]").commands.size() == 1U);
    BOOST_TEST(r.source("test[b2]").commands.size() == 1U);
}

BOOST_AUTO_TEST_CASE(a_reload_clears_a_dropped_device_and_moves_a_moved_one) {
    rig r(loop);
    r.start(two_buses);
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return r.meta("a2").has_value(); }, 5s));
    // a2 is dropped, a1 moves from b1 to b2.
    const auto waiting = r.gw->apply(r.config_of({{"b1", {}}, {"b2", {"c1", "a1"}}}));
    BOOST_TEST(waiting.empty());
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return r.meta("a2") == ""; }, 5s)); // its retained meta cleared
    BOOST_REQUIRE(mbtest::run_until(
        loop,
        [&] {
            return r.meta("a1") && r.meta("a1")->find(R"("bus":"test[b2]")") != std::string::npos;
        },
        5s));
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return r.source("test[b2]").started; }, 5s)); // b2 restarted: a1 is new
    r.wait_for_commands("c1");
    BOOST_TEST(r.command("a1", "m1", R"("set":{"do_1":0})") == R"({"id":"m1","ok":true})");
    BOOST_TEST(r.source("test[b2]").commands == std::vector<std::string>{"write a1 do_1=0"},
               boost::test_tools::per_element());
    BOOST_TEST(r.source("test[b1]").commands.empty());
    BOOST_TEST(r.command("a2", "m2", R"("set":{"do_1":0})") ==
               R"({"id":"m2","ok":false,"error":"a2: unknown device"})");
}

BOOST_AUTO_TEST_CASE(a_name_is_one_device_s_a_relay_may_not_take_it_and_a_reload_ends_it) {
    rig r(loop);
    r.start(two_buses);
    auto& b2 = r.source("test[b2]");
    BOOST_TEST(!b2.relay("a1")); // b1's device: the gateway refuses the name
    BOOST_REQUIRE(b2.relay("r1"));
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return r.meta("r1").has_value(); }, 5s));
    BOOST_TEST(r.meta("r1")->find(R"("source":"native")") != std::string::npos);

    // The configuration now names a device r1 on b1: b2's relay of that name ends (b2 itself
    // keeps running), its retained meta is cleared, and r1 is b1's device from then on.
    r.gw->apply(r.config_of({{"b1", {"a1", "a2", "r1"}}, {"b2", {"c1"}}}));
    BOOST_TEST(&r.source("test[b2]") == &b2);
    BOOST_TEST(b2.ended == std::vector<std::string>{"r1"}, boost::test_tools::per_element());
    BOOST_REQUIRE(mbtest::run_until(
        loop,
        [&] {
            return r.obs.has("mb/gw1/r1/meta", "") && r.meta("r1") &&
                   r.meta("r1")->find(R"("bus":"test[b1]")") != std::string::npos;
        },
        5s));
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return r.source("test[b1]").started; }, 5s));
    r.wait_for_commands("a1");
    BOOST_TEST(r.command("r1", "n1", R"("set":{"do_1":1})") == R"({"id":"n1","ok":true})");
    BOOST_TEST(r.source("test[b1]").commands == std::vector<std::string>{"write r1 do_1=1"},
               boost::test_tools::per_element());
    BOOST_TEST(b2.commands.empty());
}

BOOST_AUTO_TEST_CASE(a_stop_asks_the_sources_says_goodbye_beside_them_then_closes_the_buffer) {
    // docs/command-line.md#run: stop polling, wait for the PUBACKs, publish the offline status,
    // disconnect, close the buffer. The uplink does not wait for a bus still inside a request;
    // the buffer closes only once every source has stopped, so that what a source hands over
    // while it stops is kept.
    rig r(loop);
    r.start({{"b1", {"a1"}}});
    auto& b1 = r.source("test[b1]");
    b1.hand_over("a1", 230.0, now_ms());
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return r.obs.count("mb/gw1/a1/data") == 1; }, 5s));

    b1.hold_stop = true; // its bus is inside a request
    r.gw->stop([&] { r.stopped = true; });
    BOOST_TEST(b1.stop_asked); // the sources first
    BOOST_REQUIRE(mbtest::run_until(
        loop,
        [&] {
            const auto s = r.obs.last("mb/gw1/status");
            return s && s->find(R"("state":"offline")") != std::string::npos;
        },
        5s));                            // the uplink's goodbye, the source still stopping
    b1.hand_over("a1", 231.0, now_ms()); // the request it was in ends with a reading
    // Nothing ends the stop while a source still stops (the grace is 9 s; the rest takes
    // milliseconds once the uplink is done).
    BOOST_TEST(!mbtest::run_until(
        loop, [&] { return r.stopped; }, 1s));
    b1.finish_stop();
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return r.stopped; }, 5s));
    r.gw.reset();

    // The first reading was acknowledged before the goodbye; the last was kept, not sent, and
    // the buffer's close made it durable.
    BOOST_TEST(r.obs.count("mb/gw1/a1/data") == 1U);
    const auto file = mb::buffer::inspect_buffer(r.dir.path / "buffer.db");
    BOOST_REQUIRE_MESSAGE(file.ok(), file.error);
    BOOST_TEST(file.readings == 1U);
    BOOST_TEST(file.gaps == 0U);
    BOOST_REQUIRE(file.devices.size() == 1U);
    BOOST_TEST(file.devices.front().name == "a1");
    BOOST_TEST(file.devices.front().readings == 1U);
}

BOOST_AUTO_TEST_CASE(a_gateway_stopped_before_it_started_says_so_at_once) {
    rig r(loop);
    r.gw = std::make_unique<mb::daemon::gateway>(loop, r.config_of({{"b1", {"a1"}}}),
                                                 r.sources.catalog());
    r.gw->stop([&] { r.stopped = true; });
    BOOST_TEST(r.stopped);
    BOOST_TEST(r.sources.made.empty()); // no source was made, so none to stop
    r.gw.reset();
}

BOOST_AUTO_TEST_SUITE_END()
