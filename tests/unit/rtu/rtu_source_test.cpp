// Component tests on a real uv loop. rtu_source against the independent pymodbus ADW300 slave
// (scripts/simulators/adw300_sim.py) on a socat pty pair, one live unit and one dead one; and
// on a pty nobody answers, to show that stop never holds the loop while a request waits.
#include "common/uv_handle.hpp"
#include "daemon/config/load_profile.hpp"
#include "drivers/modbus_rtu/rtu_source.hpp"
#include "tests/support/loop_test.hpp"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace mb::drivers::rtu;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// A child process, terminated and reaped when the test ends.
struct child {
    pid_t pid = -1;
    explicit child(std::vector<std::string> argv, const fs::path& out = "/dev/null") {
        std::vector<char*> args;
        args.reserve(argv.size() + 1);
        for (auto& a : argv)
            args.push_back(a.data());
        args.push_back(nullptr);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
        if (posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ) != 0) pid = -1;
        posix_spawn_file_actions_destroy(&fa);
    }
    ~child() {
        if (pid <= 0) return;
        kill(pid, SIGTERM);
        int st = 0;
        waitpid(pid, &st, 0);
    }
    child(const child&) = delete;
    child& operator=(const child&) = delete;
};

std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    return {std::istreambuf_iterator<char>(in), {}};
}

// A pty whose other end is held open and never answers: every request waits its timeout.
struct silent_line {
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK);
    std::string port;
    silent_line() {
        BOOST_REQUIRE(master >= 0);
        BOOST_REQUIRE(grantpt(master) == 0);
        BOOST_REQUIRE(unlockpt(master) == 0);
        port = ptsname(master);
    }
    ~silent_line() { ::close(master); }
    silent_line(const silent_line&) = delete;
    silent_line& operator=(const silent_line&) = delete;
    // True once bytes of a request have arrived: the bus thread is inside that request.
    [[nodiscard]] bool got_request() const {
        char buf[256];
        return ::read(master, buf, sizeof buf) > 0;
    }
};

// A meter with one readable and one writable value, enough for polls and commands.
std::shared_ptr<const profile> small_profile() {
    profile p;
    p.id = "small";
    value_def v;
    v.name = "voltage_l1";
    v.address = 0;
    p.values.push_back(v);
    value_def w;
    w.name = "do_1";
    w.address = 10;
    w.writable = true;
    w.min = 0;
    w.max = 1;
    p.values.push_back(w);
    return std::make_shared<const profile>(std::move(p));
}

bus_settings one_device_bus(std::string name, std::string port, std::chrono::milliseconds timeout) {
    bus_settings bus;
    bus.name = std::move(name);
    bus.port = std::move(port);
    bus.timeout = timeout;
    device_settings d;
    d.name = "m-" + bus.name;
    d.unit = 1;
    d.interval = 500ms;
    d.prof = small_profile();
    bus.devices.push_back(d);
    return bus;
}

// Fixed time, to show that the source reads the clock it is given.
class fixed_clock final : public mb::common::clock {
public:
    static constexpr std::int64_t at = 1'700'000'000'123;
    [[nodiscard]] std::int64_t unix_ms() const override { return at; }
    [[nodiscard]] std::chrono::steady_clock::time_point steady() const override {
        return std::chrono::steady_clock::time_point{};
    }
};

using outcome = mb::model::command_outcome;

// Records a command's outcome; `pending` until it comes.
struct outcome_box {
    bool done = false;
    outcome got;
    mb::drivers::source::done_fn fn() {
        return [this](outcome o) {
            got = std::move(o);
            done = true;
        };
    }
};

} // namespace

BOOST_AUTO_TEST_SUITE(rtu_source_component)

BOOST_AUTO_TEST_CASE(live_and_dead_units_on_one_pty_bus) {
    const fs::path src = MB_SOURCE_DIR;
    char tmpl[] = "/tmp/mb-rtu-XXXXXX";
    BOOST_REQUIRE(mkdtemp(tmpl) != nullptr);
    const fs::path dir = tmpl;
    const auto a = dir / "bus-a";
    const auto b = dir / "bus-b";
    uv_loop_t loop;
    BOOST_REQUIRE(uv_loop_init(&loop) == 0);
    {
        child socat({"/usr/bin/socat", "pty,raw,echo=0,link=" + a.string(),
                     "pty,raw,echo=0,link=" + b.string()});
        BOOST_REQUIRE(mbtest::run_until(
            loop, [&] { return fs::exists(a) && fs::exists(b); }, 5s));
        const auto expected_file = dir / "expected.json";
        const auto sim_out = dir / "sim.out";
        child sim({"/usr/bin/python3", (src / "scripts/simulators/adw300_sim.py").string(),
                   "--port", b.string(), "--units", "1,2", "--dead", "2", "--dump-expected",
                   expected_file.string()},
                  sim_out);
        BOOST_REQUIRE(mbtest::run_until(
            loop, [&] { return slurp(sim_out).find("ready") != std::string::npos; }, 15s));
        const auto expected = nlohmann::json::parse(slurp(expected_file));

        auto loaded = mb::config::load_profile(src / "etc/profiles/acrel-adw300.toml");
        BOOST_REQUIRE(std::holds_alternative<profile>(loaded));
        auto prof = std::make_shared<const profile>(std::get<profile>(loaded));

        bus_settings bus;
        bus.name = "rs485-1";
        bus.port = a.string();
        bus.timeout = 200ms;
        for (int unit : {1, 2}) {
            device_settings d;
            d.name = "m" + std::to_string(unit);
            d.unit = unit;
            d.interval = 500ms;
            d.prof = prof;
            bus.devices.push_back(d);
        }
        std::vector<mb::model::reading> readings;
        std::vector<mb::model::device_status> changes;
        {
            mb::drivers::source::callbacks cb;
            cb.on_reading = [&](mb::model::reading&& r) { readings.push_back(std::move(r)); };
            cb.on_status = [&](const mb::model::device_status& s) { changes.push_back(s); };
            rtu_source source(loop, {bus}, std::move(cb));
            BOOST_TEST(source.name() == "rtu[rs485-1]");
            source.start();
            auto m2_offline = [&] {
                const auto* s = source.status("m2");
                return s != nullptr && s->state == mb::model::device_state::offline && s->line &&
                       s->line->timeouts >= 3 && !s->line->rtt_ms;
            };
            auto m1_readings = [&] {
                return std::count_if(readings.begin(), readings.end(),
                                     [](auto& r) { return r.device == "m1"; });
            };
            BOOST_TEST(mbtest::run_until(
                loop, [&] { return m2_offline() && m1_readings() >= 3; }, 20s));

            // every value the profile reads, exactly as the independent image says
            BOOST_REQUIRE(!readings.empty());
            const auto& r = readings.front();
            BOOST_TEST(r.device == "m1");
            const auto now_ms = mb::common::real_clock().unix_ms();
            BOOST_TEST(std::abs(now_ms - r.ts_ms) < 30000);
            std::map<std::string, double> got;
            for (const auto& v : r.values)
                got.emplace(v.name(), v.value);
            const auto& want = expected["units"]["1"]["values"];
            std::size_t compared = 0;
            for (const auto& v : prof->values) {
                if (!want.contains(v.name)) continue;
                BOOST_TEST_CONTEXT(v.name) {
                    BOOST_TEST_REQUIRE(got.count(v.name) == 1U);
                    BOOST_TEST(got[v.name] == want[v.name].get<double>());
                }
                ++compared;
            }
            BOOST_TEST(compared > 50U);
            BOOST_TEST((source.status("m1")->state == mb::model::device_state::online));
            const auto& line = source.status("m1")->line;
            BOOST_TEST_REQUIRE(line.has_value());
            BOOST_TEST_REQUIRE(line->rtt_ms.has_value());
            BOOST_TEST(*line->rtt_ms >= 0);

            // a write to a writable value reaches the meter and reads back
            outcome_box write;
            source.write("m1", {{"do_1", 1}}, write.fn());
            BOOST_TEST(mbtest::run_until(
                loop, [&] { return write.done; }, 5s));
            BOOST_TEST(write.got.ok, write.got.error);
            BOOST_TEST(write.got.error.empty());
            outcome_box read;
            source.read("m1", {"do_1"}, read.fn());
            BOOST_TEST(mbtest::run_until(
                loop, [&] { return read.done; }, 5s));
            BOOST_TEST(read.got.ok, read.got.error);
            BOOST_TEST_REQUIRE(read.got.values.size() == 1U);
            BOOST_TEST(read.got.values[0].second == 1.0);
            // refused before the line: unknown, not writable, out of range, offline device
            const auto refused = [&](std::string_view device, const mb::model::named_values& v) {
                outcome_box box;
                source.write(device, v, box.fn());
                BOOST_TEST(box.done, "refused at once");
                BOOST_TEST(!box.got.ok);
                return box.got.error;
            };
            BOOST_TEST(refused("m1", {{"no_such_value", 1}}) == "no_such_value: unknown value");
            BOOST_TEST(refused("m1", {{"voltage_l1", 1}}) == "voltage_l1: not writable");
            BOOST_TEST(refused("m1", {{"do_1", 2}}) == "do_1: out of range");
            BOOST_TEST(refused("m2", {{"do_1", 1}}) ==
                       "do_1: m2 (unit 2) is offline (no answer within 200ms); not sent");
            BOOST_TEST(refused("ghost", {{"do_1", 1}}) == "ghost: no such device");
            BOOST_TEST(source.status("m2")->last_error.value_or("") == "no answer within 200ms");
            outcome_box offline_read;
            source.read("m2", {"do_1", "voltage_l1"}, offline_read.fn());
            BOOST_TEST(
                offline_read.got.error ==
                "do_1, voltage_l1: m2 (unit 2) is offline (no answer within 200ms); not sent");

            // m2 was reported offline once, on the change
            const auto m2_changes = std::count_if(changes.begin(), changes.end(),
                                                  [](auto& s) { return s.device == "m2"; });
            BOOST_TEST(m2_changes == 1);
            const auto infos = source.devices();
            BOOST_TEST(infos.size() == 2U);
            BOOST_TEST(infos[0].units.at("voltage_l1") == "V");
            BOOST_TEST(infos[0].writable.count("do_1") == 1U);
            // stop: `done` comes on the loop once the bus thread has ended
            bool stopped = false;
            source.stop([&] { stopped = true; });
            BOOST_TEST(mbtest::run_until(
                loop, [&] { return stopped; }, 5s));
            outcome_box late;
            source.write("m1", {{"do_1", 0}}, late.fn());
            BOOST_TEST(late.got.error == "stopped");
        }
        BOOST_TEST(mbtest::drain_and_close(loop) == 0);
    }
    fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(stop_never_holds_the_loop_while_a_request_waits_for_its_timeout) {
    silent_line line;
    uv_loop_t loop;
    BOOST_REQUIRE(uv_loop_init(&loop) == 0);
    std::vector<std::string> order; // what reached the test, in order
    {
        rtu_source source(loop, {one_device_bus("slow", line.port, 10s)}, {});
        source.start();
        // the first poll's request is on the line: the bus thread now waits up to 10 s
        BOOST_REQUIRE(mbtest::run_until(
            loop, [&] { return line.got_request(); }, 5s));
        outcome_box write; // queued behind the poll: it never reaches the line
        source.write("m-slow", {{"do_1", 1}}, [&](outcome o) {
            order.emplace_back("write");
            write.fn()(std::move(o));
        });
        BOOST_TEST(!write.done);

        int ticks = 0;
        int ticks_at_done = -1;
        auto timer = mb::make_uv_handle<uv_timer_t>();
        BOOST_REQUIRE(uv_timer_init(&loop, timer.get()) == 0);
        timer->data = &ticks;
        uv_timer_start(
            timer.get(), [](uv_timer_t* t) { ++*static_cast<int*>(t->data); }, 50, 50);

        bool stopped = false;
        source.stop([&] {
            order.emplace_back("done");
            ticks_at_done = ticks;
            stopped = true;
        });
        BOOST_TEST(!stopped, "stop returned with the bus thread still inside its request");
        BOOST_TEST(mbtest::run_until(
            loop, [&] { return stopped; }, 15s));
        // the loop kept turning while the thread waited: the timer fired many times first
        BOOST_TEST(ticks_at_done >= 10, "ticks before done: " << ticks_at_done);
        BOOST_TEST(write.got.error == "stopped");
        BOOST_TEST(!write.got.ok);
        BOOST_TEST(order == std::vector<std::string>({"write", "done"}),
                   "the command's outcome comes before done");
        bool again = false;
        source.stop([&] { again = true; });
        BOOST_TEST(again, "a stopped source's stop is done at once");
        timer.reset();
    }
    BOOST_TEST(mbtest::drain_and_close(loop) == 0);
}

BOOST_AUTO_TEST_CASE(destroyed_while_stopping_joins_and_fails_its_commands) {
    silent_line line;
    uv_loop_t loop;
    BOOST_REQUIRE(uv_loop_init(&loop) == 0);
    outcome_box write;
    bool stopped = false;
    {
        rtu_source source(loop, {one_device_bus("slow", line.port, 300ms)}, {});
        source.start();
        BOOST_REQUIRE(mbtest::run_until(
            loop, [&] { return line.got_request(); }, 5s));
        source.write("m-slow", {{"do_1", 1}}, write.fn());
        source.stop([&] { stopped = true; });
        // destroyed now: the destructor joins the thread (inside its 300 ms request)
    }
    BOOST_TEST(write.done);
    BOOST_TEST(write.got.error == "stopped");
    BOOST_TEST(!stopped, "an unfinished stop's done is not called after destruction");
    BOOST_TEST(mbtest::drain_and_close(loop) == 0);
}

BOOST_AUTO_TEST_CASE(name_clock_and_commands_of_a_source_not_started) {
    uv_loop_t loop;
    BOOST_REQUIRE(uv_loop_init(&loop) == 0);
    {
        const fixed_clock clock;
        rtu_source source(loop,
                          {one_device_bus("rs485-1", "/dev/null", 300ms),
                           one_device_bus("rs485-2", "/dev/null", 300ms)},
                          {}, clock);
        BOOST_TEST(source.name() == "rtu[rs485-1,rs485-2]");
        BOOST_TEST(source.devices().size() == 2U);
        const auto* s = source.status("m-rs485-2");
        BOOST_TEST_REQUIRE(s != nullptr);
        BOOST_TEST(s->ts_ms == fixed_clock::at);
        BOOST_TEST((s->state == mb::model::device_state::offline));
        BOOST_TEST(source.status("ghost") == nullptr);

        outcome_box write;
        source.write("m-rs485-1", {{"do_1", 1}}, write.fn());
        BOOST_TEST(write.done);
        BOOST_TEST(write.got.error == "not running");
        outcome_box read;
        source.read("m-rs485-1", {"nope"}, read.fn());
        BOOST_TEST(read.got.error == "nope: unknown value");
        // nothing running: done before stop returns; start afterwards starts nothing
        bool stopped = false;
        source.stop([&] { stopped = true; });
        BOOST_TEST(stopped);
        source.start();
        outcome_box after;
        source.write("m-rs485-1", {{"do_1", 1}}, after.fn());
        BOOST_TEST(after.got.error == "stopped");
    }
    BOOST_TEST(mbtest::drain_and_close(loop) == 0);
}

BOOST_AUTO_TEST_SUITE_END()
