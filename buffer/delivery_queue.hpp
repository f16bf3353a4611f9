#pragma once
// Readings between their source and the broker's PUBACK (docs/buffer.md): the interface the
// store-and-forward buffer (sqlite_queue) implements. A reading goes in and
// gets its seq; pump() hands what waits to an outlet (the uplink) with one of three outcomes;
// a PUBACK takes an item out. Gap messages (readings dropped, and why) are items too: they
// take a place in the same in-flight window and leave on their own PUBACK. Loop thread only.
#include "buffer/settings.hpp"
#include "model/buffer_stats.hpp"
#include "model/outlet.hpp"
#include "model/reading.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <uv.h>

namespace mb::buffer {

class delivery_queue {
public:
    delivery_queue() = default;
    virtual ~delivery_queue() = default;
    delivery_queue(const delivery_queue&) = delete;
    delivery_queue& operator=(const delivery_queue&) = delete;

    // Gives the reading its device's next seq and keeps it until it is acknowledged (or
    // dropped, counted and announced); returns the seq.
    virtual std::uint64_t push(model::reading r) = 0;
    // Hands waiting items to `out` until it answers retry. An item refused for good is
    // dropped, counted per device, and announced with a gap of reason "refused".
    virtual void pump(model::outlet& out) = 0;
    // The broker acknowledged this message id.
    virtual void acked(int mid) = 0;
    // The broker refused this message id for good (a PUBACK reason >= 0x80).
    virtual void refused(int mid, const std::string& reason) = 0;
    // The outlet instance was replaced: what it held in flight must be sent again.
    virtual void requeue_inflight() = 0;
    // Makes durable what must survive, then `done` on the loop.
    virtual void close(std::function<void()> done) = 0;

    [[nodiscard]] virtual model::buffer_stats stats() const = 0;
    [[nodiscard]] virtual std::size_t inflight() const = 0;  // handed over, awaiting PUBACK
    [[nodiscard]] virtual std::size_t size() const = 0;      // every item kept
    [[nodiscard]] virtual std::uint64_t dropped() const = 0; // stats().dropped, cheaply
    [[nodiscard]] virtual std::string error() const = 0;     // stats().error, cheaply

    // Called when something becomes ready to send that no push() announced (a backlog read
    // from disk, a gap recorded outside pump()).
    void on_ready(std::function<void()> f) { ready_ = std::move(f); }

protected:
    void ready() const {
        if (ready_) ready_();
    }

private:
    std::function<void()> ready_;
};

struct open_result {
    std::unique_ptr<delivery_queue> queue; // null on error
    std::string error;                     // what went wrong, naming the path
};

// The queue the [buffer] settings ask for, its file opened (or its failure reported by the
// queue, which then works from memory and retries). Never throws.
[[nodiscard]] open_result open_delivery_queue(uv_loop_t& loop, const buffer_settings& settings);

} // namespace mb::buffer
