#pragma once
// Read planner: the fewest Modbus requests that read every wanted value of a device, computed
// once at config load. Their answers are decoded by poll_decode.hpp.
#include "drivers/modbus_rtu/profile.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mb::drivers::rtu {

// One read request: `count` registers from `address` with one function code, covering the
// plan values listed in `values` (indexes into read_plan::values).
struct read_request {
    function_code function = function_code::holding;
    std::uint16_t address = 0;
    std::uint16_t count = 0;
    std::vector<std::size_t> values;

    friend bool operator==(const read_request&, const read_request&) = default;
};

struct read_plan {
    std::vector<value_def> values; // wanted values, then helpers (publish false)
    std::vector<bool> publish;     // false: read only to supply the PT/CT ratio
    std::vector<read_request> requests;
    word_order order = word_order::high_first;
    bool secondary = false;

    // Requests the meter refused for good (illegal address or function on a single value):
    // left out of the polls, asked again after retry_refused_after polls.
    struct refused_request {
        read_request request;
        int polls_left = 0;
    };
    static constexpr int retry_refused_after = 100;
    std::vector<refused_request> refused;

    // Replaces requests[i] by two smaller requests over halves of its values, in place
    // (the first half at i, the second at i + 1), so the split is remembered for later polls.
    // False when the request holds a single value and cannot be split.
    bool split(std::size_t i);
    // Takes requests[i] out of the polls (into `refused`); requests[i + 1] moves to i.
    void refuse(std::size_t i);
    // Once per poll: counts refused requests down and puts those due back, in address order.
    void tick();
};

struct plan_options {
    int max_gap = 8;               // registers a merge may read needlessly
    std::vector<std::string> only; // globs over value names; empty = every value
    bool pt_override = false;      // the device sets pt_ratio: the meter's is not needed
    bool ct_override = false;
};

// fnmatch-style glob (*, ?, [...]) against a value name.
bool glob_match(std::string_view pattern, std::string_view name);

read_plan plan_reads(const profile& p, const plan_options& opt);

// The answer to one request: its registers, or an error.
struct request_result {
    read_request request;
    std::vector<std::uint16_t> regs; // request.count registers when ok
    bool ok = false;
};

} // namespace mb::drivers::rtu
