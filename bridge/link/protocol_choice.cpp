#include "bridge/link/protocol_choice.hpp"

#include <mosquitto.h>

namespace mb::bridge {
namespace {

// MQTT 5 attempts closed without a CONNACK, in a row, before 3.1.1 is tried.
constexpr unsigned closes_before_fallback = 2;

int first_version(mqtt_protocol setting) {
    return setting == mqtt_protocol::v311 ? MQTT_PROTOCOL_V311 : MQTT_PROTOCOL_V5;
}

} // namespace

protocol_choice::protocol_choice(mqtt_protocol setting)
    : setting_(setting)
    , version_(first_version(setting)) {}

protocol_choice::next protocol_choice::attempt_failed(refusal r) {
    if (setting_ != mqtt_protocol::automatic) return next::back_off;
    if (version_ != MQTT_PROTOCOL_V5) {
        // The 3.1.1 attempt got no CONNACK either: no answer about the protocol.
        start_over();
        return next::back_off;
    }
    switch (r) {
    case refusal::version_refused:
        version_ = MQTT_PROTOCOL_V311;
        return next::try_3_1_1_now;
    case refusal::closed:
        if (++closes_ < closes_before_fallback) return next::again_v5;
        version_ = MQTT_PROTOCOL_V311;
        return next::try_3_1_1_now;
    case refusal::none:
        break;
    }
    start_over();
    return next::back_off;
}

bool protocol_choice::connack() {
    closes_ = 0;
    return setting_ == mqtt_protocol::automatic && version_ == MQTT_PROTOCOL_V311;
}

void protocol_choice::start_over() {
    version_ = first_version(setting_);
    closes_ = 0;
}

} // namespace mb::bridge
