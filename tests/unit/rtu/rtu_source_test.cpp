// Component test on a real uv loop: rtu_source against the independent pymodbus ADW300 slave
// (scripts/simulators/adw300_sim.py) on a socat pty pair, one live unit and one dead one.
#include "daemon/config/load_profile.hpp"
#include "drivers/modbus_rtu/rtu_source.hpp"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <spawn.h>
#include <sys/wait.h>
#include <thread>
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

template <typename F> bool wait_for(F&& f, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (f()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return false;
}

// Runs the loop until `done` holds or the deadline passes (no sleeping in the loop itself).
template <typename F> bool run_until(uv_loop_t& loop, F&& done, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > end) return false;
        uv_run(&loop, UV_RUN_NOWAIT);
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    return {std::istreambuf_iterator<char>(in), {}};
}

} // namespace

BOOST_AUTO_TEST_SUITE(rtu_source_component)

BOOST_AUTO_TEST_CASE(live_and_dead_units_on_one_pty_bus) {
    const fs::path src = MB_SOURCE_DIR;
    char tmpl[] = "/tmp/mb-rtu-XXXXXX";
    BOOST_REQUIRE(mkdtemp(tmpl) != nullptr);
    const fs::path dir = tmpl;
    const auto a = dir / "bus-a";
    const auto b = dir / "bus-b";
    {
        child socat({"/usr/bin/socat", "pty,raw,echo=0,link=" + a.string(),
                     "pty,raw,echo=0,link=" + b.string()});
        BOOST_REQUIRE(wait_for([&] { return fs::exists(a) && fs::exists(b); }, 5s));
        const auto expected_file = dir / "expected.json";
        const auto sim_out = dir / "sim.out";
        child sim({"/usr/bin/python3", (src / "scripts/simulators/adw300_sim.py").string(),
                   "--port", b.string(), "--units", "1,2", "--dead", "2", "--dump-expected",
                   expected_file.string()},
                  sim_out);
        BOOST_REQUIRE(
            wait_for([&] { return slurp(sim_out).find("ready") != std::string::npos; }, 15s));
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
        uv_loop_t loop;
        uv_loop_init(&loop);
        std::vector<mb::model::reading> readings;
        std::vector<mb::model::device_status> changes;
        {
            rtu_source source(loop, {bus},
                              {[&](mb::model::reading&& r) { readings.push_back(std::move(r)); },
                               [&](const mb::model::device_status& s) { changes.push_back(s); }});
            source.start();
            auto m2_offline = [&] {
                const auto* s = source.status("m2");
                return s != nullptr && s->state == mb::model::device_state::offline &&
                       s->timeouts >= 3;
            };
            auto m1_readings = [&] {
                return std::count_if(readings.begin(), readings.end(),
                                     [](auto& r) { return r.device == "m1"; });
            };
            BOOST_TEST(run_until(
                loop, [&] { return m2_offline() && m1_readings() >= 3; }, 20s));

            // every value the profile reads, exactly as the independent image says
            BOOST_REQUIRE(!readings.empty());
            const auto& r = readings.front();
            BOOST_TEST(r.device == "m1");
            const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
            BOOST_TEST(std::abs(now_ms - r.ts_ms) < 30000);
            std::map<std::string, double> got(r.values.begin(), r.values.end());
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
            BOOST_TEST(source.status("m1")->last_rtt_ms >= 0);

            // a write to a writable value reaches the meter and reads back
            std::string write_error = "pending";
            source.write("m1", {{"do_1", 1}}, [&](const std::string& e) { write_error = e; });
            BOOST_TEST(run_until(
                loop, [&] { return write_error != "pending"; }, 5s));
            BOOST_TEST(write_error.empty(), write_error);
            named_values read_back;
            std::string read_error = "pending";
            source.read("m1", {"do_1"}, [&](named_values v, const std::string& e) {
                read_back = std::move(v);
                read_error = e;
            });
            BOOST_TEST(run_until(
                loop, [&] { return read_error != "pending"; }, 5s));
            BOOST_TEST_REQUIRE(read_back.size() == 1U);
            BOOST_TEST(read_back[0].second == 1.0);
            // refused before the line: not writable, out of range, offline device
            source.write("m1", {{"voltage_l1", 1}}, [&](const std::string& e) { write_error = e; });
            BOOST_TEST(write_error == "voltage_l1: not writable");
            source.write("m1", {{"do_1", 2}}, [&](const std::string& e) { write_error = e; });
            BOOST_TEST(write_error == "do_1: out of range");
            source.write("m2", {{"do_1", 1}}, [&](const std::string& e) { write_error = e; });
            BOOST_TEST(write_error ==
                       "do_1: m2 (unit 2) is offline (no answer within 200ms); not sent");
            BOOST_TEST(source.status("m2")->last_error.value_or("") == "no answer within 200ms");

            // m2 was reported offline once, on the change
            const auto m2_changes = std::count_if(changes.begin(), changes.end(),
                                                  [](auto& s) { return s.device == "m2"; });
            BOOST_TEST(m2_changes == 1);
            const auto infos = source.devices();
            BOOST_TEST(infos.size() == 2U);
            BOOST_TEST(infos[0].units.at("voltage_l1") == "V");
            BOOST_TEST(infos[0].writable.count("do_1") == 1U);
            // stop returns within one request timeout (200 ms), whatever the bus is doing
            const auto stop_began = std::chrono::steady_clock::now();
            source.stop();
            const auto stop_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now() - stop_began)
                                     .count();
            BOOST_TEST(stop_ms < 200 + 250);
        }
        uv_run(&loop, UV_RUN_DEFAULT); // close callbacks
        BOOST_TEST(uv_loop_close(&loop) == 0);
    }
    fs::remove_all(dir);
}

BOOST_AUTO_TEST_SUITE_END()
