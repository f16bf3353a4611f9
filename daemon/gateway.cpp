#include "daemon/gateway.hpp"

#include "daemon/log/log.hpp"

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

gateway::gateway(uv_loop_t& loop, config::config cfg)
    : loop_(loop)
    , cfg_(std::move(cfg)) {}

gateway::~gateway() = default;

void gateway::start() {
    phase_ = phase::running;
    // HOOK(start): build from cfg_ and start, in this order:
    //   buffer (open the SQLite store; replay scheduler),
    //   uplink (mqtt_link: connect_async; status changes -> status_changed_),
    //   sources (one bus_worker per cfg_.buses entry, one native source per cfg_.natives).
}

void gateway::apply(config::config next) {
    // HOOK(reload): diff cfg_ against next and restart only what changed: bus workers whose
    // bus or devices changed, native sources, and the uplink if [uplink] or gateway.id did.
    // Until those components exist, the new configuration simply replaces the old one.
    cfg_ = std::move(next);
    if (status_changed_) status_changed_();
}

void gateway::stop(std::function<void()> done) {
    if (phase_ == phase::stopping || phase_ == phase::stopped) return;
    phase_ = phase::stopping;
    stopped_ = std::move(done);
    // HOOK(stop), design.md §7, each step counted in draining_ and ending in
    // component_stopped():
    //   1. stop polling: bus workers request_stop (they finish at most one request);
    //   2. wait for in-flight PUBACKs, at most stop_grace;
    //   3. flush the in-memory readings to the buffer, checkpoint it;
    //   4. publish {"state":"offline","ts":...} retained, then disconnect the uplink.
    if (draining_ == 0) {
        finish_stop();
        return;
    }
    grace_ = make_uv_handle<uv_timer_t>();
    uv_timer_init(&loop_, grace_.get());
    grace_->data = this;
    uv_timer_start(grace_.get(), &on_grace_timeout, static_cast<std::uint64_t>(stop_grace.count()),
                   0);
}

void gateway::component_stopped() {
    if (--draining_ <= 0 && phase_ == phase::stopping) finish_stop();
}

void gateway::on_grace_timeout(uv_timer_t* t) noexcept {
    auto& self = *static_cast<gateway*>(t->data);
    try {
        log::warn("stop: {} component(s) still busy after {} ms; stopping anyway", self.draining_,
                  stop_grace.count());
        self.finish_stop();
    } catch (...) { // never unwind into libuv
    }
}

void gateway::finish_stop() {
    if (phase_ == phase::stopped) return;
    phase_ = phase::stopped;
    grace_.reset();
    // HOOK(close): destroy the components here so that their handles close before the loop ends.
    if (auto done = std::move(stopped_)) done();
}

std::string gateway::uplink_state() const {
    // HOOK(uplink): the uplink reports connecting | connected | disconnected (retrying in Ns).
    return "not started";
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
