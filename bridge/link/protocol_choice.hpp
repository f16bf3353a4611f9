#pragma once
// Which MQTT version each connect attempt speaks (link_settings::protocol). A pure state
// machine, fed what the broker answered; mqtt_link drives it and logs.
//
// "5" and "3.1.1" are fixed. "auto" speaks MQTT 5 and goes down to 3.1.1 only on a broker's
// real answer to an MQTT 5 CONNECT, one of:
//   - a CONNACK "unsupported protocol version" (0x84; a 3.1.1 broker's 0x01 reads the same);
//   - the TCP connection closed without a CONNACK after the CONNECT went out, twice in a row
//     (RabbitMQ before 3.13 cannot parse an MQTT 5 CONNECT and closes the socket). One close
//     proves nothing: a broker shutting down, or a load balancer whose backend died, closes
//     too; the second MQTT 5 attempt, made at once, finds the broker's real answer.
// Either way the next attempt, at once, speaks 3.1.1, and only its CONNACK settles it: any
// other end of it (refused, timed out, closed) is no answer, and the link backs off and starts
// over with MQTT 5. A fall-back holds for that one connection: every later connection (after
// a disconnect or a back-off) tries MQTT 5 again, so a broker upgraded to MQTT 5 is spoken 5
// to, and no outage can leave the link on 3.1.1.
#include "bridge/link/link_settings.hpp"

namespace mb::bridge {

class protocol_choice {
public:
    explicit protocol_choice(mqtt_protocol setting);

    // The MQTT version of the current (or next) attempt: MQTT_PROTOCOL_V5 or _V311.
    [[nodiscard]] int version() const { return version_; }

    // How an attempt ended before CONNACK, as the broker made it end.
    enum class refusal : unsigned char {
        none,           // no answer from the broker (refused, timed out, TLS, …)
        closed,         // it closed the connection after our CONNECT, without a CONNACK
        version_refused // its CONNACK: unsupported protocol version
    };
    enum class next : unsigned char {
        back_off,      // retry after the back-off, in MQTT 5 again (auto)
        again_v5,      // a second MQTT 5 attempt at once (one close proves nothing)
        try_3_1_1_now, // an MQTT 3.1.1 attempt at once
    };
    next attempt_failed(refusal r);

    // A CONNACK came (accepted or not). True when it answered an MQTT 3.1.1 attempt made
    // because the broker refused MQTT 5: the connection speaks 3.1.1.
    bool connack();

    // A new connection begins (after a disconnect, or an attempt that backs off): auto
    // speaks MQTT 5 again.
    void start_over();

private:
    mqtt_protocol setting_;
    int version_;
    unsigned closes_ = 0; // MQTT 5 attempts in a row closed without a CONNACK
};

} // namespace mb::bridge
