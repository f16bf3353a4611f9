#include "daemon/gateway/delivery_path.hpp"

#include "common/log.hpp"

#include <string_view>
#include <utility>

namespace mb::daemon {
namespace {

// Before a stop: what got no PUBACK, and why (the wait ran out, or the uplink is down).
void log_drain(const buffer::drain_result& r) {
    // What has no PUBACK stays in the buffer (the queue's close makes it durable).
    constexpr std::string_view kept = "they stay in the buffer for the next start";
    switch (r.how) {
    case buffer::drain_result::ending::drained:
        return;
    case buffer::drain_result::ending::deadline:
        log::warn("stop: {} message(s) still awaiting PUBACK after {} ms; {}", r.left,
                  r.waited.count(), kept);
        return;
    case buffer::drain_result::ending::link_down:
        log::warn("stop: the uplink is down: {} message(s) sent before it went down got no "
                  "PUBACK; {}",
                  r.left, kept);
        return;
    case buffer::drain_result::ending::link_lost:
        log::warn("stop: the uplink went down after {} ms of waiting for PUBACKs: {} message(s) "
                  "got none; {}",
                  r.waited.count(), r.left, kept);
        return;
    }
}

} // namespace

delivery_path::delivery_path(uv_loop_t& loop, std::unique_ptr<buffer::delivery_queue> queue,
                             callbacks cb, const common::clock& clock)
    : loop_(loop)
    , clock_(clock)
    , cb_(std::move(cb))
    , queue_(std::move(queue))
    , forwarder_(loop, *queue_)
    , deferred_(loop) {}

delivery_path::~delivery_path() {
    forwarder_.attach(nullptr); // no receipt of an uplink being destroyed reaches the queue
}

void delivery_path::push(model::reading r) {
    queue_->push(std::move(r));
    forwarder_.pump();
}

void delivery_path::pump() {
    forwarder_.pump();
}

void delivery_path::connect(bridge::uplink_settings settings, bridge::command_handler handler) {
    if (stopping_) return;
    uplink_spec spec{std::move(settings), std::move(handler)};
    if (!uplink_ && !retired_) return start_uplink(std::move(spec));
    next_ = std::move(spec);
    if (!uplink_) return; // the replaced one is still stopping
    retired_ = std::move(uplink_);
    forwarder_.attach(nullptr); // its receipts reach nobody; what it held goes again
    retired_->stop();
}

bridge::uplink::callbacks delivery_path::uplink_callbacks() {
    bridge::uplink::callbacks cb;
    cb.on_connect = [this] {
        if (cb_.on_connect) cb_.on_connect();
    };
    cb.on_disconnect = [this] {
        if (cb_.on_disconnect) cb_.on_disconnect();
    };
    cb.on_stopped = [this] {
        // A replaced uplink stops while there is no current one (the next waits for it).
        if (!uplink_) return deferred_.post([this] { retired_stopped(); });
        if (auto done = std::move(uplink_stopped_)) done();
    };
    cb.buffer = [this] { return queue_->stats(); };
    cb.errors = cb_.errors; // empty: the uplink shows none
    cb.clock = &clock_;
    return cb;
}

void delivery_path::start_uplink(uplink_spec spec) {
    uplink_ = std::make_unique<bridge::uplink>(loop_, std::move(spec.settings), uplink_callbacks(),
                                               std::move(spec.handler));
    forwarder_.attach(uplink_.get());
    if (cb_.on_uplink) cb_.on_uplink(*uplink_);
    if (const auto ec = uplink_->start())
        if (cb_.on_start_failed) cb_.on_start_failed(ec);
}

void delivery_path::retired_stopped() {
    // Destroyed from a fresh iteration, never inside its own callback.
    retired_.reset();
    if (stopping_ || uplink_ || !next_) return;
    auto spec = std::move(*next_);
    next_.reset();
    start_uplink(std::move(spec));
}

void delivery_path::stop_uplink(std::chrono::milliseconds wait, std::function<void()> done) {
    stopping_ = true;
    next_.reset();
    if (!uplink_) return done(); // none, or a replaced one that stops by itself
    uplink_stopped_ = std::move(done);
    forwarder_.pump();
    forwarder_.drain(wait, [this](const buffer::drain_result& r) {
        log_drain(r);
        if (uplink_) uplink_->stop();
    });
}

void delivery_path::close(std::function<void()> done) {
    stopping_ = true;
    next_.reset();
    uplink_stopped_ = nullptr;
    forwarder_.attach(nullptr);
    uplink_.reset();
    retired_.reset();
    deferred_.close();
    queue_->close(std::move(done));
}

} // namespace mb::daemon
