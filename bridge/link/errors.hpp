#pragma once
// error_code categories for the MQTT side (docs/contributing.md#errors-are-values): MOSQ_ERR_* from
// libmosquitto, and the link's own refusals (not connected, window full, stopping).
#include <chrono>
#include <string>
#include <system_error>

namespace mb::bridge {

// Values are MOSQ_ERR_*; messages come from mosquitto_strerror().
const std::error_category& mosq_category() noexcept;
inline std::error_code make_mosq_error(int rc) noexcept {
    return {rc, mosq_category()};
}

enum class link_errc {
    not_connected = 1, // the caller keeps the message and tries again after on_connect
    window_full,       // max_inflight QoS 1 messages await PUBACK
    stopping,          // stop() was called
    bad_settings,      // the settings cannot be applied (message logged with the reason)
    given_up,          // as large as a message on its topic the link gave up on (poison)
};

const std::error_category& link_category() noexcept;

// What a log line says when libmosquitto ends a connection with `rc` (its on_disconnect code:
// a MOSQ_ERR_* value, or an MQTT v5 reason code >= 0x80 from the broker's DISCONNECT).
// `err` is errno at the time (for MOSQ_ERR_ERRNO). Never "Unknown error.".
std::string disconnect_text(int rc, std::chrono::seconds keepalive, int err);

// errno values that end a TCP connect (refused, unreachable, timed out, reset).
bool is_connect_errno(int err) noexcept;
inline std::error_code make_error_code(link_errc e) noexcept {
    return {static_cast<int>(e), link_category()};
}

} // namespace mb::bridge

template <> struct std::is_error_code_enum<mb::bridge::link_errc> : std::true_type {};
