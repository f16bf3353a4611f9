#pragma once
// One poll of one device: every request of its read plan against the line, with the rules for
// failures (pure but for the line, which the caller passes as a function, so that unit tests
// can script the meter's answers).
//
// - An exception that says a register does not exist (01 illegal function, 02 illegal data
//   address, 03 illegal data value: the count) on a merged request splits it, and the split
//   is kept in the plan; on a single value 01/02 leave it out of the polls for a back-off in
//   time (read_plan::refuse).
// - Any other exception (04 device failure, 05/06 busy/acknowledge, 0A/0B gateway) fails
//   that request for this poll only: it is asked again, unchanged, next poll.
// - A meter that answers every request of a poll with an exception refuses everything (a
//   fault, a meter in set-up mode, another model): the poll's splits and refusals are undone
//   and the next polls send one request until it is answered (read_plan::refusing).
// - The poll goes on after exceptions and bad frames (the meter is there), but a timeout
//   ends it, answered requests or not: a meter that stopped answering costs one timeout, not
//   one per request, and a poll ends within one timeout of a stop request.
// - Static requests are sent only when the caller asks for them (their refresh is due).
// - A stop request is checked before every request: the poll ends `interrupted`.
#include "drivers/modbus_rtu/bus_line.hpp"
#include "drivers/modbus_rtu/poll_result.hpp"
#include "drivers/modbus_rtu/read_planner.hpp"

#include <functional>
#include <stop_token>
#include <string_view>

namespace mb::drivers::rtu {

using read_fn = std::function<transaction(const read_request&, std::vector<std::uint16_t>&)>;

struct poll_context {
    std::string_view bus;
    std::string_view device;
    int unit = 1;
    request_timing timing; // the device's timeout and request gap (timing_for)
};

// True for the exception codes that say "no such register" (01, 02, 03).
bool means_missing_register(const transaction& t);

struct poll_options {
    // A poll of the schedule: splits and refusals change the plan. False (a command's read):
    // failures are only recorded, and the plan never changes.
    bool adapt = true;
    bool with_static = true; // also send the static requests
    read_plan::time_point now{};
};

void run_plan(const read_fn& read, const poll_context& ctx, read_plan& plan,
              const poll_options& opt, const std::stop_token& st, poll_result& out);

} // namespace mb::drivers::rtu
