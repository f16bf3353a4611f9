#include "buffer/forwarder.hpp"

#include "common/log.hpp"

#include <string>

namespace mb::buffer {

forwarder::forwarder(uv_loop_t& loop, delivery_queue& queue)
    : queue_(queue)
    , deferred_(make_uv_timer(loop, this))
    , deadline_(make_uv_timer(loop, this)) {
    queue_.on_ready([this] { pump(); });
}

forwarder::~forwarder() {
    if (out_ != nullptr) out_->report_to(nullptr);
    queue_.on_ready(nullptr);
}

void forwarder::attach(model::outlet* out) {
    if (out_ != nullptr) out_->report_to(nullptr);
    out_ = out;
    if (out_ != nullptr) out_->report_to(this);
    // What the previous outlet held in flight goes to this one (requeue announces it ready).
    if (queue_.inflight() > 0) queue_.requeue_inflight();
}

void forwarder::acked(int mid) {
    queue_.acked(mid);
    if (draining_) return check_drained(false);
    pump();
}

void forwarder::refused(int mid, std::string_view reason) {
    queue_.refused(mid, std::string(reason));
    if (draining_) return check_drained(false);
    pump();
}

void forwarder::connected() {
    if (draining_) return;
    uv_timer_start(deferred_.get(), &on_deferred, 0, 0);
}

void forwarder::disconnected() {
    if (draining_) check_drained(false);
}

void forwarder::on_deferred(uv_timer_t* t) noexcept {
    try {
        static_cast<forwarder*>(t->data)->pump();
    } catch (...) { // never unwind into libuv
        log::callback_failed("buffer", __func__);
    }
}

void forwarder::pump() {
    if (out_ == nullptr || draining_) return;
    queue_.pump(*out_);
}

void forwarder::drain(std::chrono::milliseconds wait,
                      std::function<void(const drain_result&)> done) {
    draining_ = true;
    drained_ = std::move(done);
    drain_since_ = std::chrono::steady_clock::now();
    down_at_drain_ = out_ == nullptr || !out_->connected();
    uv_timer_stop(deferred_.get());
    uv_timer_start(deadline_.get(), &on_drain_deadline, static_cast<std::uint64_t>(wait.count()),
                   0);
    check_drained(false);
}

void forwarder::on_drain_deadline(uv_timer_t* t) noexcept {
    try {
        static_cast<forwarder*>(t->data)->check_drained(true);
    } catch (...) { // never unwind into libuv
        log::callback_failed("buffer", __func__);
    }
}

void forwarder::check_drained(bool deadline) {
    if (!drained_) return;
    const std::size_t left = queue_.inflight();
    const bool connected = out_ != nullptr && out_->connected();
    if (left > 0 && connected && !deadline) return;
    uv_timer_stop(deadline_.get());
    auto done = std::move(drained_);
    drained_ = nullptr;
    drain_result r;
    r.left = left;
    r.how = left == 0        ? drain_result::ending::drained
            : connected      ? drain_result::ending::deadline
            : down_at_drain_ ? drain_result::ending::link_down
                             : drain_result::ending::link_lost;
    r.waited = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - drain_since_);
    done(r);
}

} // namespace mb::buffer
