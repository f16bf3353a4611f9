#pragma once
// The glue between the delivery queue and the outlet that sends (the uplink): it pumps when
// either becomes ready, takes the outlet's receipts (PUBACKs, late refusals, connects) to the
// queue, and drains before a stop.
//
// An outlet reports to the forwarder only while attached: attach() tells the previous one to
// report to nobody, so an uplink replaced on reload that is still stopping can never reach the
// queue with message ids of another libmosquitto instance; what it held in flight is requeued
// for the next one. Loop thread only.
#include "buffer/delivery_queue.hpp"
#include "common/uv_handle.hpp"
#include "model/delivery_receipts.hpp"
#include "model/outlet.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
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

class forwarder final : public model::delivery_receipts {
public:
    // `queue` must outlive the forwarder.
    forwarder(uv_loop_t& loop, delivery_queue& queue);
    ~forwarder() override; // the attached outlet reports to nobody from then on
    forwarder(const forwarder&) = delete;
    forwarder& operator=(const forwarder&) = delete;
    forwarder(forwarder&&) = delete;
    forwarder& operator=(forwarder&&) = delete;

    // Sends to `out` from now on and takes its receipts (nullptr: to nothing); the previous
    // outlet reports to nobody, and what it held in flight is sent again. An attached outlet
    // must not be destroyed before it is detached (attach(nullptr)) or the forwarder is.
    void attach(model::outlet* out);

    // The attached outlet's receipts (model::delivery_receipts).
    void acked(int mid) override;
    void refused(int mid, std::string_view reason) override;
    // libmosquitto resends what it held in flight only after its connect callback returns:
    // the pump waits for the next loop iteration, so older items go out before newer ones.
    void connected() override;
    void disconnected() override;

    // Hands waiting items to the outlet while it takes them.
    void pump();
    // Calls done once nothing is in flight, the outlet is disconnected, or `wait` has passed,
    // with which it was and how many were still awaiting their PUBACK. No pump after this.
    void drain(std::chrono::milliseconds wait, std::function<void(const drain_result&)> done);

private:
    static void on_deferred(uv_timer_t* t) noexcept;
    static void on_drain_deadline(uv_timer_t* t) noexcept;
    void check_drained(bool deadline);

    delivery_queue& queue_;
    model::outlet* out_ = nullptr;
    bool draining_ = false;
    std::function<void(const drain_result&)> drained_;
    std::chrono::steady_clock::time_point drain_since_{};
    bool down_at_drain_ = false;     // the outlet was down when the drain began
    uv_handle<uv_timer_t> deferred_; // pump on the next iteration
    uv_handle<uv_timer_t> deadline_; // drain
};

} // namespace mb::buffer
