#include "drivers/modbus_rtu/bus_line.hpp"

#include "drivers/modbus_rtu/port_in_use.hpp"

#include <cerrno>
#include <linux/serial.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <thread>

namespace mb::drivers::rtu {

std::string bus_line::open() {
    ctx_.reset();
    modbus_t* raw = modbus_new_rtu(s_.port.c_str(), s_.baud, s_.parity, s_.data_bits, s_.stop_bits);
    if (raw == nullptr) return modbus_strerror(errno);
    modbus_ptr ctx(raw);
    modbus_set_error_recovery(ctx.get(), MODBUS_ERROR_RECOVERY_NONE);
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(s_.timeout).count();
    modbus_set_response_timeout(ctx.get(), static_cast<std::uint32_t>(us / 1'000'000),
                                static_cast<std::uint32_t>(us % 1'000'000));
    if (modbus_connect(ctx.get()) != 0) return modbus_strerror(errno);
    // TIOCEXCL does not stop root; flock does, and the kernel drops it with the descriptor.
    if (flock(modbus_get_socket(ctx.get()), LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) return port_in_use(s_.port, modbus_get_socket(ctx.get()));
        return std::string("cannot lock the port: ") + modbus_strerror(errno);
    }
    if (s_.rs485) {
        // libmodbus sets TIOCSRS485 itself; some drivers want the ioctl without RTS flags.
        if (modbus_rtu_set_serial_mode(ctx.get(), MODBUS_RTU_RS485) != 0) {
            serial_rs485 conf{};
            conf.flags = SER_RS485_ENABLED;
            if (ioctl(modbus_get_socket(ctx.get()), TIOCSRS485, &conf) != 0)
                return std::string("RS485 mode: ") + modbus_strerror(errno);
        }
    }
    ctx_ = std::move(ctx);
    last_frame_ = std::chrono::steady_clock::now();
    return {};
}

void bus_line::before_request(int unit) {
    // t3.5 of silence since the last frame, then drop anything late still in the buffer so
    // that a late answer is never taken for this request's.
    std::this_thread::sleep_until(last_frame_ + gap_);
    modbus_flush(ctx_.get());
    modbus_set_slave(ctx_.get(), unit);
}

transaction bus_line::classify(int err) {
    last_frame_ = std::chrono::steady_clock::now();
    transaction t{line_error::none, modbus_strerror(err), 0, err};
    if (err == ETIMEDOUT)
        t.error = line_error::timeout;
    else if (err > MODBUS_ENOBASE && err <= MODBUS_ENOBASE + MODBUS_EXCEPTION_GATEWAY_TARGET) {
        t.error = line_error::exception;
        t.exception = err - MODBUS_ENOBASE;
    } else if (err == EMBBADCRC || err == EMBBADDATA || err == EMBBADEXC || err == EMBMDATA ||
               err == EMBBADSLAVE || err == EMBUNKEXC || err == EINVAL)
        t.error = line_error::bad_frame;
    else
        t.error = line_error::port;
    return t;
}

transaction bus_line::read(int unit, const read_request& r, std::vector<std::uint16_t>& regs) {
    if (!ctx_) return {line_error::port, "port not open"};
    before_request(unit);
    regs.assign(r.count, 0);
    const int rc = r.function == function_code::input
                       ? modbus_read_input_registers(ctx_.get(), r.address, r.count, regs.data())
                       : modbus_read_registers(ctx_.get(), r.address, r.count, regs.data());
    if (rc == r.count) {
        last_frame_ = std::chrono::steady_clock::now();
        return {};
    }
    regs.clear();
    if (rc >= 0) {
        last_frame_ = std::chrono::steady_clock::now();
        return {line_error::bad_frame, "short answer"};
    }
    return classify(errno);
}

transaction bus_line::write(int unit, std::uint16_t address,
                            const std::vector<std::uint16_t>& regs) {
    if (!ctx_) return {line_error::port, "port not open"};
    before_request(unit);
    if (regs.empty()) return {};
    const int rc = regs.size() == 1
                       ? modbus_write_register(ctx_.get(), address, regs.front())
                       : modbus_write_registers(ctx_.get(), address, static_cast<int>(regs.size()),
                                                regs.data());
    if (rc == static_cast<int>(regs.size())) {
        last_frame_ = std::chrono::steady_clock::now();
        return {};
    }
    if (rc >= 0) {
        last_frame_ = std::chrono::steady_clock::now();
        return {line_error::bad_frame, "short write acknowledgement"};
    }
    return classify(errno);
}

} // namespace mb::drivers::rtu
