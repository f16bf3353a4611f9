#pragma once
// Where the delivery queue sends to (docs/architecture.md#layers: "the link" as the queue sees it).
// The uplink implements it; tests can too. What becomes of a message after it was sent (its
// PUBACK, a late refusal) goes back through model::delivery_receipts. Loop thread only.
#include "model/delivery_receipts.hpp"
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
    // From now on PUBACKs, late refusals and connects go to `r`; nullptr: to nobody (an
    // outlet replaced on reload, still stopping, must not reach the queue: its message ids
    // belong to another libmosquitto instance). `r` must outlive the report_to(nullptr).
    virtual void report_to(delivery_receipts* r) = 0;
};

} // namespace mb::model
