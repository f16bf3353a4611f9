#pragma once
// Read planner: the fewest Modbus requests that read every wanted value of a device, computed
// once at config load. Their answers are decoded by poll_decode.hpp.
#include "drivers/modbus_rtu/profile.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mb::drivers::rtu {

// One read request: `count` registers from `address` with one function code, covering the
// plan values listed in `values` (indexes into read_plan::values). A static request covers
// only static values (profile `static = true`): it is read at start and then rarely.
struct read_request {
    function_code function = function_code::holding;
    std::uint16_t address = 0;
    std::uint16_t count = 0;
    std::vector<std::size_t> values;
    bool is_static = false;

    friend bool operator==(const read_request&, const read_request&) = default;
};

struct read_plan {
    using time_point = std::chrono::steady_clock::time_point;

    std::vector<value_def> values; // wanted values, then helpers (publish false)
    std::vector<bool> publish;     // false: read only to supply the PT/CT ratio
    std::vector<read_request> requests;
    word_order order = word_order::high_first;
    bool secondary = false;

    // Requests the meter refused (illegal address or function on a single value): left out of
    // the polls and asked again after a back-off in time, 1 min doubling to 30 min while the
    // meter keeps refusing them, so a meter that recovers is read again within one step.
    struct refused_request {
        read_request request;
        time_point retry_at{};
        std::chrono::milliseconds backoff{0};
    };
    static constexpr std::chrono::milliseconds first_retry{60'000};
    static constexpr std::chrono::milliseconds longest_retry{30 * 60'000};
    std::vector<refused_request> refused;
    // Requests back from `refused` and not answered since: their next refusal waits longer.
    std::vector<refused_request> retrying;
    // The meter refused every request of its last poll (it answers, but nothing it is asked):
    // the next polls send one request until it is answered again, rather than splitting and
    // refusing the whole plan on every poll.
    bool refusing = false;

    // Replaces requests[i] by two smaller requests over halves of its values, in place
    // (the first half at i, the second at i + 1), so the split is remembered for later polls.
    // False when the request holds a single value and cannot be split.
    bool split(std::size_t i);
    // Takes requests[i] out of the polls (into `refused`) until its back-off has passed;
    // requests[i + 1] moves to i.
    void refuse(std::size_t i, time_point now);
    // Before each poll: puts refused requests whose back-off has passed back, in address order.
    void tick(time_point now);
    // requests[i] was answered: a later refusal of it starts again at first_retry.
    void answered(std::size_t i);
    // True when some requests are static. A plan of static values only reads them on every
    // poll (plan_reads clears the flag): its polls would otherwise ask for nothing.
    [[nodiscard]] bool has_static() const;
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
