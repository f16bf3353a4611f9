// Uplink throughput and latency on loopback against a private mosquitto (spawned here):
// readings/s at QoS 1 through bridge::uplink (libmosquitto on the libuv loop) with
// max_inflight 32 and 100, next to a bare libmosquitto publish loop (mosquitto_loop_start,
// same window) in the same run; the ratio is the cost of our loop integration. Latency is
// publish(reading) -> PUBACK. Each run lasts `run_for`, about 20 s in all.
#include "bench_bare.hpp"
#include "bench_broker.hpp"
#include "bridge/payloads.hpp"
#include "bridge/uplink.hpp"
#include "common/log.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <fmt/format.h>
#include <functional>
#include <limits>
#include <mosquitto.h>
#include <string>
#include <string_view>
#include <uv.h>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;
constexpr auto run_for = std::chrono::seconds(4);
const std::string topic = "meterbridge/bench-gw/incomer/data";

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

// The uplink's receipts, to one function (the forwarder takes them in the daemon): a refusal
// counts as an answer too.
struct receipts final : mb::model::delivery_receipts {
    std::function<void(int mid)> answered;
    void acked(int mid) override { answered(mid); }
    void refused(int mid, std::string_view /*reason*/) override { answered(mid); }
    void connected() override {}
    void disconnected() override {}
};

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
        receipts acks;
        acks.answered = [&](int mid) {
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
        u.report_to(&acks);
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

// The same workload through bench_bare.hpp's loop (libmosquitto's own thread, a window of
// max_inflight) for run_for: the payload formatted once.
result run_bare(int port, int max_inflight) {
    const std::vector<mb::bench::bare_message> messages{
        {topic, mb::bridge::reading_payload(sample_reading())}};
    const auto bare = mb::bench::run_bare(port, max_inflight, messages,
                                          std::numeric_limits<std::uint64_t>::max(), run_for);
    result res;
    res.per_second = bare.per_second;
    return res;
}

int run(const std::string& only) {
    mb::log::set_level(mb::log::level::warn);
    mosquitto_lib_init();
    int status = 0;
    {
        const mb::bench::broker b;
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
