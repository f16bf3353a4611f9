// Uplink throughput and latency on loopback against a private mosquitto (spawned here):
// readings/s at QoS 1 through bridge::uplink (libmosquitto on the libuv loop) with
// max_inflight 32 and 100, next to a bare libmosquitto publish loop (mosquitto_loop_start,
// same window) in the same run; the ratio is the cost of our loop integration. Latency is
// publish(reading) -> PUBACK. Each run lasts `run_for`, about 20 s in all.
#include "bridge/model/log.hpp"
#include "bridge/payloads.hpp"
#include "bridge/uplink.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <mosquitto.h>
#include <mutex>
#include <netinet/in.h>
#include <spawn.h>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <uv.h>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;
constexpr auto run_for = std::chrono::seconds(4);
const std::string topic = "meterbridge/bench-gw/incomer/data";

int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                       ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
    ::close(fd);
    if (!bound) throw std::runtime_error("no free port on 127.0.0.1");
    return ntohs(a.sin_port);
}

bool port_open(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
}

// A private mosquitto; no limit of its own on messages in flight from one client.
class broker {
public:
    broker()
        : port_(free_port()) {
        char tmpl[] = "/tmp/mb-bench-XXXXXX";
        dir_ = ::mkdtemp(tmpl);
        auto conf = (dir_ / "mosquitto.conf").string(); // argv wants char*, not const char*
        std::ofstream(conf) << "listener " << port_ << " 127.0.0.1\nallow_anonymous true\n"
                            << "persistence false\nmax_inflight_messages 0\n"
                            << "max_queued_messages 100000\n";
        std::string prog = "mosquitto";
        std::string opt_c = "-c";
        char* argv[] = {prog.data(), opt_c.data(), conf.data(), nullptr};
        posix_spawn_file_actions_t fa; // the broker's own log would garble the table
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
        const int rc = posix_spawn(&pid_, "/usr/sbin/mosquitto", &fa, nullptr, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (rc != 0) throw std::runtime_error("cannot start mosquitto");
        for (int i = 0; i < 250 && !port_open(port_); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(20)); // waiting on a process
    }
    ~broker() {
        ::kill(pid_, SIGTERM);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    broker(const broker&) = delete;
    broker& operator=(const broker&) = delete;
    [[nodiscard]] int port() const { return port_; }

private:
    int port_;
    std::filesystem::path dir_;
    pid_t pid_ = -1;
};

// A model::reading shaped like an ADW300 poll: 60 values. The uplink run formats it for every
// publish (the product path, seq counting up from here); the bare loop sends it formatted
// once. A six-digit seq keeps both payloads the same size for up to 899999 readings.
mb::model::reading sample_reading() {
    mb::model::reading r;
    r.device = "incomer";
    r.ts_ms = 1764095000123;
    r.seq = 100000;
    for (int i = 0; i < 60; ++i)
        r.values.emplace_back(fmt::format("harmonic_voltage_l1_h{}", i % 30 + 2), 230.1 + i);
    return r;
}

struct result {
    double per_second = 0;
    std::vector<double> latency_ms; // sorted
};

double percentile(const std::vector<double>& sorted, double p) {
    if (sorted.empty()) return 0;
    const auto i = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1));
    return sorted[i];
}

// bridge::uplink on a uv loop: keep the window full for run_for, then count what was acked.
result run_uplink(int port, int max_inflight) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    result res;
    {
        mb::bridge::uplink_settings s;
        s.link.host = "127.0.0.1";
        s.link.port = port;
        s.link.client_id = fmt::format("bench-uplink-{}", max_inflight);
        s.link.max_inflight = max_inflight;
        s.gateway_id = "bench-gw";
        s.commands = false;
        mb::model::reading r = sample_reading();
        // By mid (libmosquitto's are 1..65535); time_point{} = not ours or already acked.
        std::vector<clock_type::time_point> sent(65536);
        std::uint64_t acked = 0;
        clock_type::time_point start{};
        clock_type::time_point end{};
        bool measuring = false;
        bool stopped = false;
        mb::bridge::uplink* up = nullptr;
        auto pump = [&] {
            while (measuring && up->window_room() > 0) {
                r.seq++;
                const auto pr = up->publish(r);
                if (pr.what != mb::model::publish_attempt::outcome::sent) break;
                sent[static_cast<std::size_t>(pr.mid)] = clock_type::now();
            }
        };
        mb::bridge::uplink::callbacks cb;
        cb.on_connect = [&] {
            start = clock_type::now();
            end = start + run_for;
            measuring = true;
            pump();
        };
        cb.on_ack = [&](int mid, mb::bridge::delivery) {
            const auto now = clock_type::now();
            auto& at = sent[static_cast<std::size_t>(mid)];
            if (at == clock_type::time_point{}) return;
            res.latency_ms.push_back(std::chrono::duration<double, std::milli>(now - at).count());
            at = {};
            ++acked;
            if (now >= end && measuring) {
                measuring = false;
                res.per_second =
                    static_cast<double>(acked) / std::chrono::duration<double>(now - start).count();
                up->stop();
            }
            pump();
        };
        cb.on_stopped = [&] { stopped = true; };
        mb::bridge::uplink u(loop, s, cb, {});
        up = &u;
        u.start();
        while (!stopped && uv_run(&loop, UV_RUN_ONCE) != 0) {
        }
    }
    for (int i = 0; i < 1000 && uv_run(&loop, UV_RUN_NOWAIT) != 0; ++i) {
    }
    uv_loop_close(&loop);
    std::sort(res.latency_ms.begin(), res.latency_ms.end());
    return res;
}

// The same workload with libmosquitto's own thread and a window of max_inflight.
struct bare_state {
    std::mutex mu;
    std::condition_variable cv;
    int inflight = 0;
    std::uint64_t acked = 0;
    bool connected = false;
};

result run_bare(int port, int max_inflight) {
    bare_state st;
    mosquitto* m = mosquitto_new(fmt::format("bench-bare-{}", max_inflight).c_str(), true, &st);
    mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    mosquitto_int_option(m, MOSQ_OPT_SEND_MAXIMUM, max_inflight);
    mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_connect_v5_callback_set(m,
                                      [](mosquitto*, void* p, int, int, const mosquitto_property*) {
                                          auto& s = *static_cast<bare_state*>(p);
                                          const std::lock_guard lk(s.mu);
                                          s.connected = true;
                                          s.cv.notify_all();
                                      });
    mosquitto_publish_v5_callback_set(m,
                                      [](mosquitto*, void* p, int, int, const mosquitto_property*) {
                                          auto& s = *static_cast<bare_state*>(p);
                                          const std::lock_guard lk(s.mu);
                                          --s.inflight;
                                          ++s.acked;
                                          s.cv.notify_all();
                                      });
    const std::string payload = mb::bridge::reading_payload(sample_reading());
    result res;
    if (mosquitto_connect(m, "127.0.0.1", port, 30) == MOSQ_ERR_SUCCESS &&
        mosquitto_loop_start(m) == MOSQ_ERR_SUCCESS) {
        std::unique_lock lk(st.mu);
        st.cv.wait_for(lk, std::chrono::seconds(5), [&] { return st.connected; });
        const auto start = clock_type::now();
        const auto end = start + run_for;
        while (clock_type::now() < end) {
            st.cv.wait(lk, [&] { return st.inflight < max_inflight; });
            ++st.inflight;
            lk.unlock();
            mosquitto_publish_v5(m, nullptr, topic.c_str(), static_cast<int>(payload.size()),
                                 payload.data(), 1, false, nullptr);
            lk.lock();
        }
        st.cv.wait_for(lk, std::chrono::seconds(5), [&] { return st.inflight == 0; });
        res.per_second = static_cast<double>(st.acked) /
                         std::chrono::duration<double>(clock_type::now() - start).count();
    }
    mosquitto_disconnect(m);
    mosquitto_loop_stop(m, false);
    mosquitto_destroy(m);
    return res;
}

int run(const std::string& only) {
    mb::log::set_level(mb::log::level::warn);
    mosquitto_lib_init();
    int status = 0;
    {
        broker b;
        fmt::print("uplink_bench: QoS 1, {}-byte readings, loopback mosquitto, {} s per run\n",
                   mb::bridge::reading_payload(sample_reading()).size(), run_for.count());
        fmt::print("{:>12} {:>16} {:>16} {:>7} {:>10} {:>10}\n", "max_inflight", "uplink rdg/s",
                   "bare rdg/s", "ratio", "p50 ms", "p99 ms");
        for (const int window : {32, 100}) {
            const result u = only != "bare" ? run_uplink(b.port(), window) : result{};
            const result bare = only != "uplink" ? run_bare(b.port(), window) : result{};
            const double ratio = bare.per_second > 0 ? u.per_second / bare.per_second : 0;
            fmt::print("{:>12} {:>16.0f} {:>16.0f} {:>7.2f} {:>10.2f} {:>10.2f}\n", window,
                       u.per_second, bare.per_second, ratio, percentile(u.latency_ms, 0.50),
                       percentile(u.latency_ms, 0.99));
            if ((only != "bare" && u.per_second <= 0) || (only != "uplink" && bare.per_second <= 0))
                status = 1;
        }
    }
    mosquitto_lib_cleanup();
    return status;
}

} // namespace

// Optional argument "uplink" or "bare": run only that side (to profile one of them).
int main(int argc, char** argv) {
    try {
        return run(argc > 1 ? argv[1] : "");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "uplink_bench: %s\n", e.what());
        return 1;
    }
}
