// mqtt_link, what it does with the QoS 1 messages it holds until their PUBACK
// (held_messages.hpp) and with what poison_watch.hpp decides about them: careful mode, giving
// a message up, a fresh libmosquitto instance and the copies carried over to it (mqtt_link.hpp
// says why; mqtt_link.cpp has the rest).
#include "bridge/link/errors.hpp"
#include "bridge/link/mqtt_link.hpp"
#include "common/log.hpp"

#include <algorithm>
#include <cerrno>
#include <utility>

namespace mb::bridge {

bool mqtt_link::note_poison(int rc, int err) {
    // MQTT 5 brokers announce their Maximum Packet Size and say why they disconnect.
    if (protocol_.version() == MQTT_PROTOCOL_V5) return false;
    const bool closed =
        rc == MOSQ_ERR_CONN_LOST || (rc == MOSQ_ERR_ERRNO && (err == ECONNRESET || err == EPIPE));
    const held_message* oldest = held_.oldest();
    poison_watch::close_report r;
    r.broker_closed = closed;
    if (oldest != nullptr) {
        r.oldest = oldest->order;
        r.oldest_sent = oldest->sent;
    }
    r.last_sent = held_.last_sent();
    r.up_since = up_since_;
    r.last_ack = last_ack_;
    r.now = std::chrono::steady_clock::now();
    const auto verdict = poison_.closed(r);
    if (verdict == poison_watch::verdict::unexplained) return false;
    kicks_ = 0; // explained without a client id clash
    if (verdict == poison_watch::verdict::go_careful) {
        mosquitto_int_option(mosq_.get(), MOSQ_OPT_SEND_MAXIMUM, 1);
        log::info("{}: the broker closed the connection right after a message went out (MQTT "
                  "3.1.1 cannot say why): sending one message at a time to find it",
                  where());
        return true;
    }
    // give_up comes only with an oldest message (r.oldest != 0).
    if (verdict == poison_watch::verdict::give_up && oldest != nullptr) give_up_poison(oldest->mid);
    return true;
}

void mqtt_link::end_careful() {
    poison_.end_careful();
    mosquitto_int_option(mosq_.get(), MOSQ_OPT_SEND_MAXIMUM,
                         std::clamp(settings_.max_inflight, 1, 65535));
    log::info("{}: no message closed the connection for {}s: reconnecting to send {} at a "
              "time again",
              where(), poison_window.count(), settings_.max_inflight);
    renewing_ = true;
    if (mosquitto_disconnect_v5(mosq_.get(), 0, nullptr) != MOSQ_ERR_SUCCESS) renewing_ = false;
    update_interest();
}

void mqtt_link::give_up_poison(int mid) {
    const std::string topic = held_.message(mid).topic;
    const std::size_t size = held_.message(mid).payload.size();
    log::warn("{}: message {} on {} ({} bytes) given up: the broker closed the connection right "
              "after receiving it, {} times in a row ({} of them with it alone in flight), "
              "without a PUBACK (MQTT 3.1.1 cannot say why: most likely larger than the "
              "broker's maximum packet size, or a topic it does not allow); the messages after "
              "it are sent again",
              where(), mid, topic, size, poison_drops, poison_drops - 1);
    poison_.given_up(topic, size);
    // It, and what publish() would now refuse: as large on the same topic (a retained meta
    // republished on each connect, the next readings of the same device).
    const auto released = held_.release_as_large(topic, size);
    for (const auto& r : released)
        given_up_.push_back(queued_ack{r.mid, delivery::drop, r.windowed});
    if (released.size() > 1)
        log::warn("{}: {} more message(s) on {} of {} bytes or more given up with it", where(),
                  released.size() - 1, topic, size);
    // libmosquitto would send them again after every reconnect: a fresh instance next attempt.
    recreate_ = true;
}

void mqtt_link::report_poison() {
    for (const auto a : std::exchange(given_up_, {})) {
        try {
            if (cb_.on_ack) cb_.on_ack(a.mid, a.d, a.windowed);
        } catch (...) {
            log::callback_failed(settings_.name, "on_ack");
        }
    }
}

std::error_code mqtt_link::recreate() {
    recreate_ = false;
    detach_socket();
    silence_callbacks();
    mosq_.reset(mosquitto_new(settings_.client_id.empty() ? nullptr : settings_.client_id.c_str(),
                              true, this));
    held_.forget_lib_mids(); // the fresh instance numbers the copies anew
    // Published after CONNACK: before its first connect a fresh instance drops the retain
    // flag (libmosquitto sets retain_available only when it connects).
    carry_over_ = true;
    return apply_settings();
}

void mqtt_link::carry_over() {
    carry_over_ = false;
    const std::vector<int> mids = held_.in_order();
    for (const int mid : mids) {
        const auto& h = held_.message(mid);
        int m = 0;
        const int rc = mosquitto_publish_v5(mosq_.get(), &m, h.topic.c_str(),
                                            static_cast<int>(h.payload.size()), h.payload.data(),
                                            h.qos, h.retain, nullptr);
        if ((rc == MOSQ_ERR_SUCCESS || queued_despite(rc)) && m > 0) {
            held_.map(m, mid);
            continue;
        }
        // Taken once, so only an allocation failure can get here.
        const bool windowed = held_.is_windowed(mid);
        log::error("{}: message {} could not be handed over again: {}", where(), mid,
                   mosquitto_strerror(rc));
        held_.release(mid);
        acks_.push_back(queued_ack{mid, delivery::drop, windowed}); // after the callback
    }
    log::info("{}: a new MQTT client instance, {} message(s) carried over", where(), mids.size());
}

} // namespace mb::bridge
