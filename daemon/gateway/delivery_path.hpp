#pragma once
// The way out (docs/architecture.md#data-flow): the delivery queue, the forwarder that pumps
// it and takes the receipts, and the uplink it sends to; how a reload replaces the uplink and
// in which order they stop (docs/command-line.md#run). The gateway and buffer_bench are both
// wired by it, so that the bench measures the daemon's path. Loop thread only.
//
// One uplink at a time: one replaced on reload ends its session (offline status, DISCONNECT)
// before the next starts, so that the broker never sees two clients with one id; readings
// wait in the queue meanwhile, and what the old one had in flight goes out through the new one.
#include "bridge/downlink.hpp"
#include "bridge/uplink.hpp"
#include "buffer/delivery_queue.hpp"
#include "buffer/forwarder.hpp"
#include "common/clock.hpp"
#include "daemon/gateway/deferred_calls.hpp"
#include "model/reading.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <system_error>
#include <uv.h>

namespace mb::daemon {

class delivery_path {
public:
    // What the owner hears (each may be empty).
    struct callbacks {
        // A new uplink, made but not started (the first one, or the next after a reload).
        std::function<void(bridge::uplink&)> on_uplink;
        // That uplink's start() failed (bad TLS files, …): it stays down.
        std::function<void(std::error_code)> on_start_failed;
        std::function<void()> on_connect;
        std::function<void()> on_disconnect;
        // What keeps other parts from working, by part, for the gateway status.
        std::function<std::map<std::string, std::string>()> errors;
    };

    delivery_path(uv_loop_t& loop, std::unique_ptr<buffer::delivery_queue> queue, callbacks cb,
                  const common::clock& clock = common::real_clock());
    ~delivery_path();
    delivery_path(const delivery_path&) = delete;
    delivery_path& operator=(const delivery_path&) = delete;
    delivery_path(delivery_path&&) = delete;
    delivery_path& operator=(delivery_path&&) = delete;

    // Into the queue, which gives it its seq; sent at once when the uplink takes it.
    void push(model::reading r);
    // Hands what waits to the uplink while it takes it.
    void pump();

    // Sends through an uplink made from `settings` from now on. A running one first ends its
    // session: the new one starts once it has stopped (also when connect is called again
    // meanwhile: the last settings win). Nothing starts after stop_uplink().
    void connect(bridge::uplink_settings settings, bridge::command_handler handler);

    // A stop's first step, beside the sources': what waits is pumped, the PUBACKs of what is
    // in flight are awaited (at most `wait`; what gets none stays in the queue), then the
    // uplink publishes its offline status and disconnects. `done` once it has (at once when
    // there is no running uplink); the queue stays open, since a source that is still stopping
    // may hand over readings, but nothing more is sent.
    void stop_uplink(std::chrono::milliseconds wait, std::function<void()> done);
    // The last step: the uplinks go (also one that has not finished stopping), and the queue
    // makes durable what has no PUBACK. `done` runs in the queue's callback: destroy the path
    // from a later loop iteration.
    void close(std::function<void()> done);

    // Null while a replaced uplink stops.
    [[nodiscard]] bridge::uplink* uplink() const { return uplink_.get(); }
    [[nodiscard]] buffer::delivery_queue& queue() const { return *queue_; }

private:
    struct uplink_spec {
        bridge::uplink_settings settings;
        bridge::command_handler handler;
    };

    void start_uplink(uplink_spec spec);
    bridge::uplink::callbacks uplink_callbacks();
    void retired_stopped();

    uv_loop_t& loop_;
    const common::clock& clock_;
    callbacks cb_;
    std::unique_ptr<buffer::delivery_queue> queue_;
    std::unique_ptr<bridge::uplink> uplink_;
    std::unique_ptr<bridge::uplink> retired_; // replaced, still stopping
    std::optional<uplink_spec> next_;         // starts once retired_ has stopped
    buffer::forwarder forwarder_;             // after the uplinks: it detaches before they go
    bool stopping_ = false;
    std::function<void()> uplink_stopped_; // stop_uplink's `done`
    deferred_calls deferred_;
};

} // namespace mb::daemon
