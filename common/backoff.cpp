#include "common/backoff.hpp"

#include <algorithm>

namespace mb::common {

std::chrono::milliseconds reconnect_delay(const backoff_policy& p, unsigned attempt,
                                          std::mt19937_64& rng) {
    const std::int64_t lo_bound = std::max<std::int64_t>(p.min.count(), 1);
    const std::int64_t cap = std::max<std::int64_t>(p.max.count(), lo_bound);
    std::int64_t ceiling = lo_bound;
    for (unsigned i = 0; i < attempt && ceiling < cap; ++i)
        ceiling *= 2;
    ceiling = std::min(ceiling, cap);
    const std::int64_t lo = std::max(ceiling / 2, lo_bound);
    std::uniform_int_distribution<std::int64_t> pick(lo, std::max(lo, ceiling));
    return std::chrono::milliseconds(pick(rng));
}

unsigned cap_attempt(const backoff_policy& p) {
    const std::int64_t lo_bound = std::max<std::int64_t>(p.min.count(), 1);
    unsigned n = 0;
    for (std::int64_t c = lo_bound; c < p.max.count(); c *= 2)
        ++n;
    return n;
}

} // namespace mb::common
