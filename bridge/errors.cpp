#include "bridge/errors.hpp"

#include <mosquitto.h>
#include <string>

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

} // namespace mb::bridge
