#pragma once
// A TCP endpoint (a converter's HOST:PORT, a broker's) in one normal form, so that two
// spellings of one endpoint compare equal: the address as getaddrinfo() reads it, which is
// how the daemon connects (127.0.0.01, 127.1 and 0x7f.1 are all 127.0.0.1), an IPv4-mapped
// IPv6 address ([::ffff:127.0.0.1]) folded to IPv4, and the port as a number (05020 is 5020).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mb::config {

// "127.0.0.1:502", "[::1]:502", "[fe80::1%eth0]:502"; nullopt when `host` is a name, not an
// address. Nothing is looked up.
[[nodiscard]] std::optional<std::string> numeric_endpoint(std::string_view host, int port);

// numeric_endpoint() for an address; a host name lower-cased, "gw.plant.local:502".
[[nodiscard]] std::string endpoint_identity(std::string_view host, int port);

// What a host name resolves to now (getaddrinfo(), which may ask DNS), each in the form of
// numeric_endpoint(), without repeats; empty when it does not resolve. An address is itself.
[[nodiscard]] std::vector<std::string> resolve_endpoints(std::string_view host, int port);

} // namespace mb::config
