#include "daemon/config/broker_url.hpp"

#include <fmt/format.h>
#include <optional>

namespace mb::config {
namespace {

bool host_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

bool ipv6_char(char c) {
    return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') || c == ':' ||
           c == '.';
}

// Digits only, 1..65535.
std::optional<int> parse_port(std::string_view port) {
    if (port.empty() || port.size() > 5) return std::nullopt;
    int n = 0;
    for (const char c : port) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + (c - '0');
    }
    if (n < 1 || n > 65535) return std::nullopt;
    return n;
}

} // namespace

parsed<broker_url> parse_broker_url(std::string_view text) {
    parsed<broker_url> r;
    r.value.text = std::string(text);
    std::string_view rest;
    if (text.starts_with("mqtt://")) {
        rest = text.substr(7);
        r.value.port = 1883;
    } else if (text.starts_with("mqtts://")) {
        rest = text.substr(8);
        r.value.tls = true;
        r.value.port = 8883;
    } else {
        r.error = fmt::format("\"{}\" is not an mqtt:// or mqtts:// url", text);
        return r;
    }
    if (rest.ends_with('/')) rest.remove_suffix(1);
    if (rest.find('@') != std::string_view::npos) {
        r.error = "credentials do not belong in the url (use username and password_file)";
        return r;
    }
    std::string_view port;
    bool has_port = false;
    if (rest.starts_with('[')) {
        const auto close = rest.find(']');
        if (close == std::string_view::npos) {
            r.error = fmt::format("\"{}\" has an unclosed [ in the host", text);
            return r;
        }
        r.value.host = std::string(rest.substr(1, close - 1));
        const auto after = rest.substr(close + 1);
        if (!after.empty() && !after.starts_with(':')) {
            r.error = fmt::format("\"{}\" has text after the host", text);
            return r;
        }
        has_port = !after.empty();
        if (has_port) port = after.substr(1);
        for (char c : r.value.host)
            if (!ipv6_char(c)) r.error = fmt::format("\"{}\" has a bad IPv6 address", text);
        if (r.value.host.empty()) r.error = fmt::format("\"{}\" has no host", text);
        if (!r.error.empty()) return r;
    } else {
        const auto colon = rest.find(':');
        r.value.host = std::string(rest.substr(0, colon));
        has_port = colon != std::string_view::npos;
        if (has_port) port = rest.substr(colon + 1);
        if (r.value.host.empty()) {
            r.error = fmt::format("\"{}\" has no host", text);
            return r;
        }
        for (char c : r.value.host) {
            if (!host_char(c)) {
                r.error = fmt::format("\"{}\": the host may not contain '{}' (no path, query or "
                                      "spaces)",
                                      text, c);
                return r;
            }
        }
    }
    if (has_port) {
        const auto n = parse_port(port);
        if (!n) {
            r.error = fmt::format(R"("{}" has a bad port "{}" (1..65535))", text, port);
            return r;
        }
        r.value.port = *n;
    }
    return r;
}

} // namespace mb::config
