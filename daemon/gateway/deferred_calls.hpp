#pragma once
// Runs functions on the next loop iteration, in order. For work that must not happen inside
// the callback that asks for it: destroying the object whose callback is running, or
// publishing after libmosquitto has finished handling a CONNACK. Loop thread only.
#include "common/uv_handle.hpp"

#include <functional>
#include <uv.h>
#include <vector>

namespace mb::daemon {

class deferred_calls {
public:
    explicit deferred_calls(uv_loop_t& loop);
    void post(std::function<void()> f);
    // Drops what is pending and closes the timer.
    void close();

private:
    static void on_timer(uv_timer_t* t) noexcept;
    std::vector<std::function<void()>> pending_;
    uv_handle<uv_timer_t> timer_;
};

} // namespace mb::daemon
