// Component tests: the uplink on a real uv loop against a real mosquitto, observed by an
// independent client (mbtest::mqtt_observer).
#include "bridge/uplink.hpp"
#include "tests/support/broker_fixture.hpp"
#include "tests/support/mqtt_observer.hpp"
#include "tests/support/uplink_settings.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

using namespace std::chrono_literals;
using namespace mb::bridge;
namespace model = mb::model;

namespace {

// Each test's broker and loop; the loop is left with nothing open.
struct broker_and_loop {
    mbtest::broker broker;
    uv_loop_t loop{};
    broker_and_loop() { mbtest::init_loop(loop); }
    void teardown() { BOOST_REQUIRE_EQUAL(mbtest::drain_and_close(loop), 0); }
};

// The test's wall clock: every status says this time.
struct fixed_clock final : mb::common::clock {
    [[nodiscard]] std::int64_t unix_ms() const override { return 1764095000000; }
    [[nodiscard]] std::chrono::steady_clock::time_point steady() const override {
        return std::chrono::steady_clock::now();
    }
};

// What the uplink reports about the readings it sent (the forwarder, in the daemon).
struct receipt_log final : model::delivery_receipts {
    std::vector<int> acks;
    std::vector<int> refusals;
    int connects = 0;
    void acked(int mid) override { acks.push_back(mid); }
    void refused(int mid, std::string_view /*reason*/) override { refusals.push_back(mid); }
    void connected() override { ++connects; }
    void disconnected() override {}
};

model::device_info incomer() {
    model::device_info d;
    d.name = "incomer";
    d.profile = "acrel-adw300";
    d.vendor = "Acrel";
    d.model = "ADW300";
    d.source = "rtu";
    d.bus = "rs485-1";
    d.unit = 1;
    d.interval_ms = 10000;
    d.units = {{"do_1", "1"}, {"voltage_l1", "V"}};
    d.writable = {{"do_1", {0.0, 1.0}}};
    return d;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(uplink_component, broker_and_loop)

BOOST_AUTO_TEST_CASE(birth_meta_reading_command_and_clean_stop) {
    mbtest::mqtt_observer obs(loop, broker.port(), "mb/gw1/#");
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return obs.up; }, 5s));

    receipt_log receipts;
    const auto& acked = receipts.acks;
    bool up = false;
    bool stopped = false;
    uplink::callbacks cb;
    cb.on_connect = [&] { up = true; };
    cb.on_stopped = [&] { stopped = true; };
    const fixed_clock clock;
    cb.clock = &clock;
    std::vector<std::string> writes;
    command_handler h;
    h.write = [&](const std::string& dev, const model::named_values& v,
                  const command_handler::done_fn& done) {
        writes.push_back(dev + ":" + v.at(0).first);
        done({true, {}, {}});
    };
    // read never answers: the uplink's timeout does
    h.read = [](const std::string&, const std::vector<std::string>&,
                const command_handler::done_fn&) {};
    uplink up_link(loop, mbtest::uplink_settings_for(broker.port()), cb, h);
    up_link.report_to(&receipts);
    up_link.set_devices({incomer()});
    model::device_status st;
    st.device = "incomer";
    st.state = model::device_state::online;
    st.ts_ms = 1764095000123;
    st.polls = 3;
    up_link.publish_status(st);
    BOOST_REQUIRE(!up_link.start());
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return up; }, 5s));

    model::reading r;
    r.device = "incomer";
    r.ts_ms = 1764095000123;
    r.seq = 1;
    r.values = {{"voltage_l1", 230.1}};
    const auto res = up_link.publish(r);
    BOOST_REQUIRE(res.what == model::publish_attempt::outcome::sent);
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return !acked.empty(); }, 5s));
    BOOST_TEST(acked.front() == res.mid);
    BOOST_TEST(receipts.refusals.empty());
    BOOST_TEST(receipts.connects == 1); // the receipts hear the connect too

    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return obs.last("mb/gw1/incomer/data").has_value(); }, 5s));
    BOOST_TEST(*obs.last("mb/gw1/incomer/data") ==
               R"({"ts":1764095000123,"seq":1,"values":{"voltage_l1":230.1}})");
    BOOST_TEST(*obs.last("mb/gw1/status") ==
               R"({"state":"online","ts":1764095000000,"version":"0.1.0","devices":1,)"
               R"("oversize":0,"buffer":{"readings":0,"oldest_ts":null,"dropped":0}})");
    BOOST_TEST(*obs.last("mb/gw1/incomer/meta") == meta_payload(incomer()));
    BOOST_TEST(*obs.last("mb/gw1/incomer/status") == status_payload(st));

    // Commands: accepted, refused, unknown device, timed out.
    obs.publish("mb/gw1/incomer/cmd", R"({"id":"c-17","set":{"do_1":1}})");
    obs.publish("mb/gw1/incomer/cmd", R"({"id":"c-18","set":{"do_9":1}})");
    obs.publish("mb/gw1/nope/cmd", R"({"id":5,"read":["voltage_l1"]})");
    obs.publish("mb/gw1/incomer/cmd", R"({"id":"c-19","read":["voltage_l1"]})");
    const std::string result = "mb/gw1/incomer/cmd/result";
    BOOST_REQUIRE(mbtest::run_until(
        loop,
        [&] {
            return obs.has(result, R"({"id":"c-17","ok":true})") &&
                   obs.has(result, R"({"id":"c-18","ok":false,"error":"do_9: unknown value"})") &&
                   obs.has("mb/gw1/nope/cmd/result",
                           R"({"id":5,"ok":false,"error":"nope: unknown device"})") &&
                   obs.has(result, R"({"id":"c-19","ok":false,"error":"timeout after 300 ms"})");
        },
        5s));
    BOOST_TEST(writes == std::vector<std::string>{"incomer:do_1"},
               boost::test_tools::per_element());

    up_link.stop();
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return stopped; }, 5s));
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return obs.last("mb/gw1/status")->find("offline") != std::string::npos; }, 5s));
    BOOST_TEST(*obs.last("mb/gw1/status") == R"({"state":"offline","ts":1764095000000})");
    obs.link->stop();
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return obs.stopped; }, 5s));
}

BOOST_AUTO_TEST_CASE(clearing_a_retained_command_is_not_answered) {
    // A dashboard published a command with retain; it is stored by the broker and never run.
    // Clearing it (an empty retained payload) reaches the uplink as an empty live message:
    // not a command, so no "malformed JSON" answer. The next live command is answered.
    mbtest::mqtt_observer obs(loop, broker.port(), "mb/gw1/#");
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return obs.up; }, 5s));
    const std::string cmd = "mb/gw1/incomer/cmd";
    const std::string result = "mb/gw1/incomer/cmd/result";
    obs.publish(cmd, R"({"id":"ret-1","set":{"do_1":1}})", true);

    bool stopped = false;
    int writes = 0;
    uplink::callbacks cb;
    cb.on_stopped = [&] { stopped = true; };
    command_handler h;
    h.write = [&](const std::string&, const model::named_values&,
                  const command_handler::done_fn& done) {
        ++writes;
        done({true, {}, {}});
    };
    uplink u(loop, mbtest::uplink_settings_for(broker.port()), cb, h);
    u.set_devices({incomer()});
    BOOST_REQUIRE(!u.start());
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return u.commands_ready(); }, 5s)); // granted: commands arrive now
    obs.publish(cmd, "", true);                         // clears the retained command
    obs.publish(cmd, R"({"id":"c-2","set":{"do_1":0}})");
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return obs.last(result).has_value(); }, 5s));
    BOOST_TEST(*obs.last(result) == R"({"id":"c-2","ok":true})");
    // nothing for the retained command, nothing for its clearing
    BOOST_TEST(obs.count(result) == 1U);
    BOOST_TEST(writes == 1);
    obs.link->stop();
    u.stop();
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return obs.stopped && stopped; }, 5s));
}

BOOST_AUTO_TEST_CASE(will_says_offline_when_the_link_dies) {
    mbtest::mqtt_observer obs(loop, broker.port(), "mb/gw1/#");
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return obs.up; }, 5s));
    bool up = false;
    uplink::callbacks cb;
    cb.on_connect = [&] { up = true; };
    auto u = std::make_unique<uplink>(loop, mbtest::uplink_settings_for(broker.port()), cb,
                                      command_handler{});
    BOOST_REQUIRE(!u->start());
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return up; }, 5s));
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return obs.last("mb/gw1/status").has_value(); }, 5s));
    u.reset(); // the socket closes without DISCONNECT, as after kill -9
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return obs.last("mb/gw1/status") == R"({"state":"offline"})"; }, 5s));
    obs.link->stop();
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return obs.stopped; }, 5s));
}

BOOST_AUTO_TEST_CASE(readings_in_flight_survive_a_broker_restart) {
    receipt_log receipts;
    const auto& acked = receipts.acks;
    int connects = 0;
    uplink::callbacks cb;
    cb.on_connect = [&] { ++connects; };
    uplink u(loop, mbtest::uplink_settings_for(broker.port()), cb, command_handler{});
    u.report_to(&receipts);
    BOOST_REQUIRE(!u.start());
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return connects == 1; }, 5s));
    broker.stop(SIGKILL);
    model::reading r;
    r.device = "incomer";
    r.seq = 7;
    r.values = {{"voltage_l1", 231}};
    // Handed over before the loss is noticed: libmosquitto keeps it and resends it.
    const auto res = u.publish(r);
    BOOST_REQUIRE(res.what == model::publish_attempt::outcome::sent);
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return !u.connected(); }, 5s));
    broker.start();
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return connects == 2; }, 5s));
    BOOST_TEST(mbtest::run_until(
        loop, [&] { return !acked.empty(); }, 5s));
    if (!acked.empty()) BOOST_TEST(acked.front() == res.mid);
    BOOST_TEST(u.window_room() == 32U);
}

BOOST_AUTO_TEST_CASE(a_meta_larger_than_the_broker_takes_is_counted_in_the_gateway_status) {
    // A meter with many values has a meta larger than the broker's max_packet_size: it can
    // never be sent. It used to vanish with a debug line; now the gateway status counts it
    // ("oversize"), once per attempt (each connect tries again), and the rest flows.
    mbtest::broker small("allow_anonymous true\nmax_packet_size 1024\n");
    mbtest::mqtt_observer obs(loop, small.port(), "mb/gw1/#");
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return obs.up; }, 5s));
    bool up = false;
    uplink::callbacks cb;
    cb.on_connect = [&] { up = true; };
    const fixed_clock clock;
    cb.clock = &clock;
    uplink u(loop, mbtest::uplink_settings_for(small.port()), cb, command_handler{});
    auto big = incomer();
    big.name = "big";
    model::units_table::map units;
    for (int h = 2; h < 32; ++h)
        for (const char* q : {"voltage", "current"})
            for (int l = 1; l <= 3; ++l)
                units.emplace(fmt::format("harmonic_{}_l{}_h{}", q, l, h), "%");
    big.units = model::units_table(std::move(units));
    BOOST_REQUIRE(meta_payload(big).size() > 1024U);
    u.set_devices({incomer(), big});
    BOOST_REQUIRE(!u.start());
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return up; }, 5s));
    const auto oversize = [&] {
        const auto s = obs.last("mb/gw1/status");
        return s ? nlohmann::json::parse(*s).value("oversize", -1) : -1;
    };
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return oversize() == 1; }, 5s));
    BOOST_TEST(u.oversize() == 1U);
    BOOST_TEST(obs.last("mb/gw1/incomer/meta").value_or("") == meta_payload(incomer())); // flows
    BOOST_TEST(!obs.last("mb/gw1/big/meta").has_value());
    BOOST_TEST(u.connected());
    obs.link->stop();
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return obs.stopped; }, 5s));
}

BOOST_AUTO_TEST_CASE(a_device_removed_while_down_is_cleared_on_the_next_connect) {
    const std::string meta = "mb/gw1/incomer/meta";
    const std::string status = "mb/gw1/incomer/status";
    model::device_status st;
    st.device = "incomer";
    st.state = model::device_state::online;
    {
        bool up = false;
        bool stopped = false;
        uplink::callbacks cb;
        cb.on_connect = [&] { up = true; };
        cb.on_stopped = [&] { stopped = true; };
        uplink first(loop, mbtest::uplink_settings_for(broker.port()), cb, command_handler{});
        first.set_devices({incomer()});
        first.publish_status(st);
        BOOST_REQUIRE(!first.start());
        BOOST_REQUIRE(mbtest::run_until(
            loop, [&] { return up; }, 5s));
        mbtest::mqtt_observer before(loop, broker.port(), "mb/gw1/#");
        BOOST_REQUIRE(mbtest::run_until(
            loop, [&] { return before.last(meta) && before.last(status); }, 5s));
        first.stop();
        BOOST_REQUIRE(mbtest::run_until(
            loop, [&] { return stopped; }, 5s));
        before.link->stop();
    }
    // A new uplink (a reload) learns the old list, then the new one without the device,
    // before it is connected: the clearing waits for the connect.
    mbtest::mqtt_observer obs(loop, broker.port(), "mb/gw1/#");
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return obs.up && obs.last(meta); }, 5s)); // retained, from before
    bool up = false;
    bool stopped_second = false;
    uplink::callbacks cb;
    cb.on_connect = [&] { up = true; };
    cb.on_stopped = [&] { stopped_second = true; };
    uplink second(loop, mbtest::uplink_settings_for(broker.port()), cb, command_handler{});
    second.set_devices({incomer()});
    second.set_devices({});
    BOOST_REQUIRE(!second.start());
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return up && obs.last(meta) == "" && obs.last(status) == ""; }, 5s));
    // What a new subscriber finds: nothing retained for the removed device. The broker sends
    // what it retains right after its SUBACK, so a live message published once the
    // subscription is granted comes after all of it.
    mbtest::mqtt_observer fresh(loop, broker.port(), "mb/gw1/#");
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return fresh.up; }, 5s));
    fresh.publish("mb/gw1/marker", "after the retained ones");
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return fresh.last("mb/gw1/marker").has_value(); }, 5s));
    BOOST_TEST(fresh.last("mb/gw1/status").has_value(), "the gateway status is retained");
    BOOST_TEST(!fresh.last(meta).has_value());
    BOOST_TEST(!fresh.last(status).has_value());
    fresh.link->stop();
    second.stop();
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return fresh.stopped && stopped_second; }, 5s));
}

BOOST_AUTO_TEST_CASE(thousands_of_devices_are_republished_paced_beside_readings) {
    // After a (re)connect every device's meta goes out again: at most retained_window of them
    // unacknowledged, so that a reading published meanwhile does not wait behind them all.
    // The broker queues all of them for the observer (its default drops past 1000).
    mbtest::broker deep("allow_anonymous true\nmax_queued_messages 0\n");
    mbtest::mqtt_observer obs(loop, deep.port(), "mb/gw1/#");
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return obs.up; }, 5s));
    bool up = false;
    bool stopped = false;
    uplink::callbacks cb;
    cb.on_connect = [&] { up = true; };
    cb.on_stopped = [&] { stopped = true; };
    auto settings = mbtest::uplink_settings_for(deep.port());
    settings.retained_window = 8;
    uplink u(loop, settings, cb, command_handler{});
    constexpr int devices = 3000;
    std::vector<model::device_info> all;
    for (int i = 0; i < devices; ++i) {
        auto d = incomer();
        d.name = "m" + std::to_string(i);
        all.push_back(std::move(d));
    }
    u.set_devices(std::move(all));
    BOOST_REQUIRE(!u.start());
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return up; }, 5s));
    model::reading r;
    r.device = "m0";
    r.seq = 1;
    r.values = {{"voltage_l1", 231}};
    BOOST_REQUIRE(u.publish(r).what == model::publish_attempt::outcome::sent);
    const auto metas = [&] {
        return std::ranges::count_if(obs.got,
                                     [](const auto& m) { return m.first.ends_with("/meta"); });
    };
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return obs.last("mb/gw1/m0/data").has_value(); }, 5s));
    BOOST_TEST(metas() < devices / 2, metas() << " metas came before the reading");
    const bool every = mbtest::run_until(
        loop, [&] { return metas() == devices; }, 20s);
    BOOST_REQUIRE_MESSAGE(every, metas() << " of " << devices << " metas");
    BOOST_TEST(*obs.last("mb/gw1/m2999/meta") == meta_payload([] {
        auto d = incomer();
        d.name = "m2999";
        return d;
    }()));
    obs.link->stop();
    u.stop();
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return obs.stopped && stopped; }, 5s));
}

BOOST_AUTO_TEST_CASE(events_told_while_down_go_out_in_order_on_connect) {
    mbtest::mqtt_observer obs(loop, broker.port(), "mb/gw1/+/event");
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return obs.up; }, 5s));
    bool up = false;
    bool stopped = false;
    uplink::callbacks cb;
    cb.on_connect = [&] { up = true; };
    cb.on_stopped = [&] { stopped = true; };
    uplink u(loop, mbtest::uplink_settings_for(broker.port()), cb, command_handler{});
    const auto energy = *model::measurement_of("energy_import_total");
    // Before the first connect: they wait.
    u.publish_event({"incomer", 1000, energy, 12345.67, 5.0});
    u.publish_event({"incomer", 2000, energy, 5.0, 1.0});
    BOOST_REQUIRE(!u.start());
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return up && obs.count("mb/gw1/incomer/event") == 2; }, 5s));
    BOOST_REQUIRE(obs.got.size() == 2U);
    BOOST_TEST(nlohmann::json::parse(obs.got[0].second)["from"] == 12345.67);
    BOOST_TEST(nlohmann::json::parse(obs.got[1].second)["ts"] == 2000);
    // Connected: at once.
    u.publish_event({"feeder", 3000, energy, 7.0, 0.5});
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return obs.last("mb/gw1/feeder/event").has_value(); }, 5s));
    BOOST_TEST(obs.count("mb/gw1/incomer/event") == 2U, "each event once");
    obs.link->stop();
    u.stop();
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return obs.stopped && stopped; }, 5s));
}

BOOST_AUTO_TEST_SUITE_END()
