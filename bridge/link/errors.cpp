#include "bridge/link/errors.hpp"

#include <cerrno>
#include <fmt/format.h>
#include <mosquitto.h>
#include <string>
#include <string_view>

namespace mb::bridge {
namespace {

class mosq_category_impl final : public std::error_category {
public:
    [[nodiscard]] const char* name() const noexcept override { return "mosquitto"; }
    [[nodiscard]] std::string message(int rc) const override { return mosquitto_strerror(rc); }
};

class link_category_impl final : public std::error_category {
public:
    [[nodiscard]] const char* name() const noexcept override { return "mqtt_link"; }
    [[nodiscard]] std::string message(int e) const override {
        switch (static_cast<link_errc>(e)) {
        case link_errc::not_connected:
            return "not connected";
        case link_errc::window_full:
            return "in-flight window full";
        case link_errc::stopping:
            return "stopping";
        case link_errc::bad_settings:
            return "bad settings";
        case link_errc::given_up:
            return "the broker closed the connection on a message this large on this topic "
                   "before, and would again";
        }
        return "unknown link error";
    }
};

} // namespace

const std::error_category& mosq_category() noexcept {
    static const mosq_category_impl c;
    return c;
}

const std::error_category& link_category() noexcept {
    static const link_category_impl c;
    return c;
}

std::string disconnect_text(int rc, std::chrono::seconds keepalive, int err) {
    switch (rc) {
    case MOSQ_ERR_SUCCESS:
        return "socket error";
    case MOSQ_ERR_CONN_LOST:
        return "the broker closed the connection";
    case MOSQ_ERR_KEEPALIVE:
        return fmt::format("no answer from the broker within {}s (keepalive)", keepalive.count());
    case MOSQ_ERR_ERRNO:
        return err != 0 ? std::system_category().message(err) : "socket error";
    default:
        break;
    }
    if (rc >= 0x80) {
        // The broker's DISCONNECT: server shutting down, session taken over, …
        return fmt::format("the broker ended the session: {} (reason 0x{:02x})",
                           mosquitto_reason_string(rc), rc);
    }
    const std::string_view text = mosquitto_strerror(rc);
    if (text.empty() || text == "Unknown error.") return fmt::format("mosquitto error {}", rc);
    return std::string(text);
}

bool is_connect_errno(int err) noexcept {
    return err == ECONNREFUSED || err == ECONNRESET || err == ECONNABORTED || err == ETIMEDOUT ||
           err == EHOSTUNREACH || err == ENETUNREACH || err == EHOSTDOWN || err == ENETDOWN;
}

} // namespace mb::bridge
