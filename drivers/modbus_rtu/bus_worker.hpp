#pragma once
// One serial line: a std::jthread that owns the modbus_t, runs the poll schedule of the bus's
// devices and hands every finished poll to the loop thread with uv_async_send. The loop
// thread never touches the line. Commands (writes, "read now") jump the poll queue.
#include "bridge/uv_handle.hpp"
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

// One register write (FC16) of a command.
struct write_op {
    std::uint16_t address = 0;
    std::vector<std::uint16_t> regs;
};

struct bus_command {
    enum class kind : std::uint8_t { read, write };
    kind what = kind::read;
    std::uint64_t id = 0;
    std::size_t device = 0;
    std::shared_ptr<const read_plan> plan; // read: what to read
    std::vector<write_op> writes;          // write
};

// What a poll or a command produced; only data crosses the threads.
struct poll_result {
    enum class kind : std::uint8_t { poll, read, write, port_state };
    kind what = kind::poll;
    std::uint64_t command_id = 0;
    std::size_t device = 0;
    std::int64_t ts_ms = 0;                // Unix ms UTC when the poll began
    std::chrono::milliseconds rtt{0};      // whole poll, first request to last answer
    std::vector<request_result> requests;  // poll/read: one per request
    std::shared_ptr<const read_plan> plan; // read: the plan the command carried
    poll_outcome outcome = poll_outcome::answered;
    int failed = 0;         // requests (or writes) that failed
    int exceptions = 0;     // of which exception answers
    std::string error;      // the last failure, as text
    poll_counters counters; // the device's counters after this poll
    bool offline = false;   // the schedule's view after this poll
    bool port_open = true;  // port_state: the line's new state
};

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
    // Loop thread: stop polling, finish the current request, join, deliver what is left.
    void stop();

    [[nodiscard]] const bus_settings& settings() const { return settings_; }
    // The plan a device's poll results decode with (its values never change).
    [[nodiscard]] const read_plan& decode_plan(std::size_t device) const {
        return decode_plans_[device];
    }

private:
    void run(std::stop_token st);
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
    std::jthread thread_; // declared last: starts last, joins first
};

} // namespace mb::drivers::rtu
