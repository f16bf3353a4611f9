#pragma once
// One poll of one device for `meterbridge read`: every request of its read plan on an open
// line, with each attempt's outcome and round trip kept for the report. The bus thread's own
// rules (poll_runner.hpp): a merged request refused because a register is missing is split
// and retried, and a timeout ends the poll.
#include "drivers/modbus_rtu/bus_line.hpp"
#include "drivers/modbus_rtu/poll_runner.hpp"
#include "drivers/modbus_rtu/read_planner.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace mb::drivers::rtu {

struct read_attempt {
    read_request request;
    line_error error = line_error::none;
    std::string outcome; // "ok", "timeout", "exception 2 (illegal data address)", ...
    std::chrono::microseconds rtt{0};
};

struct device_poll {
    std::vector<request_result> results; // final requests, for decode_results
    std::vector<std::string> errors;     // per result: why it failed
    std::vector<read_attempt> attempts;  // every request sent, in order
    bool answered = false;               // some request got a normal answer
    bool heard = false; // something answered at all (also exceptions, garbled frames)
    std::chrono::microseconds took{0};

    // "9 requests, 8 ok, 1 failed, 412.3 ms"
    [[nodiscard]] std::string summary() const;
};

// How one transaction ended, for people: "ok", "timeout", "exception 2 (illegal data
// address)", "garbled answer (invalid crc)", "port error (...)".
std::string outcome_of(const transaction& t);

// `read` asks the meter (ctx.unit) for one request, as run_plan's read_fn does.
device_poll poll_device(const read_fn& read, const poll_context& ctx, read_plan& plan);
// The same on an open line.
device_poll poll_device(bus_line& line, const poll_context& ctx, read_plan& plan);

} // namespace mb::drivers::rtu
