#pragma once
// Poll schedule of one bus (pure: the caller passes the time). Each device is due every
// interval on a fixed grid (next due = previous due + interval, no drift), devices start
// spread across their interval, a device late by a whole interval skips (and counts) the
// polls it missed instead of queueing them, the most overdue device goes first, and a
// device that stopped answering backs off exponentially until it answers again.
#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

namespace mb::drivers::rtu {

using sched_clock = std::chrono::steady_clock;

struct poll_counters {
    std::uint64_t polls = 0;
    std::uint64_t errors = 0;   // polls with at least one failed request
    std::uint64_t timeouts = 0; // polls with no answer at all
    std::uint64_t skipped = 0;  // polls dropped because the bus could not keep up
    std::chrono::milliseconds last_rtt{-1};
};

enum class poll_outcome : std::uint8_t {
    answered,  // every request answered
    partial,   // answered, but some requests failed (exception, CRC, timeout)
    no_answer, // nothing came back
};

class poll_schedule {
public:
    static constexpr int offline_after = 3; // consecutive polls without an answer
    static constexpr std::chrono::milliseconds max_backoff{5 * 60 * 1000};

    poll_schedule(std::vector<std::chrono::milliseconds> intervals, sched_clock::time_point start);

    // The device to poll at `now`, or nullopt when none is due. Skips missed slots first.
    std::optional<std::size_t> next(sched_clock::time_point now);
    // The earliest due time of any device.
    [[nodiscard]] sched_clock::time_point next_due() const;
    // Reports the poll started by next(); reschedules the device by its outcome.
    void finished(std::size_t device, poll_outcome outcome, std::chrono::milliseconds rtt);

    [[nodiscard]] const poll_counters& counters(std::size_t device) const {
        return devices_[device].counters;
    }
    [[nodiscard]] bool offline(std::size_t device) const {
        return devices_[device].misses >= offline_after;
    }
    // Polls without an answer in a row.
    [[nodiscard]] int misses(std::size_t device) const { return devices_[device].misses; }
    [[nodiscard]] sched_clock::time_point due(std::size_t device) const {
        return devices_[device].due;
    }
    [[nodiscard]] std::size_t size() const { return devices_.size(); }
    // The wait before the next poll of a device with `misses` polls unanswered in a row.
    [[nodiscard]] static std::chrono::milliseconds period(std::chrono::milliseconds interval,
                                                          int misses);

private:
    struct device {
        std::chrono::milliseconds interval;
        sched_clock::time_point due;           // next poll
        sched_clock::time_point picked;        // due time of the poll in progress
        sched_clock::time_point waiting_since; // first slot not served yet (fairness)
        int misses = 0;
        poll_counters counters;
    };
    std::vector<device> devices_;
};

} // namespace mb::drivers::rtu
