#include "daemon/gateway.hpp"

#include "bridge/file_mode.hpp"
#include "bridge/model/log.hpp"
#include "daemon/component_settings.hpp"

#include <fmt/format.h>
#include <string_view>

namespace mb::daemon {
std::string count_of(std::size_t n, std::string_view one, std::string_view many) {
    return fmt::format("{} {}", n, n == 1 ? one : many);
}

std::string redact_url(const std::string& url) {
    const auto scheme = url.find("://");
    if (scheme == std::string::npos) return url;
    const auto host = scheme + 3;
    const auto at = url.find('@', host);
    if (at == std::string::npos || at > url.find('/', host)) return url;
    return url.substr(0, host) + url.substr(at + 1);
}

namespace {

// Everything that makes a different uplink connection: a reload rebuilds the uplink only
// when this changes, so a reload that touches devices alone keeps the broker session.
std::string uplink_fingerprint(const bridge::uplink_settings& s) {
    const auto& l = s.link;
    return fmt::format("{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}", l.host, l.port, l.tls,
                       l.ca_file.value_or(""), l.cert_file.value_or(""), l.key_file.value_or(""),
                       l.client_id, l.username.value_or(""), l.password.value_or(""),
                       l.keepalive.count(), l.max_inflight, s.topic_prefix, s.gateway_id,
                       s.commands);
}

} // namespace

gateway::gateway(uv_loop_t& loop, config::config cfg)
    : loop_(loop)
    , cfg_(std::move(cfg))
    , deferred_(loop) {}

gateway::~gateway() {
    stop_sources();
    uplink_.reset();
    retired_.reset();
}

void gateway::start() {
    phase_ = phase::running;
    start_uplink();
    start_sources();
    status_refresh_ = make_uv_handle<uv_timer_t>();
    uv_timer_init(&loop_, status_refresh_.get());
    status_refresh_->data = this;
    const auto period = static_cast<std::uint64_t>(status_refresh_period.count());
    uv_timer_start(status_refresh_.get(), &on_status_refresh, period, period);
}

void gateway::on_status_refresh(uv_timer_t* t) noexcept {
    auto& self = *static_cast<gateway*>(t->data);
    try {
        if (!self.rtu_ || !self.uplink_) return;
        for (const auto& d : self.devices_)
            if (const auto* s = self.rtu_->status(d.name); s != nullptr && s->polls > 0)
                self.uplink_->publish_status(*s, bridge::uplink::status_change::counters);
    } catch (...) { // never unwind into libuv
    }
}

void gateway::start_uplink() {
    for (const auto& secret : {cfg_.uplink.password_file, cfg_.uplink.key_file})
        if (secret)
            if (auto warning = bridge::secret_file_warning(secret->string()))
                log::warn("uplink: {}", *warning);
    // Callbacks of an uplink replaced on reload must not touch the queue: its message ids
    // belong to another libmosquitto instance. Each instance knows its generation.
    const auto gen = ++uplink_gen_;
    bridge::uplink::callbacks cb;
    cb.on_ack = [this, gen](int mid, bridge::delivery d) {
        if (gen != uplink_gen_) return;
        if (d == bridge::delivery::drop) {
            if (const long held = refusals_.allow("refused"); held >= 0)
                log::error("uplink: the broker refused a reading (message {}); it is dropped{}",
                           mid, held > 0 ? fmt::format(" ({} more since)", held) : "");
            queue_.refused(mid);
        } else {
            queue_.acked(mid);
        }
        pump();
    };
    // libmosquitto resends the messages it held in flight only after on_connect returns:
    // pump on the next iteration so that older readings go out before newer ones.
    cb.on_connect = [this, gen] {
        if (gen != uplink_gen_) return;
        deferred_.post([this] { pump(); });
        changed();
    };
    cb.on_disconnect = [this, gen] {
        if (gen == uplink_gen_) changed();
    };
    cb.on_stopped = [this, gen] {
        if (gen == uplink_gen_) return component_stopped();
        deferred_.post([this] { retired_stopped(); });
    };
    cb.buffer = [this] { return queue_.stats(); };
    uplink_ = std::make_unique<bridge::uplink>(loop_, uplink_settings(cfg_), std::move(cb),
                                               command_handler());
    // A new instance after a reload first learns what the old one published, so that the
    // retained meta of devices the reload removed gets cleared when it connects.
    if (!devices_.empty()) uplink_->set_devices(devices_);
    if (rtu_) feed_uplink();
    if (const auto ec = uplink_->start())
        log::error("uplink: cannot start: {} (check [uplink] in {})", ec.message(),
                   cfg_.source.string());
}

// The uplink learns every device and its current status (meta and status on connect). A
// device not polled yet has no status to tell.
void gateway::feed_uplink() {
    devices_ = rtu_->devices();
    uplink_->set_devices(devices_);
    for (const auto& d : devices_)
        if (const auto* s = rtu_->status(d.name); s != nullptr && s->polls > 0)
            uplink_->publish_status(*s);
}

void gateway::retired_stopped() {
    retired_.reset();
    if (phase_ != phase::running || uplink_) return;
    start_uplink();
    pump();
    changed();
}

void gateway::start_sources() {
    drivers::rtu::rtu_source::callbacks cb;
    cb.on_reading = [this](model::reading&& r) {
        queue_.push(std::move(r));
        pump();
    };
    cb.on_status = [this](const model::device_status& s) {
        if (uplink_) uplink_->publish_status(s);
        changed();
    };
    rtu_ = std::make_unique<drivers::rtu::rtu_source>(loop_, rtu_bus_settings(cfg_), std::move(cb));
    if (uplink_) feed_uplink();
    rtu_->start();
}

void gateway::stop_sources() {
    if (!rtu_) return;
    rtu_->stop(); // joins the bus threads (at most one request each); queued results delivered
    rtu_.reset();
    uv_update_time(&loop_); // the join took loop time: timers armed next must see it
}

bridge::command_handler gateway::command_handler() {
    bridge::command_handler h;
    h.write = [this](const std::string& device, const drivers::rtu::named_values& values,
                     bridge::command_handler::done_fn done) {
        if (!rtu_) return done({false, "the gateway is reloading or stopping", {}});
        rtu_->write(device, values, [done = std::move(done)](const std::string& error) {
            done({error.empty(), error, {}});
        });
    };
    h.read = [this](const std::string& device, const std::vector<std::string>& names,
                    bridge::command_handler::done_fn done) {
        if (!rtu_) return done({false, "the gateway is reloading or stopping", {}});
        rtu_->read(
            device, names,
            [done = std::move(done)](drivers::rtu::named_values values, const std::string& error) {
                done({error.empty(), error, std::move(values)});
            });
    };
    return h;
}

void gateway::pump() {
    if (!uplink_ || phase_ == phase::stopped) return;
    queue_.pump([this](const model::reading& r) -> std::optional<int> {
        const auto res = uplink_->publish(r);
        if (res.what != model::publish_attempt::outcome::sent) return std::nullopt;
        return res.mid;
    });
}

void gateway::changed() {
    if (status_changed_) status_changed_();
}

void gateway::apply(config::config next) {
    const bool new_uplink =
        uplink_fingerprint(uplink_settings(cfg_)) != uplink_fingerprint(uplink_settings(next));
    cfg_ = std::move(next);
    // Bus threads are cheap to restart (at most one request timeout): rebuild them always.
    stop_sources();
    if (new_uplink && uplink_ && !retired_) {
        // The old session ends (offline status, DISCONNECT) before the new one starts, so the
        // broker never sees two clients with one id; readings wait in the queue meanwhile.
        log::info("reload: uplink settings changed; reconnecting");
        retired_ = std::move(uplink_);
        ++uplink_gen_;             // its acks no longer touch the queue …
        queue_.requeue_inflight(); // … and the new instance sends what it held in flight
        retired_->stop();
    }
    start_sources();
    pump();
    changed();
}

void gateway::stop(std::function<void()> done) {
    if (phase_ == phase::stopping || phase_ == phase::stopped) return;
    phase_ = phase::stopping;
    stopped_ = std::move(done);
    // design.md §7: stop polling, wait for in-flight PUBACKs, publish offline, disconnect.
    status_refresh_.reset();
    stop_sources();
    if (!uplink_) {
        finish_stop();
        return;
    }
    draining_ = 1; // the uplink, until on_stopped
    grace_ = make_uv_handle<uv_timer_t>();
    uv_timer_init(&loop_, grace_.get());
    grace_->data = this;
    uv_timer_start(grace_.get(), &on_grace_timeout, static_cast<std::uint64_t>(stop_grace.count()),
                   0);
    drain_ = make_uv_handle<uv_timer_t>();
    uv_timer_init(&loop_, drain_.get());
    drain_->data = this;
    drain_started_ = uv_now(&loop_);
    uv_timer_start(drain_.get(), &on_drain_tick, 0, 20);
}

void gateway::on_drain_tick(uv_timer_t* t) noexcept {
    auto& self = *static_cast<gateway*>(t->data);
    try {
        const bool waited_enough = uv_now(&self.loop_) - self.drain_started_ >=
                                   static_cast<std::uint64_t>(drain_wait.count());
        const bool inflight =
            self.uplink_->connected() &&
            self.uplink_->window_room() < static_cast<std::size_t>(self.cfg_.uplink.max_inflight);
        if (inflight && !waited_enough) return;
        if (inflight)
            log::warn("stop: {} reading(s) still awaiting PUBACK after {} ms", self.queue_.size(),
                      drain_wait.count());
        uv_timer_stop(t);
        self.uplink_->stop();
    } catch (...) { // never unwind into libuv
    }
}

void gateway::component_stopped() {
    if (phase_ != phase::stopping) return;
    if (--draining_ <= 0) finish_stop();
}

void gateway::on_grace_timeout(uv_timer_t* t) noexcept {
    auto& self = *static_cast<gateway*>(t->data);
    try {
        log::warn("stop: the uplink did not finish within {} ms (offline status and PUBACKs); "
                  "stopping anyway",
                  stop_grace.count());
        self.finish_stop();
    } catch (...) { // never unwind into libuv
    }
}

void gateway::finish_stop() {
    if (phase_ == phase::stopped) return;
    phase_ = phase::stopped;
    if (queue_.size() > 0)
        log::warn("stop: {} reading(s) not acknowledged by the broker are lost (no buffer yet)",
                  queue_.size());
    // This may run inside the uplink's own callback: destroy the components from a fresh
    // loop iteration, so that their handles close before the loop ends.
    deferred_.post([this] {
        uplink_.reset();
        retired_.reset();
        grace_.reset();
        drain_.reset();
        status_refresh_.reset();
        deferred_.close();
        if (auto done = std::move(stopped_)) done();
    });
}

std::string gateway::uplink_state() const {
    if (!uplink_) return "not started";
    return uplink_->connected() ? "connected" : "connecting";
}

std::string gateway::summary() const {
    const std::string_view what = phase_ == phase::stopping  ? "stopping"
                                  : phase_ == phase::stopped ? "stopped"
                                                             : "running";
    std::string line =
        fmt::format("{}: {} on {}", what, count_of(cfg_.devices.size(), "device", "devices"),
                    count_of(cfg_.buses.size(), "bus", "buses"));
    if (!cfg_.natives.empty())
        line += ", " + count_of(cfg_.natives.size(), "native source", "native sources");
    return line + ", uplink " + uplink_state();
}

} // namespace mb::daemon
