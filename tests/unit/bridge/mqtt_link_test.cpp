// Component tests: mqtt_link on a real uv loop against a real mosquitto.
#include "bridge/link/errors.hpp"
#include "bridge/link/mqtt_link.hpp"
#include "common/log.hpp"
#include "tests/support/broker_fixture.hpp"
#include "tests/support/mqtt_observer.hpp"

#include <algorithm>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <mqtt_protocol.h>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
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

// Holds every thread of libuv's pool busy until release(): work queued after these (such as a
// uv_getaddrinfo) waits.
class pool_blocker {
public:
    explicit pool_blocker(uv_loop_t& loop) {
        // libuv's own rule (src/threadpool.c): UV_THREADPOOL_SIZE, 4 when unset, 1..1024.
        unsigned threads = 4;
        if (const char* v = std::getenv("UV_THREADPOOL_SIZE"); v != nullptr)
            threads = static_cast<unsigned>(std::clamp(std::atoi(v), 1, 1024));
        works_.resize(threads);
        for (auto& w : works_) {
            w.owner = this;
            w.req.data = &w;
            BOOST_REQUIRE_EQUAL(uv_queue_work(&loop, &w.req, &hold, &after), 0);
        }
    }
    ~pool_blocker() { release(); }
    pool_blocker(const pool_blocker&) = delete;
    pool_blocker& operator=(const pool_blocker&) = delete;

    [[nodiscard]] bool all_busy() const { return busy_.load() == works_.size(); }
    [[nodiscard]] bool all_done() const { return done_ == works_.size(); }
    void release() {
        {
            const std::lock_guard lock(mu_);
            released_ = true;
        }
        cv_.notify_all();
    }

private:
    struct work {
        uv_work_t req{};
        pool_blocker* owner = nullptr;
    };
    static void hold(uv_work_t* req) { // on a pool thread
        auto& self = *static_cast<work*>(req->data)->owner;
        ++self.busy_;
        std::unique_lock lock(self.mu_);
        self.cv_.wait(lock, [&] { return self.released_; });
    }
    static void after(uv_work_t* req, int /*status*/) { // on the loop
        ++static_cast<work*>(req->data)->owner->done_;
    }

    std::vector<work> works_;
    std::atomic<std::size_t> busy_{0};
    std::size_t done_ = 0;
    std::mutex mu_;
    std::condition_variable cv_;
    bool released_ = false;
};

// Every log line while it lives (mb::log::set_sink), the default writer restored after.
class log_capture {
public:
    log_capture() { mb::log::set_sink(&sink); }
    ~log_capture() {
        mb::log::set_sink(nullptr);
        const std::lock_guard lock(mu());
        lines().clear();
    }
    log_capture(const log_capture&) = delete;
    log_capture& operator=(const log_capture&) = delete;

    // Lines containing all of `parts`.
    template <typename... Parts> [[nodiscard]] int count(const Parts&... parts) const {
        const std::lock_guard lock(mu());
        int n = 0;
        for (const auto& l : lines())
            if ((... && (l.find(parts) != std::string::npos))) ++n;
        return n;
    }
    // The first line containing all of `parts`.
    template <typename... Parts> [[nodiscard]] std::string first(const Parts&... parts) const {
        const std::lock_guard lock(mu());
        for (const auto& l : lines())
            if ((... && (l.find(parts) != std::string::npos))) return l;
        return {};
    }

private:
    // The sink is a plain function: what it writes to lives here, for this test binary.
    static std::mutex& mu() {
        static std::mutex m;
        return m;
    }
    static std::vector<std::string>& lines() {
        static std::vector<std::string> v;
        return v;
    }
    static void sink(mb::log::level l, std::string_view message) noexcept {
        try {
            std::string line = std::string(mb::log::name_of(l)) + " " + std::string(message);
            std::fprintf(stderr, "%s\n", line.c_str());
            const std::lock_guard lock(mu());
            lines().push_back(std::move(line));
        } catch (...) {
        }
    }
};

// For the client id tests: a broker, a loop, the log, and link callbacks that count connects.
struct counted_connects {
    mbtest::broker broker;
    uv_loop_t loop{};
    log_capture logs;
    int connects = 0;
    int stopped = 0;
    mqtt_link::callbacks cb;

    counted_connects() {
        mbtest::init_loop(loop);
        cb.on_connect = [this] { ++connects; };
        cb.on_stopped = [this] { ++stopped; };
    }
    void teardown() { BOOST_REQUIRE_EQUAL(mbtest::drain_and_close(loop), 0); }
};

} // namespace

BOOST_AUTO_TEST_SUITE(mqtt_link_component)

BOOST_AUTO_TEST_CASE(connect_publish_puback_stop) {
    mbtest::broker broker;
    uv_loop_t loop;
    mbtest::init_loop(loop);
    {
        mbtest::mqtt_observer rec(loop, broker.port(), "t/#");
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
            loop, [&] { return rec.last("t/x").has_value(); }, 5s));
        BOOST_TEST(*rec.last("t/x") == R"({"v":1})");

        link.stop();
        BOOST_REQUIRE(mbtest::run_until(
            loop, [&] { return stopped; }, 5s));
        BOOST_TEST(!link.connected());
        rec.link->stop();
        BOOST_REQUIRE(mbtest::run_until(
            loop, [&] { return rec.stopped; }, 5s));
    }
    BOOST_REQUIRE_EQUAL(mbtest::drain_and_close(loop), 0);
}

BOOST_AUTO_TEST_CASE(window_bounds_what_is_handed_over) {
    mbtest::broker broker;
    uv_loop_t loop;
    mbtest::init_loop(loop);
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
    mbtest::init_loop(loop);
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
        BOOST_TEST(mbtest::run_until(
            loop, [&] { return link.attempt_for_test() >= 2U; }, 5s));

        // Back again: the very next attempt connects (no attempt is lost or skipped).
        const unsigned before = link.attempt_for_test();
        broker.start();
        BOOST_REQUIRE(mbtest::run_until(
            loop, [&] { return connects == 2; }, 5s));
        BOOST_TEST(link.attempt_for_test() <= before + 1);
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
    mbtest::init_loop(loop);
    {
        bool up = false;
        mqtt_link::callbacks cb;
        cb.on_connect = [&] { up = true; };
        auto s = local(broker.port(), "auth");
        s.username = "gw";
        s.password = "wrong";
        mqtt_link link(loop, s, cb);
        BOOST_REQUIRE(!link.start());
        // Refused: the next attempt is at the cap at once, without the steps below it.
        BOOST_TEST(mbtest::run_until(
            loop, [&] { return link.attempt_for_test() > cap_attempt(s.reconnect); }, 5s));
        BOOST_TEST(!up);

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
    // A hostname is resolved with uv_getaddrinfo, on libuv's thread pool. To see that the loop
    // thread never waits for it, every pool thread is held busy first: the lookup of
    // "localhost" is then in progress and cannot finish, yet the loop keeps turning (a timer
    // ticks) and the link does not connect. Once the pool is free, the lookup completes and
    // the link connects. A lookup on the loop thread would have connected while the pool was
    // held. (TLS hands the name to libmosquitto as well: see mqtt_link.hpp.)
    mbtest::broker broker;
    uv_loop_t loop;
    mbtest::init_loop(loop);
    {
        pool_blocker pool(loop);
        BOOST_REQUIRE(mbtest::run_until(
            loop, [&] { return pool.all_busy(); }, 5s));

        int ticks = 0;
        auto tick = mb::make_uv_handle<uv_timer_t>();
        BOOST_REQUIRE_EQUAL(uv_timer_init(&loop, tick.get()), 0);
        tick->data = &ticks;
        uv_timer_start(
            tick.get(), [](uv_timer_t* t) { ++*static_cast<int*>(t->data); }, 20, 20);

        bool up = false;
        mqtt_link::callbacks cb;
        cb.on_connect = [&] { up = true; };
        auto s = local(broker.port(), "byname");
        s.host = "localhost";
        mqtt_link link(loop, s, cb);
        BOOST_REQUIRE(!link.start());
        // The loop turns 25 times (500 ms of 20 ms ticks) while the lookup cannot finish.
        BOOST_TEST(mbtest::run_until(
            loop, [&] { return ticks >= 25 || up; }, 5s));
        BOOST_TEST(ticks >= 25, "the loop kept turning while the name was being resolved");
        BOOST_TEST(!up, "connected although the lookup could not have run");
        BOOST_TEST(!link.connected());

        pool.release();
        BOOST_TEST(mbtest::run_until(
            loop, [&] { return up; }, 5s));
        BOOST_REQUIRE(mbtest::run_until(
            loop, [&] { return pool.all_done(); }, 5s));
    }
    BOOST_REQUIRE_EQUAL(mbtest::drain_and_close(loop), 0);
}

BOOST_FIXTURE_TEST_CASE(a_client_id_clash_is_suggested_once, counted_connects) {
    // Two links with one client id (as two gateways configured alike): each CONNECT takes the
    // session from the other (MQTT 5: DISCONNECT "session taken over"), so both are knocked
    // off again and again, and all the log said was why the broker ended the session. Now it
    // says what to do, once.
    auto a = local(broker.port(), "uplink"); // the uplink's hint names its config key
    auto b = local(broker.port(), "twin");
    a.client_id = b.client_id = "meterbridge-gw1";
    mqtt_link first(loop, a, cb);
    mqtt_link second(loop, b, cb);
    BOOST_REQUIRE(!first.start());
    BOOST_REQUIRE(!second.start());
    const std::string clash = "another client with the same client id (meterbridge-gw1)";
    const auto hint = [&](const std::string& name) {
        return logs.count("mqtt[" + name + "]", clash);
    };
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return hint("uplink") > 0; }, 15s));
    // More kicks follow; the hint is not repeated.
    const int connects_then = connects;
    mbtest::run_until(
        loop, [&] { return connects >= connects_then + 8; }, 10s);
    BOOST_TEST(connects >= connects_then + 8, "the clash goes on: " << connects);
    BOOST_TEST(hint("uplink") == 1);
    BOOST_TEST(hint("twin") <= 1);
    const auto line = logs.first("mqtt[uplink]", clash);
    BOOST_TEST(line.starts_with("warn "), line);
    // mosquitto 2.0.11 just closes the old session's socket; later ones send DISCONNECT 0x8E.
    BOOST_TEST((line.find("the broker gave this session to " + clash +
                          " 3 times in a row "
                          "(session taken over): ") != std::string::npos ||
                line.find("the broker closed the connection 3 times in a row, each within 60s "
                          "of connecting, and took each reconnect at once: " +
                          clash + " may be connected: ") != std::string::npos),
               line);
    BOOST_TEST(line.ends_with("each gateway needs its own uplink.client_id"), line);
    if (hint("twin") == 1)
        BOOST_TEST(
            logs.first("mqtt[twin]", clash).ends_with("each client needs its own client id"));
}

BOOST_FIXTURE_TEST_CASE(a_client_id_clash_under_3_1_1_is_suggested_too, counted_connects) {
    // MQTT 3.1.1 has no DISCONNECT from the broker: the old session's socket is just closed.
    // Closed soon after connecting, and each reconnect taken at once: a clash, likely.
    auto a = local(broker.port(), "uplink");
    auto b = local(broker.port(), "twin");
    a.client_id = b.client_id = "meterbridge-gw1";
    a.protocol = b.protocol = mqtt_protocol::v311;
    mqtt_link first(loop, a, cb);
    mqtt_link second(loop, b, cb);
    BOOST_REQUIRE(!first.start());
    BOOST_REQUIRE(!second.start());
    const std::string clash = "another client with the same client id (meterbridge-gw1) may be "
                              "connected: each gateway needs its own uplink.client_id";
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return logs.count("mqtt[uplink]", clash) > 0; }, 15s));
    BOOST_TEST(logs.first("mqtt[uplink]", clash)
                   .find("the broker closed the connection 3 times in a row, each within 60s of "
                         "connecting, and took each reconnect at once") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(broker_flaps_are_no_clash, counted_connects) {
    // The report: ordinary broker flaps (the link up for a moment each time, the broker gone,
    // back) set off the clash hint. A connection closed without a reason (a killed broker, or
    // mosquitto 2.0.11 stopping, which sends no DISCONNECT) looks like a kick; but the
    // reconnects were refused until the broker came back, so it was not there: no clash.
    for (const auto protocol : {mqtt_protocol::v5, mqtt_protocol::v311}) {
        auto s = local(broker.port(), "uplink");
        s.protocol = protocol;
        connects = 0;
        mqtt_link link(loop, s, cb);
        BOOST_REQUIRE(!link.start());
        BOOST_REQUIRE(mbtest::run_until(
            loop, [&] { return connects == 1; }, 5s));
        for (int i = 2; i <= 5; ++i) {
            const unsigned before = link.attempt_for_test();
            broker.stop(protocol == mqtt_protocol::v5 ? SIGKILL : SIGTERM);
            // The drop, then at least one refused attempt.
            BOOST_REQUIRE(mbtest::run_until(
                loop, [&] { return link.attempt_for_test() >= before + 2; }, 5s));
            broker.start();
            BOOST_REQUIRE(mbtest::run_until(
                loop, [&] { return connects == i; }, 5s));
        }
        BOOST_TEST(logs.count("same client id") == 0);
        link.stop();
        BOOST_REQUIRE(mbtest::run_until(
            loop, [&] { return stopped == 1; }, 5s));
        stopped = 0;
    }
}

namespace {

std::string file_text(const std::filesystem::path& p) {
    std::ifstream f(p);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// Connects a link with `protocol` to a logging mosquitto and subscribes with retain handling
// "never"; returns the broker's log once the SUBACK granted it.
std::string connect_with(mqtt_protocol protocol, int& version) {
    mbtest::broker broker("allow_anonymous true\nlog_type all\n");
    uv_loop_t loop;
    mbtest::init_loop(loop);
    log_capture logs;
    {
        std::optional<subscription_answer> answer;
        mqtt_link::callbacks cb;
        auto s = local(broker.port(), "proto");
        s.protocol = protocol;
        std::unique_ptr<mqtt_link> link;
        cb.on_connect = [&] {
            BOOST_TEST(!link->subscribe("t/#", 1, MQTT_SUB_OPT_SEND_RETAIN_NEVER));
        };
        cb.on_subscribe = [&](const subscription_answer& a) { answer = a; };
        link = std::make_unique<mqtt_link>(loop, s, cb);
        BOOST_REQUIRE(!link->start());
        BOOST_REQUIRE(mbtest::run_until(
            loop, [&] { return answer.has_value(); }, 5s));
        BOOST_TEST(answer->filter == "t/#");
        BOOST_TEST(answer->reason == 1, "granted QoS 1, as asked");
        version = link->protocol_version();
        BOOST_TEST(logs.count("speaking 3.1.1") == 0); // mosquitto speaks 5: no fall-back
    }
    BOOST_REQUIRE_EQUAL(mbtest::drain_and_close(loop), 0);
    return file_text(broker.dir() / "broker.log");
}

} // namespace

BOOST_AUTO_TEST_CASE(protocol_3_1_1_is_what_goes_out_and_sends_no_subscribe_options) {
    int version = 0;
    const auto log = connect_with(mqtt_protocol::v311, version);
    BOOST_TEST(version == MQTT_PROTOCOL_V311);
    BOOST_TEST(log.find("as proto (p2,") != std::string::npos, log); // mosquitto's 3.1.1
    BOOST_TEST(log.find("t/# (QoS 1)") != std::string::npos, log);   // SUBACKed as asked
}

BOOST_AUTO_TEST_CASE(protocol_auto_stays_on_5_with_a_broker_that_speaks_it) {
    int version = 0;
    const auto log = connect_with(mqtt_protocol::automatic, version);
    BOOST_TEST(version == MQTT_PROTOCOL_V5);
    BOOST_TEST(log.find("as proto (p5,") != std::string::npos, log);
}

BOOST_AUTO_TEST_CASE(the_broker_s_maximum_packet_size_is_kept_to_the_byte) {
    // mosquitto announces max_packet_size in its MQTT 5 CONNACK. A PUBLISH of exactly that
    // size goes through; one byte more is refused here, before it could cost the connection
    // (libmosquitto's own check counts 2 bytes short and would let it through).
    mbtest::broker broker("allow_anonymous true\nmax_packet_size 1024\n");
    uv_loop_t loop;
    mbtest::init_loop(loop);
    {
        bool up = false;
        std::vector<delivery> acks;
        int losses = 0;
        mqtt_link::callbacks cb;
        cb.on_connect = [&] { up = true; };
        cb.on_ack = [&](int /*mid*/, delivery d, bool /*windowed*/) { acks.push_back(d); };
        cb.on_disconnect = [&](std::error_code) { ++losses; };
        mqtt_link link(loop, local(broker.port(), "limit"), cb);
        BOOST_REQUIRE(!link.start());
        BOOST_REQUIRE(mbtest::run_until(
            loop, [&] { return up; }, 5s));
        BOOST_TEST(link.max_packet_size() == 1024U);
        const std::string topic = "t/limit";
        std::size_t fits = 1024;
        while (link.publish_size(topic, fits, 1) > 1024U)
            --fits;
        BOOST_TEST(link.publish_size(topic, fits, 1) == 1024U);
        BOOST_TEST(link.publish_size(topic, fits, 1) == 1 + 2 + 2 + topic.size() + 2 + 1 + fits);
        BOOST_TEST(!link.publish(topic, std::string(fits, 'x'), {}));
        BOOST_TEST(link.publish(topic, std::string(fits + 1, 'x'), {}) ==
                   make_mosq_error(MOSQ_ERR_OVERSIZE_PACKET));
        BOOST_REQUIRE(mbtest::run_until(
            loop, [&] { return !acks.empty(); }, 5s));
        BOOST_TEST((acks.front() == delivery::ok));
        BOOST_TEST(losses == 0);
        BOOST_TEST(link.connected());
    }
    BOOST_REQUIRE_EQUAL(mbtest::drain_and_close(loop), 0);
}

BOOST_AUTO_TEST_SUITE_END()
