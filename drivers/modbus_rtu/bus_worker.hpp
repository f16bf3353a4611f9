#pragma once
// One line (serial or TCP): a std::jthread that owns the modbus_t, runs the poll schedule of the
// bus's devices and hands every finished poll to the loop thread with uv_async_send. The loop
// thread never touches the line, and never waits on it: a stop is asked for, and the thread
// says through the same uv_async when it has ended. Commands (writes, "read now") jump the
// poll queue.
#include "common/clock.hpp"
#include "common/log.hpp"
#include "common/uv_handle.hpp"
#include "drivers/modbus_rtu/poll_result.hpp"
#include "drivers/modbus_rtu/poll_schedule.hpp"
#include "drivers/modbus_rtu/port_address.hpp"
#include "drivers/modbus_rtu/read_planner.hpp"
#include "drivers/modbus_rtu/settings.hpp"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <stop_token>
#include <string>
#include <thread>
#include <uv.h>
#include <vector>

namespace mb::drivers::rtu {

class bus_worker {
public:
    using deliver_fn = std::function<void(poll_result&&)>;
    // Loop thread, once: the bus thread has ended, was joined, and what it left is delivered.
    using ended_fn = std::function<void()>;
    static constexpr std::size_t max_commands = 32;

    // Loop thread. Plans every device's reads once and starts the bus thread. When the loop
    // cannot give it a wake-up handle (uv_async_init fails), no thread is started:
    // start_error() says why and ended() is true at once. `clock` gives the readings'
    // timestamps and is read on the bus thread, so it must be thread-safe (model::
    // system_clock is: it only reads std::chrono::system_clock).
    bus_worker(uv_loop_t& loop, bus_settings settings, const common::clock& clock,
               deliver_fn deliver, ended_fn ended);
    // Loop thread. A bus thread still running is asked to stop and joined here, which waits
    // for its request in progress (at most one request timeout): the owner's last resort
    // when it cannot wait for `ended`. Results not delivered yet are dropped then, and
    // `ended` is not called.
    ~bus_worker();
    bus_worker(const bus_worker&) = delete;
    bus_worker& operator=(const bus_worker&) = delete;

    // Loop thread: queue a command ahead of the polls. False when the queue is full or the
    // bus is stopping.
    bool submit(bus_command c);
    // Loop thread: asks the bus thread to stop after its current request and returns at once.
    // When the thread has ended, a later loop iteration joins it (it has already returned,
    // so the join does not wait on the line), delivers the results it left and calls `ended`.
    void request_stop();
    // Loop thread: the bus thread has ended and was joined (or was never started).
    [[nodiscard]] bool ended() const { return ended_; }
    // Empty unless the bus thread could not be started.
    [[nodiscard]] const std::string& start_error() const { return start_error_; }

    [[nodiscard]] const bus_settings& settings() const { return settings_; }
    // The plan a device's poll results decode with (its values never change).
    [[nodiscard]] const read_plan& decode_plan(std::size_t device) const {
        return decode_plans_[device];
    }

private:
    // Bus thread: run() and then, whatever happened, tells the loop it has ended.
    void thread_main(const std::stop_token& st) noexcept;
    void run(const std::stop_token& st);
    // Bus thread helpers of run().
    bool open_line(bus_line& line, const std::stop_token& st);
    // A converter refused or dropped the connection: says why and returns the back-off.
    std::chrono::milliseconds connection_failed(const std::string& err);
    void run_command(bus_line& line, bus_command& cmd, const std::stop_token& st, poll_result& r);
    // Every device of the bus goes offline with `why` as its last_error.
    void report_down(std::string why);
    void push(poll_result&& r);
    static void on_async(uv_async_t* a) noexcept;
    // Loop thread: delivers every queued result; once the bus thread has ended, joins it,
    // closes the handle and calls `ended` (last: the owner may destroy this bus_worker then).
    void on_wake();
    void deliver(std::vector<poll_result>& batch);

    bus_settings settings_;
    port_address address_;       // what settings_.port names
    const common::clock& clock_; // read on the bus thread
    deliver_fn deliver_;
    ended_fn ended_fn_;
    std::vector<read_plan> plans_;        // bus thread: splits are remembered here
    std::vector<read_plan> decode_plans_; // loop thread: same values, never split
    std::mutex mu_;
    std::condition_variable_any cv_;
    std::deque<bus_command> commands_; // bounded by max_commands
    std::vector<poll_result> results_; // filled by the bus thread, swapped out by on_async
    bool finished_ = false;            // guarded by mu_: the bus thread has left run()
    uv_handle<uv_async_t> async_;      // closed once the thread is joined
    bool stopped_ = false;             // guarded by mu_: stop requested, no more commands
    bool ended_ = false;               // loop thread: joined (or never started)
    std::string start_error_;
    // bus thread: the line's state as last reported
    bool reported_down_ = false;
    std::string lost_why_;       // the I/O error that closed the line, until it is reopened
    log::rate_limiter flap_log_; // a port that fails and reopens at once, again and again
    // a converter's last reconnect delay; 0 while connected
    std::chrono::milliseconds backoff_{0};
    unsigned reconnect_attempt_ = 0; // of the converter since it was last connected
    std::mt19937_64 jitter_{std::random_device{}()};
    std::jthread thread_; // declared last: starts last, joins first
};

} // namespace mb::drivers::rtu
