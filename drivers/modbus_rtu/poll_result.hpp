#pragma once
// What crosses from a bus thread to the loop thread: commands one way, results the other.
// Only data: the loop decodes, names and publishes.
#include "drivers/modbus_rtu/bus_line.hpp"
#include "drivers/modbus_rtu/poll_schedule.hpp"
#include "drivers/modbus_rtu/read_planner.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mb::drivers::rtu {

// One value of a write command: one register (FC06) or several (FC16).
struct write_op {
    std::string name; // the measurement, for the error text
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
    int failed = 0;           // requests (or writes) that failed
    int exceptions = 0;       // of which exception answers
    bool all_refused = false; // the meter answered every request with an exception
    bool static_done = false; // the static requests were sent, and none failed for now
    transaction last;         // the last failure (error == none: nothing failed)
    std::string error;        // the last failure, short (failure_text.hpp); port_state: why
    std::string subject;      // write: the value whose write failed
    std::string written;      // write: values written before the failure ("do_1, do_2")
    poll_counters counters;   // the device's counters after this poll
    bool offline = false;     // the schedule's view after this poll
    int misses = 0;           // polls without an answer in a row
    std::chrono::milliseconds retry_in{0}; // until the device's next poll
    bool port_open = true;                 // port_state: the line's new state
    bool interrupted = false;              // stop requested mid-poll: dropped, not reported
};

} // namespace mb::drivers::rtu
