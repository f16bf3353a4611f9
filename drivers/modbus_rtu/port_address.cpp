#include "drivers/modbus_rtu/port_address.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <fmt/format.h>

namespace mb::drivers::rtu {
namespace {

constexpr std::string_view forms =
    "a serial device such as /dev/ttyS1, tcp://HOST:PORT or rtu+tcp://HOST:PORT";

bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

// "HOST:PORT" or "[V6]:PORT" after the scheme.
std::string parse_host_port(std::string_view rest, std::string_view scheme, port_address& out) {
    const auto example = fmt::format("{}10.0.0.7:502", scheme);
    std::string_view host;
    std::string_view port;
    if (rest.starts_with('[')) {
        const auto close = rest.find(']');
        if (close == std::string_view::npos)
            return fmt::format(R"("[" without "]" (an IPv6 address in brackets: {}[::1]:502))",
                               scheme);
        host = rest.substr(1, close - 1);
        // A link-local address carries its interface: [fe80::1%eth0].
        const auto zone = host.find('%');
        const auto addr = host.substr(0, zone);
        const bool zone_ok = zone == std::string_view::npos ||
                             (zone + 1 < host.size() &&
                              std::all_of(host.begin() + static_cast<std::ptrdiff_t>(zone) + 1,
                                          host.end(), name_char));
        if (addr.empty() || addr.find(':') == std::string_view::npos || !zone_ok ||
            addr.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos)
            return fmt::format("\"{}\" is not an IPv6 address", host);
        rest.remove_prefix(close + 1);
        if (!rest.starts_with(':'))
            return fmt::format("no port after the address (e.g. {}[{}]:502)", scheme, host);
        port = rest.substr(1);
    } else {
        const auto colon = rest.rfind(':');
        if (colon == std::string_view::npos)
            return fmt::format("no port (HOST:PORT, e.g. {})", example);
        host = rest.substr(0, colon);
        port = rest.substr(colon + 1);
        if (host.find(':') != std::string_view::npos)
            return fmt::format("an IPv6 address goes in brackets ({}[::1]:502)", scheme);
        if (host.empty()) return fmt::format("no host (HOST:PORT, e.g. {})", example);
        for (const char c : host)
            if (!name_char(c))
                return fmt::format("\"{}\" is not a host name or address (letters, digits, - . _)",
                                   host);
    }
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || value < 1 ||
        value > 65535)
        return fmt::format("\"{}\" is not a TCP port (1..65535)", port);
    out.host = std::string(host);
    out.port = static_cast<std::uint16_t>(value);
    return {};
}

} // namespace

std::string port_address::endpoint() const {
    if (!network()) return device;
    if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
    return fmt::format("{}:{}", host, port);
}

std::string port_address::subject() const {
    return network() ? "connection to " + endpoint() : "port " + device;
}

std::string_view port_address::scheme() const {
    switch (kind) {
    case transport::modbus_tcp:
        return "tcp://";
    case transport::rtu_over_tcp:
        return "rtu+tcp://";
    case transport::serial:
        break;
    }
    return "";
}

std::string_view port_address::kind_phrase() const {
    switch (kind) {
    case transport::modbus_tcp:
        return "a tcp:// port";
    case transport::rtu_over_tcp:
        return "an rtu+tcp:// port";
    case transport::serial:
        break;
    }
    return "a serial port";
}

parsed_port parse_port(std::string_view text) {
    parsed_port r;
    if (text.empty()) {
        r.error = fmt::format("empty ({})", forms);
        return r;
    }
    constexpr std::array schemes{
        std::pair{std::string_view("tcp://"), transport::modbus_tcp},
        std::pair{std::string_view("rtu+tcp://"), transport::rtu_over_tcp}};
    for (const auto& [scheme, kind] : schemes) {
        if (!text.starts_with(scheme)) continue;
        r.address.kind = kind;
        if (auto err = parse_host_port(text.substr(scheme.size()), scheme, r.address); !err.empty())
            r.error = fmt::format("\"{}\": {}", text, err);
        return r;
    }
    if (text.find("://") != std::string_view::npos) {
        r.error = fmt::format("\"{}\" is not a known kind of port ({})", text, forms);
        return r;
    }
    r.address.device = std::string(text);
    return r;
}

} // namespace mb::drivers::rtu
