#include "drivers/modbus_rtu/poll_schedule.hpp"

#include <algorithm>

namespace mb::drivers::rtu {

using std::chrono::milliseconds;

poll_schedule::poll_schedule(std::vector<milliseconds> intervals, sched_clock::time_point start) {
    const auto n = static_cast<std::int64_t>(intervals.size());
    devices_.reserve(intervals.size());
    for (std::int64_t i = 0; i < n; ++i) {
        const milliseconds iv = std::max(intervals[static_cast<std::size_t>(i)], milliseconds(1));
        // Spread the devices of the bus over their interval rather than firing all at once.
        const auto first = start + iv * i / n;
        device d{iv, first, start, first, 0, {}};
        devices_.push_back(d);
    }
}

milliseconds poll_schedule::period(milliseconds interval, int misses) {
    if (misses < offline_after) return interval;
    // 2x, 4x, 8x ... the interval, at most 10x and at most 5 minutes (never below interval)
    const milliseconds cap = std::max(interval, std::min(interval * 10, max_backoff));
    const int doublings = std::min(misses - offline_after + 1, 20);
    return std::min(interval * (std::int64_t{1} << doublings), cap);
}

std::optional<std::size_t> poll_schedule::next(sched_clock::time_point now) {
    std::optional<std::size_t> best;
    for (std::size_t i = 0; i < devices_.size(); ++i) {
        auto& d = devices_[i];
        if (d.due > now) continue;
        // Late by a whole period or more: those slots are gone, count them and move on.
        const milliseconds p = period(d.interval, d.misses);
        const auto late = now - d.due;
        const auto missed = late / p;
        if (missed > 0) {
            d.counters.skipped += static_cast<std::uint64_t>(missed);
            d.due += p * missed;
        }
        // Most overdue = waiting longest since its first unserved slot, skipped ones included,
        // so a device that keeps losing the race to others gets the line next.
        if (!best || d.waiting_since < devices_[*best].waiting_since) best = i;
    }
    if (best) {
        auto& d = devices_[*best];
        d.picked = d.due;
        d.due += period(d.interval, d.misses); // placeholder until finished()
        d.waiting_since = d.due;
    }
    return best;
}

sched_clock::time_point poll_schedule::next_due() const {
    auto t = sched_clock::time_point::max();
    for (const auto& d : devices_)
        t = std::min(t, d.due);
    return t;
}

void poll_schedule::finished(std::size_t device, poll_outcome outcome, milliseconds rtt) {
    if (device >= devices_.size()) return;
    auto& d = devices_[device];
    ++d.counters.polls;
    if (outcome == poll_outcome::no_answer) {
        ++d.counters.timeouts;
        ++d.counters.errors;
        d.misses = std::min(d.misses + 1, 1000);
    } else {
        if (outcome == poll_outcome::partial) ++d.counters.errors;
        d.counters.last_rtt = rtt;
        d.misses = 0; // back to its interval as soon as it answers
    }
    d.due = d.picked + period(d.interval, d.misses);
    d.waiting_since = d.due;
}

} // namespace mb::drivers::rtu
