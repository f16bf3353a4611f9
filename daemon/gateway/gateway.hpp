#pragma once
// The running daemon: wires sources → delivery queue → uplink for one `config`, applies a new
// config on reload and stops everything gracefully. It holds any number of sources (built by
// the source registry; source_set), gives the uplink the union of their devices, routes each
// command to the source that owns the device, and never waits on a source: stops are
// asynchronous. The way out is a delivery_path. Loop thread only.
#include "bridge/uplink.hpp"
#include "common/log.hpp"
#include "common/uv_handle.hpp"
#include "daemon/config/config.hpp"
#include "daemon/gateway/counter_guard.hpp"
#include "daemon/gateway/deferred_calls.hpp"
#include "daemon/gateway/delivery_path.hpp"
#include "daemon/gateway/source_registry.hpp"
#include "daemon/gateway/source_set.hpp"
#include "drivers/source.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <uv.h>
#include <vector>

namespace mb::daemon {

class gateway {
public:
    // Longest a graceful stop may take before the rest is abandoned: the PUBACK wait of
    // docs/command-line.md (drain_wait), the offline status's own PUBACK (3 s), and the buffer's
    // close.
    static constexpr std::chrono::milliseconds stop_grace{9000};

    // `catalog` turns a configuration into sources (the registry's; tests give their own).
    gateway(uv_loop_t& loop, config::config cfg, source_catalog catalog = sources_of);
    gateway(const gateway&) = delete;
    gateway& operator=(const gateway&) = delete;
    ~gateway();

    void start();
    // A validated new configuration replaces the running one. Returns what of it waits for a
    // restart (e.g. "[buffer] path"), or an empty string.
    std::string apply(config::config next);
    // False when applying `next` would keep every source, the uplink, the buffer and the
    // gateway's own settings as they run now: a reload can then touch nothing.
    [[nodiscard]] bool would_change(const config::config& next) const;
    // Stops the sources and, at the same time, waits (at most stop_grace) for the in-flight
    // PUBACKs and the offline status; once every source has stopped too (a bus ends its
    // current request first), closes the queue and calls `done` once on the loop. Every
    // handle of the gateway is closed by then. Before start(): `done` at once.
    void stop(std::function<void()> done);

    [[nodiscard]] const config::config& current() const { return cfg_; }
    // One line for STATUS= and the logs, e.g. "running: 3 devices on 1 bus, uplink connecting".
    [[nodiscard]] std::string summary() const;
    // The broker granted the uplink's command subscription: a command published now arrives.
    [[nodiscard]] bool commands_ready() const;
    // Called on the loop whenever summary() may have changed (uplink up/down, devices online).
    void on_status_change(std::function<void()> f) { status_changed_ = std::move(f); }

private:
    enum class phase : std::uint8_t { idle, running, stopping, stopped };

    // Longest wait for in-flight PUBACKs before the offline status is published on stop
    // (docs/command-line.md: up to 5 s); what is still unacknowledged then stays in the buffer
    // file.
    static constexpr std::chrono::milliseconds drain_wait{5000};
    // How often device status counters (polls, errors) are republished when they moved; state
    // changes go out at once.
    static constexpr std::chrono::milliseconds status_refresh_period{60'000};
    // How often the gateway status is republished when the buffer's drop counters moved.
    static constexpr std::chrono::milliseconds buffer_watch_period{1000};
    // A reading waiting longer than this is a backlog (an outage), not one in flight.
    static constexpr std::chrono::milliseconds backlog_age{5000};
    // Device-list changes while running (relayed meters appearing, an ICCID learned) are told
    // to the uplink at most this often: thousands of meters appearing at once cost a few
    // passes over the list, not one each.
    static constexpr std::chrono::milliseconds devices_batch{200};

    static void on_grace_timeout(uv_timer_t* t) noexcept;
    static void on_status_refresh(uv_timer_t* t) noexcept;
    static void on_buffer_watch(uv_timer_t* t) noexcept;
    static void on_devices_batch(uv_timer_t* t) noexcept;
    // Records the buffer's drops, error and backlog as the gateway status now tells them;
    // true when one of them changed since the last time.
    bool note_buffer_state();
    // The queue and the path out (delivery_path), the uplink not made yet.
    void open_path();
    // A new uplink instance, before it starts: what it must know of the devices.
    void uplink_made(bridge::uplink& up);
    // The running uplink; null before start, after the stop, and while a replaced one stops.
    [[nodiscard]] bridge::uplink* uplink() const;
    void feed_uplink();
    // Tells the uplink what pending_devices_ holds (and their status).
    void feed_pending_devices();
    // devices_ from a full list (start, reload).
    void set_known_devices(const std::vector<model::device_info>& all);
    // Devices a source no longer has (forgotten relayed meters): their retained state goes.
    void devices_removed(const std::vector<std::string>& gone);
    // A reload: a name the new configuration gives a device is no longer any source's relayed
    // meter (names are owned: one name, one device). The meters that lose theirs are told to
    // the uplink, which clears their retained meta and status before the new device's.
    void end_relays_of_configured_names(const config::config& cfg);
    // A source asked to stop has stopped (and is gone).
    void source_stopped();
    [[nodiscard]] drivers::source::callbacks source_callbacks();
    void changed();
    // The counter guard's step for one reading: held values out, resets told as events.
    void guard_counters(model::reading& r);
    void note_limits(const model::device_info& d);
    [[nodiscard]] const model::counter_limits* limits_of(std::string_view device) const;
    // A status as published: the source's, with the guard's glitch count.
    [[nodiscard]] model::device_status with_glitches(const model::device_status& s) const;
    bridge::command_handler command_handler();
    // The running source that owns `device`, or nullptr after answering `done` with why not.
    [[nodiscard]] drivers::source* command_target(std::string_view device,
                                                  bridge::command_handler::done_fn& done);
    void uplink_stopped();
    void finish_stop_when_done(); // the uplink is done and every source has stopped
    void finish_stop();
    [[nodiscard]] std::string uplink_state() const;

    uv_loop_t& loop_;
    const common::clock& clock_ = common::real_clock(); // the one clock sources and uplink read
    config::config cfg_;
    source_catalog catalog_;
    phase phase_ = phase::idle;
    deferred_calls deferred_;
    std::unique_ptr<delivery_path> path_; // queue -> forwarder -> uplink
    bool uplink_done_ = false;            // stop: the uplink has said goodbye (or gave up)
    source_set sources_;                  // after path_: sources go first, handing over
    // The devices last told to the uplink, by name: whether each is a native one. Only the
    // names (the uplink holds what it publishes), so that a relayed meter costs little here.
    std::map<std::string, bool, std::less<>> devices_;
    std::size_t native_devices_ = 0; // of devices_, from native sources
    // Removed while a reload replaces the uplink: the new one clears them first.
    std::vector<std::string> removed_for_next_uplink_;
    // Added or changed while running, not told to the uplink yet (devices_batch).
    std::map<std::string, model::device_info, std::less<>> pending_devices_;
    counter_guard guard_;
    // Devices whose counters have limits (max_power, wrapping registers): most have none.
    std::map<std::string, std::shared_ptr<const model::counter_limits>, std::less<>> limits_;
    log::rate_limiter counter_log_{std::chrono::seconds(10), 5};
    uv_handle<uv_timer_t> grace_;
    uv_handle<uv_timer_t> status_refresh_;
    uv_handle<uv_timer_t> buffer_watch_;
    uv_handle<uv_timer_t> devices_batch_;
    std::uint64_t published_dropped_ = 0; // buffer.dropped as the gateway status last said
    std::string published_error_;         // buffer.error likewise
    bool published_backlog_ = false;      // a backlog (backlog_age) likewise
    bool published_held_ = false;         // readings held for their seq's reservation likewise
    std::string published_rebuilt_;       // the buffer file made again while running likewise
    std::function<void()> stopped_;
    std::function<void()> status_changed_;
};

// "1 device", "3 devices": counts in log lines and STATUS=.
[[nodiscard]] std::string count_of(std::size_t n, std::string_view one, std::string_view many);

// "mqtts://user:secret@host:8883" -> "mqtts://host:8883": URLs may carry credentials.
[[nodiscard]] std::string redact_url(const std::string& url);

} // namespace mb::daemon
