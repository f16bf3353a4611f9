#pragma once
// The words for a failed Modbus transaction, one place for the log, the device status and
// command results (docs/commands.md: an error names the value and says what the meter did).
#include "drivers/modbus_rtu/bus_line.hpp"

#include <chrono>
#include <string>
#include <string_view>

namespace mb::drivers::rtu {

// "illegal data address" for 2; "exception 9" style text for codes the spec does not name.
std::string exception_name(int code);

// "300ms", "20s", "1.5s", "5min".
std::string pretty_duration(std::chrono::milliseconds d);

// Short, without the device: "no answer within 300ms", "CRC mismatch",
// "illegal data address (exception 2)". For the status last_error and the log.
std::string short_failure(const transaction& t, std::chrono::milliseconds timeout);

// For a command result, naming the meter: "no answer from incomer (unit 1) within 300ms",
// "meter refused the write: illegal data address (exception 2)". `verb`: "read" or "write".
std::string command_failure(const transaction& t, std::string_view device, int unit,
                            std::chrono::milliseconds timeout, std::string_view verb);

} // namespace mb::drivers::rtu
