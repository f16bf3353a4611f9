#pragma once
// One serial line: a std::jthread that owns the modbus_t, runs the poll schedule of the bus's
// devices and hands every finished poll to the loop thread with uv_async_send. The loop
// thread never touches the line. Commands (writes, "read now") jump the poll queue.
#include "bridge/model/log.hpp"
#include "bridge/model/uv_handle.hpp"
#include "drivers/modbus_rtu/poll_result.hpp"
#include "drivers/modbus_rtu/poll_schedule.hpp"
#include "drivers/modbus_rtu/read_planner.hpp"
#include "drivers/modbus_rtu/settings.hpp"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <uv.h>
#include <vector>

namespace mb::drivers::rtu {

class bus_worker {
public:
    using deliver_fn = std::function<void(poll_result&&)>;
    static constexpr std::size_t max_commands = 32;

    // Loop thread. Plans every device's reads once and starts the bus thread.
    bus_worker(uv_loop_t& loop, bus_settings settings, deliver_fn deliver);
    ~bus_worker();
    bus_worker(const bus_worker&) = delete;
    bus_worker& operator=(const bus_worker&) = delete;

    // Loop thread: queue a command ahead of the polls. False when the queue is full.
    bool submit(bus_command c);
    // Loop thread: asks the bus thread to stop after its current request (no wait), so that
    // several buses stop in parallel.
    void request_stop();
    // Loop thread: request_stop, join (at most one request timeout), deliver what is left.
    void stop();

    [[nodiscard]] const bus_settings& settings() const { return settings_; }
    // The plan a device's poll results decode with (its values never change).
    [[nodiscard]] const read_plan& decode_plan(std::size_t device) const {
        return decode_plans_[device];
    }

private:
    void run(const std::stop_token& st);
    // Bus thread helpers of run().
    bool open_line(bus_line& line, const std::stop_token& st);
    void run_command(bus_line& line, bus_command& cmd, const std::stop_token& st, poll_result& r);
    void push(poll_result&& r);
    static void on_async(uv_async_t* a) noexcept;
    void drain() noexcept;

    bus_settings settings_;
    deliver_fn deliver_;
    std::vector<read_plan> plans_;        // bus thread: splits are remembered here
    std::vector<read_plan> decode_plans_; // loop thread: same values, never split
    std::mutex mu_;
    std::condition_variable_any cv_;
    std::deque<bus_command> commands_; // bounded by max_commands
    std::vector<poll_result> results_; // filled by the bus thread, swapped out by on_async
    uv_handle<uv_async_t> async_;
    bool stopped_ = false;
    // bus thread: the line's state as last reported
    bool reported_down_ = false;
    std::string lost_why_;       // the I/O error that closed the line, until it is reopened
    log::rate_limiter flap_log_; // a port that fails and reopens at once, again and again
    std::jthread thread_;        // declared last: starts last, joins first
};

} // namespace mb::drivers::rtu
