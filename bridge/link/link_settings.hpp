#pragma once
// What an mqtt_link needs to reach a broker. bridge/ does not see the daemon's config types:
// the daemon fills this from mb::config::uplink_config (or a [[native]] source).
#include "common/backoff.hpp"

#include <chrono>
#include <optional>
#include <string>

namespace mb::bridge {

struct will_message {
    std::string topic;
    std::string payload;
    int qos = 1;
    bool retain = true;

    bool operator==(const will_message&) const = default;
};

// Which MQTT the link speaks. automatic: MQTT 5, and 3.1.1 for a connection to a broker that
// refuses 5 (protocol_choice.hpp says how that is decided). 3.1.1 loses retain handling on
// subscribe, PUBACK reason codes and the broker's Maximum Packet Size (mqtt_link.hpp says what
// stands in for them).
enum class mqtt_protocol : unsigned char { automatic, v5, v311 };

struct link_settings {
    std::string name = "uplink"; // for log lines: "mqtt[uplink] …"
    std::string host;            // a hostname or an IP literal
    int port = 1883;
    bool tls = false;
    std::optional<std::string> ca_file;   // tls: default the system CAs
    std::optional<std::string> cert_file; // optional client certificate …
    std::optional<std::string> key_file;  // … and its key
    std::string client_id;
    std::optional<std::string> username;
    std::optional<std::string> password; // never logged
    std::chrono::seconds keepalive{30};  // at least 10 s (mosquitto issue #1550)
    mqtt_protocol protocol = mqtt_protocol::automatic;
    int max_inflight = 32; // QoS 1 messages awaiting PUBACK
    std::optional<will_message> will;
    common::backoff_policy reconnect{};             // 1 s .. 30 s
    std::chrono::milliseconds stable_after{30'000}; // back-off resets after this long up
    std::chrono::milliseconds stop_grace{5'000};    // stop(): longest wait for the DISCONNECT

    // Every field: a reload compares whole settings, so a new one cannot be forgotten.
    bool operator==(const link_settings&) const = default;
};

} // namespace mb::bridge
