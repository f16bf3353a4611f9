#pragma once
// The running daemon: owns every loop-side component built from one `config` (sources, the
// uplink, the buffer as they land), applies a new config on reload and stops them gracefully.
// Components plug in at the marked hooks in gateway.cpp. Loop thread only.
#include "bridge/model/log.hpp"
#include "bridge/model/uv_handle.hpp"
#include "bridge/uplink.hpp"
#include "buffer/memory_queue.hpp"
#include "daemon/config/config.hpp"
#include "daemon/deferred_calls.hpp"
#include "drivers/modbus_rtu/rtu_source.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <uv.h>
#include <vector>

namespace mb::daemon {

class gateway {
public:
    // Longest a graceful stop may take before the rest is abandoned (design.md §7).
    static constexpr std::chrono::milliseconds stop_grace{5000};

    gateway(uv_loop_t& loop, config::config cfg);
    gateway(const gateway&) = delete;
    gateway& operator=(const gateway&) = delete;
    ~gateway();

    void start();
    // A validated new configuration replaces the running one.
    void apply(config::config next);
    // Stops polling, waits (at most stop_grace) for the uplink and buffer to finish, then
    // calls `done` once on the loop. Every handle of the gateway is closed by then.
    void stop(std::function<void()> done);

    [[nodiscard]] const config::config& current() const { return cfg_; }
    // One line for STATUS= and the logs, e.g. "running: 3 devices on 1 bus, uplink connecting".
    [[nodiscard]] std::string summary() const;
    // Called on the loop whenever summary() may have changed (uplink up/down, devices online).
    void on_status_change(std::function<void()> f) { status_changed_ = std::move(f); }

private:
    enum class phase : std::uint8_t { idle, running, stopping, stopped };

    // Readings held in memory until their PUBACK (until the SQLite buffer lands).
    static constexpr std::size_t memory_queue_bytes = 64U << 20U;
    // Longest wait for in-flight PUBACKs before the offline status is published on stop.
    static constexpr std::chrono::milliseconds drain_wait{2500};
    // How often device status counters (polls, errors) are republished when they moved; state
    // changes go out at once.
    static constexpr std::chrono::milliseconds status_refresh_period{60'000};

    static void on_grace_timeout(uv_timer_t* t) noexcept;
    static void on_drain_tick(uv_timer_t* t) noexcept;
    static void on_status_refresh(uv_timer_t* t) noexcept;
    void start_uplink();
    void start_sources();
    void feed_uplink();
    void retired_stopped();
    void stop_sources();
    void pump();
    void changed();
    bridge::command_handler command_handler();
    void component_stopped(); // each draining component calls this once when it is done
    void finish_stop();
    [[nodiscard]] std::string uplink_state() const;

    uv_loop_t& loop_;
    config::config cfg_;
    phase phase_ = phase::idle;
    int draining_ = 0; // components still finishing their stop
    buffer::memory_queue queue_{memory_queue_bytes};
    std::unique_ptr<bridge::uplink> uplink_;
    std::unique_ptr<bridge::uplink> retired_; // replaced on reload, still stopping
    std::uint64_t uplink_gen_ = 0;            // which uplink's callbacks are current
    std::vector<model::device_info> devices_; // last told to the uplink
    log::rate_limiter refusals_;
    std::unique_ptr<drivers::rtu::rtu_source> rtu_;
    std::uint64_t drain_started_ = 0;
    uv_handle<uv_timer_t> grace_;
    uv_handle<uv_timer_t> drain_;
    uv_handle<uv_timer_t> status_refresh_;
    deferred_calls deferred_;
    std::function<void()> stopped_;
    std::function<void()> status_changed_;
};

// "1 device", "3 devices": counts in log lines and STATUS=.
[[nodiscard]] std::string count_of(std::size_t n, std::string_view one, std::string_view many);

// "mqtts://user:secret@host:8883" -> "mqtts://host:8883": URLs may carry credentials.
[[nodiscard]] std::string redact_url(const std::string& url);

} // namespace mb::daemon
