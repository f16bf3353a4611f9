#pragma once
// Reconnect back-off (docs/contributing.md#back-off-with-jitter): capped exponential with jitter, a
// pure function of the attempt number and an injected random source so tests can pin it.
#include <chrono>
#include <cstdint>
#include <random>

namespace mb::common {

struct backoff_policy {
    std::chrono::milliseconds min{1000};  // first retry
    std::chrono::milliseconds max{30000}; // cap ([uplink] reconnect_max)

    bool operator==(const backoff_policy&) const = default;
};

// Delay before retry number `attempt` (0-based): the ceiling doubles from `min` each attempt
// up to `max`, and the delay is drawn uniformly from [ceiling/2, ceiling], never below `min`.
// Half-jitter keeps a herd of gateways apart after a broker restart without ever retrying
// sooner than `min`.
std::chrono::milliseconds reconnect_delay(const backoff_policy& p, unsigned attempt,
                                          std::mt19937_64& rng);

// The attempt number from which reconnect_delay() sits at the cap (for AUTH/TLS refusals,
// which keep retrying but no faster than the cap allows).
unsigned cap_attempt(const backoff_policy& p);

} // namespace mb::common
