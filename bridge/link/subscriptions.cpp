#include "bridge/link/subscriptions.hpp"

#include <algorithm>
#include <utility>

namespace mb::bridge {

subscription_table::subscription_table(common::backoff_policy retry, std::uint64_t seed)
    : retry_(retry)
    , rng_(seed) {}

void subscription_table::sent(int mid, subscription_request r) {
    pending_.insert_or_assign(mid, std::move(r));
}

std::optional<subscription_answer>
subscription_table::answered(int mid, int reason, std::chrono::steady_clock::time_point now) {
    const auto it = pending_.find(mid);
    if (it == pending_.end()) return std::nullopt;
    auto request = std::move(it->second);
    pending_.erase(it);
    subscription_answer a;
    a.filter = request.filter;
    a.reason = reason;
    if (a.granted()) {
        refusals_.erase(request.filter);
        return a;
    }
    a.refusals = ++refusals_[request.filter];
    a.retry_in = common::reconnect_delay(retry_, a.refusals - 1, rng_);
    waiting_.push_back({std::move(request), a.refusals, now + a.retry_in});
    return a;
}

std::vector<subscription_request>
subscription_table::due(std::chrono::steady_clock::time_point now) {
    std::vector<subscription_request> out;
    const auto ready = [&](const waiting_request& w) { return w.at <= now; };
    for (auto& w : waiting_)
        if (ready(w)) out.push_back(std::move(w.request));
    std::erase_if(waiting_, ready);
    return out;
}

void subscription_table::clear() {
    pending_.clear();
    waiting_.clear();
    refusals_.clear();
}

} // namespace mb::bridge
