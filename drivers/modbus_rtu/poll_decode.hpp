#pragma once
// The answers of one poll (or "read now" command) decoded into named engineering values: the
// register codec applied to every answered request of a read plan, with the PT/CT ratios of
// "secondary" profiles. Pure; the loop thread calls it, and so does `meterbridge read`.
#include "drivers/modbus_rtu/read_planner.hpp"

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mb::drivers::rtu {

// The meter's own PT/CT ratios as last read. A poll whose ratio request failed decodes with
// these, so one bad answer never publishes secondary values as if they were primary.
struct meter_ratios {
    std::optional<double> pt;
    std::optional<double> ct;
};

struct decoded_values {
    // Published values, in plan order; the names are views into the plan's (valid while it is).
    std::vector<std::pair<std::string_view, double>> values;
    int bad_values = 0; // NaN, infinity or short answers: counted as errors
};

// Decodes every answered request. The device's PT/CT override wins, else the meter's own
// pt_ratio/ct_ratio values read in these results (stored in `known`), else those in `known`,
// else 1 when the plan does not read the meter's ratio at all (profiles with ratios =
// "secondary"). A value whose ratio the plan reads but could not get is left out: absent,
// never published without its ratio.
decoded_values decode_results(const read_plan& plan, std::span<const request_result> results,
                              std::optional<double> pt_override = std::nullopt,
                              std::optional<double> ct_override = std::nullopt,
                              meter_ratios* known = nullptr);

} // namespace mb::drivers::rtu
