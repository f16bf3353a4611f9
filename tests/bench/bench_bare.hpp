#pragma once
// The benches' reference figure: a bare libmosquitto QoS 1 publish loop (its own network
// thread, mosquitto_loop_start) keeping `window` messages in flight. It sends the given
// messages round robin, `count` of them or for at most `limit`, and returns PUBACKs per second.
// uplink_bench compares bridge::uplink with it, buffer_bench the backlog replay.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <fmt/format.h>
#include <mosquitto.h>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace mb::bench {

struct bare_message {
    std::string topic;
    std::string payload;
};

struct bare_result {
    double per_second = 0;
    std::uint64_t acked = 0;
};

namespace detail {
struct bare_state {
    std::mutex mu;
    std::condition_variable cv;
    int inflight = 0;
    std::uint64_t acked = 0;
    bool connected = false;
};
} // namespace detail

inline bare_result run_bare(int port, int window, const std::vector<bare_message>& messages,
                            std::uint64_t count, std::chrono::seconds limit) {
    using clock_type = std::chrono::steady_clock;
    detail::bare_state st;
    mosquitto* m = mosquitto_new(fmt::format("bench-bare-{}", window).c_str(), true, &st);
    if (m == nullptr) return {};
    mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    mosquitto_int_option(m, MOSQ_OPT_SEND_MAXIMUM, window);
    mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_connect_v5_callback_set(m,
                                      [](mosquitto*, void* p, int, int, const mosquitto_property*) {
                                          auto& s = *static_cast<detail::bare_state*>(p);
                                          const std::lock_guard lk(s.mu);
                                          s.connected = true;
                                          s.cv.notify_all();
                                      });
    mosquitto_publish_v5_callback_set(m,
                                      [](mosquitto*, void* p, int, int, const mosquitto_property*) {
                                          auto& s = *static_cast<detail::bare_state*>(p);
                                          const std::lock_guard lk(s.mu);
                                          --s.inflight;
                                          ++s.acked;
                                          s.cv.notify_all();
                                      });
    bare_result res;
    if (!messages.empty() && mosquitto_connect(m, "127.0.0.1", port, 30) == MOSQ_ERR_SUCCESS &&
        mosquitto_loop_start(m) == MOSQ_ERR_SUCCESS) {
        std::unique_lock lk(st.mu);
        if (st.cv.wait_for(lk, std::chrono::seconds(5), [&] { return st.connected; })) {
            const auto start = clock_type::now();
            const auto end = start + limit;
            std::uint64_t sent = 0;
            while (sent < count && clock_type::now() < end) {
                st.cv.wait(lk, [&] { return st.inflight < window; });
                ++st.inflight;
                lk.unlock();
                const auto& msg = messages[sent % messages.size()];
                const int rc = mosquitto_publish_v5(m, nullptr, msg.topic.c_str(),
                                                    static_cast<int>(msg.payload.size()),
                                                    msg.payload.data(), 1, false, nullptr);
                lk.lock();
                if (rc != MOSQ_ERR_SUCCESS) {
                    --st.inflight;
                    break;
                }
                ++sent;
            }
            st.cv.wait_for(lk, std::chrono::seconds(5), [&] { return st.inflight == 0; });
            res.acked = st.acked;
            res.per_second = static_cast<double>(st.acked) /
                             std::chrono::duration<double>(clock_type::now() - start).count();
        }
    }
    mosquitto_disconnect(m);
    mosquitto_loop_stop(m, false);
    mosquitto_destroy(m);
    return res;
}

} // namespace mb::bench
