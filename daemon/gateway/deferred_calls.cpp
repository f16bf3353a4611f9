#include "daemon/gateway/deferred_calls.hpp"

#include "common/log.hpp"

#include <exception>

namespace mb::daemon {

deferred_calls::deferred_calls(uv_loop_t& loop)
    : timer_(make_uv_timer(loop, this)) {}

void deferred_calls::post(std::function<void()> f) {
    if (!timer_) return;
    pending_.push_back(std::move(f));
    if (pending_.size() == 1) uv_timer_start(timer_.get(), &on_timer, 0, 0);
}

void deferred_calls::close() {
    pending_.clear();
    timer_.reset();
}

void deferred_calls::on_timer(uv_timer_t* t) noexcept {
    auto& self = *static_cast<deferred_calls*>(t->data);
    auto batch = std::move(self.pending_);
    self.pending_.clear();
    for (auto& f : batch) {
        try {
            f();
        } catch (...) { // never unwind into libuv
            log::callback_failed("deferred call", __func__);
        }
    }
}

} // namespace mb::daemon
