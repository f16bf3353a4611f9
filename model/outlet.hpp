#pragma once
// Where the delivery queue sends to (docs/architecture.md#layers: "the link" as the queue sees it).
// The uplink implements it; tests can too. Loop thread only.
#include "model/gap.hpp"
#include "model/reading.hpp"

#include <cstdint>
#include <string>

namespace mb::model {

// One publish attempt ends in one of three ways (docs/contributing.md#errors-are-values).
struct publish_attempt {
    enum class outcome : std::uint8_t {
        sent,    // handed over at QoS 1: its PUBACK comes back with `mid`
        retry,   // not now (disconnected, window full, stopping): keep it, try later
        refused, // never (larger than the broker takes, …): sending it again won't help
    };
    outcome what = outcome::retry;
    int mid = 0;
    std::string reason; // refused: why, for the log and the gap
};

class outlet {
public:
    outlet() = default;
    virtual ~outlet() = default;
    outlet(const outlet&) = delete;
    outlet& operator=(const outlet&) = delete;

    virtual publish_attempt publish(const reading& r) = 0; // {p}/{gw}/{dev}/data
    virtual publish_attempt publish(const gap& g) = 0;     // {p}/{gw}/{dev}/gap
    // True while connected (PUBACKs can still come for what was sent).
    [[nodiscard]] virtual bool connected() const = 0;
};

} // namespace mb::model
