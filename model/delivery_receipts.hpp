#pragma once
// What an outlet tells the side that feeds it about what it sent (docs/buffer.md): the
// PUBACK of a message id, a late refusal, and its link going up or down. The forwarder
// implements it; an outlet reports to the one it was given (outlet::report_to), so the
// acknowledgements come back the way sends went out, through an interface. Loop thread only.
#include <string_view>

namespace mb::model {

class delivery_receipts {
public:
    delivery_receipts() = default;
    virtual ~delivery_receipts() = default;
    delivery_receipts(const delivery_receipts&) = delete;
    delivery_receipts& operator=(const delivery_receipts&) = delete;

    // The broker acknowledged the message `mid` (publish_attempt::mid).
    virtual void acked(int mid) = 0;
    // The broker refused `mid` for good after it was sent (a PUBACK reason code >= 0x80).
    virtual void refused(int mid, std::string_view reason) = 0;
    // Connected: the outlet takes messages again. What it held in flight across the outage it
    // resends itself, once this returns (docs/architecture.md#mqtt-on-the-loop).
    virtual void connected() = 0;
    // Disconnected: no PUBACK comes until the next connected().
    virtual void disconnected() = 0;
};

} // namespace mb::model
