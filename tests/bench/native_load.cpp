// The native relay benches' load and counting (tests/bench/native_relay_bench.py,
// native_scale_bench.py): simulated ADW300-4G meters publishing json-v2 (docs/native.md, the
// full id table 0..72, ICCID id 33 in each meter's first message only) over
// libmosquitto, and a subscriber on the uplink side that counts what was relayed. Three modes:
//
//   native_load flood --pub-port P --count-port U --count-topic F [--serials N] [--window W]
//                     [--seconds S] [--warmup S] [--seq] [--stats FILE]
//     N serials round robin, as fast as the relay takes them: at most W messages published but
//     not yet seen on the uplink side (so that neither broker queues without bound and the relay
//     never waits for input). Measures relayed messages/s over S seconds after a warm-up, then
//     stops publishing and waits until every message came out. --seq: the uplink messages are
//     meterbridge readings; each device's seq is checked 1..N without holes.
//   native_load paced --pub-port P --meters N --start-ms T [--interval-ms I] [--seconds S]
//                     [--serial-base B] [--stats FILE]
//     N meters each publishing once per interval from wall-clock time T (Unix ms) on, spread
//     evenly over the interval, for S intervals; at QoS 1, acknowledged before it exits.
//   native_load count --port U --gw G [--prefix meterbridge] [--stats FILE]
//     Counts {prefix}/{gw}/+/data per device (seq continuity, duplicates) and the first
//     {prefix}/{gw}/+/meta of each device (wall-clock time of arrival), until SIGTERM; also
//     every meta message (republished ones too) and every cleared meta (an empty payload).
//
// Every mode prints "ready" once connected (and subscribed), a "progress …" line each second,
// and writes its figures as JSON to --stats when it ends. Loopback only.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

std::atomic<bool> g_stop{false};

void on_signal(int /*sig*/) {
    g_stop = true;
}

std::int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

struct options {
    std::string mode;
    int pub_port = 0;
    int count_port = 0;
    std::string topic = "platform/acrel/meter/json-v2/analog/0000";
    std::string count_topic;
    std::string gw = "bench-gw";
    std::string prefix = "meterbridge";
    int serials = 200;
    int window = 1000;
    double seconds = 10;
    double warmup = 2;
    bool seq = false;
    int meters = 5000;
    std::int64_t start_ms = 0;
    int interval_ms = 1000;
    std::uint64_t serial_base = 24102809510000;
    std::string stats;
    std::string id = "load";
};

[[noreturn]] void usage(const char* why) {
    std::fprintf(stderr, "native_load: %s (see the header of tests/bench/native_load.cpp)\n", why);
    std::exit(2);
}

options parse(int argc, char** argv) {
    options o;
    if (argc < 2) usage("no mode");
    o.mode = argv[1];
    for (int i = 2; i < argc; ++i) {
        const std::string_view k = argv[i];
        if (i + 1 >= argc) usage("an option without its value");
        const char* v = argv[++i];
        if (k == "--pub-port")
            o.pub_port = std::atoi(v);
        else if (k == "--count-port" || k == "--port")
            o.count_port = std::atoi(v);
        else if (k == "--topic")
            o.topic = v;
        else if (k == "--count-topic")
            o.count_topic = v;
        else if (k == "--gw")
            o.gw = v;
        else if (k == "--prefix")
            o.prefix = v;
        else if (k == "--serials")
            o.serials = std::atoi(v);
        else if (k == "--window")
            o.window = std::atoi(v);
        else if (k == "--seconds")
            o.seconds = std::atof(v);
        else if (k == "--warmup")
            o.warmup = std::atof(v);
        else if (k == "--seq")
            o.seq = std::string_view(v) == "1";
        else if (k == "--meters")
            o.meters = std::atoi(v);
        else if (k == "--start-ms")
            o.start_ms = std::atoll(v);
        else if (k == "--interval-ms")
            o.interval_ms = std::atoi(v);
        else if (k == "--serial-base")
            o.serial_base = std::strtoull(v, nullptr, 10);
        else if (k == "--stats")
            o.stats = v;
        else if (k == "--id")
            o.id = v;
        else
            usage("unknown option");
    }
    return o;
}

// --- the meter side: json-v2 payloads -------------------------------------------------------

// One meter's payload with a fixed-width timestamp field patched in per message: building the
// document costs nothing per message, so the publisher is never what limits the figure.
struct meter_payload {
    std::string serial;
    std::string first; // with the ICCID (id 33): the first message after power-up
    std::string usual;
    std::size_t first_tp = 0; // offset of the 13 timestamp digits
    std::size_t usual_tp = 0;
    bool sent_first = false;
    std::uint64_t published = 0;
    std::int64_t last_tp = 0;
};

// Plausible engineering values for id 1..72 (docs/native.md units: kW, kvar, kVA, kWh …),
// varied a little per meter so that no two documents are the same.
std::string point_value(int id, std::uint64_t k) {
    const double f = 1.0 + static_cast<double>(k % 97) / 1000.0;
    char b[64];
    if (id >= 1 && id <= 3)
        std::snprintf(b, sizeof b, "%.1f", 229.0 * f);
    else if (id <= 6)
        std::snprintf(b, sizeof b, "%.1f", 398.0 * f);
    else if (id <= 9)
        std::snprintf(b, sizeof b, "%.3f", 12.345 * f);
    else if (id <= 21)
        std::snprintf(b, sizeof b, "%.3f", (id % 4 == 1 ? 8.123 : 2.741) * f);
    else if (id <= 25)
        std::snprintf(b, sizeof b, "%.3f", 0.951);
    else if (id == 26)
        std::snprintf(b, sizeof b, "%.2f", 50.02);
    else if (id == 27)
        std::snprintf(b, sizeof b, "%d", -71);
    else if (id <= 31)
        std::snprintf(b, sizeof b, "%.2f", 12345.67 * f + id);
    else if (id == 32)
        std::snprintf(b, sizeof b, "%.3f", 7.912 * f);
    else if (id == 34)
        std::snprintf(b, sizeof b, "%d", 1);
    else if (id == 35)
        std::snprintf(b, sizeof b, "%d", 40);
    else if (id <= 39)
        std::snprintf(b, sizeof b, "%.1f", 31.5 + (id - 36));
    else if (id == 40)
        std::snprintf(b, sizeof b, "%.3f", 0.012);
    else if (id == 41)
        std::snprintf(b, sizeof b, "%d", 5);
    else if (id <= 53)
        std::snprintf(b, sizeof b, "%.2f", 4115.22 * f + id);
    else if (id <= 59)
        std::snprintf(b, sizeof b, "%.2f", 2.31 + (id - 54) * 0.1);
    else if (id <= 62)
        std::snprintf(b, sizeof b, "%.3f", 1.204 * f);
    else if (id <= 64)
        std::snprintf(b, sizeof b, "%.2f", 1.37);
    else
        std::snprintf(b, sizeof b, "%.2f", 3086.4 * f + id);
    return b;
}

std::string document(const std::string& serial, std::uint64_t k, bool iccid, std::size_t& tp_at) {
    std::string s = R"({"data":[{"tp":)";
    tp_at = s.size();
    s += "0000000000000";
    s += R"(,"point":[{"id":0,"val":")" + serial + "\"}";
    for (int id = 1; id <= 72; ++id) {
        if (id == 33) {
            if (iccid) s += R"(,{"id":33,"val":"8986042037880998454F"})";
            continue;
        }
        s += ",{\"id\":" + std::to_string(id) + ",\"val\":" + point_value(id, k) + "}";
    }
    s += "]}]}";
    return s;
}

std::vector<meter_payload> make_meters(std::uint64_t base, int n) {
    std::vector<meter_payload> out(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        auto& m = out[static_cast<std::size_t>(i)];
        m.serial = std::to_string(base + static_cast<std::uint64_t>(i));
        m.first = document(m.serial, base + i, true, m.first_tp);
        m.usual = document(m.serial, base + i, false, m.usual_tp);
    }
    return out;
}

// The message to send next for m with timestamp tp (13 digits: Unix ms after 2001).
const std::string& stamp(meter_payload& m, std::int64_t tp) {
    std::string& doc = m.sent_first ? m.usual : m.first;
    const std::size_t at = m.sent_first ? m.usual_tp : m.first_tp;
    m.sent_first = true;
    char digits[24];
    std::snprintf(digits, sizeof digits, "%013lld", static_cast<long long>(tp));
    std::memcpy(doc.data() + at, digits, 13);
    m.last_tp = tp;
    ++m.published;
    return doc;
}

// --- the uplink side: counting -----------------------------------------------------------------

struct device_count {
    std::uint64_t messages = 0;
    std::uint64_t duplicates = 0;
    std::vector<bool> seen; // by seq
    std::uint64_t max_seq = 0;
    std::int64_t meta_ms = 0; // wall clock of the first meta; 0: none yet
};

struct counter {
    std::mutex mu;
    std::condition_variable cv;
    std::uint64_t received = 0; // data messages (or any message without --seq)
    std::uint64_t metas = 0;
    std::uint64_t meta_msgs = 0; // every meta message with a payload, republished ones too
    std::uint64_t clears = 0;    // meta messages with an empty payload
    std::uint64_t bad = 0;       // data without a readable seq
    bool subscribed = false;
    bool seq = false;
    std::string prefix; // "{prefix}/{gw}/"
    std::unordered_map<std::string, device_count> devices;
    std::int64_t last_meta_ms = 0;

    void take(const char* topic, const void* payload, int len) {
        const std::string_view t(topic);
        const std::lock_guard lk(mu);
        if (!seq) {
            ++received;
            cv.notify_all();
            return;
        }
        if (!t.starts_with(prefix)) return;
        const auto rest = t.substr(prefix.size());
        const auto slash = rest.find('/');
        if (slash == std::string_view::npos) return;
        const auto leaf = rest.substr(slash + 1);
        auto& d = devices[std::string(rest.substr(0, slash))];
        if (leaf == "meta") {
            ++(len > 0 ? meta_msgs : clears);
            if (d.meta_ms == 0 && len > 0) {
                d.meta_ms = wall_ms();
                last_meta_ms = d.meta_ms;
                ++metas;
            }
            return;
        }
        if (leaf != "data") return;
        const std::string_view p(static_cast<const char*>(payload), static_cast<std::size_t>(len));
        const auto at = p.find("\"seq\":");
        if (at == std::string_view::npos) {
            ++bad;
            return;
        }
        const std::uint64_t s = std::strtoull(p.data() + at + 6, nullptr, 10);
        if (s == 0) {
            ++bad;
            return;
        }
        if (d.seen.size() <= s) d.seen.resize(std::max<std::size_t>(s + 1, d.seen.size() * 2));
        if (d.seen[s]) {
            ++d.duplicates;
            return;
        }
        d.seen[s] = true;
        d.max_seq = std::max(d.max_seq, s);
        ++d.messages;
        ++received;
        cv.notify_all();
    }

    // Devices whose seqs are not exactly 1..max, and the missing seqs in all.
    void holes(std::uint64_t& devices_with_holes, std::uint64_t& missing,
               std::uint64_t& duplicates) const {
        devices_with_holes = missing = duplicates = 0;
        for (const auto& [name, d] : devices) {
            duplicates += d.duplicates;
            if (d.max_seq > d.messages) {
                ++devices_with_holes;
                missing += d.max_seq - d.messages;
            }
        }
    }
};

mosquitto* connect_client(const std::string& id, void* obj, int send_maximum) {
    mosquitto* m = mosquitto_new(id.c_str(), true, obj);
    if (m == nullptr) usage("mosquitto_new failed");
    mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    mosquitto_int_option(m, MOSQ_OPT_SEND_MAXIMUM, send_maximum);
    mosquitto_int_option(m, MOSQ_OPT_RECEIVE_MAXIMUM, 65535);
    mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
    return m;
}

void start_client(mosquitto* m, int port) {
    if (mosquitto_connect(m, "127.0.0.1", port, 60) != MOSQ_ERR_SUCCESS)
        usage("cannot connect to the broker");
    if (mosquitto_loop_start(m) != MOSQ_ERR_SUCCESS) usage("mosquitto_loop_start failed");
}

void end_client(mosquitto* m) {
    mosquitto_disconnect(m);
    mosquitto_loop_stop(m, false);
    mosquitto_destroy(m);
}

// A subscriber whose SUBACK has come: nothing published afterwards is missed.
mosquitto* start_counter(counter& c, const options& o, const std::vector<std::string>& topics) {
    mosquitto* m = connect_client(o.id + "-count", &c, 100);
    static std::vector<std::string> subs;
    subs = topics;
    mosquitto_connect_v5_callback_set(
        m, [](mosquitto* mq, void*, int rc, int, const mosquitto_property*) {
            if (rc != 0) return;
            for (const auto& t : subs)
                mosquitto_subscribe_v5(mq, nullptr, t.c_str(), 1, 0, nullptr);
        });
    mosquitto_subscribe_v5_callback_set(
        m, [](mosquitto*, void* p, int mid, int, const int*, const mosquitto_property*) {
            auto& cc = *static_cast<counter*>(p);
            const std::lock_guard lk(cc.mu);
            if (mid >= static_cast<int>(subs.size())) cc.subscribed = true;
            cc.cv.notify_all();
        });
    mosquitto_message_v5_callback_set(
        m, [](mosquitto*, void* p, const mosquitto_message* msg, const mosquitto_property*) {
            static_cast<counter*>(p)->take(msg->topic, msg->payload, msg->payloadlen);
        });
    start_client(m, o.count_port);
    std::unique_lock lk(c.mu);
    if (!c.cv.wait_for(lk, std::chrono::seconds(10), [&] { return c.subscribed; }))
        usage("no SUBACK from the uplink broker");
    return m;
}

struct publisher_state {
    std::mutex mu;
    std::condition_variable cv;
    bool connected = false;
    std::uint64_t acked = 0;
};

mosquitto* start_publisher(publisher_state& st, const options& o, int send_maximum) {
    mosquitto* m = connect_client(o.id + "-pub", &st, send_maximum);
    mosquitto_connect_v5_callback_set(
        m, [](mosquitto*, void* p, int rc, int, const mosquitto_property*) {
            auto& s = *static_cast<publisher_state*>(p);
            const std::lock_guard lk(s.mu);
            s.connected = rc == 0;
            s.cv.notify_all();
        });
    mosquitto_publish_v5_callback_set(m,
                                      [](mosquitto*, void* p, int, int, const mosquitto_property*) {
                                          auto& s = *static_cast<publisher_state*>(p);
                                          const std::lock_guard lk(s.mu);
                                          ++s.acked;
                                          s.cv.notify_all();
                                      });
    start_client(m, o.pub_port);
    std::unique_lock lk(st.mu);
    if (!st.cv.wait_for(lk, std::chrono::seconds(10), [&] { return st.connected; }))
        usage("no CONNACK from the meters' broker");
    return m;
}

void write_stats(const options& o, const std::string& json) {
    if (o.stats.empty()) return;
    const std::string tmp = o.stats + ".tmp";
    if (FILE* f = std::fopen(tmp.c_str(), "w")) {
        std::fputs(json.c_str(), f);
        std::fclose(f);
        std::rename(tmp.c_str(), o.stats.c_str());
    }
}

std::string count_json(counter& c) {
    std::uint64_t with_holes = 0;
    std::uint64_t missing = 0;
    std::uint64_t dups = 0;
    c.holes(with_holes, missing, dups);
    std::uint64_t min_count = UINT64_MAX;
    std::uint64_t max_count = 0;
    for (const auto& [n, d] : c.devices) {
        if (d.messages == 0) continue;
        min_count = std::min(min_count, d.messages);
        max_count = std::max(max_count, d.messages);
    }
    if (min_count == UINT64_MAX) min_count = 0;
    std::string per_device;
    for (const auto& [n, d] : c.devices) {
        if (!per_device.empty()) per_device += ",";
        per_device += "\"" + n + "\":[" + std::to_string(d.messages) + "," +
                      std::to_string(d.max_seq) + "," + std::to_string(d.duplicates) + "," +
                      std::to_string(d.meta_ms) + "]";
    }
    char head[768];
    std::snprintf(
        head, sizeof head,
        R"({"received":%llu,"devices":%zu,"metas":%llu,"last_meta_ms":%lld,)"
        R"("devices_with_holes":%llu,"missing":%llu,"duplicates":%llu,"bad":%llu,)"
        R"("min_per_device":%llu,"max_per_device":%llu,"meta_msgs":%llu,"clears":%llu,)",
        static_cast<unsigned long long>(c.received), c.devices.size(),
        static_cast<unsigned long long>(c.metas), static_cast<long long>(c.last_meta_ms),
        static_cast<unsigned long long>(with_holes), static_cast<unsigned long long>(missing),
        static_cast<unsigned long long>(dups), static_cast<unsigned long long>(c.bad),
        static_cast<unsigned long long>(min_count), static_cast<unsigned long long>(max_count),
        static_cast<unsigned long long>(c.meta_msgs), static_cast<unsigned long long>(c.clears));
    return std::string(head) + "\"per_device\":{" + per_device + "}}";
}

// --- modes ----------------------------------------------------------------------------------

int run_flood(const options& o) {
    counter c;
    c.seq = o.seq;
    c.prefix = o.prefix + "/" + o.gw + "/";
    std::vector<std::string> topics{o.count_topic};
    mosquitto* sub = start_counter(c, o, topics);
    publisher_state st;
    mosquitto* pub = start_publisher(st, o, 1000);
    auto meters = make_meters(o.serial_base, o.serials);
    std::printf("ready\n");
    std::fflush(stdout);

    // Timestamps an hour in the past, +1 ms per round: strictly rising per meter (the relay
    // drops a repeated timestamp as a QoS 1 duplicate), and well inside its clock tolerance.
    const std::int64_t base_tp = wall_ms() - 3'600'000;
    std::uint64_t published = 0;
    const auto start = clock_type::now();
    const auto measure_from = start + std::chrono::duration<double>(o.warmup);
    const auto measure_to = measure_from + std::chrono::duration<double>(o.seconds);
    std::uint64_t at_from = 0;
    bool measuring = false;
    auto next_progress = start + std::chrono::seconds(1);
    std::uint64_t stalls = 0;
    std::unique_lock lk(c.mu);
    while (!g_stop) {
        const auto now = clock_type::now();
        if (!measuring && now >= measure_from) {
            measuring = true;
            at_from = c.received;
        }
        if (now >= measure_to) break;
        if (now >= next_progress) {
            std::printf("progress published=%llu received=%llu\n",
                        static_cast<unsigned long long>(published),
                        static_cast<unsigned long long>(c.received));
            std::fflush(stdout);
            next_progress += std::chrono::seconds(1);
        }
        if (published - c.received >= static_cast<std::uint64_t>(o.window)) {
            if (!c.cv.wait_for(lk, std::chrono::seconds(5), [&] {
                    return published - c.received < static_cast<std::uint64_t>(o.window);
                }))
                ++stalls; // nothing came out for 5 s: told in the figures
            continue;
        }
        lk.unlock();
        auto& m = meters[published % meters.size()];
        const auto round = static_cast<std::int64_t>(published / meters.size());
        const auto& doc = stamp(m, base_tp + round);
        const int rc =
            mosquitto_publish_v5(pub, nullptr, o.topic.c_str(), static_cast<int>(doc.size()),
                                 doc.data(), 1, false, nullptr);
        lk.lock();
        if (rc != MOSQ_ERR_SUCCESS) {
            std::fprintf(stderr, "native_load: publish failed: %s\n", mosquitto_strerror(rc));
            break;
        }
        ++published;
    }
    const auto end = clock_type::now();
    const std::uint64_t in_window = c.received - at_from;
    const double secs = std::chrono::duration<double>(end - measure_from).count();
    // Everything published must come out: wait until it has, or nothing moved for 10 s.
    std::uint64_t before = UINT64_MAX;
    while (c.received < published && c.received != before) {
        before = c.received;
        c.cv.wait_for(lk, std::chrono::seconds(10), [&] { return c.received >= published; });
    }
    const double drained_s = std::chrono::duration<double>(clock_type::now() - end).count();
    lk.unlock();
    end_client(pub);
    end_client(sub);
    std::string json;
    {
        const std::lock_guard l2(c.mu);
        char head[512];
        std::snprintf(head, sizeof head,
                      R"({"published":%llu,"window_messages":%llu,"window_s":%.3f,)"
                      R"("per_second":%.1f,"drain_s":%.3f,"stalls":%llu,"payload_bytes":%zu,)",
                      static_cast<unsigned long long>(published),
                      static_cast<unsigned long long>(in_window), secs,
                      static_cast<double>(in_window) / secs, drained_s,
                      static_cast<unsigned long long>(stalls), meters[0].usual.size());
        json = std::string(head) + "\"count\":" + count_json(c) + "}";
    }
    write_stats(o, json);
    std::printf("done published=%llu received=%llu per_second=%.1f\n",
                static_cast<unsigned long long>(published),
                static_cast<unsigned long long>(c.received), static_cast<double>(in_window) / secs);
    return 0;
}

int run_paced(const options& o) {
    publisher_state st;
    mosquitto* pub = start_publisher(st, o, 65535);
    auto meters = make_meters(o.serial_base, o.meters);
    std::printf("ready\n");
    std::fflush(stdout);
    const auto n = static_cast<std::int64_t>(meters.size());
    const auto rounds = static_cast<std::int64_t>(std::llround(o.seconds * 1000.0 / o.interval_ms));
    const std::int64_t total = rounds * n;
    std::int64_t sent = 0;
    std::int64_t late_max_ms = 0; // how far behind its due time the publisher ever was
    std::int64_t next_progress = o.start_ms + 1000;
    while (!g_stop && sent < total) {
        // Message k is meter k % n's in round k / n, due at start + round * interval + the
        // meter's own offset in the interval.
        const std::int64_t round = sent / n;
        const std::int64_t i = sent % n;
        const std::int64_t due = o.start_ms + round * o.interval_ms + i * o.interval_ms / n;
        const std::int64_t now = wall_ms();
        if (now >= next_progress) {
            std::printf("progress published=%lld\n", static_cast<long long>(sent));
            std::fflush(stdout);
            next_progress += 1000;
        }
        if (now < due) {
            std::this_thread::sleep_for(std::chrono::milliseconds(std::min<std::int64_t>(
                due - now, 5))); // pacing, in steps short enough to see a SIGTERM
            continue;
        }
        late_max_ms = std::max(late_max_ms, now - due);
        auto& m = meters[static_cast<std::size_t>(i)];
        const auto& doc = stamp(m, std::max(now, m.last_tp + 1));
        const int rc =
            mosquitto_publish_v5(pub, nullptr, o.topic.c_str(), static_cast<int>(doc.size()),
                                 doc.data(), 1, false, nullptr);
        if (rc != MOSQ_ERR_SUCCESS) {
            std::fprintf(stderr, "native_load: publish failed: %s\n", mosquitto_strerror(rc));
            break;
        }
        ++sent;
    }
    {
        std::unique_lock lk(st.mu);
        st.cv.wait_for(lk, std::chrono::seconds(30),
                       [&] { return st.acked >= static_cast<std::uint64_t>(sent); });
    }
    end_client(pub);
    std::string per;
    for (const auto& m : meters) {
        if (!per.empty()) per += ",";
        per += "\"" + m.serial + "\":" + std::to_string(m.published);
    }
    char head[256];
    std::snprintf(head, sizeof head,
                  R"({"published":%lld,"acked":%llu,"late_max_ms":%lld,"payload_bytes":%zu,)",
                  static_cast<long long>(sent), static_cast<unsigned long long>(st.acked),
                  static_cast<long long>(late_max_ms), meters[0].usual.size());
    write_stats(o, std::string(head) + "\"per_serial\":{" + per + "}}");
    std::printf("done published=%lld\n", static_cast<long long>(sent));
    return 0;
}

int run_count(const options& o) {
    counter c;
    c.seq = true;
    c.prefix = o.prefix + "/" + o.gw + "/";
    mosquitto* sub = start_counter(c, o, {c.prefix + "+/data", c.prefix + "+/meta"});
    std::printf("ready\n");
    std::fflush(stdout);
    while (!g_stop) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        static auto next = clock_type::now();
        if (clock_type::now() < next) continue;
        next += std::chrono::seconds(1);
        const std::lock_guard lk(c.mu);
        std::printf("progress received=%llu devices=%zu metas=%llu meta_msgs=%llu clears=%llu\n",
                    static_cast<unsigned long long>(c.received), c.devices.size(),
                    static_cast<unsigned long long>(c.metas),
                    static_cast<unsigned long long>(c.meta_msgs),
                    static_cast<unsigned long long>(c.clears));
        std::fflush(stdout);
    }
    end_client(sub);
    const std::lock_guard lk(c.mu);
    write_stats(o, count_json(c));
    std::printf("done received=%llu\n", static_cast<unsigned long long>(c.received));
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    const options o = parse(argc, argv);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGINT, on_signal);
    mosquitto_lib_init();
    int rc = 2;
    if (o.mode == "flood")
        rc = run_flood(o);
    else if (o.mode == "paced")
        rc = run_paced(o);
    else if (o.mode == "count")
        rc = run_count(o);
    else
        usage("mode is flood, paced or count");
    mosquitto_lib_cleanup();
    return rc;
}
