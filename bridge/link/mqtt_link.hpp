#pragma once
// One MQTT connection driven by the libuv loop (docs/architecture.md#mqtt-on-the-loop):
// libmosquitto in external-loop mode, no threads. Used by the uplink and by native sources. Loop
// thread only.
//
// The socket is watched by a uv_poll whose write interest follows mosquitto_want_write() once
// the TCP connect is done (before that, always: mqtt_link_connect.cpp says why); a 1 s timer
// runs mosquitto_loop_misc() (PINGREQ, keepalive loss) once connected, and before CONNACK
// ends an attempt that takes longer than min(10 s, keepalive). libmosquitto closes the fd
// before it calls on_disconnect, so that callback is where the poll handle goes; a reconnect
// gets a new fd and a new poll handle. Reconnects are ours: capped, jittered back-off, reset
// only after the link stayed up for `stable_after`; AUTH/TLS refusals too, at error level.
//
// Name resolution: an IP literal is used as is. A hostname is resolved with uv_getaddrinfo
// first (on libuv's thread pool), so a dead resolver never stalls the loop. Plain TCP then
// connects to one of its addresses, the next one on each further attempt (localhost may be
// ::1 first while the broker listens on 127.0.0.1 only).
// TLS passes the hostname on to libmosquitto, because it verifies the broker certificate
// against the string it was given (an IP would be checked against IP SANs and fail); that
// costs libmosquitto's own blocking getaddrinfo on the loop thread, a second lookup (quick
// when a local cache such as systemd-resolved holds the name just resolved) bounded by the
// resolver options (the daemon runs with RES_OPTIONS="timeout:1 attempts:2"). Only plain TCP
// is tested to resolve off the loop (mqtt_link_test: hostname_is_resolved_off_the_loop).
//
// Two clients with the same client id knock each other off the broker in a loop (each
// CONNECT takes the session over). The log suggests the clash (rate-limited) after three kicks
// in a row, a kick being a drop of an established connection that the broker made while it
// stayed up: an MQTT 5 DISCONNECT "session taken over" (0x8E), or a close without a reason
// within 60 s of connecting (3.1.1, or a broker that says nothing). A drop with another
// reason (0x8B "server shutting down", keepalive loss) or any failed attempt on the way back
// (the broker was down: a flap) starts the count over.
//
// QoS 1 messages in flight survive a reconnect inside libmosquitto (it resends them on the
// same instance), so their mids stay in the window until their PUBACK arrives.
//
// MQTT 3.1.1 (link_settings::protocol): with "auto" each connection starts in MQTT 5 and goes
// down to 3.1.1 only on the broker's real answer (protocol_choice.hpp says which answers
// count, and why one closed connection does not); the first fall-back is logged at info, later
// ones at debug. Under 3.1.1 no subscription options go out (no retain handling: the downlink
// ignores retained commands itself), and the broker cannot say that a PUBLISH is too large: it
// closes the connection, and libmosquitto would send the same message again after every
// reconnect.
//
// Poison messages (3.1.1): the link keeps a copy of each QoS 1 message until its PUBACK.
// The broker closing the connection within `poison_window` of a message going out, with
// messages unacknowledged, makes the next connections careful: libmosquitto sends one
// message at a time (MOSQ_OPT_SEND_MAXIMUM 1), so the one unacknowledged at a close is the
// one the broker choked on. (With more in flight it cannot be told: the broker resets the
// socket with our unread bytes in it, and the PUBACKs it had just sent for the messages
// before are lost with it, so "the oldest unacknowledged" is often innocent.) The same
// message unacknowledged at the close of `poison_drops` - 1 careful connections in a row
// (`poison_drops` closes in all) is given up: on_ack(mid, delivery::drop), the queue makes it
// a "refused" gap, and libmosquitto, which cannot forget one message, is replaced by a fresh
// instance on which the other copies are published again after CONNACK, in their order.
// Their PUBACKs come back under the mids the caller knows: mids as seen by callers are the
// link's own, libmosquitto's are mapped to them. A later message on the same topic at least
// as large is refused by publish() at once (link_errc::given_up, never_taken). A careful
// connection that stays up for `poison_window` ends the careful mode with one clean
// reconnect (libmosquitto's send quota only refills on a reconnect).
//
// Throughput (tests/bench/uplink_bench.cpp): PUBACKs read by one mosquitto_loop_read are
// handed to on_ack after it returns, not from inside libmosquitto's callback. A publish made
// inside a callback is only queued, and its wake-up write to libmosquitto's internal socket
// pair (unread in external-loop mode) fails with EAGAIN, which ends loop_read after one
// packet: one epoll round trip and two uv_poll re-arms (EPOLL_CTL_DEL + ADD) per reading.
// Outside the callback the publish is written at once and the write interest stays off.
#include "bridge/link/held_messages.hpp"
#include "bridge/link/link_settings.hpp"
#include "bridge/link/poison_watch.hpp"
#include "bridge/link/protocol_choice.hpp"
#include "bridge/link/subscriptions.hpp"
#include "bridge/link/tls_diagnosis.hpp"
#include "common/log.hpp"
#include "common/uv_handle.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace mb::bridge {

struct incoming_message {
    std::string_view topic;
    std::string_view payload;
    int qos = 0;
    bool retain = false;
};

// The outcome of one QoS 1 publish (docs/contributing.md#errors-are-values): ok on PUBACK, drop
// when the broker refused it (PUBACK reason >= 0x80: not authorized, quota, …): sending it again
// won't help.
enum class delivery : unsigned char { ok, drop };

struct publish_options {
    int qos = 1;
    bool retain = false;
    // Counts against max_inflight (readings). Control messages (status, meta, results) go
    // out even when the window is full; libmosquitto queues them past the broker's quota.
    bool windowed = true;
};

// A libuv error (UV_E*, a negated errno on Unix) as an error_code.
std::error_code uv_error(int rc) noexcept;

class mqtt_link {
public:
    struct callbacks {
        std::function<void()> on_connect;                               // CONNACK accepted
        std::function<void(std::error_code)> on_disconnect;             // link lost (not on stop())
        std::function<void(int mid, delivery d, bool windowed)> on_ack; // every QoS 1 PUBACK
        std::function<void(const incoming_message&)> on_message;
        std::function<void()> on_stopped; // after stop(): disconnected and quiet
        // Every SUBACK to a subscribe() (or to the link's own retry of a refused one).
        std::function<void(const subscription_answer&)> on_subscribe;
    };

    mqtt_link(uv_loop_t& loop, link_settings settings, callbacks cb);
    ~mqtt_link();
    mqtt_link(const mqtt_link&) = delete;
    mqtt_link& operator=(const mqtt_link&) = delete;

    // Applies the settings and starts connecting; failures to connect are retried, only
    // settings libmosquitto refuses (unreadable CA file, …) come back here.
    std::error_code start();
    // The mid is set for QoS 1 (its PUBACK comes back through on_ack).
    std::error_code publish(std::string_view topic, std::string_view payload, publish_options opts,
                            int* mid = nullptr);
    // True when publish() failed because libmosquitto will never take this message (larger
    // than the broker's Maximum Packet Size, malformed topic, …), or because the link gave up
    // on one as large on the same topic (a poison message): retrying cannot help.
    [[nodiscard]] static bool never_taken(const std::error_code& ec) noexcept;
    // options: MQTT v5 subscription options (MQTT_SUB_OPT_*), e.g. SEND_RETAIN_NEVER. The
    // broker's SUBACK comes back through on_subscribe; a refused subscription is asked again
    // on the reconnect back-off while this connection lasts (subscriptions.hpp).
    std::error_code subscribe(const std::string& filter, int qos, int options = 0);
    // The words for a SUBACK reason code in this connection's MQTT version, for the log.
    [[nodiscard]] std::string subscribe_reason(int reason) const;
    // Sends DISCONNECT (the will is not published), waits up to stop_grace, then on_stopped.
    void stop();

    [[nodiscard]] bool connected() const { return connected_; }
    [[nodiscard]] std::size_t inflight() const { return held_.windowed(); }
    [[nodiscard]] std::size_t window_room() const;
    [[nodiscard]] const link_settings& settings() const { return settings_; }
    // The MQTT version of the current (or next) attempt: MQTT_PROTOCOL_V5 or _V311.
    [[nodiscard]] int protocol_version() const { return protocol_.version(); }
    [[nodiscard]] unsigned attempt_for_test() const { return attempt_; }
    // MQTT 5: the Maximum Packet Size the broker announced in its CONNACK; 0: none (no limit
    // said, or MQTT 3.1.1).
    [[nodiscard]] std::uint32_t max_packet_size() const { return max_packet_size_; }
    // The size of a PUBLISH of this topic and payload on the wire (in this connection's MQTT
    // version, without properties), as the broker compares it with its Maximum Packet Size.
    [[nodiscard]] std::size_t publish_size(std::string_view topic, std::size_t payload,
                                           int qos) const;

    // Poison messages (above): this many disconnects in a row, each within the window.
    static constexpr unsigned poison_drops = poison_watch::drops;
    static constexpr std::chrono::seconds poison_window = poison_watch::window;

private:
    // A uv_getaddrinfo request outlives the link if the link is destroyed while it runs: the
    // request frees itself in its callback and only reaches the link while `owner` is set.
    struct resolve_req {
        uv_getaddrinfo_t req{};
        mqtt_link* owner = nullptr;
    };
    static void on_poll(uv_poll_t* h, int status, int events) noexcept;
    static void on_misc(uv_timer_t* t) noexcept;
    static void on_retry(uv_timer_t* t) noexcept;
    static void on_grace(uv_timer_t* t) noexcept;
    static void on_deferred_stop(uv_timer_t* t) noexcept;
    static void on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* res) noexcept;
    static void on_connect(mosquitto* /*mosq*/, void* obj, int rc, int /*flags*/,
                           const mosquitto_property* props) noexcept;
    static void on_disconnect(mosquitto* /*mosq*/, void* obj, int rc,
                              const mosquitto_property* /*props*/) noexcept;
    static void on_publish(mosquitto* /*mosq*/, void* obj, int mid, int reason,
                           const mosquitto_property* /*props*/) noexcept;
    static void on_message(mosquitto* /*mosq*/, void* obj, const mosquitto_message* m,
                           const mosquitto_property* /*props*/) noexcept;
    static void on_suback(mosquitto* /*mosq*/, void* obj, int mid, int count, const int* granted,
                          const mosquitto_property* /*props*/) noexcept;
    static void on_log(mosquitto* /*mosq*/, void* obj, int level, const char* text) noexcept;

    void handle_poll(int status, int events);
    std::error_code send_subscribe(subscription_request r);
    void resubscribe_due();
    void misc_tick();
    void resolved(int status, const addrinfo* res);
    // A publish that returned `rc` still queued its QoS > 0 message (rc came from the write).
    [[nodiscard]] static bool queued_despite(int rc) noexcept;
    std::error_code apply_settings();
    void begin_attempt();
    void connect_to(const std::string& host);
    void attach_socket();
    // Before CONNACK: a failed or closed TCP connect ends the attempt (true) with its reason.
    bool connect_failed(int errno_hint);
    void fail_attempt(const std::string& why, bool broker_closed);
    void poll_connecting(int status);
    void check_connect_time();
    [[nodiscard]] std::chrono::seconds keepalive() const; // as given to libmosquitto
    void detach_socket();
    // The libmosquitto instance calls back no more (before it is destroyed or replaced).
    void silence_callbacks();
    void update_interest();
    int read_socket();
    void deliver_acks() noexcept;
    void handle_disconnect(int rc);
    // An attempt ended before CONNACK: true when another one follows at once (auto: MQTT 5
    // once more, or 3.1.1), false when the back-off applies.
    bool fall_back(bool broker_closed);
    void log_fallback(); // this connection speaks 3.1.1: why
    // A hint for the log when the broker would not take MQTT 5.
    [[nodiscard]] std::string protocol_hint(bool broker_closed) const;
    // At a disconnect (rc, errno): is the oldest unacknowledged message a poison one? True
    // when it was given up just now.
    bool note_poison(int rc, int err);
    void give_up_poison(int mid);
    void report_poison(); // on_ack(drop) for what give_up_poison took out
    void carry_over();    // the held copies on a fresh instance, right after its CONNACK
    void end_careful();   // a full window again: one clean reconnect
    // A fresh libmosquitto instance with the held copies published again (poison purged).
    std::error_code recreate();
    // The socket is gone but on_disconnect never came: handle it now. True if it did.
    bool closed_silently(int rc) noexcept;
    void schedule_reconnect(const std::string& why);
    // A disconnect (rc, errno) after being up for `up_for`: does it suggest a client id clash?
    void note_disconnect(int rc, int err, std::chrono::steady_clock::duration up_for);
    void finish_stop();
    [[nodiscard]] std::string where() const;

    uv_loop_t& loop_;
    link_settings settings_;
    callbacks cb_;
    std::unique_ptr<mosquitto, void (*)(mosquitto*)> mosq_;
    held_messages held_; // QoS 1 messages awaiting PUBACK, with a copy
    poison_watch poison_;
    bool recreate_ = false;   // replace libmosquitto before the next attempt
    bool carry_over_ = false; // a fresh instance: publish the held copies after CONNACK
    bool renewing_ = false;   // end_careful's own disconnect
    std::chrono::steady_clock::time_point last_ack_{}; // the last PUBACK (careful: next send)
    protocol_choice protocol_;
    bool version_refused_ = false; // this attempt's CONNACK: unsupported protocol version
    protocol_choice::refusal fallback_cause_ = protocol_choice::refusal::none;
    bool fallback_logged_ = false; // the first fall-back to 3.1.1 is logged at info
    struct queued_ack {
        int mid;
        delivery d;
        bool windowed;
    };
    std::vector<queued_ack> acks_;     // read by mosquitto_loop_read, not yet given to on_ack
    std::vector<queued_ack> given_up_; // poison messages, told once the reconnect is set
    std::size_t ack_next_ = 0;         // the next one to give (deliver_acks may be re-entered)
    bool reading_ = false;             // inside mosquitto_loop_read: PUBACKs go to acks_
    std::mt19937_64 rng_;
    subscription_table subscriptions_;
    unsigned attempt_ = 0;
    bool connected_ = false;
    bool ever_connected_ = false;
    bool refused_ = false; // the last attempt was refused (AUTH/TLS): logged as an error
    bool stopping_ = false;
    bool stopped_ = false;
    int interest_ = 0;
    bool tcp_up_ = false; // this attempt's TCP connect is done (write interest may follow lib)
    std::chrono::steady_clock::time_point attempt_since_{};
    std::string target_; // the address (or TLS host name) of this attempt
    std::chrono::steady_clock::time_point up_since_{};
    std::string last_lib_error_; // the last error libmosquitto logged (TLS details)
    tls_files tls_files_;        // what a failed handshake is explained from
    bool tls_explained_ = false; // this attempt's TLS failure got its explanation
    std::uint32_t max_packet_size_ = 0;
    std::string topic_buf_; // publish(): the topic as a C string
    resolve_req* resolving_ = nullptr;
    std::error_code init_error_;    // a timer libuv refused: start() fails with it
    log::rate_limiter retry_log_;   // repeated connection errors, per reason
    unsigned kicks_ = 0;            // drops in a row that look like a client id clash
    bool retry_after_drop_ = false; // this schedule_reconnect() is for a drop, not a failure
    log::rate_limiter clash_log_{std::chrono::minutes(10)};
    // Handles last: closed (uv_close) before mosq_ is destroyed.
    uv_handle<uv_timer_t> misc_;
    uv_handle<uv_timer_t> retry_;
    uv_handle<uv_timer_t> grace_;
    uv_handle<uv_timer_t> deferred_;
    uv_handle<uv_poll_t> poll_; // empty while there is no socket
};

} // namespace mb::bridge
