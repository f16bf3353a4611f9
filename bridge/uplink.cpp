#include "bridge/uplink.hpp"

#include "bridge/link/errors.hpp"
#include "common/log.hpp"

#include <mqtt_protocol.h>

namespace mb::bridge {
namespace {

link_settings with_will(link_settings s, const topics& t) {
    s.will = will_message{t.gateway_status(), gateway_will_payload(), 1, true};
    return s;
}

downlink_settings downlink_of(const uplink_settings& s, const common::clock* clock) {
    downlink_settings d;
    d.max_pending_per_device = s.max_pending_per_device;
    d.command_timeout = s.command_timeout;
    d.command_key = s.command_key;
    d.clock = clock;
    return d;
}

} // namespace

uplink::uplink(uv_loop_t& loop, uplink_settings settings, callbacks cb, command_handler handler)
    : loop_(loop)
    , settings_(std::move(settings))
    , cb_(std::move(cb))
    , topics_(settings_.topic_prefix, settings_.gateway_id)
    , link_(loop, with_will(settings_.link, topics_), link_callbacks())
    , downlink_(loop, topics_, downlink_of(settings_, cb_.clock), std::move(handler),
                downlink_callbacks())
    , stop_timer_(make_uv_timer(loop_, this, init_error_))
    , status_timer_(make_uv_timer(loop_, this, init_error_)) {}

uplink::~uplink() = default;

downlink::callbacks uplink::downlink_callbacks() {
    downlink::callbacks c;
    c.reply = [this](const std::string& topic, const std::string& payload) {
        publish_control(topic, payload, false);
    };
    c.device = [this](const std::string& device) { return devices_.info(device); };
    return c;
}

mqtt_link::callbacks uplink::link_callbacks() {
    mqtt_link::callbacks c;
    c.on_connect = [this] { handle_connect(); };
    c.on_disconnect = [this](std::error_code) {
        if (receipts_ != nullptr) receipts_->disconnected();
        if (cb_.on_disconnect) cb_.on_disconnect();
    };
    c.on_ack = [this](int mid, delivery d, bool windowed) { handle_ack(mid, d, windowed); };
    c.on_message = [this](const incoming_message& m) { handle_message(m); };
    c.on_subscribe = [this](const subscription_answer& a) { handle_subscribe(a); };
    c.on_stopped = [this] {
        downlink_.stop();
        if (stop_timer_) uv_timer_stop(stop_timer_.get());
        if (status_timer_) uv_timer_stop(status_timer_.get());
        if (cb_.on_stopped) cb_.on_stopped();
    };
    return c;
}

std::error_code uplink::start() {
    if (init_error_) return init_error_;
    if (settings_.commands)
        if (const auto ec = downlink_.start()) return ec;
    return link_.start();
}

std::int64_t uplink::now_ms() const {
    return (cb_.clock != nullptr ? *cb_.clock : common::real_clock()).unix_ms();
}

std::string uplink::gateway_status_payload() const {
    const model::buffer_stats b = cb_.buffer ? cb_.buffer() : model::buffer_stats{};
    auto errors = cb_.errors ? cb_.errors() : std::map<std::string, std::string>{};
    if (!commands_error_.empty()) errors.emplace("uplink", commands_error_);
    return gateway_online_payload(now_ms(), settings_.version, static_cast<int>(devices_.count()),
                                  oversize_, errors, b);
}

void uplink::publish_event(const model::counter_reset& e) {
    auto topic = topics_.event(e.device);
    auto payload = event_payload(e);
    if (waiting_events_.empty() && connected() && publish_control(topic, payload, false)) return;
    if (waiting_events_.size() == max_waiting_events) {
        waiting_events_.pop_front();
        ++events_lost_;
    }
    waiting_events_.emplace_back(std::move(topic), std::move(payload));
}

bool uplink::publish_control(const std::string& topic, const std::string& payload, bool retain,
                             int* mid) {
    publish_options o;
    o.qos = 1;
    o.retain = retain;
    o.windowed = false;
    if (const auto ec = link_.publish(topic, payload, o, mid)) {
        if (ec == make_mosq_error(MOSQ_ERR_OVERSIZE_PACKET)) {
            note_oversize(topic, payload);
        } else if (mqtt_link::never_taken(ec)) {
            if (const long held = refused_log_.allow(topic); held >= 0)
                log::error("uplink: {} ({} bytes) not published: {}{}", topic, payload.size(),
                           ec.message(), log::suppressed_note(held));
        } else {
            // Not connected: everything retained is sent again on the next connect.
            log::debug("uplink: {} not published: {}", topic, ec.message());
        }
        return false;
    }
    return true;
}

void uplink::note_oversize(const std::string& topic, const std::string& payload) {
    ++oversize_;
    if (const long held = refused_log_.allow(topic); held >= 0)
        log::error("uplink: {} not published: {} bytes, larger than the broker's maximum packet "
                   "size of {} bytes (counted as \"oversize\" in {}){}",
                   topic, link_.publish_size(topic, payload.size(), 1), link_.max_packet_size(),
                   topics_.gateway_status(), log::suppressed_note(held));
    // The count is news for the gateway status: once for all refused in this loop iteration.
    if (topic != topics_.gateway_status() && status_timer_)
        uv_timer_start(status_timer_.get(), &on_status_timer, 0, 0);
}

void uplink::on_status_timer(uv_timer_t* t) noexcept {
    try {
        static_cast<uplink*>(t->data)->refresh_gateway_status();
    } catch (...) {
        log::callback_failed("uplink", "on_status_timer");
    }
}

void uplink::note_cleared(const std::string& device) {
    ++cleared_;
    constexpr std::size_t named = 5;
    if (cleared_names_.size() < named) cleared_names_.push_back(device);
    // One line for a batch (thousands of forgotten meters), at most one per period: the count
    // carries over to the next one (or to the stop).
    if (devices_.clears_due() == 0 && clears_log_.allow("cleared") >= 0) log_cleared();
}

void uplink::log_cleared() {
    if (cleared_ == 0) return;
    std::string names;
    for (const auto& n : cleared_names_)
        names += (names.empty() ? "" : ", ") + n;
    log::info("uplink: retained meta and status of {} removed device{} cleared ({}{})", cleared_,
              cleared_ == 1 ? "" : "s", names, cleared_ > cleared_names_.size() ? ", …" : "");
    cleared_ = 0;
    cleared_names_.clear();
}

void uplink::pump_retained() {
    // Handed over at QoS 1 they survive a reconnect inside libmosquitto, like readings.
    while (link_.connected() && !stopping_ && retained_mids_.size() < settings_.retained_window) {
        auto m = devices_.next();
        if (!m) return;
        int mid = -1;
        bool ok = false;
        switch (m->what) {
        case retained_devices::kind::meta:
            ok = publish_control(topics_.meta(m->device), m->payload, true, &mid);
            break;
        case retained_devices::kind::status:
            ok = publish_control(topics_.status(m->device), m->payload, true, &mid);
            break;
        case retained_devices::kind::clear: {
            int first = -1;
            ok = publish_control(topics_.meta(m->device), "", true, &first) &&
                 publish_control(topics_.status(m->device), "", true, &mid);
            if (first > 0) retained_mids_.insert(first);
            if (!ok) {
                devices_.remove({m->device}); // due again, first, on the next connect
                return;
            }
            note_cleared(m->device);
            break;
        }
        }
        // A meta or status not handed over goes again on the next connect anyway; one the link
        // refused while connected (larger than the broker takes: counted) is skipped.
        if (!ok && !link_.connected()) return;
        if (!ok) continue;
        if (mid > 0) retained_mids_.insert(mid);
    }
}

void uplink::handle_connect() {
    // Birth first, then commands; what each device is and how it is follows, paced.
    publish_control(topics_.gateway_status(), gateway_status_payload(), true);
    if (settings_.commands) {
        // Retained commands are never sent to us (MQTT v5 retain handling): one published
        // with the retain flag would otherwise switch a relay again on every (re)connect.
        // Under 3.1.1 the link drops the option and the broker sends a stored one, flagged
        // retained: the downlink ignores it.
        if (const auto ec =
                link_.subscribe(topics_.cmd_filter(), 1, MQTT_SUB_OPT_SEND_RETAIN_NEVER))
            log::error("uplink: cannot subscribe {}: {}", topics_.cmd_filter(), ec.message());
    }
    commands_ready_ = false;
    retained_mids_.clear(); // those of the last connection are libmosquitto's to resend
    devices_.resend_all();
    pump_retained();
    if (events_lost_ > 0) {
        log::warn("uplink: {} device event{} lost: more than {} waited for the connection",
                  events_lost_, events_lost_ == 1 ? "" : "s", max_waiting_events);
        events_lost_ = 0;
    }
    // In order; one libmosquitto refuses (too large) is logged by publish_control and goes.
    while (!waiting_events_.empty() && connected()) {
        const auto& [topic, payload] = waiting_events_.front();
        publish_control(topic, payload, false);
        waiting_events_.pop_front();
    }
    if (receipts_ != nullptr) receipts_->connected();
    if (cb_.on_connect) cb_.on_connect();
}

void uplink::handle_ack(int mid, delivery d, bool windowed) {
    if (mid == stop_mid_) {
        stop_mid_ = -1;
        uv_timer_stop(stop_timer_.get());
        link_.stop();
        return;
    }
    if (windowed) {
        if (receipts_ == nullptr) return; // replaced on reload: its ids are not the queue's
        if (d == delivery::ok) return receipts_->acked(mid);
        return receipts_->refused(mid, "the broker refused it (a PUBACK error reason code, or "
                                       "under MQTT 3.1.1 it closed the connection on it again "
                                       "and again)");
    }
    if (retained_mids_.erase(mid) > 0) pump_retained();
}

model::publish_attempt uplink::publish_windowed(const std::string& topic,
                                                const std::string& payload) {
    using outcome = model::publish_attempt::outcome;
    model::publish_attempt a;
    if (stopping_) return a; // retry: kept for the next start
    publish_options o;       // QoS 1, not retained, counted in the window
    const auto ec = link_.publish(topic, payload, o, &a.mid);
    if (!ec) {
        a.what = outcome::sent;
    } else if (mqtt_link::never_taken(ec)) {
        // libmosquitto refused the message itself (MOSQ_ERR_OVERSIZE_PACKET: larger than the
        // broker's Maximum Packet Size, …): the same bytes would be refused again.
        a.what = outcome::refused;
        a.reason =
            ec == make_mosq_error(MOSQ_ERR_OVERSIZE_PACKET)
                ? fmt::format("{} bytes, larger than the broker's maximum packet size of {} "
                              "bytes",
                              link_.publish_size(topic, payload.size(), 1), link_.max_packet_size())
                : fmt::format("{} ({} bytes)", ec.message(), payload.size() + topic.size());
    }
    return a;
}

model::publish_attempt uplink::publish(const model::reading& r) {
    if (data_topic_.empty() || data_topic_device_ != r.device) {
        data_topic_ = topics_.data(r.device);
        data_topic_device_ = r.device;
    }
    reading_payload_into(payload_buf_, r);
    return publish_windowed(data_topic_, payload_buf_);
}

model::publish_attempt uplink::publish(const model::gap& g) {
    return publish_windowed(topics_.gap(g.device), gap_payload(g));
}

void uplink::publish_status(const model::device_status& s, status_change change) {
    devices_.set_status(s, change == status_change::counters);
    pump_retained();
}

void uplink::set_devices(std::vector<model::device_info> devices) {
    const bool count_changed = devices_.replace_all(std::move(devices));
    pump_retained();
    if (count_changed) refresh_gateway_status();
}

void uplink::update_devices(std::vector<model::device_info> changed) {
    const bool count_changed = devices_.update(std::move(changed));
    pump_retained();
    if (count_changed) refresh_gateway_status();
}

void uplink::remove_devices(const std::vector<std::string>& names) {
    const bool count_changed = devices_.remove(names);
    pump_retained();
    if (count_changed) refresh_gateway_status();
}

void uplink::published_before(std::vector<std::string> names) {
    devices_.published_before(std::move(names));
}

void uplink::refresh_gateway_status() {
    if (link_.connected() && !stopping_)
        publish_control(topics_.gateway_status(), gateway_status_payload(), true);
}

void uplink::handle_message(const incoming_message& m) {
    if (!settings_.commands || stopping_) return;
    downlink_.handle(m); // anything but a cmd topic of ours is ignored there
}

void uplink::handle_subscribe(const subscription_answer& a) {
    std::string error;
    commands_ready_ = a.granted();
    if (a.granted()) {
        log::info("uplink: subscribed to {}: commands can arrive", a.filter);
    } else {
        error = fmt::format("the broker refused the subscription to {}: {}; no command reaches "
                            "this gateway",
                            a.filter, link_.subscribe_reason(a.reason));
        log::error("uplink: {} (asked again in {} ms; check the broker's ACL for this "
                   "gateway's user)",
                   error, a.retry_in.count());
    }
    if (error == commands_error_) return;
    commands_error_ = std::move(error);
    refresh_gateway_status();
}

void uplink::stop() {
    if (stopping_) return;
    stopping_ = true;
    log_cleared();
    downlink_.stop(); // pending commands: late answers are ignored
    if (!link_.connected()) {
        link_.stop();
        return;
    }
    int mid = -1;
    publish_control(topics_.gateway_status(), gateway_offline_payload(now_ms()), true, &mid);
    if (mid < 0) {
        link_.stop();
        return;
    }
    stop_mid_ = mid;
    uv_timer_start(stop_timer_.get(), &on_stop_timeout,
                   static_cast<std::uint64_t>(settings_.stop_timeout.count()), 0);
}

void uplink::on_stop_timeout(uv_timer_t* t) noexcept {
    auto& self = *static_cast<uplink*>(t->data);
    try {
        log::warn("uplink: no PUBACK for the offline status within {} ms",
                  self.settings_.stop_timeout.count());
        self.stop_mid_ = -1;
        self.link_.stop();
    } catch (...) {
        log::callback_failed("uplink", "on_stop_timeout");
    }
}

} // namespace mb::bridge
