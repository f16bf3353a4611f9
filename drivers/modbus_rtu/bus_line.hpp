#pragma once
// The serial line as the bus thread drives it: libmodbus RTU context (created, used and freed
// on the bus thread only), the line discipline libmodbus leaves to the caller (flush before
// each request, t3.5 of silence between frames), and errors classified as values.
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
    port,      // the port itself failed (unplugged adapter): reopen
};

struct transaction {
    line_error error = line_error::none;
    std::string text;  // libmodbus's message when error != none
    int exception = 0; // the exception code when error == exception (2: illegal address)
    int errnum = 0;    // errno or libmodbus EMB* code behind it (EMBBADCRC: CRC mismatch)
};

class bus_line {
public:
    explicit bus_line(const bus_settings& s)
        : s_(s)
        , gap_(inter_frame_gap(s.baud, bits_per_char(s))) {}

    // Opens and locks the port (flock, so that `meterbridge read` next to the running daemon
    // cannot corrupt its line); error text when it cannot be opened or is in use.
    std::string open();
    void close() { ctx_.reset(); }
    [[nodiscard]] bool is_open() const { return ctx_ != nullptr; }

    transaction read(int unit, const read_request& r, std::vector<std::uint16_t>& regs);
    // One register: FC06 (write single register), more: FC16 (write multiple registers).
    transaction write(int unit, std::uint16_t address, const std::vector<std::uint16_t>& regs);

private:
    void before_request(int unit);
    transaction classify(int err);

    const bus_settings& s_;
    std::chrono::microseconds gap_;
    std::chrono::steady_clock::time_point last_frame_{};
    modbus_ptr ctx_;
};

} // namespace mb::drivers::rtu
