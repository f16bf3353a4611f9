#pragma once
// The daemon's side of Type=notify (sd_notify(3)): READY/RELOADING/STOPPING/STATUS, and the
// watchdog fed from a timer on the loop, so that a stuck loop stops feeding it and systemd
// restarts us. Without NOTIFY_SOCKET every call is a cheap no-op. Loop thread only.
#include "common/log.hpp"
#include "common/uv_handle.hpp"

#include <chrono>
#include <string>
#include <string_view>
#include <uv.h>

namespace mb::daemon {

class systemd_notifier {
public:
    explicit systemd_notifier(uv_loop_t& loop);

    void ready(std::string_view status);    // READY=1 + STATUS=
    void reloading();                       // RELOADING=1 + MONOTONIC_USEC=
    void stopping(std::string_view status); // STOPPING=1 + STATUS=
    void status(std::string_view status);   // STATUS= alone

    // Starts feeding WATCHDOG=1 at half of WATCHDOG_USEC if sd_watchdog_enabled() says so.
    // Returns the feeding period, or zero when there is no watchdog.
    std::chrono::milliseconds start_watchdog();
    void close(); // stops the watchdog timer; the loop can then end

private:
    static void on_watchdog(uv_timer_t* t) noexcept;
    void send(const std::string& state);

    uv_loop_t& loop_;
    log::rate_limiter send_errors_; // sd_notify failures repeat on every call
    uv_handle<uv_timer_t> watchdog_;
};

} // namespace mb::daemon
