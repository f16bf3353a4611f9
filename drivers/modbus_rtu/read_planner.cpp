#include "drivers/modbus_rtu/read_planner.hpp"

#include <algorithm>
#include <fnmatch.h>
#include <numeric>

namespace mb::drivers::rtu {
namespace {

constexpr int protocol_max_read = 125; // registers in one FC03/FC04 answer

// Requests in the order the polls send them: by function code, then address.
bool address_order(const read_request& a, const read_request& b) {
    return a.function != b.function ? a.function < b.function : a.address < b.address;
}

int end_of(const value_def& v) {
    return int{v.address} + register_count(v.type);
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
        need_pt = need_pt || needs_ratio(v, ratio_kind::pt);
        need_ct = need_ct || needs_ratio(v, ratio_kind::ct);
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
    // Static values are coalesced apart from the others, so that the polls between two
    // refreshes read none of their registers.
    std::vector<std::size_t> everyday;
    std::vector<std::size_t> rare;
    for (std::size_t i = 0; i < plan.values.size(); ++i)
        (plan.values[i].is_static ? rare : everyday).push_back(i);
    if (everyday.empty()) std::swap(everyday, rare);
    const int gap = std::max(0, opt.max_gap);
    plan.requests = coalesce(plan.values, std::move(everyday), gap, max_read);
    for (auto& r : coalesce(plan.values, std::move(rare), gap, max_read)) {
        r.is_static = true;
        plan.requests.push_back(std::move(r));
    }
    std::stable_sort(plan.requests.begin(), plan.requests.end(), address_order);
    return plan;
}

bool read_plan::split(std::size_t i) {
    if (i >= requests.size() || requests[i].values.size() < 2) return false;
    const bool is_static = requests[i].is_static;
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
    for (auto& r : a)
        r.is_static = is_static;
    requests.insert(requests.begin() + static_cast<std::ptrdiff_t>(i), a.begin(), a.end());
    return true;
}

void read_plan::refuse(std::size_t i, time_point now) {
    if (i >= requests.size()) return;
    auto backoff = first_retry;
    const auto again = std::find_if(retrying.begin(), retrying.end(),
                                    [&](const auto& r) { return r.request == requests[i]; });
    if (again != retrying.end()) {
        backoff = std::min(again->backoff * 2, longest_retry);
        retrying.erase(again);
    }
    refused.push_back({std::move(requests[i]), now + backoff, backoff});
    requests.erase(requests.begin() + static_cast<std::ptrdiff_t>(i));
}

void read_plan::tick(time_point now) {
    for (auto it = refused.begin(); it != refused.end();) {
        if (it->retry_at > now) {
            ++it;
            continue;
        }
        retrying.push_back(*it);
        auto r = std::move(it->request);
        it = refused.erase(it);
        const auto pos = std::find_if(requests.begin(), requests.end(),
                                      [&](const auto& q) { return address_order(r, q); });
        requests.insert(pos, std::move(r));
    }
}

void read_plan::answered(std::size_t i) {
    if (retrying.empty() || i >= requests.size()) return;
    std::erase_if(retrying, [&](const auto& r) { return r.request == requests[i]; });
}

bool read_plan::has_static() const {
    return std::any_of(requests.begin(), requests.end(),
                       [](const auto& r) { return r.is_static; }) ||
           std::any_of(refused.begin(), refused.end(),
                       [](const auto& r) { return r.request.is_static; });
}

} // namespace mb::drivers::rtu
