// mqtt_link, what it holds for each QoS 1 message until its PUBACK: its mid, a copy, and
// the poison check that uses them (mqtt_link.hpp says why; mqtt_link.cpp has the rest).
#include "bridge/link/errors.hpp"
#include "bridge/link/mqtt_link.hpp"
#include "common/log.hpp"

#include <algorithm>
#include <cerrno>
#include <utility>

namespace mb::bridge {
namespace {

// A slot's strings keep their capacity for the next message, unless it was a large one.
constexpr std::size_t keep_capacity = std::size_t{64} * 1024;

void shrink(std::string& s) {
    if (s.capacity() > keep_capacity) std::string().swap(s);
}

} // namespace

int mqtt_link::track(int lib_mid, std::string_view topic, std::string_view payload,
                     const publish_options& opts) {
    auto& lib = lib_mids_[static_cast<std::size_t>(lib_mid)];
    if (lib != 0) release(lib); // libmosquitto reused a mid before its PUBACK
    int mid = lib_mid;
    if (mids_[static_cast<std::size_t>(mid)].kind != mid_kind::none) {
        // Held by a message carried over from a replaced instance: the next free mid.
        for (int i = 0; i < 65535; ++i) {
            next_mid_ = next_mid_ % 65535 + 1;
            if (mids_[static_cast<std::size_t>(next_mid_)].kind == mid_kind::none) break;
        }
        mid = next_mid_;
        release(mid); // only when all 65535 are taken
    }
    std::uint32_t slot = 0;
    if (free_held_.empty()) {
        slot = static_cast<std::uint32_t>(held_.size());
        held_.emplace_back();
    } else {
        slot = free_held_.back();
        free_held_.pop_back();
    }
    auto& h = held_[slot];
    h.mid = mid;
    h.topic.assign(topic);
    h.payload.assign(payload);
    h.qos = opts.qos;
    h.retain = opts.retain;
    h.order = ++order_;
    h.sent = std::chrono::steady_clock::now();
    mids_[static_cast<std::size_t>(mid)] = {opts.windowed ? mid_kind::windowed : mid_kind::control,
                                            slot};
    if (opts.windowed) ++windowed_;
    lib = static_cast<std::uint16_t>(mid);
    return mid;
}

void mqtt_link::release(int mid) {
    auto& e = mids_[static_cast<std::size_t>(mid)];
    if (e.kind == mid_kind::none) return;
    if (e.kind == mid_kind::windowed) --windowed_;
    auto& h = held_[e.slot];
    if (h.order == suspect_order_) {
        suspect_order_ = 0; // acknowledged after all
        suspect_drops_ = 0;
    }
    h.mid = 0;
    shrink(h.topic);
    shrink(h.payload);
    free_held_.push_back(e.slot);
    e = {};
}

bool mqtt_link::note_poison(int rc, int err) {
    // MQTT 5 brokers announce their Maximum Packet Size and say why they disconnect.
    if (protocol_.version() == MQTT_PROTOCOL_V5) return false;
    const bool closed =
        rc == MOSQ_ERR_CONN_LOST || (rc == MOSQ_ERR_ERRNO && (err == ECONNRESET || err == EPIPE));
    const auto t = std::chrono::steady_clock::now();
    // The oldest unacknowledged message, and when something unacknowledged last went out
    // (all of it again right after CONNACK; careful: each one after the PUBACK before it).
    std::size_t oldest = held_.size();
    std::chrono::steady_clock::time_point latest{};
    for (std::size_t i = 0; i < held_.size(); ++i) {
        if (held_[i].mid == 0) continue;
        if (oldest == held_.size() || held_[i].order < held_[oldest].order) oldest = i;
        latest = std::max({latest, held_[i].sent, up_since_});
    }
    if (careful_ && oldest < held_.size())
        latest = std::max({held_[oldest].sent, up_since_, last_ack_});
    if (!closed || oldest == held_.size() || t - latest > poison_window) {
        suspect_order_ = 0;
        suspect_drops_ = 0;
        return false;
    }
    kicks_ = 0; // explained without a client id clash
    if (!careful_) {
        careful_ = true;
        mosquitto_int_option(mosq_.get(), MOSQ_OPT_SEND_MAXIMUM, 1);
        log::info("{}: the broker closed the connection right after a message went out (MQTT "
                  "3.1.1 cannot say why): sending one message at a time to find it",
                  where());
        return true;
    }
    // One at a time: the one unacknowledged is the one it choked on.
    if (held_[oldest].order != suspect_order_) {
        suspect_order_ = held_[oldest].order;
        suspect_drops_ = 0;
    }
    if (++suspect_drops_ >= poison_drops - 1) give_up_poison(oldest);
    return true;
}

void mqtt_link::end_careful() {
    careful_ = false;
    suspect_order_ = 0;
    suspect_drops_ = 0;
    mosquitto_int_option(mosq_.get(), MOSQ_OPT_SEND_MAXIMUM,
                         std::clamp(settings_.max_inflight, 1, 65535));
    log::info("{}: no message closed the connection for {}s: reconnecting to send {} at a "
              "time again",
              where(), poison_window.count(), settings_.max_inflight);
    renewing_ = true;
    if (mosquitto_disconnect_v5(mosq_.get(), 0, nullptr) != MOSQ_ERR_SUCCESS) renewing_ = false;
    update_interest();
}

void mqtt_link::give_up_poison(std::size_t slot) {
    const std::string topic = held_[slot].topic;
    const std::size_t size = held_[slot].payload.size();
    log::warn("{}: message {} on {} ({} bytes) given up: the broker closed the connection right "
              "after receiving it, {} times in a row ({} of them with it alone in flight), "
              "without a PUBACK (MQTT 3.1.1 cannot say why: most likely larger than the "
              "broker's maximum packet size, or a topic it does not allow); the messages after "
              "it are sent again",
              where(), held_[slot].mid, topic, size, poison_drops, poison_drops - 1);
    constexpr std::size_t max_topics = 1024;
    const auto known = given_up_sizes_.find(topic);
    if (known != given_up_sizes_.end()) {
        known->second = std::min(known->second, size);
    } else if (given_up_sizes_.size() < max_topics) {
        given_up_sizes_.emplace(topic, size);
    }
    // It, and what publish() would now refuse: as large on the same topic (a retained meta
    // republished on each connect, the next readings of the same device).
    std::size_t more = 0;
    for (auto& h : held_) {
        if (h.mid == 0 || h.topic != topic || h.payload.size() < size) continue;
        const int mid = h.mid;
        given_up_.push_back(queued_ack{
            mid, delivery::drop, mids_[static_cast<std::size_t>(mid)].kind == mid_kind::windowed});
        release(mid);
        ++more;
    }
    if (more > 1)
        log::warn("{}: {} more message(s) on {} of {} bytes or more given up with it", where(),
                  more - 1, topic, size);
    suspect_order_ = 0;
    suspect_drops_ = 0;
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
    std::fill(lib_mids_.begin(), lib_mids_.end(), std::uint16_t{0});
    // Published after CONNACK: before its first connect a fresh instance drops the retain
    // flag (libmosquitto sets retain_available only when it connects).
    carry_over_ = true;
    return apply_settings();
}

void mqtt_link::carry_over() {
    carry_over_ = false;
    std::vector<std::uint32_t> slots;
    for (std::uint32_t i = 0; i < held_.size(); ++i)
        if (held_[i].mid != 0) slots.push_back(i);
    std::ranges::sort(slots, {}, [&](std::uint32_t i) { return held_[i].order; });
    for (const std::uint32_t i : slots) {
        const auto& h = held_[i];
        int m = 0;
        const int rc = mosquitto_publish_v5(mosq_.get(), &m, h.topic.c_str(),
                                            static_cast<int>(h.payload.size()), h.payload.data(),
                                            h.qos, h.retain, nullptr);
        if ((rc == MOSQ_ERR_SUCCESS || queued_despite(rc)) && m > 0) {
            lib_mids_[static_cast<std::size_t>(m)] = static_cast<std::uint16_t>(h.mid);
            continue;
        }
        // Taken once, so only an allocation failure can get here.
        const int mid = h.mid;
        const bool windowed = mids_[static_cast<std::size_t>(mid)].kind == mid_kind::windowed;
        log::error("{}: message {} could not be handed over again: {}", where(), mid,
                   mosquitto_strerror(rc));
        release(mid);
        acks_.push_back(queued_ack{mid, delivery::drop, windowed}); // after the callback
    }
    log::info("{}: a new MQTT client instance, {} message(s) carried over", where(), slots.size());
}

} // namespace mb::bridge
