#pragma once
// The line as the bus thread drives it: a libmodbus context (created, used and freed on the bus
// thread only) on a serial port, a Modbus TCP gateway or an RTU-over-TCP converter
// (port_address.hpp); the line discipline libmodbus leaves to the caller (drop stale bytes
// before each request, t3.5 of silence between frames on a serial line), and errors classified
// as values.
#include "drivers/modbus_rtu/port_address.hpp"
#include "drivers/modbus_rtu/read_planner.hpp"
#include "drivers/modbus_rtu/settings.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <modbus.h>
#include <string>
#include <vector>

namespace mb::drivers::rtu {

struct modbus_closer {
    void operator()(modbus_t* ctx) const noexcept {
        modbus_close(ctx);
        modbus_free(ctx);
    }
};
using modbus_ptr = std::unique_ptr<modbus_t, modbus_closer>;

enum class line_error : std::uint8_t {
    none,
    timeout,   // no answer
    exception, // the slave answered with an exception (illegal address, ...)
    bad_frame, // CRC error or a malformed answer: something answered
    port,      // the port or connection itself failed (unplugged adapter, reset): reopen
};

struct transaction {
    line_error error = line_error::none;
    std::string text; // libmodbus's message when error != none
    // The exception code when error == exception (2: illegal address), or when a gateway said
    // the meter behind it did not answer (10, 11: error == timeout).
    int exception = 0;
    int errnum = 0; // errno or libmodbus EMB* code behind it (EMBBADCRC: CRC mismatch)
};

class bus_line {
public:
    explicit bus_line(const bus_settings& s);

    // Opens and locks a serial port (flock, so that `meterbridge read` next to the running
    // daemon cannot corrupt its line), or connects to a converter; error text when it cannot
    // be opened, is in use or refuses the connection.
    std::string open();
    void close() { ctx_.reset(); }
    [[nodiscard]] bool is_open() const { return ctx_ != nullptr; }
    [[nodiscard]] const port_address& address() const { return address_; }

    // A request to `unit` waits for t3.5 (serial) plus timing.gap of silence since the last
    // frame on the line, and for its answer up to timing.timeout. Without a timing: the bus's.
    transaction read(int unit, const read_request& r, std::vector<std::uint16_t>& regs) {
        return read(unit, bus_timing(), r, regs);
    }
    transaction read(int unit, const request_timing& timing, const read_request& r,
                     std::vector<std::uint16_t>& regs);
    // One register: FC06 (write single register), more: FC16 (write multiple registers).
    transaction write(int unit, const request_timing& timing, std::uint16_t address,
                      const std::vector<std::uint16_t>& regs);

    // When a request with `gap` may be sent: t3.5 (none over TCP) plus `gap` after the last
    // frame (the end of the last answer, or of the wait for one that did not come).
    [[nodiscard]] std::chrono::steady_clock::time_point
    send_not_before(std::chrono::milliseconds gap) const {
        return last_frame_ + gap_ + gap;
    }

private:
    std::string open_serial();
    std::string open_network();
    [[nodiscard]] request_timing bus_timing() const { return {s_.timeout, s_.request_gap}; }
    // Empty unless the connection turned out closed while idle.
    transaction before_request(int unit, const request_timing& timing);
    transaction classify(int err);

    const bus_settings& s_;
    port_address address_;
    std::string address_error_;        // the port text is not a port (parse_port)
    std::chrono::microseconds gap_{0}; // t3.5 on a serial line, none over TCP
    std::chrono::steady_clock::time_point last_frame_{};
    std::chrono::milliseconds response_timeout_{0}; // as last given to libmodbus
    modbus_ptr ctx_;
};

} // namespace mb::drivers::rtu
