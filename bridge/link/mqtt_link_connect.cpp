// mqtt_link, the connecting half: name resolution, the TCP/TLS connect up to CONNACK, its
// failures and timeout, disconnects and the reconnect back-off (mqtt_link.cpp has the rest).
//
// Before CONNACK the socket is watched for writability too, whatever libmosquitto wants:
// with TLS, libmosquitto 2.0.11 starts the handshake on a socket whose connect is still
// pending, takes a failed write (ECONNREFUSED) as "try again" and then reports want_write
// false, so a refused connect went unnoticed (the socket sat in epoll as HUP, read again and
// again) until its keepalive check ended it as "Unknown error.". Here a pending error
// (SO_ERROR) or a socket the kernel already closed ends the attempt at once with its reason,
// and an attempt without CONNACK after min(10 s, keepalive) ends as a timeout.
#include "bridge/link/errors.hpp"
#include "bridge/link/mqtt_link.hpp"
#include "common/log.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <utility>

namespace mb::bridge {
namespace {

constexpr std::chrono::seconds max_connect_time{10};
// A client id clash (mqtt_link.hpp): this many kicks in a row; a close without a reason
// counts as one only within `clash_window` of its connect.
constexpr unsigned clash_kicks = 3;
constexpr std::chrono::seconds clash_window{60};

bool is_ip_literal(const std::string& host) {
    unsigned char buf[sizeof(in6_addr)];
    return inet_pton(AF_INET, host.c_str(), buf) == 1 ||
           inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// CONNACK refusals and TLS failures will not heal by retrying fast.
bool is_refusal(int rc) {
    return rc == MOSQ_ERR_TLS || rc == MOSQ_ERR_AUTH || rc == MOSQ_ERR_ACL_DENIED ||
           rc == MOSQ_ERR_CONN_REFUSED || rc == MOSQ_ERR_NOT_SUPPORTED ||
           rc == MOSQ_ERR_TLS_HANDSHAKE;
}

// What libmosquitto logs when a handshake fails (certificate, host name, alerts).
bool is_tls_failure(const std::string& lib_error) {
    return lib_error.find("OpenSSL Error") != std::string::npos ||
           lib_error.find("host name verification failed") != std::string::npos;
}

// The kernel's view of a connecting socket.
struct socket_state {
    int error = 0;            // SO_ERROR: a connect that failed, not yet reported
    bool closed = false;      // TCP_CLOSE: refused or reset (the error may be consumed)
    bool established = false; // past SYN_SENT
};

socket_state probe(int fd) {
    socket_state s;
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0) s.error = err;
    tcp_info info{};
    len = sizeof info;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0) {
        s.closed = info.tcpi_state == TCP_CLOSE;
        s.established = !s.closed && info.tcpi_state != TCP_SYN_SENT;
    }
    return s;
}

} // namespace

void mqtt_link::begin_attempt() {
    if (stopping_) return;
    if (recreate_) {
        if (const auto ec = recreate()) {
            recreate_ = true;
            schedule_reconnect(fmt::format("cannot set up a new connection: {}", ec.message()));
            return;
        }
    }
    if (is_ip_literal(settings_.host)) {
        connect_to(settings_.host);
        return;
    }
    auto* r = new resolve_req{};
    r->owner = this;
    r->req.data = r;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    const int rc =
        uv_getaddrinfo(&loop_, &r->req, &on_resolved, settings_.host.c_str(), nullptr, &hints);
    if (rc != 0) {
        delete r;
        schedule_reconnect(fmt::format("cannot resolve {}: {}", settings_.host, uv_strerror(rc)));
        return;
    }
    resolving_ = r;
}

void mqtt_link::on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* res) noexcept {
    // Owned from here on, whatever happens: the request and the addresses are freed on return.
    std::unique_ptr<resolve_req> r(static_cast<resolve_req*>(req->data));
    std::unique_ptr<addrinfo, void (*)(addrinfo*)> info(res, &uv_freeaddrinfo);
    mqtt_link* self = r->owner;
    if (self == nullptr) return; // the link is gone
    try {
        self->resolved(status, res);
    } catch (...) {
        log::callback_failed(self->settings_.name, "on_resolved");
    }
}

void mqtt_link::resolved(int status, const addrinfo* res) {
    resolving_ = nullptr;
    if (stopping_) return;
    if (status != 0 || res == nullptr) {
        schedule_reconnect(
            fmt::format("cannot resolve {}: {}", settings_.host, uv_strerror(status)));
        return;
    }
    if (settings_.tls) {
        connect_to(settings_.host); // certificate checks need the name
        return;
    }
    // One address per attempt, the next one after each failure (attempt_ counts them).
    std::vector<const addrinfo*> addrs;
    for (const addrinfo* a = res; a != nullptr; a = a->ai_next)
        if (a->ai_family == AF_INET || a->ai_family == AF_INET6) addrs.push_back(a);
    if (addrs.empty()) {
        schedule_reconnect(fmt::format("cannot resolve {}: no IP address", settings_.host));
        return;
    }
    const addrinfo* a = addrs[attempt_ % addrs.size()];
    char ip[INET6_ADDRSTRLEN] = {};
    if (a->ai_family == AF_INET6) {
        uv_ip6_name(reinterpret_cast<const sockaddr_in6*>(a->ai_addr), ip, sizeof ip);
    } else {
        uv_ip4_name(reinterpret_cast<const sockaddr_in*>(a->ai_addr), ip, sizeof ip);
    }
    connect_to(ip);
}

std::chrono::seconds mqtt_link::keepalive() const {
    return std::max(settings_.keepalive, std::chrono::seconds{10});
}

void mqtt_link::connect_to(const std::string& host) {
    last_lib_error_.clear();
    tls_explained_ = false;
    refused_ = false;
    target_ = host;
    tcp_up_ = false;
    attempt_since_ = std::chrono::steady_clock::now();
    version_refused_ = false;
    log::debug("{}: attempt {}: connecting to {} (MQTT {})", where(), attempt_ + 1, host,
               protocol_.version() == MQTT_PROTOCOL_V5 ? "5" : "3.1.1");
    mosquitto_int_option(mosq_.get(), MOSQ_OPT_PROTOCOL_VERSION, protocol_.version());
    const int rc = mosquitto_connect_bind_async(mosq_.get(), host.c_str(), settings_.port,
                                                static_cast<int>(keepalive().count()), nullptr);
    const int err = errno; // a TLS write that failed on the pending connect leaves it here
    if (rc != MOSQ_ERR_SUCCESS) {
        detach_socket();
        // libmosquitto logged the TLS details (unknown CA, host name) through on_log.
        const std::string detail = !last_lib_error_.empty() ? last_lib_error_
                                   : rc == MOSQ_ERR_ERRNO   ? std::system_category().message(err)
                                                            : disconnect_text(rc, keepalive(), err);
        refused_ = is_refusal(rc) || is_tls_failure(last_lib_error_);
        schedule_reconnect(fmt::format("connect to {} failed: {}", host, detail));
        return;
    }
    if (connect_failed(err)) return;
    attach_socket();
}

void mqtt_link::attach_socket() {
    detach_socket();
    const int fd = mosquitto_socket(mosq_.get());
    if (fd < 0) return;
    poll_ = make_uv_handle<uv_poll_t>();
    if (const int rc = uv_poll_init_socket(&loop_, poll_.get(), fd); rc != 0) {
        // Rare (fd not pollable); drop the attempt and let the retry timer try again.
        delete poll_.release(); // never initialized: nothing for uv_close to close
        schedule_reconnect(fmt::format("cannot poll the socket: {}", uv_strerror(rc)));
        return;
    }
    poll_->data = this;
    interest_ = 0;
    update_interest();
}

bool mqtt_link::connect_failed(int errno_hint) {
    const int fd = mosquitto_socket(mosq_.get());
    if (fd < 0) return false;
    // Bytes still to read (a TLS alert, a refusing CONNACK) say more than the reset behind
    // them: libmosquitto reads them first. (Reading SO_ERROR would also consume the error.)
    int unread = 0;
    if (tcp_up_ && ::ioctl(fd, FIONREAD, &unread) == 0 && unread > 0) return false;
    const socket_state s = probe(fd);
    std::string why;
    bool broker_closed = false; // after the TCP connect, with no TLS failure
    if ((s.error != 0 || s.closed) && !last_lib_error_.empty()) {
        why = last_lib_error_; // what libmosquitto saw (TLS alert)
    } else if (s.error != 0) {
        why = std::system_category().message(s.error);
        broker_closed = tcp_up_ && (s.error == ECONNRESET || s.error == EPIPE);
    } else if (s.closed && tcp_up_) {
        why = "the broker reset the connection before CONNACK";
        broker_closed = true;
    } else if (s.closed) {
        // The error went to libmosquitto's first write, which took it for "try again".
        why = is_connect_errno(errno_hint) ? std::system_category().message(errno_hint)
                                           : "connection refused or reset";
    } else {
        if (s.established) tcp_up_ = true;
        return false;
    }
    fail_attempt(fmt::format("connect to {} failed: {}", target_, why), broker_closed);
    return true;
}

void mqtt_link::fail_attempt(const std::string& why, bool broker_closed) {
    // libmosquitto keeps the dead socket until the next attempt closes it; nothing polls it.
    detach_socket();
    refused_ = is_tls_failure(last_lib_error_);
    const std::string hint = protocol_hint(broker_closed);
    if (fall_back(broker_closed)) return;
    schedule_reconnect(why + hint);
}

bool mqtt_link::fall_back(bool broker_closed) {
    using refusal = protocol_choice::refusal;
    const refusal why = version_refused_ ? refusal::version_refused // reset by connect_to
                        : broker_closed  ? refusal::closed
                                         : refusal::none;
    switch (protocol_.attempt_failed(why)) {
    case protocol_choice::next::back_off:
        return false;
    case protocol_choice::next::again_v5:
        log::debug("{}: the broker closed the connection on an MQTT 5 CONNECT without a "
                   "CONNACK: MQTT 5 once more before 3.1.1",
                   where());
        break;
    case protocol_choice::next::try_3_1_1_now:
        fallback_cause_ = why;
        log::debug("{}: the broker {}: trying MQTT 3.1.1", where(),
                   why == refusal::version_refused
                       ? "refused MQTT 5 (unsupported protocol version)"
                       : "closed the connection on an MQTT 5 CONNECT twice without a CONNACK");
        break;
    }
    refused_ = false;
    last_lib_error_.clear();
    // The next attempt goes on at once (from the loop, not inside libmosquitto), same address.
    uv_timer_start(retry_.get(), &on_retry, 0, 0);
    return true;
}

void mqtt_link::log_fallback() {
    const std::string text = fmt::format(
        "{}: the broker does not speak MQTT 5 ({}) and answered MQTT 3.1.1: this connection "
        "speaks 3.1.1; the next one tries MQTT 5 first again",
        where(),
        fallback_cause_ == protocol_choice::refusal::version_refused
            ? "its CONNACK: unsupported protocol version"
            : "it closed the connection on an MQTT 5 CONNECT twice without a CONNACK");
    if (std::exchange(fallback_logged_, true)) {
        log::debug("{}", text);
    } else {
        log::info("{}", text);
    }
}

std::string mqtt_link::protocol_hint(bool broker_closed) const {
    if (settings_.protocol != mqtt_protocol::v5) return {};
    if (version_refused_)
        return " (the broker does not speak MQTT 5: protocol = \"auto\" or \"3.1.1\" connects "
               "to it)";
    if (broker_closed)
        return " (protocol = \"5\": a broker that speaks only MQTT 3.1.1 closes the connection "
               "on an MQTT 5 CONNECT; protocol = \"auto\" falls back to 3.1.1)";
    return {};
}

void mqtt_link::poll_connecting(int status) {
    // Until the TCP connect is done only the kernel can say how it ended.
    if (status < 0) interest_ = 0; // libuv stopped the watcher (POLLERR)
    if (connect_failed(0)) return;
    // Connected now: a TLS handshake step and the queued CONNECT go out. libmosquitto drives
    // a pending handshake from its read side only, so read on a writable wake-up too.
    int rc = read_socket();
    deliver_acks();
    if (rc == MOSQ_ERR_SUCCESS && poll_ && mosquitto_want_write(mosq_.get()))
        rc = mosquitto_loop_write(mosq_.get(), 1);
    if (closed_silently(rc) || !poll_) return; // on_disconnect ran
    if (!connected_ && connect_failed(0)) return;
    update_interest();
}

void mqtt_link::check_connect_time() {
    const auto limit = std::min(keepalive(), max_connect_time);
    if (std::chrono::steady_clock::now() - attempt_since_ < limit) return;
    if (connect_failed(0)) return;
    // What it waited for: the TCP connect, the TLS handshake (mqtts only), or the CONNACK.
    const char* step = !tcp_up_         ? "TCP connect"
                       : !settings_.tls ? "CONNACK"
                       : tls_handshake_done(mosquitto_ssl_get(mosq_.get()))
                           ? "CONNACK, after the TLS handshake"
                           : "TLS handshake";
    fail_attempt(fmt::format("no answer from {} within {}s ({})", target_, limit.count(), step),
                 false);
}

void mqtt_link::handle_disconnect(int rc) {
    const int err = errno;
    if (mosq_) mosquitto_log_callback_set(mosq_.get(), &on_log); // silenced while connected
    const bool was_up = connected_;
    connected_ = false;
    detach_socket(); // fd is already closed: stop polling now
    if (stopping_) {
        finish_stop();
        return;
    }
    if (is_refusal(rc)) refused_ = true;
    // A TLS failure before CONNACK is a refusal too, whatever code it surfaced with (TLS 1.3
    // reports a missing client certificate only on the first read, as a protocol error).
    if (!was_up && is_tls_failure(last_lib_error_)) refused_ = true;
    const std::string why =
        last_lib_error_.empty() ? disconnect_text(rc, keepalive(), err) : last_lib_error_;
    if (!was_up) {
        // Before CONNACK: a refused MQTT 5 (auto) goes on in 3.1.1 at once.
        const bool broker_closed = !is_tls_failure(last_lib_error_) &&
                                   (rc == MOSQ_ERR_CONN_LOST ||
                                    (rc == MOSQ_ERR_ERRNO && (err == ECONNRESET || err == EPIPE)));
        const std::string hint = protocol_hint(broker_closed);
        if (fall_back(broker_closed)) return;
        schedule_reconnect(rc == MOSQ_ERR_CONN_LOST && last_lib_error_.empty()
                               ? "the broker closed the connection before CONNACK" + hint
                               : why + hint);
        return;
    }
    const auto up_for = std::chrono::steady_clock::now() - up_since_;
    if (up_for >= settings_.stable_after) attempt_ = 0;
    if (cb_.on_disconnect) cb_.on_disconnect(make_mosq_error(rc));
    if (std::exchange(renewing_, false)) {
        protocol_.start_over();
        uv_timer_start(retry_.get(), &on_retry, 0, 0); // our own disconnect: back at once
        return;
    }
    // A poison message explains quick drops better than a client id clash, and once it is
    // given up the link has no reason to wait long.
    const bool explained = note_poison(rc, err);
    if (!given_up_.empty()) attempt_ = 0;
    retry_after_drop_ = true;
    schedule_reconnect("connection lost: " + why);
    report_poison();
    if (!explained) note_disconnect(rc, err, up_for);
}

void mqtt_link::note_disconnect(int rc, int err, std::chrono::steady_clock::duration up_for) {
    const bool taken_over = rc == MQTT_RC_SESSION_TAKEN_OVER;
    const bool closed =
        rc == MOSQ_ERR_CONN_LOST || (rc == MOSQ_ERR_ERRNO && (err == ECONNRESET || err == EPIPE));
    if (!taken_over && !(closed && up_for < clash_window)) {
        kicks_ = 0; // the broker said why (shutting down, …), or the link had been up long
        return;
    }
    // The broker stayed up since the last kick: a failed attempt on the way back would have
    // reset kicks_ (schedule_reconnect).
    if (++kicks_ < clash_kicks) return;
    kicks_ = 0;
    if (clash_log_.allow("clash") < 0) return;
    const std::string advice = settings_.name == "uplink"
                                   ? "each gateway needs its own uplink.client_id"
                                   : "each client needs its own client id";
    if (taken_over) {
        log::warn("{}: the broker gave this session to another client with the same client id "
                  "({}) {} times in a row (session taken over): {}",
                  where(), settings_.client_id, clash_kicks, advice);
    } else {
        log::warn("{}: the broker closed the connection {} times in a row, each within {}s of "
                  "connecting, and took each reconnect at once: another client with the same "
                  "client id ({}) may be connected: {}",
                  where(), clash_kicks, clash_window.count(), settings_.client_id, advice);
    }
}

void mqtt_link::schedule_reconnect(const std::string& why) {
    if (stopping_) return;
    // A new connection follows: MQTT 5 first again (auto). An attempt that failed (not the
    // drop itself) means the broker was not there: no clash.
    protocol_.start_over();
    if (!std::exchange(retry_after_drop_, false)) kicks_ = 0;
    // Refusals (AUTH/TLS) climb the same back-off to the cap, logged at error level: a fixed
    // credential or certificate on the broker side is picked up within reconnect_max at most,
    // and the jitter keeps a refused fleet from reconnecting in step.
    const auto delay = common::reconnect_delay(settings_.reconnect, attempt_, rng_);
    if (attempt_ < 1000) ++attempt_;
    const double secs = static_cast<double>(delay.count()) / 1000.0;
    // The first failure of a kind is logged; repeats at most every 30 s.
    const long held = retry_log_.allow(why);
    if (held >= 0) {
        const std::string more = held > 0 ? fmt::format(" ({} more suppressed)", held) : "";
        if (refused_) {
            log::error("{}: {}; retry in {:.1f}s{}", where(), why, secs, more);
        } else {
            log::warn("{}: {}; retry in {:.1f}s{}", where(), why, secs, more);
        }
    }
    last_lib_error_.clear();
    uv_timer_start(retry_.get(), &on_retry, static_cast<std::uint64_t>(delay.count()), 0);
}

} // namespace mb::bridge
