#include "daemon/gateway/gateway.hpp"

#include "common/log.hpp"
#include "daemon/gateway/component_settings.hpp"
#include "daemon/gateway/reload_plan.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <string_view>
#include <utility>
#include <vector>

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

gateway::gateway(uv_loop_t& loop, config::config cfg, source_catalog catalog)
    : loop_(loop)
    , cfg_(std::move(cfg))
    , catalog_(std::move(catalog))
    , deferred_(loop)
    , sources_(
          deferred_,
          [this](const source_spec& spec) { return spec.make(loop_, source_callbacks(), clock_); },
          [this] { source_stopped(); }) {}

gateway::~gateway() {
    phase_ = phase::stopped; // what the members' destructors still deliver is not sent
}

void gateway::start() {
    phase_ = phase::running;
    open_path();
    path_->connect(uplink_settings(cfg_), command_handler());
    sources_.add(catalog_(cfg_));
    feed_uplink();
    sources_.start_ready();
    status_refresh_ = make_uv_timer(loop_, this);
    const auto period = static_cast<std::uint64_t>(status_refresh_period.count());
    uv_timer_start(status_refresh_.get(), &on_status_refresh, period, period);
    buffer_watch_ = make_uv_timer(loop_, this);
    const auto watch = static_cast<std::uint64_t>(buffer_watch_period.count());
    uv_timer_start(buffer_watch_.get(), &on_buffer_watch, watch, watch);
    devices_batch_ = make_uv_timer(loop_, this);
}

void gateway::on_devices_batch(uv_timer_t* t) noexcept {
    auto& self = *static_cast<gateway*>(t->data);
    try {
        if (self.phase_ == phase::running) self.feed_pending_devices();
    } catch (...) { // never unwind into libuv
        log::callback_failed("gateway", __func__);
    }
}

void gateway::on_buffer_watch(uv_timer_t* t) noexcept {
    auto& self = *static_cast<gateway*>(t->data);
    try {
        auto* up = self.uplink();
        if (up == nullptr || !up->connected()) return; // sent on connect anyway
        // Drops, buffer errors and a backlog appearing or drained are news for the retained
        // status; the reading count moving alone is not (readings in flight count too).
        if (!self.note_buffer_state()) return;
        up->refresh_gateway_status();
    } catch (...) { // never unwind into libuv
        log::callback_failed("gateway", __func__);
    }
}

bool gateway::note_buffer_state() {
    auto stats = path_->queue().stats();
    const bool backlog =
        stats.oldest_ts && clock_.unix_ms() - *stats.oldest_ts > backlog_age.count();
    const bool held = stats.held > 0;
    if (stats.dropped == published_dropped_ && stats.error == published_error_ &&
        backlog == published_backlog_ && held == published_held_ &&
        stats.rebuilt == published_rebuilt_)
        return false;
    published_rebuilt_ = stats.rebuilt;
    published_dropped_ = stats.dropped;
    published_error_ = std::move(stats.error);
    published_backlog_ = backlog;
    published_held_ = held;
    return true;
}

void gateway::open_path() {
    // A buffer file that cannot be used is the queue's to report and retry (it keeps live
    // readings flowing); only a thread or a libuv handle that cannot be made ends up here.
    auto opened = buffer::open_delivery_queue(loop_, buffer_settings(cfg_));
    if (!opened.queue) throw std::runtime_error("buffer: " + opened.error);
    delivery_path::callbacks cb;
    cb.on_uplink = [this](bridge::uplink& up) { uplink_made(up); };
    cb.on_start_failed = [this](std::error_code ec) {
        log::error("uplink: cannot start: {} (check [uplink] in {})", ec.message(),
                   cfg_.source.string());
    };
    cb.on_connect = [this] {
        // The status the uplink sends on connect tells the buffer as it is now: a backlog
        // seen here is one the watch must report drained later.
        note_buffer_state();
        changed();
    };
    cb.on_disconnect = [this] { changed(); };
    cb.errors = [this] { return sources_.problems(); };
    path_ = std::make_unique<delivery_path>(loop_, std::move(opened.queue), std::move(cb), clock_);
}

void gateway::on_status_refresh(uv_timer_t* t) noexcept {
    auto& self = *static_cast<gateway*>(t->data);
    try {
        auto* up = self.uplink();
        if (up == nullptr) return;
        for (const auto& [name, d] : self.devices_)
            if (const auto* src = self.sources_.owner_of(name))
                if (const auto* s = src->status(name); s != nullptr && s->polls > 0)
                    up->publish_status(self.with_glitches(*s),
                                       bridge::uplink::status_change::counters);
    } catch (...) { // never unwind into libuv
        log::callback_failed("gateway", __func__);
    }
}

void gateway::uplink_made(bridge::uplink& up) {
    // A new instance after a reload first learns what the old one published, so that the
    // retained meta of devices the reload removed gets cleared when it connects.
    if (!devices_.empty()) {
        std::vector<std::string> names;
        names.reserve(devices_.size());
        for (const auto& [name, native] : devices_)
            names.push_back(name);
        up.published_before(std::move(names));
    }
    if (!removed_for_next_uplink_.empty())
        up.remove_devices(std::exchange(removed_for_next_uplink_, {}));
    feed_uplink();
    changed();
}

bool gateway::commands_ready() const {
    const auto* up = uplink();
    return up != nullptr && up->commands_ready();
}

bridge::uplink* gateway::uplink() const {
    return path_ ? path_->uplink() : nullptr;
}

// The uplink learns the union of every source's devices and their current status (meta and
// status on connect). A device not polled yet has no status to tell.
void gateway::feed_uplink() {
    auto* up = uplink();
    if (up == nullptr) return;
    pending_devices_.clear(); // the full list has them
    auto all = sources_.devices();
    set_known_devices(all);
    up->set_devices(std::move(all));
    for (const auto& [name, d] : devices_)
        if (const auto* src = sources_.owner_of(name))
            if (const auto* s = src->status(name); s != nullptr && s->polls > 0)
                up->publish_status(with_glitches(*s));
}

void gateway::feed_pending_devices() {
    auto* up = uplink();
    if (up == nullptr || pending_devices_.empty()) return;
    std::vector<model::device_info> batch;
    batch.reserve(pending_devices_.size());
    for (auto& [name, d] : pending_devices_) {
        // A source of an older configuration, still stopping, may have added it.
        if (sources_.owner_of(name) == nullptr) continue;
        const auto [it, added] = devices_.insert_or_assign(name, d.source == "native");
        if (added && it->second) ++native_devices_;
        note_limits(d);
        batch.push_back(std::move(d));
    }
    pending_devices_.clear();
    up->update_devices(std::move(batch));
    changed();
}

void gateway::set_known_devices(const std::vector<model::device_info>& all) {
    devices_.clear();
    native_devices_ = 0;
    limits_.clear();
    for (const auto& d : all) {
        const bool native = d.source == "native";
        native_devices_ += native ? 1 : 0;
        devices_.insert_or_assign(d.name, native);
        note_limits(d);
    }
    guard_.keep_only([this](std::string_view name) { return devices_.contains(name); });
}

void gateway::note_limits(const model::device_info& d) {
    if (d.counters && !d.counters->empty())
        limits_.insert_or_assign(d.name, d.counters);
    else if (const auto it = limits_.find(d.name); it != limits_.end())
        limits_.erase(it);
}

const model::counter_limits* gateway::limits_of(std::string_view device) const {
    if (const auto it = limits_.find(device); it != limits_.end()) return it->second.get();
    // A relayed meter's first readings may come before its info (devices_batch).
    if (const auto it = pending_devices_.find(device); it != pending_devices_.end())
        return it->second.counters.get();
    return nullptr;
}

void gateway::guard_counters(model::reading& r) {
    auto out = guard_.check(r, limits_of(r.device));
    if (out.note.empty()) return;
    if (!out.resets.empty() || out.wraps > 0) {
        log::warn("counter guard: {}", out.note); // rare, and each worth its line
    } else if (const long held = counter_log_.allow(out.glitches > 0 ? "glitch" : "held");
               held >= 0) {
        log::warn("counter guard: {}{}", out.note, log::suppressed_note(held));
    }
    auto* up = uplink();
    if (up == nullptr) return;
    for (const auto& e : out.resets)
        up->publish_event(e);
    if (out.glitches == 0) return;
    if (const auto* src = sources_.owner_of(r.device))
        if (const auto* s = src->status(r.device))
            up->publish_status(with_glitches(*s), bridge::uplink::status_change::counters);
}

model::device_status gateway::with_glitches(const model::device_status& s) const {
    model::device_status out = s;
    out.glitches = guard_.glitches(s.device);
    return out;
}

void gateway::devices_removed(const std::vector<std::string>& gone) {
    for (const auto& name : gone) {
        pending_devices_.erase(name);
        const auto it = devices_.find(name);
        if (it == devices_.end()) continue;
        native_devices_ -= it->second ? 1 : 0;
        devices_.erase(it);
        limits_.erase(name);
        guard_.forget(name);
    }
    if (auto* up = uplink())
        up->remove_devices(gone);
    else
        removed_for_next_uplink_.insert(removed_for_next_uplink_.end(), gone.begin(), gone.end());
    changed();
}

void gateway::end_relays_of_configured_names(const config::config& cfg) {
    std::vector<std::string> configured;
    for (const auto& d : cfg.devices)
        configured.push_back(d.name);
    for (const auto& n : cfg.natives)
        for (const auto& m : n.meters)
            configured.push_back(m.name);
    if (const auto ended = sources_.end_relays(configured); !ended.empty()) devices_removed(ended);
}

drivers::source::callbacks gateway::source_callbacks() {
    drivers::source::callbacks cb;
    cb.on_reading = [this](model::reading&& r) {
        // While stopping it is kept, not sent (the path drains); once stopped, every source
        // has handed over what it had.
        if (!path_ || phase_ == phase::stopped) return;
        guard_counters(r);
        path_->push(std::move(r));
    };
    cb.on_status = [this](const model::device_status& s) {
        // Only devices of the current configuration: a source of an older one that is still
        // stopping may report a device the reload removed.
        if (auto* up = uplink(); up != nullptr && sources_.owner_of(s.device) != nullptr)
            up->publish_status(with_glitches(s));
        changed();
    };
    cb.on_devices_changed = [this](std::vector<model::device_info> changed) {
        for (auto& d : changed) {
            auto name = d.name;
            pending_devices_.insert_or_assign(std::move(name), std::move(d));
        }
        if (devices_batch_ &&
            uv_is_active(reinterpret_cast<uv_handle_t*>(devices_batch_.get())) == 0)
            uv_timer_start(devices_batch_.get(), &on_devices_batch,
                           static_cast<std::uint64_t>(devices_batch.count()), 0);
    };
    cb.on_devices_removed = [this](const std::vector<std::string>& gone) {
        if (phase_ == phase::running) devices_removed(gone);
    };
    cb.may_add_device = [this](std::string_view device) {
        return sources_.owner_of(device) == nullptr;
    };
    cb.on_problem = [this] {
        if (auto* up = uplink()) up->refresh_gateway_status();
        changed();
    };
    return cb;
}

void gateway::source_stopped() {
    if (phase_ == phase::running) sources_.start_ready(); // one may wait for its key
    finish_stop_when_done();
}

bridge::command_handler gateway::command_handler() {
    bridge::command_handler h;
    h.write = [this](const std::string& device, const model::named_values& values,
                     bridge::command_handler::done_fn done) {
        if (auto* src = command_target(device, done)) src->write(device, values, std::move(done));
    };
    h.read = [this](const std::string& device, const std::vector<std::string>& names,
                    bridge::command_handler::done_fn done) {
        if (auto* src = command_target(device, done)) src->read(device, names, std::move(done));
    };
    return h;
}

drivers::source* gateway::command_target(std::string_view device,
                                         bridge::command_handler::done_fn& done) {
    if (phase_ != phase::running) {
        done({false, "the gateway is stopping", {}});
        return nullptr;
    }
    auto r = sources_.route_command(device);
    if (r.to == nullptr) done({false, std::move(r.refusal), {}});
    return r.to;
}

void gateway::changed() {
    if (status_changed_) status_changed_();
}

bool gateway::would_change(const config::config& next) const {
    return !plan_reload(cfg_, next, catalog_).changes_nothing();
}

std::string gateway::apply(config::config next) {
    const auto plan = plan_reload(cfg_, next, catalog_);
    // The buffer is not reopened while running (its file holds the seq reservations the
    // running queue counts on): a changed [buffer] waits for a restart, and says so.
    std::string not_applied;
    if (!plan.buffer.empty()) {
        const auto keys = fmt::format("{}", fmt::join(plan.buffer, ", "));
        log::warn("reload: [buffer] {} changed; not applied while running: restart to apply "
                  "(systemctl restart meterbridge); the buffer stays {}",
                  keys, cfg_.buffer.path.string());
        not_applied = "[buffer] " + keys;
        next.buffer = cfg_.buffer;
    }
    cfg_ = std::move(next);
    // Every source of the old configuration that changed stops (asynchronously: a bus finishes
    // its request first); a new one starts at once, or when the old one holding its port has
    // stopped. One whose settings did not change keeps running, untouched.
    sources_.replace(catalog_(cfg_), plan.kept);
    end_relays_of_configured_names(cfg_);
    sources_.start_ready();
    // The uplink is rebuilt only when its settings change, so a reload that touches devices
    // alone keeps the broker session. The old session ends before the new one starts.
    if (plan.uplink) {
        log::info("reload: uplink settings changed; reconnecting");
        path_->connect(uplink_settings(cfg_), command_handler());
    }
    feed_uplink();
    path_->pump();
    changed();
    return not_applied;
}

void gateway::stop(std::function<void()> done) {
    if (phase_ == phase::stopping || phase_ == phase::stopped) return;
    if (phase_ == phase::idle) { // never started: nothing runs, nothing to wait for
        phase_ = phase::stopped;
        if (done) done();
        return;
    }
    phase_ = phase::stopping;
    stopped_ = std::move(done);
    // docs/command-line.md: stop polling, wait for in-flight PUBACKs, publish offline, disconnect.
    status_refresh_.reset();
    buffer_watch_.reset();
    devices_batch_.reset();
    grace_ = make_uv_timer(loop_, this);
    uv_timer_start(grace_.get(), &on_grace_timeout, static_cast<std::uint64_t>(stop_grace.count()),
                   0);
    sources_.stop_all();
    // The uplink drains and says goodbye at once, beside the sources: a bus may still be
    // inside a request of up to its `timeout`, and the PUBACKs must not wait for it.
    path_->stop_uplink(drain_wait, [this] { uplink_stopped(); });
    finish_stop_when_done();
}

void gateway::uplink_stopped() {
    uplink_done_ = true;
    finish_stop_when_done();
}

void gateway::finish_stop_when_done() {
    if (phase_ == phase::stopping && uplink_done_ && sources_.stopping() == 0) finish_stop();
}

void gateway::on_grace_timeout(uv_timer_t* t) noexcept {
    auto& self = *static_cast<gateway*>(t->data);
    try {
        if (!self.uplink_done_) {
            log::warn("stop: the uplink did not finish within {} ms (PUBACKs, offline status); "
                      "stopping anyway",
                      stop_grace.count());
            self.uplink_done_ = true;
        }
        // A bus inside a request ends it by itself (at most its timeout): the loop keeps
        // turning meanwhile, feeding the watchdog, rather than joining its thread.
        if (self.sources_.stopping() > 0)
            log::info("stop: waiting for {} source(s) to finish their current request",
                      self.sources_.stopping());
        self.finish_stop_when_done();
    } catch (...) { // never unwind into libuv
        log::callback_failed("gateway", __func__);
    }
}

void gateway::finish_stop() {
    if (phase_ == phase::stopped) return;
    phase_ = phase::stopped;
    // This may run inside the uplink's own callback: destroy the components from a fresh
    // loop iteration, so that their handles close before the loop ends.
    deferred_.post([this] {
        path_->close([this] {
            deferred_.post([this] {
                path_.reset();
                grace_.reset();
                status_refresh_.reset();
                buffer_watch_.reset();
                devices_batch_.reset();
                deferred_.close();
                if (auto done = std::move(stopped_)) done();
            });
        });
    });
}

std::string gateway::uplink_state() const {
    const auto* up = uplink();
    if (up == nullptr) return "not started";
    return up->connected() ? "connected" : "connecting";
}

std::string gateway::summary() const {
    const std::string_view what = phase_ == phase::stopping  ? "stopping"
                                  : phase_ == phase::stopped ? "stopped"
                                                             : "running";
    std::string line =
        fmt::format("{}: {} on {}", what, count_of(cfg_.devices.size(), "device", "devices"),
                    count_of(cfg_.buses.size(), "bus", "buses"));
    if (!cfg_.natives.empty())
        line +=
            fmt::format(", {} from {}", count_of(native_devices_, "native meter", "native meters"),
                        count_of(cfg_.natives.size(), "native source", "native sources"));
    return line + ", uplink " + uplink_state();
}

} // namespace mb::daemon
