#include "drivers/modbus_rtu/poll_decode.hpp"

#include "drivers/modbus_rtu/codec.hpp"

namespace mb::drivers::rtu {
namespace {

std::span<const std::uint16_t> slice(const request_result& r, const value_def& v) {
    const int off = int{v.address} - int{r.request.address};
    const int n = register_count(v.type);
    if (off < 0 || off + n > static_cast<int>(r.regs.size())) return {};
    return std::span<const std::uint16_t>(r.regs).subspan(static_cast<std::size_t>(off),
                                                          static_cast<std::size_t>(n));
}

// The ratio a value marked with it gets: the override, else the meter's own value read in
// these results (a value <= 0 means 1), else the one last read, else 1 when the plan does not
// read it at all. nullopt: the plan reads it, but it is not known (its request failed).
std::optional<double> ratio_of(const read_plan& plan, std::span<const request_result> results,
                               std::string_view name, std::optional<double> override_value,
                               std::optional<double>* known) {
    if (override_value) return override_value;
    bool planned = false;
    for (const auto& v : plan.values)
        planned = planned || v.name == name;
    if (!planned) return 1.0;
    for (const auto& r : results) {
        if (!r.ok) continue;
        for (std::size_t i : r.request.values) {
            if (i >= plan.values.size() || plan.values[i].name != name) continue;
            auto v = decode_value(slice(r, plan.values[i]), plan.values[i], plan.order);
            const double ratio = v && *v > 0.0 ? *v : 1.0;
            if (known != nullptr) *known = ratio;
            return ratio;
        }
    }
    if (known != nullptr && known->has_value()) return *known;
    return std::nullopt;
}

} // namespace

decoded_values decode_results(const read_plan& plan, std::span<const request_result> results,
                              std::optional<double> pt_override, std::optional<double> ct_override,
                              meter_ratios* known) {
    std::optional<double> pt = 1.0;
    std::optional<double> ct = 1.0;
    if (plan.secondary) {
        pt = ratio_of(plan, results, "pt_ratio", pt_override, known ? &known->pt : nullptr);
        ct = ratio_of(plan, results, "ct_ratio", ct_override, known ? &known->ct : nullptr);
    }
    decoded_values out;
    for (const auto& r : results) {
        if (!r.ok) continue;
        for (std::size_t i : r.request.values) {
            if (i >= plan.values.size() || !plan.publish[i]) continue;
            const auto& def = plan.values[i];
            if (plan.secondary && ((needs_ratio(def, ratio_kind::pt) && !pt) ||
                                   (needs_ratio(def, ratio_kind::ct) && !ct)))
                continue; // its ratio's request failed: absent, like the failed values
            const double ratio =
                plan.secondary ? ratio_factor(def.ratio, pt.value_or(1.0), ct.value_or(1.0)) : 1.0;
            auto v = decode_value(slice(r, def), def, plan.order, ratio);
            if (!v) {
                ++out.bad_values;
                continue;
            }
            out.values.emplace_back(def.name, *v);
        }
    }
    return out;
}

} // namespace mb::drivers::rtu
