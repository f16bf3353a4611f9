#pragma once
// What the RTU unit tests build read plans from and answer them with: a profile value, a plan
// over u16 values at given addresses, a register image answering each request of a plan, and
// whether a request covers an address.
#include "drivers/modbus_rtu/read_planner.hpp"

#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <utility>
#include <vector>

// In the driver's namespace, so that its types need no qualification here.
namespace mb::drivers::rtu::testing {

inline value_def val(std::string name, int address, value_type t = value_type::u16,
                     function_code fc = function_code::holding) {
    value_def v;
    v.name = std::move(name);
    v.address = static_cast<std::uint16_t>(address);
    v.type = t;
    v.function = fc;
    return v;
}

// The plan (default options) of a profile with one u16 value at each address, named
// "v<address>".
inline read_plan plan_at(std::initializer_list<int> addresses) {
    profile p;
    for (int a : addresses)
        p.values.push_back(val("v" + std::to_string(a), a));
    return plan_reads(p, {});
}

// A secondary meter's profile: [0] pt_ratio at 14, [1] ct_ratio at 15, [2] voltage_l1 (times
// the PT ratio), [3] current_l1 (times the CT ratio) and [4] frequency at the given addresses.
inline profile secondary_meter(int voltage_at, int current_at, int frequency_at) {
    profile p;
    p.secondary = true;
    p.values = {val("pt_ratio", 14), val("ct_ratio", 15), val("voltage_l1", voltage_at),
                val("current_l1", current_at), val("frequency", frequency_at)};
    p.values[2].ratio = ratio_kind::pt;
    p.values[3].ratio = ratio_kind::ct;
    return p;
}

// A register image: answers each request from it (0 where the image has no register).
inline std::vector<request_result> answer(const read_plan& plan,
                                          const std::map<int, std::uint16_t>& img) {
    std::vector<request_result> out;
    for (const auto& r : plan.requests) {
        request_result rr{r, {}, true};
        for (int a = r.address; a < r.address + r.count; ++a) {
            auto it = img.find(a);
            rr.regs.push_back(it == img.end() ? 0 : it->second);
        }
        out.push_back(std::move(rr));
    }
    return out;
}

inline bool touches(const read_request& r, int address) {
    return r.address <= address && address < r.address + r.count;
}

} // namespace mb::drivers::rtu::testing
