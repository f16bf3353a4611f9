#pragma once
// What a [[bus]] port names, so that two spellings of one port compare equal: two buses on one
// port would fight over it (the second never opens), and a reload must wait for the old bus
// of a port before opening it again.
#include <string>
#include <string_view>

namespace mb::config {

// A serial device: its path with symlinks resolved (/dev/serial/by-id/… is the tty it points
// at; a path that does not exist yet stays as written, made lexically normal). A URL
// ("tcp://HOST:PORT", "rtu+tcp://HOST:PORT"): the text, its scheme and host lower-cased;
// nothing is resolved.
[[nodiscard]] std::string port_identity(std::string_view port);

} // namespace mb::config
