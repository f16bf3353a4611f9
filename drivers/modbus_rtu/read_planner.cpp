#include "drivers/modbus_rtu/read_planner.hpp"

#include "drivers/modbus_rtu/codec.hpp"

#include <algorithm>
#include <fnmatch.h>
#include <numeric>

namespace mb::drivers::rtu {
namespace {

constexpr int protocol_max_read = 125; // registers in one FC03/FC04 answer

int end_of(const value_def& v) {
    return int{v.address} + register_count(v.type);
}

bool wants_ratio(const value_def& v, ratio_kind which) {
    return v.ratio == which || v.ratio == ratio_kind::ptct;
}

// Requests covering `idx` (indexes into values, any order): sorted by function and address,
// merged while the range stays within max_read and the hole before the next value is at
// most max_gap registers.
std::vector<read_request> coalesce(const std::vector<value_def>& values,
                                   std::vector<std::size_t> idx, int max_gap, int max_read) {
    std::sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) {
        const auto& va = values[a];
        const auto& vb = values[b];
        if (va.function != vb.function) return va.function < vb.function;
        if (va.address != vb.address) return va.address < vb.address;
        return a < b;
    });
    std::vector<read_request> out;
    int cur_end = 0;
    for (std::size_t i : idx) {
        const auto& v = values[i];
        const int start = v.address;
        const int end = std::min(end_of(v), 0x10000);
        if (!out.empty()) {
            auto& r = out.back();
            const int gap = start - cur_end; // negative: overlap
            const int new_end = std::max(cur_end, end);
            if (r.function == v.function && gap <= max_gap && new_end - r.address <= max_read) {
                cur_end = new_end;
                r.count = static_cast<std::uint16_t>(cur_end - r.address);
                r.values.push_back(i);
                continue;
            }
        }
        read_request r;
        r.function = v.function;
        r.address = v.address;
        cur_end = end;
        r.count = static_cast<std::uint16_t>(end - start);
        r.values.push_back(i);
        out.push_back(std::move(r));
    }
    return out;
}

} // namespace

bool glob_match(std::string_view pattern, std::string_view name) {
    return ::fnmatch(std::string(pattern).c_str(), std::string(name).c_str(), 0) == 0;
}

read_plan plan_reads(const profile& p, const plan_options& opt) {
    read_plan plan;
    plan.order = p.order;
    plan.secondary = p.secondary;
    bool need_pt = false;
    bool need_ct = false;
    for (const auto& v : p.values) {
        const bool wanted =
            opt.only.empty() || std::any_of(opt.only.begin(), opt.only.end(),
                                            [&](const auto& g) { return glob_match(g, v.name); });
        if (!wanted) continue;
        plan.values.push_back(v);
        plan.publish.push_back(true);
        need_pt = need_pt || wants_ratio(v, ratio_kind::pt);
        need_ct = need_ct || wants_ratio(v, ratio_kind::ct);
    }
    // The meter's own ratios are read (and not published) when a wanted value needs them.
    auto add_helper = [&](std::string_view name, bool needed) {
        if (!needed || !p.secondary) return;
        if (std::any_of(plan.values.begin(), plan.values.end(),
                        [&](const auto& v) { return v.name == name; }))
            return;
        auto it = std::find_if(p.values.begin(), p.values.end(),
                               [&](const auto& v) { return v.name == name; });
        if (it == p.values.end()) return;
        plan.values.push_back(*it);
        plan.publish.push_back(false);
    };
    add_helper("pt_ratio", need_pt && !opt.pt_override);
    add_helper("ct_ratio", need_ct && !opt.ct_override);

    const int max_read = std::clamp(p.max_read, 1, protocol_max_read);
    std::vector<std::size_t> idx(plan.values.size());
    std::iota(idx.begin(), idx.end(), std::size_t{0});
    plan.requests = coalesce(plan.values, std::move(idx), std::max(0, opt.max_gap), max_read);
    return plan;
}

bool read_plan::split(std::size_t i) {
    if (i >= requests.size() || requests[i].values.size() < 2) return false;
    auto vals = requests[i].values;
    std::sort(vals.begin(), vals.end(),
              [&](std::size_t a, std::size_t b) { return values[a].address < values[b].address; });
    const auto half = static_cast<std::ptrdiff_t>(vals.size() / 2);
    std::vector<std::size_t> first(vals.begin(), vals.begin() + half);
    std::vector<std::size_t> second(vals.begin() + half, vals.end());
    // Each half is re-coalesced without gaps, so it reads no register it does not need.
    auto a = coalesce(values, std::move(first), 0, protocol_max_read);
    auto b = coalesce(values, std::move(second), 0, protocol_max_read);
    requests.erase(requests.begin() + static_cast<std::ptrdiff_t>(i));
    a.insert(a.end(), b.begin(), b.end());
    requests.insert(requests.begin() + static_cast<std::ptrdiff_t>(i), a.begin(), a.end());
    return true;
}

void read_plan::refuse(std::size_t i) {
    if (i >= requests.size()) return;
    refused.push_back({std::move(requests[i]), retry_refused_after});
    requests.erase(requests.begin() + static_cast<std::ptrdiff_t>(i));
}

void read_plan::tick() {
    for (auto it = refused.begin(); it != refused.end();) {
        if (--it->polls_left > 0) {
            ++it;
            continue;
        }
        auto r = std::move(it->request);
        it = refused.erase(it);
        const auto pos = std::find_if(requests.begin(), requests.end(), [&](const auto& q) {
            return q.function != r.function ? r.function < q.function : r.address < q.address;
        });
        requests.insert(pos, std::move(r));
    }
}

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
            if (plan.secondary && ((wants_ratio(def, ratio_kind::pt) && !pt) ||
                                   (wants_ratio(def, ratio_kind::ct) && !ct)))
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
