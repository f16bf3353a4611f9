#include "daemon/systemd_notifier.hpp"

#include "common/log.hpp"

#include <cstdint>
#include <ctime>
#include <fmt/format.h>
#include <system_error>
#include <systemd/sd-daemon.h>

namespace mb::daemon {
namespace {

// STATUS= ends at the newline that separates assignments; keep the summary on one line.
std::string one_line(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        if (c == '\n' || c == '\r') c = ' ';
    return out;
}

std::uint64_t monotonic_usec() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000U +
           static_cast<std::uint64_t>(ts.tv_nsec) / 1000U;
}

} // namespace

systemd_notifier::systemd_notifier(uv_loop_t& loop)
    : loop_(loop) {}

void systemd_notifier::send(const std::string& state) {
    const int rc = sd_notify(0, state.c_str());
    if (rc < 0) { // only with NOTIFY_SOCKET set and broken; the daemon keeps running
        if (send_errors_.allow("sd_notify") >= 0)
            log::warn("systemd: sd_notify failed: {}", std::generic_category().message(-rc));
    }
}

void systemd_notifier::ready(std::string_view status) {
    send(fmt::format("READY=1\nSTATUS={}", one_line(status)));
}

void systemd_notifier::reloading() {
    // MONOTONIC_USEC lets systemd >= 253 (Type=notify-reload) match this to the reload request.
    send(fmt::format("RELOADING=1\nMONOTONIC_USEC={}\nSTATUS=reloading configuration",
                     monotonic_usec()));
}

void systemd_notifier::stopping(std::string_view status) {
    send(fmt::format("STOPPING=1\nSTATUS={}", one_line(status)));
}

void systemd_notifier::status(std::string_view status) {
    send(fmt::format("STATUS={}", one_line(status)));
}

std::chrono::milliseconds systemd_notifier::start_watchdog() {
    std::uint64_t usec = 0;
    // > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID is absent or names this process.
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::chrono::milliseconds{0};
    const std::uint64_t period_ms = usec / 2000U > 0 ? usec / 2000U : 1U;
    watchdog_ = make_uv_timer(loop_, this);
    // Feed once now, then on every tick: a tick only fires while the loop turns.
    send("WATCHDOG=1");
    uv_timer_start(watchdog_.get(), &on_watchdog, period_ms, period_ms);
    return std::chrono::milliseconds{period_ms};
}

void systemd_notifier::on_watchdog(uv_timer_t* t) noexcept {
    try {
        static_cast<systemd_notifier*>(t->data)->send("WATCHDOG=1");
    } catch (...) { // fmt or allocation failure: skip one feed rather than unwind into libuv
    }
}

void systemd_notifier::close() {
    watchdog_.reset();
}

} // namespace mb::daemon
