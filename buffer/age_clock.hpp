#pragma once
// The clock max_age is measured on: the gateway's wall clock with its steps taken out. A
// reading's age is the time it waited in the gateway, from when it was taken (received), not
// from its meter's ts (a meter's clock may lag by days); and a wall clock set forward by an
// hour (NTP reaching a box that booted without one) must not age the whole backlog by an hour.
// A step is a difference of more than step_tolerance between how far the wall clock moved and
// how far the monotonic clock did, between two looks; the sum of the steps (shift) is kept in
// the buffer file so that the times stored there stay comparable after a restart. Loop thread
// only.
#include "common/clock.hpp"

#include <chrono>
#include <cstdint>

namespace mb::buffer {

class age_clock {
public:
    static constexpr std::int64_t step_tolerance_ms = 2000;

    explicit age_clock(const common::clock& c)
        : clock_(c) {}

    // Now on this clock (ms); takes out a step of the wall clock since the last look.
    std::int64_t now() {
        const auto wall = clock_.unix_ms();
        const auto mono = clock_.steady();
        if (looked_) {
            const auto moved =
                std::chrono::duration_cast<std::chrono::milliseconds>(mono - last_mono_).count();
            const auto step = wall - (last_wall_ + moved);
            if (step > step_tolerance_ms || step < -step_tolerance_ms) shift_ += step;
        }
        looked_ = true;
        last_wall_ = wall;
        last_mono_ = mono;
        return wall - shift_;
    }

    // Carries on from the file: its shift, and the latest time it holds. A wall clock that is
    // behind that now was set back while the daemon was stopped: a step too.
    void resume(std::int64_t shift, std::int64_t latest) {
        shift_ = shift;
        looked_ = false;
        if (const auto t = now(); latest > t) shift_ -= latest - t;
    }

    [[nodiscard]] std::int64_t shift() const { return shift_; }

private:
    const common::clock& clock_;
    std::int64_t shift_ = 0;
    bool looked_ = false;
    std::int64_t last_wall_ = 0;
    std::chrono::steady_clock::time_point last_mono_;
};

} // namespace mb::buffer
