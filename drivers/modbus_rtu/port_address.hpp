#pragma once
// What a bus's `port` names (docs/configuration.md): a serial device, a Modbus TCP gateway
// ("tcp://HOST:PORT") or a transparent Ethernet-RS485 converter that carries RTU frames over
// TCP ("rtu+tcp://HOST:PORT"). Parsed in this one place for the config check, the bus thread
// and the read/scan commands.
#include <cstdint>
#include <string>
#include <string_view>

namespace mb::drivers::rtu {

enum class transport : std::uint8_t {
    serial,       // a tty: libmodbus RTU, t3.5 between frames, flock
    modbus_tcp,   // MBAP frames through libmodbus's TCP backend; the unit id picks the meter
    rtu_over_tcp, // RTU frames with CRC on a TCP stream, one request at a time
};

struct port_address {
    transport kind = transport::serial;
    std::string device;     // serial: the path as written
    std::string host;       // network: name or address, IPv6 without its brackets
    std::uint16_t port = 0; // network: 1..65535
    [[nodiscard]] bool network() const { return kind != transport::serial; }
    // "/dev/ttyS1", "10.0.0.7:502", "[::1]:502": what messages name.
    [[nodiscard]] std::string endpoint() const;
    // "port /dev/ttyS1", "connection to 10.0.0.7:502": the subject of log and status texts.
    [[nodiscard]] std::string subject() const;
    // "tcp://", "rtu+tcp://" or "" (serial).
    [[nodiscard]] std::string_view scheme() const;
    // "a tcp:// port", "an rtu+tcp:// port", "a serial port": for "... do not apply to ...".
    [[nodiscard]] std::string_view kind_phrase() const;
};

// The port, or why the text is not one (error non-empty).
struct parsed_port {
    port_address address;
    std::string error;
    [[nodiscard]] bool ok() const { return error.empty(); }
};
parsed_port parse_port(std::string_view text);

} // namespace mb::drivers::rtu
