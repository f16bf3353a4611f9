#pragma once
// One poll of one device for `meterbridge read`: every request of its read plan on an open
// line, with each attempt's outcome and round trip kept for the report. The bus thread's own
// rules (drivers/modbus_rtu/poll_runner.hpp): a merged request refused because a register is
// missing is split and retried, and a timeout ends the poll.
#include "drivers/modbus_rtu/bus_line.hpp"
#include "drivers/modbus_rtu/poll_runner.hpp"
#include "drivers/modbus_rtu/read_planner.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace mb::daemon {

struct read_attempt {
    drivers::rtu::read_request request;
    drivers::rtu::line_error error = drivers::rtu::line_error::none;
    std::string outcome; // "ok", "timeout", "exception 2 (illegal data address)", ...
    std::chrono::microseconds rtt{0};
};

struct device_poll {
    std::vector<drivers::rtu::request_result> results; // final requests, for decode_results
    std::vector<std::string> errors;                   // per result: why it failed
    std::vector<read_attempt> attempts;                // every request sent, in order
    bool answered = false;                             // some request got a normal answer
    bool heard = false; // something answered at all (also exceptions, garbled frames)
    std::chrono::microseconds took{0};

    // "9 requests, 8 ok, 1 failed, 412.3 ms"
    [[nodiscard]] std::string summary() const;
};

// How one transaction ended, for people: "ok", "timeout", "exception 2 (illegal data
// address)", "garbled answer (invalid crc)", "port error (...)".
std::string outcome_of(const drivers::rtu::transaction& t);

device_poll poll_device(drivers::rtu::bus_line& line, const drivers::rtu::poll_context& ctx,
                        drivers::rtu::read_plan& plan);

} // namespace mb::daemon
