#pragma once
// What a [[bus]] port names, so that two spellings of one port compare equal: two buses on one
// port would fight over it (the second never opens), and a reload must wait for the old bus
// of a port before opening it again.
#include <string>
#include <string_view>

namespace mb::config {

// A serial device: its path with symlinks resolved (/dev/serial/by-id/… is the tty it points
// at; a path that does not exist yet stays as written, made lexically normal). A URL
// ("tcp://HOST:PORT", "rtu+tcp://HOST:PORT"): "converter " and the endpoint in its normal form
// (config/endpoint.hpp: 127.0.0.01:05020 is 127.0.0.1:5020), the same for both schemes, as a
// converter is one line whatever is spoken to it; a host name is lower-cased, never resolved.
[[nodiscard]] std::string port_identity(std::string_view port);

} // namespace mb::config
