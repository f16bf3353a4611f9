#include "bridge/link/mqtt_link.hpp"

#include "bridge/link/errors.hpp"
#include "common/log.hpp"

#include <ctime>
#include <exception>
#include <unistd.h>

namespace mb::bridge {
namespace {

constexpr std::string_view system_ca_file = "/etc/ssl/certs/ca-certificates.crt";
constexpr std::string_view system_ca_path = "/etc/ssl/certs";

// mosquitto_lib_init() once per process, before main() (it is not thread-safe itself), and
// no mutable function-static state for it: this object is immutable once built.
struct mosquitto_library {
    int rc = mosquitto_lib_init();
    mosquitto_library() = default;
    ~mosquitto_library() { mosquitto_lib_cleanup(); }
    mosquitto_library(const mosquitto_library&) = delete;
    mosquitto_library& operator=(const mosquitto_library&) = delete;
};
const mosquitto_library library;

std::chrono::steady_clock::time_point now() {
    return std::chrono::steady_clock::now();
}

// Timers are empty only when uv_timer_init failed (then start() refused to run).
void stop_timer(const uv_handle<uv_timer_t>& t) {
    if (t) uv_timer_stop(t.get());
}

} // namespace

std::error_code uv_error(int rc) noexcept {
    return {-rc, std::generic_category()}; // UV_E* is -errno on Unix
}

mqtt_link::mqtt_link(uv_loop_t& loop, link_settings settings, callbacks cb)
    : loop_(loop)
    , settings_(std::move(settings))
    , cb_(std::move(cb))
    , mosq_(nullptr, &mosquitto_destroy)
    , protocol_(settings_.protocol)
    , rng_(std::random_device{}())
    , subscriptions_(settings_.reconnect, rng_()) {
    if (library.rc != MOSQ_ERR_SUCCESS) init_error_ = make_mosq_error(library.rc);
    mosq_.reset(mosquitto_new(settings_.client_id.empty() ? nullptr : settings_.client_id.c_str(),
                              true, this));
    misc_ = make_uv_timer(loop_, this, init_error_);
    retry_ = make_uv_timer(loop_, this, init_error_);
    grace_ = make_uv_timer(loop_, this, init_error_);
    deferred_ = make_uv_timer(loop_, this, init_error_);
}

mqtt_link::~mqtt_link() {
    if (resolving_ != nullptr) resolving_->owner = nullptr;
    detach_socket();     // before mosquitto_destroy closes the fd
    silence_callbacks(); // no callback may reach a half-destroyed link
}

void mqtt_link::silence_callbacks() {
    if (!mosq_) return;
    mosquitto_disconnect_v5_callback_set(mosq_.get(), nullptr);
    mosquitto_connect_v5_callback_set(mosq_.get(), nullptr);
    mosquitto_publish_v5_callback_set(mosq_.get(), nullptr);
    mosquitto_message_v5_callback_set(mosq_.get(), nullptr);
    mosquitto_subscribe_v5_callback_set(mosq_.get(), nullptr);
    mosquitto_log_callback_set(mosq_.get(), nullptr);
}

std::string mqtt_link::where() const {
    return fmt::format("mqtt[{}] {}:{}", settings_.name, settings_.host, settings_.port);
}

std::size_t mqtt_link::window_room() const {
    const auto max = static_cast<std::size_t>(std::max(settings_.max_inflight, 1));
    const std::size_t windowed = held_.windowed();
    return windowed >= max ? 0 : max - windowed;
}

std::error_code mqtt_link::apply_settings() {
    mosquitto* m = mosq_.get();
    if (m == nullptr) return make_mosq_error(MOSQ_ERR_NOMEM);
    mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, protocol_.version());
    mosquitto_int_option(m, MOSQ_OPT_SEND_MAXIMUM,
                         poison_.careful() ? 1 : std::clamp(settings_.max_inflight, 1, 65535));
    mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_connect_v5_callback_set(m, &on_connect);
    mosquitto_disconnect_v5_callback_set(m, &on_disconnect);
    mosquitto_publish_v5_callback_set(m, &on_publish);
    mosquitto_message_v5_callback_set(m, &on_message);
    mosquitto_subscribe_v5_callback_set(m, &on_suback);
    mosquitto_log_callback_set(m, &on_log);
    int rc = MOSQ_ERR_SUCCESS;
    if (settings_.username) {
        rc = mosquitto_username_pw_set(m, settings_.username->c_str(),
                                       settings_.password ? settings_.password->c_str() : nullptr);
        if (rc != MOSQ_ERR_SUCCESS) return make_mosq_error(rc);
    }
    if (settings_.will) {
        const auto& w = *settings_.will;
        rc = mosquitto_will_set(m, w.topic.c_str(), static_cast<int>(w.payload.size()),
                                w.payload.data(), w.qos, w.retain);
        if (rc != MOSQ_ERR_SUCCESS) return make_mosq_error(rc);
    }
    if (settings_.tls) {
        const char* ca_file = nullptr;
        const char* ca_path = nullptr;
        std::string system_file(system_ca_file);
        std::string system_path(system_ca_path);
        if (settings_.ca_file) {
            ca_file = settings_.ca_file->c_str();
        } else if (::access(system_file.c_str(), R_OK) == 0) {
            ca_file = system_file.c_str();
        } else {
            ca_path = system_path.c_str();
        }
        tls_files_ = {ca_file != nullptr ? ca_file : ca_path, settings_.cert_file};
        rc = mosquitto_tls_set(m, ca_file, ca_path,
                               settings_.cert_file ? settings_.cert_file->c_str() : nullptr,
                               settings_.key_file ? settings_.key_file->c_str() : nullptr, nullptr);
        if (rc != MOSQ_ERR_SUCCESS) {
            log::error("{}: TLS settings refused (CA {}, cert {}, key {}): {}", where(),
                       ca_file != nullptr ? ca_file : ca_path, settings_.cert_file.value_or("none"),
                       settings_.key_file.value_or("none"), mosquitto_strerror(rc));
            return make_mosq_error(rc);
        }
        // SSL_VERIFY_PEER (1), TLS 1.2 or newer: libmosquitto 2.0.11 turns "tlsv1.2" into
        // SSL_OP_NO_SSLv3|TLSv1|TLSv1_1 only, so 1.3 stays allowed (test_uplink_tls: a
        // tlsv1.3-only broker is accepted). Hostname verification stays on.
        rc = mosquitto_tls_opts_set(m, 1, "tlsv1.2", nullptr);
        if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_tls_insecure_set(m, false);
        if (rc != MOSQ_ERR_SUCCESS) return make_mosq_error(rc);
    }
    return {};
}

std::error_code mqtt_link::start() {
    if (stopping_) return link_errc::stopping;
    if (init_error_) {
        log::error("{}: cannot start: {}", where(), init_error_.message());
        return init_error_;
    }
    if (const auto ec = apply_settings()) return ec;
    uv_timer_start(misc_.get(), &on_misc, 1000, 1000);
    const auto cap = settings_.reconnect.max;
    log::info("{}: connecting (client_id {}, tls {}, keepalive {}s, max_inflight {}, MQTT {}, "
              "reconnect_max {})",
              where(), settings_.client_id, settings_.tls ? "on" : "off",
              settings_.keepalive.count(), settings_.max_inflight,
              settings_.protocol == mqtt_protocol::automatic ? "5, else 3.1.1"
              : settings_.protocol == mqtt_protocol::v5      ? "5"
                                                             : "3.1.1",
              cap.count() % 1000 == 0 ? fmt::format("{}s", cap.count() / 1000)
                                      : fmt::format("{}ms", cap.count()));
    begin_attempt();
    return {};
}

void mqtt_link::detach_socket() {
    if (!poll_) return;
    uv_poll_stop(poll_.get()); // the fd may already be closed: drop it from epoll now
    poll_.reset();             // uv_close; freed in the close callback
    interest_ = 0;
}

void mqtt_link::update_interest() {
    if (!poll_) return;
    const bool write = mosquitto_want_write(mosq_.get()) || (!connected_ && !tcp_up_);
    const int want = UV_READABLE | UV_DISCONNECT | (write ? UV_WRITABLE : 0);
    if (want == interest_) return;
    if (const int rc = uv_poll_start(poll_.get(), want, &on_poll); rc != 0) {
        // Not watched: the connect timeout or the keepalive check ends this attempt.
        log::error("{}: cannot watch the socket: {}", where(), uv_strerror(rc));
        interest_ = 0;
        return;
    }
    interest_ = want;
}

int mqtt_link::read_socket() {
    reading_ = true;
    const int rc = mosquitto_loop_read(mosq_.get(), 1);
    reading_ = false;
    return rc;
}

void mqtt_link::deliver_acks() noexcept {
    // Index, not iterators: on_ack may publish or stop, and a disconnect callback inside that
    // re-enters here to hand over the rest first, in order.
    while (ack_next_ < acks_.size()) {
        const queued_ack a = acks_[ack_next_++];
        try {
            if (cb_.on_ack) cb_.on_ack(a.mid, a.d, a.windowed);
        } catch (...) {
            log::callback_failed(settings_.name, "on_ack");
        }
    }
    acks_.clear();
    ack_next_ = 0;
}

void mqtt_link::on_poll(uv_poll_t* h, int status, int events) noexcept {
    auto& self = *static_cast<mqtt_link*>(h->data);
    try {
        self.handle_poll(status, events);
    } catch (...) {
        log::callback_failed(self.settings_.name, "on_poll");
    }
}

void mqtt_link::handle_poll(int status, int events) {
    if (!connected_ && !stopping_ && !tcp_up_) {
        poll_connecting(status);
        return;
    }
    if (status < 0) events = UV_READABLE; // let libmosquitto read the error
    int rc = MOSQ_ERR_SUCCESS;
    if ((events & (UV_READABLE | UV_DISCONNECT)) != 0) rc = read_socket();
    // Outside libmosquitto now: what on_ack publishes is written at once.
    deliver_acks();
    // rc != 0: libmosquitto closed the socket and (mostly) called on_disconnect (detached).
    // Once connected, what callbacks queued (replies, birth) is written now rather than
    // after a round trip through epoll; EAGAIN leaves it queued and arms UV_WRITABLE.
    const bool queued = connected_ && mosquitto_want_write(mosq_.get());
    if (rc == MOSQ_ERR_SUCCESS && poll_ && ((events & UV_WRITABLE) != 0 || queued))
        rc = mosquitto_loop_write(mosq_.get(), 1);
    if (closed_silently(rc)) return;
    if (status < 0 && poll_) {
        // POLLERR (libuv reports it as EBADF and has stopped the watcher), yet libmosquitto
        // read nothing wrong (seen after a peer reset): the socket is broken, so end it. A
        // DISCONNECT with reason 0x04 keeps the will should it ever reach the broker.
        mosquitto_disconnect_v5(mosq_.get(), 0x04, nullptr);
        if (poll_) mosquitto_loop_write(mosq_.get(), 1);
        if (poll_) read_socket();
        deliver_acks();
        interest_ = 0; // libuv stopped the watcher: re-arm if the socket lives on
    }
    // Before CONNACK a reset that libmosquitto took for "try again" (TLS) ends the attempt.
    if (!connected_ && !stopping_ && poll_ && connect_failed(0)) return;
    update_interest();
}

void mqtt_link::on_misc(uv_timer_t* t) noexcept {
    auto& self = *static_cast<mqtt_link*>(t->data);
    try {
        self.misc_tick();
    } catch (...) {
        log::callback_failed(self.settings_.name, "on_misc");
    }
}

void mqtt_link::misc_tick() {
    if (!poll_) return; // disconnected: the retry timer owns the link
    if (!connected_) {
        // Nothing for loop_misc before CONNACK (its keepalive check would end the attempt as
        // "Unknown error."): the connect timeout is ours.
        if (!stopping_) check_connect_time();
        return;
    }
    // PINGREQ, or keepalive loss -> on_disconnect
    if (closed_silently(mosquitto_loop_misc(mosq_.get()))) return;
    if (poison_.settled(up_since_, now())) {
        end_careful();
        return;
    }
    resubscribe_due();
    update_interest();
}

bool mqtt_link::closed_silently(int rc) noexcept {
    // libmosquitto 2.0 ends a failed TLS handshake (unknown CA, host name mismatch) by closing
    // the socket without calling on_disconnect: without this the link would wait forever.
    if (!poll_ || mosquitto_socket(mosq_.get()) >= 0) return false;
    try {
        handle_disconnect(rc != MOSQ_ERR_SUCCESS ? rc : MOSQ_ERR_CONN_LOST);
    } catch (...) {
        log::callback_failed(settings_.name, "disconnect handling");
    }
    return true;
}

void mqtt_link::on_retry(uv_timer_t* t) noexcept {
    auto& self = *static_cast<mqtt_link*>(t->data);
    try {
        self.begin_attempt();
    } catch (...) {
        log::callback_failed(self.settings_.name, "on_retry");
    }
}

void mqtt_link::on_connect(mosquitto* /*mosq*/, void* obj, int rc, int /*flags*/,
                           const mosquitto_property* props) noexcept {
    auto& self = *static_cast<mqtt_link*>(obj);
    try {
        self.deliver_acks(); // what was read before it keeps its order
        if (self.protocol_.connack()) self.log_fallback();
        if (rc != 0) {
            // The broker refused the CONNECT; it closes the link next (on_disconnect). A v3
            // broker's "unacceptable protocol version" reaches a v5 client as 0x84 too.
            self.refused_ = true;
            self.version_refused_ = rc == MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION ||
                                    (self.protocol_.version() != MQTT_PROTOCOL_V5 &&
                                     rc == CONNACK_REFUSED_PROTOCOL_VERSION);
            self.last_lib_error_ = fmt::format("broker refused the connection: {} (reason {})",
                                               self.protocol_.version() == MQTT_PROTOCOL_V5
                                                   ? mosquitto_reason_string(rc)
                                                   : mosquitto_connack_string(rc),
                                               rc);
            return;
        }
        self.connected_ = true;
        self.refused_ = false;
        self.subscriptions_.clear(); // whoever subscribes does so again in on_connect
        // libmosquitto formats a debug line for every packet whenever a log callback is set
        // (vsnprintf, four a relayed message: 5 % of the relay's instructions); what on_log
        // keeps matters for a failing connect, so it listens again from the disconnect on.
        mosquitto_log_callback_set(self.mosq_.get(), nullptr);
        self.up_since_ = now();
        // MQTT 5: what the broker takes at most (libmosquitto refuses larger publishes).
        std::uint32_t max_packet = 0;
        if (mosquitto_property_read_int32(props, MQTT_PROP_MAXIMUM_PACKET_SIZE, &max_packet,
                                          false) == nullptr)
            max_packet = 0;
        self.max_packet_size_ = max_packet;

        log::info("{}: connected{}", self.where(),
                  self.ever_connected_ ? fmt::format(" (attempt {})", self.attempt_ + 1) : "");
        self.ever_connected_ = true;
        self.last_ack_ = self.up_since_;
        if (self.carry_over_) self.carry_over(); // before anything the callback publishes
        if (self.cb_.on_connect) self.cb_.on_connect();
    } catch (...) {
        log::callback_failed(self.settings_.name, "on_connect");
    }
}

void mqtt_link::on_disconnect(mosquitto* /*mosq*/, void* obj, int rc,
                              const mosquitto_property* /*props*/) noexcept {
    auto& self = *static_cast<mqtt_link*>(obj);
    try {
        self.deliver_acks(); // PUBACKs read before the link went down come first
        self.handle_disconnect(rc);
    } catch (...) {
        log::callback_failed(self.settings_.name, "on_disconnect");
    }
}

void mqtt_link::on_publish(mosquitto* /*mosq*/, void* obj, int lib_mid, int reason,
                           const mosquitto_property* /*props*/) noexcept {
    auto& self = *static_cast<mqtt_link*>(obj);
    try {
        const auto acked = self.held_.acknowledged(lib_mid);
        if (!acked) return; // QoS 0 reports here too
        const auto [mid, windowed] = *acked;
        self.last_ack_ = now();
        const delivery d = reason >= 0x80 ? delivery::drop : delivery::ok;
        if (d == delivery::drop) {
            log::warn("{}: broker refused message {}: {} (reason {})", self.where(), mid,
                      mosquitto_reason_string(reason), reason);
        }
        if (self.reading_) {
            self.acks_.push_back(queued_ack{mid, d, windowed}); // given after loop_read
            return;
        }
        if (self.cb_.on_ack) self.cb_.on_ack(mid, d, windowed);
    } catch (...) {
        log::callback_failed(self.settings_.name, "on_publish");
    }
}

void mqtt_link::on_message(mosquitto* /*mosq*/, void* obj, const mosquitto_message* m,
                           const mosquitto_property* /*props*/) noexcept {
    auto& self = *static_cast<mqtt_link*>(obj);
    try {
        self.deliver_acks();
        if (!self.cb_.on_message || m == nullptr || m->topic == nullptr) return;
        incoming_message in;
        in.topic = m->topic;
        in.payload =
            std::string_view(static_cast<const char*>(m->payload),
                             m->payload != nullptr ? static_cast<std::size_t>(m->payloadlen) : 0);
        in.qos = m->qos;
        in.retain = m->retain;
        self.cb_.on_message(in);
    } catch (...) {
        log::callback_failed(self.settings_.name, "on_message");
    }
}

void mqtt_link::on_log(mosquitto* /*mosq*/, void* obj, int level, const char* text) noexcept {
    auto& self = *static_cast<mqtt_link*>(obj);
    try {
        if (text == nullptr) return;
        if ((level & MOSQ_LOG_ERR) != 0) {
            // TLS failures arrive here ("OpenSSL Error[0]: …"); the disconnect line says it,
            // with what the certificates say (the SSL object still lives while this runs).
            if (!self.last_lib_error_.empty()) self.last_lib_error_ += "; ";
            if (self.last_lib_error_.size() < 1024) self.last_lib_error_ += text;
            if (!self.tls_explained_ && std::string_view(text).starts_with("OpenSSL Error")) {
                const auto why = explain_tls_failure(mosquitto_ssl_get(self.mosq_.get()), text,
                                                     self.tls_files_, std::time(nullptr));
                self.tls_explained_ = !why.empty();
                if (!why.empty()) self.last_lib_error_ += " (" + why + ")";
            }
        } else if ((level & MOSQ_LOG_WARNING) != 0) {
            log::debug("{}: {}", self.where(), text);
        }
    } catch (...) { // logging must never take the link down
    }
}

std::size_t mqtt_link::publish_size(std::string_view topic, std::size_t payload, int qos) const {
    // Topic length, topic, packet identifier (QoS > 0), property length (MQTT 5, no
    // properties), payload; then the fixed header: one byte and the remaining length varint.
    const std::size_t remaining = 2 + topic.size() + (qos > 0 ? 2 : 0) +
                                  (protocol_.version() == MQTT_PROTOCOL_V5 ? 1 : 0) + payload;
    std::size_t varint = 1;
    for (std::size_t r = remaining; r >= 128; r /= 128)
        ++varint;
    return 1 + varint + remaining;
}

bool mqtt_link::queued_despite(int rc) noexcept {
    switch (rc) {
    case MOSQ_ERR_INVAL:
    case MOSQ_ERR_NOMEM:
    case MOSQ_ERR_PAYLOAD_SIZE:
    case MOSQ_ERR_MALFORMED_UTF8:
    case MOSQ_ERR_QOS_NOT_SUPPORTED:
    case MOSQ_ERR_OVERSIZE_PACKET:
        return false;
    default:
        return true;
    }
}

bool mqtt_link::never_taken(const std::error_code& ec) noexcept {
    return (ec.category() == mosq_category() && ec.value() != MOSQ_ERR_NOMEM) ||
           ec == link_errc::given_up;
}

std::error_code mqtt_link::publish(std::string_view topic, std::string_view payload,
                                   publish_options opts, int* mid) {
    if (stopping_) return link_errc::stopping;
    if (!connected_) return link_errc::not_connected;
    if (opts.qos > 0 && opts.windowed && window_room() == 0) return link_errc::window_full;
    // What closed the connection before would again (3.1.1 has no Maximum Packet Size).
    if (poison_.refuses(topic, payload.size())) return link_errc::given_up;
    // libmosquitto checks the broker's limit too, but counts the packet 2 bytes short: what it
    // would let through at the limit, the broker would answer by closing the connection.
    if (max_packet_size_ > 0 && publish_size(topic, payload.size(), opts.qos) > max_packet_size_)
        return make_mosq_error(MOSQ_ERR_OVERSIZE_PACKET);
    topic_buf_.assign(topic); // NUL-terminated, its capacity reused
    int m = 0;
    const int rc =
        mosquitto_publish_v5(mosq_.get(), &m, topic_buf_.c_str(), static_cast<int>(payload.size()),
                             payload.data(), opts.qos, opts.retain, nullptr);
    // libmosquitto checks the message (size, topic, QoS) before it queues it: those errors and
    // an allocation failure mean it was not taken. Any later error (a write that failed with
    // EPIPE, a lost connection) surfaces via on_disconnect, and the queued message is resent
    // after the reconnect, so it still counts as handed over.
    if (rc != MOSQ_ERR_SUCCESS && (!queued_despite(rc) || opts.qos == 0))
        return make_mosq_error(rc);
    if (opts.qos > 0 && m > 0 && m <= held_messages::max_mid)
        m = held_.track(m, topic, payload, opts.qos, opts.retain, opts.windowed, now());
    if (mid != nullptr) *mid = m;
    update_interest();
    return {};
}

std::error_code mqtt_link::subscribe(const std::string& filter, int qos, int options) {
    return send_subscribe({filter, qos, options});
}

std::error_code mqtt_link::send_subscribe(subscription_request r) {
    if (!connected_) return link_errc::not_connected;
    // MQTT 5 only (libmosquitto drops them too)
    const int options = protocol_.version() == MQTT_PROTOCOL_V5 ? r.options : 0;
    int mid = 0;
    const int rc =
        mosquitto_subscribe_v5(mosq_.get(), &mid, r.filter.c_str(), r.qos, options, nullptr);
    update_interest();
    if (rc != MOSQ_ERR_SUCCESS) return make_mosq_error(rc);
    subscriptions_.sent(mid, std::move(r));
    return {};
}

void mqtt_link::resubscribe_due() {
    for (auto& r : subscriptions_.due(now())) {
        const std::string filter = r.filter;
        if (const auto ec = send_subscribe(std::move(r)))
            log::error("{}: cannot subscribe to \"{}\" again: {}", where(), filter, ec.message());
    }
}

std::string mqtt_link::subscribe_reason(int reason) const {
    // MQTT 3.1.1 has one failure code and no reason; MQTT 5 says which.
    if (protocol_.version() != MQTT_PROTOCOL_V5)
        return fmt::format("failure (0x{:02X}; MQTT 3.1.1 gives no reason)", reason);
    return fmt::format("{} (0x{:02X})", mosquitto_reason_string(reason), reason);
}

void mqtt_link::on_suback(mosquitto* /*mosq*/, void* obj, int mid, int count, const int* granted,
                          const mosquitto_property* /*props*/) noexcept {
    auto& self = *static_cast<mqtt_link*>(obj);
    try {
        // One filter per SUBSCRIBE: the first code is its answer.
        const int reason = count > 0 && granted != nullptr ? granted[0] : 0x80;
        const auto answer = self.subscriptions_.answered(mid, reason, now());
        if (answer && self.cb_.on_subscribe) self.cb_.on_subscribe(*answer);
    } catch (...) {
        log::callback_failed(self.settings_.name, "on_suback");
    }
}

void mqtt_link::stop() {
    if (stopping_) return;
    stopping_ = true;
    stop_timer(retry_);
    if (resolving_ != nullptr) {
        resolving_->owner = nullptr;
        resolving_ = nullptr;
    }
    if (!poll_) {
        finish_stop();
        return;
    }
    const bool was_up = connected_;
    const int rc = mosquitto_disconnect_v5(mosq_.get(), 0 /* normal disconnection */, nullptr);
    if (stopped_) return; // on_disconnect ran inside mosquitto_disconnect
    if (rc != MOSQ_ERR_SUCCESS || !was_up) {
        detach_socket();
        finish_stop();
        return;
    }
    update_interest();
    uv_timer_start(grace_.get(), &on_grace,
                   static_cast<std::uint64_t>(settings_.stop_grace.count()), 0);
}

void mqtt_link::on_grace(uv_timer_t* t) noexcept {
    auto& self = *static_cast<mqtt_link*>(t->data);
    try {
        log::warn("{}: no clean disconnect within {} ms", self.where(),
                  self.settings_.stop_grace.count());
        self.connected_ = false;
        self.detach_socket();
        self.finish_stop();
    } catch (...) {
        log::callback_failed(self.settings_.name, "on_grace");
    }
}

void mqtt_link::finish_stop() {
    if (stopped_) return;
    stopped_ = true;
    connected_ = false;
    stop_timer(misc_);
    stop_timer(retry_);
    stop_timer(grace_);
    // Deferred so that on_stopped never runs inside stop() or inside a libmosquitto call;
    // without the timer (uv_timer_init failed: the link never started) it runs now.
    if (deferred_) {
        uv_timer_start(deferred_.get(), &on_deferred_stop, 0, 0);
    } else if (cb_.on_stopped) {
        cb_.on_stopped();
    }
}

void mqtt_link::on_deferred_stop(uv_timer_t* t) noexcept {
    auto& self = *static_cast<mqtt_link*>(t->data);
    try {
        log::info("{}: stopped", self.where());
        if (self.cb_.on_stopped) self.cb_.on_stopped();
    } catch (...) {
        log::callback_failed(self.settings_.name, "on_stopped");
    }
}

} // namespace mb::bridge
