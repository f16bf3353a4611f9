#pragma once
// The glue between the delivery queue and the outlet that sends (the uplink): it pumps when
// either becomes ready, routes each PUBACK to the queue, and drains before a stop.
//
// Generations: an outlet replaced on reload may still report PUBACKs, but its message ids
// belong to another libmosquitto instance. attach() starts a new generation and the outlet's
// callbacks carry the generation they were made for; anything from an older one is ignored,
// and what the old outlet held in flight is requeued for the new one. Loop thread only.
#include "buffer/delivery_queue.hpp"
#include "common/uv_handle.hpp"
#include "model/outlet.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <uv.h>

namespace mb::buffer {

// How a drain before a stop ended.
struct drain_result {
    enum class ending : std::uint8_t {
        drained,   // every PUBACK came
        link_down, // the outlet was down already: no PUBACK could come
        link_lost, // the outlet went down while it waited: no more PUBACKs can come
        deadline,  // the wait ran out, the outlet still up
    };
    ending how = ending::drained;
    std::size_t left = 0;                // still awaiting their PUBACK
    std::chrono::milliseconds waited{0}; // from drain() to the end
};

class forwarder {
public:
    // `queue` must outlive the forwarder.
    forwarder(uv_loop_t& loop, delivery_queue& queue);
    ~forwarder();
    forwarder(const forwarder&) = delete;
    forwarder& operator=(const forwarder&) = delete;

    // Sends to `out` from now on (nullptr: to nothing); returns the generation its callbacks
    // must pass. What the previous outlet held in flight is sent again.
    std::uint64_t attach(model::outlet* out);
    // The outlet's callbacks, tagged with their generation.
    void on_ack(std::uint64_t gen, int mid);
    void on_refused(std::uint64_t gen, int mid, const std::string& reason);
    // libmosquitto resends what it held in flight only after its connect callback returns:
    // the pump waits for the next loop iteration, so older items go out before newer ones.
    void on_connect(std::uint64_t gen);
    void on_disconnect(std::uint64_t gen);

    // Hands waiting items to the outlet while it takes them.
    void pump();
    // Calls done once nothing is in flight, the outlet is disconnected, or `wait` has passed,
    // with which it was and how many were still awaiting their PUBACK. No pump after this.
    void drain(std::chrono::milliseconds wait, std::function<void(const drain_result&)> done);

    [[nodiscard]] std::uint64_t generation() const { return gen_; }

private:
    static void on_deferred(uv_timer_t* t) noexcept;
    static void on_drain_deadline(uv_timer_t* t) noexcept;
    void check_drained(bool deadline);

    delivery_queue& queue_;
    model::outlet* out_ = nullptr;
    std::uint64_t gen_ = 0;
    bool draining_ = false;
    std::function<void(const drain_result&)> drained_;
    std::chrono::steady_clock::time_point drain_since_{};
    bool down_at_drain_ = false;     // the outlet was down when the drain began
    uv_handle<uv_timer_t> deferred_; // pump on the next iteration
    uv_handle<uv_timer_t> deadline_; // drain
};

} // namespace mb::buffer
