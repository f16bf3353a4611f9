#pragma once
// The one place time is read: wall-clock Unix ms for timestamps, monotonic for durations.
// Components take a clock so that tests can set the time
// (docs/contributing.md#time-is-injected-tests-never-sleep).
#include <chrono>
#include <cstdint>

namespace mb::common {

class clock {
public:
    clock() = default;
    virtual ~clock() = default;
    clock(const clock&) = delete; // an interface: passed by reference, never sliced
    clock& operator=(const clock&) = delete;
    // Unix milliseconds, UTC: reading and status timestamps.
    [[nodiscard]] virtual std::int64_t unix_ms() const = 0;
    [[nodiscard]] virtual std::chrono::steady_clock::time_point steady() const = 0;
};

// The real clocks of the machine.
class system_clock final : public clock {
public:
    [[nodiscard]] std::int64_t unix_ms() const override {
        using namespace std::chrono;
        return duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    }
    [[nodiscard]] std::chrono::steady_clock::time_point steady() const override {
        return std::chrono::steady_clock::now();
    }
};

// The process-wide real clock, for components not given one.
[[nodiscard]] inline const clock& real_clock() {
    static const system_clock c; // immutable
    return c;
}

} // namespace mb::common
