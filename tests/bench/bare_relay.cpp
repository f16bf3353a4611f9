// The native relay bench's reference (tests/bench/native_relay_bench.py): the least a relay
// can do with libmosquitto. One thread, two clients in external-loop mode as the daemon runs
// them (poll() on both sockets instead of libuv): one subscribes to the meters' topic at QoS 1,
// the other republishes each payload unchanged at QoS 1 to relay/<topic> with at most
// `--window` messages awaiting PUBACK; what does not fit waits in memory, in order. No decode,
// no normalize, no buffer file: the daemon's figure divided by this one is what those cost.
//
//   bare_relay --in-port P --out-port U [--topic F] [--window 32]
//
// Prints "ready" once both clients are connected and the subscription acknowledged; runs
// until SIGTERM, then prints one line "relayed=N acked=M". Loopback only.
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <poll.h>
#include <string>
#include <string_view>

namespace {

volatile std::sig_atomic_t g_stop = 0;

void on_signal(int /*sig*/) {
    g_stop = 1;
}

struct pending {
    std::string topic;
    std::string payload;
};

struct relay {
    std::deque<pending> waiting; // received, not yet handed to the uplink client
    int inflight = 0;
    int window = 32;
    std::uint64_t relayed = 0;
    std::uint64_t acked = 0;
    bool in_connected = false;
    bool out_connected = false;
    bool subscribed = false;
};

[[noreturn]] void fail(const char* why) {
    std::fprintf(stderr, "bare_relay: %s\n", why);
    std::exit(2);
}

mosquitto* make_client(const char* id, relay& r) {
    mosquitto* m = mosquitto_new(id, true, &r);
    if (m == nullptr) fail("mosquitto_new failed");
    mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
    return m;
}

void step(mosquitto* m, short revents) {
    if ((revents & POLLIN) != 0) mosquitto_loop_read(m, 1);
    if ((revents & POLLOUT) != 0) mosquitto_loop_write(m, 1);
}

void set_callbacks(mosquitto* in, mosquitto* out) {
    mosquitto_connect_v5_callback_set(
        in, [](mosquitto* m, void* p, int rc, int, const mosquitto_property*) {
            if (rc != 0) return;
            static_cast<relay*>(p)->in_connected = true;
            (void)m;
        });
    mosquitto_connect_v5_callback_set(
        out, [](mosquitto*, void* p, int rc, int, const mosquitto_property*) {
            if (rc == 0) static_cast<relay*>(p)->out_connected = true;
        });
    mosquitto_subscribe_v5_callback_set(
        in, [](mosquitto*, void* p, int, int, const int*, const mosquitto_property*) {
            static_cast<relay*>(p)->subscribed = true;
        });
    // A publish from inside libmosquitto's callback would only be queued (mqtt_link.hpp says
    // why): the payload is copied out here and published after loop_read returns, as the
    // daemon does.
    mosquitto_message_v5_callback_set(
        in, [](mosquitto*, void* p, const mosquitto_message* msg, const mosquitto_property*) {
            auto& rr = *static_cast<relay*>(p);
            rr.waiting.push_back({std::string("relay/") + msg->topic,
                                  std::string(static_cast<const char*>(msg->payload),
                                              static_cast<std::size_t>(msg->payloadlen))});
        });
    mosquitto_publish_v5_callback_set(out,
                                      [](mosquitto*, void* p, int, int, const mosquitto_property*) {
                                          auto& rr = *static_cast<relay*>(p);
                                          --rr.inflight;
                                          ++rr.acked;
                                      });
}

void run(mosquitto* in, mosquitto* out, relay& r, const std::string& topic) {
    bool told_ready = false;
    bool subscribe_sent = false;
    timespec last_misc{};
    clock_gettime(CLOCK_MONOTONIC, &last_misc);
    while (g_stop == 0) {
        if (r.in_connected && !subscribe_sent) {
            mosquitto_subscribe_v5(in, nullptr, topic.c_str(), 1, 0, nullptr);
            subscribe_sent = true;
        }
        if (!told_ready && r.out_connected && r.subscribed) {
            std::printf("ready\n");
            std::fflush(stdout);
            told_ready = true;
        }
        while (r.out_connected && r.inflight < r.window && !r.waiting.empty()) {
            auto& w = r.waiting.front();
            const int rc = mosquitto_publish_v5(out, nullptr, w.topic.c_str(),
                                                static_cast<int>(w.payload.size()),
                                                w.payload.data(), 1, false, nullptr);
            if (rc != MOSQ_ERR_SUCCESS) fail("publish failed");
            ++r.inflight;
            ++r.relayed;
            r.waiting.pop_front();
        }
        pollfd fds[2] = {
            {mosquitto_socket(in),
             static_cast<short>(POLLIN | (mosquitto_want_write(in) ? POLLOUT : 0)), 0},
            {mosquitto_socket(out),
             static_cast<short>(POLLIN | (mosquitto_want_write(out) ? POLLOUT : 0)), 0},
        };
        const int n = ::poll(fds, 2, 1000);
        if (n < 0 && errno != EINTR) fail("poll failed");
        if (n > 0) {
            step(in, fds[0].revents);
            step(out, fds[1].revents);
        }
        timespec now{};
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec != last_misc.tv_sec) { // keepalive, once a second
            mosquitto_loop_misc(in);
            mosquitto_loop_misc(out);
            last_misc = now;
        }
    }
}

} // namespace

int main(int argc, char** argv) {
    int in_port = 0;
    int out_port = 0;
    std::string topic = "platform/acrel/meter/json-v2/analog/#";
    relay r;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string_view k = argv[i];
        if (k == "--in-port")
            in_port = std::atoi(argv[i + 1]);
        else if (k == "--out-port")
            out_port = std::atoi(argv[i + 1]);
        else if (k == "--topic")
            topic = argv[i + 1];
        else if (k == "--window")
            r.window = std::atoi(argv[i + 1]);
        else
            fail("unknown option");
    }
    std::signal(SIGTERM, on_signal);
    std::signal(SIGINT, on_signal);
    mosquitto_lib_init();
    mosquitto* in = make_client("bare-relay-in", r);
    mosquitto* out = make_client("bare-relay-out", r);
    mosquitto_int_option(out, MOSQ_OPT_SEND_MAXIMUM, r.window);

    set_callbacks(in, out);
    if (mosquitto_connect(in, "127.0.0.1", in_port, 60) != MOSQ_ERR_SUCCESS ||
        mosquitto_connect(out, "127.0.0.1", out_port, 60) != MOSQ_ERR_SUCCESS)
        fail("cannot connect");
    run(in, out, r, topic);
    std::printf("relayed=%llu acked=%llu\n", static_cast<unsigned long long>(r.relayed),
                static_cast<unsigned long long>(r.acked));
    mosquitto_disconnect(in);
    mosquitto_disconnect(out);
    mosquitto_destroy(in);
    mosquitto_destroy(out);
    mosquitto_lib_cleanup();
    return 0;
}
