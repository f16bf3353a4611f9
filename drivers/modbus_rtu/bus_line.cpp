#include "drivers/modbus_rtu/bus_line.hpp"

#include "drivers/modbus_rtu/port_in_use.hpp"
#include "drivers/modbus_rtu/tcp_socket.hpp"

#include <algorithm>
#include <cerrno>
#include <linux/serial.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <thread>

namespace mb::drivers::rtu {
namespace {

void set_timeout(modbus_t* ctx, std::chrono::milliseconds t) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(t).count();
    modbus_set_response_timeout(ctx, static_cast<std::uint32_t>(us / 1'000'000),
                                static_cast<std::uint32_t>(us % 1'000'000));
}

} // namespace

bus_line::bus_line(const bus_settings& s)
    : s_(s) {
    auto parsed = parse_port(s.port);
    address_ = std::move(parsed.address);
    address_error_ = std::move(parsed.error);
    // Modbus TCP has no inter-frame gap, and behind an RTU-over-TCP converter the converter
    // times the serial line: we send the next request only after the answer to the last.
    gap_ = address_.network() ? std::chrono::microseconds(0)
                              : inter_frame_gap(s.baud, bits_per_char(s));
}

std::string bus_line::open() {
    ctx_.reset();
    if (!address_error_.empty()) return address_error_;
    auto err = address_.network() ? open_network() : open_serial();
    if (err.empty()) {
        last_frame_ = std::chrono::steady_clock::now();
        response_timeout_ = s_.timeout;
    }
    return err;
}

std::string bus_line::open_network() {
    // The connect is ours for both forms: one deadline, and a resolver error that says so
    // (libmodbus's own TCP connect reports a failed lookup as "Connection refused").
    const auto connect_timeout = std::max(s_.timeout, std::chrono::milliseconds(1000));
    auto conn = tcp_connect(address_.host, address_.port, connect_timeout);
    if (!conn.error.empty()) return conn.error;
    // Modbus TCP: libmodbus's TCP backend (MBAP header, transaction id check, send with
    // MSG_NOSIGNAL) on our socket. RTU over TCP: libmodbus has no such backend, but its RTU
    // backend only write()s, read()s and select()s on ctx->s, so an RTU context that is never
    // connected, given the socket, speaks RTU frames with CRC over TCP. Its modbus_flush is a
    // tcflush (fails on a socket): before_request drains instead. modbus_close (3.1.6) does
    // tcsetattr, which fails harmlessly with ENOTTY, then close: the context owns the socket.
    // Its write() can raise SIGPIPE on a reset connection: the process ignores SIGPIPE.
    const auto service = std::to_string(address_.port);
    modbus_t* raw = address_.kind == transport::modbus_tcp
                        ? modbus_new_tcp_pi(address_.host.c_str(), service.c_str())
                        : modbus_new_rtu(address_.endpoint().c_str(), 9600, 'N', 8, 1);
    if (raw == nullptr) return modbus_strerror(errno);
    modbus_ptr ctx(raw);
    modbus_set_error_recovery(ctx.get(), MODBUS_ERROR_RECOVERY_NONE);
    set_timeout(ctx.get(), s_.timeout);
    if (modbus_set_socket(ctx.get(), conn.fd.get()) != 0) return modbus_strerror(errno);
    conn.fd.release(); // closed by modbus_close from now on
    ctx_ = std::move(ctx);
    return {};
}

std::string bus_line::open_serial() {
    modbus_t* raw = modbus_new_rtu(s_.port.c_str(), s_.baud, s_.parity, s_.data_bits, s_.stop_bits);
    if (raw == nullptr) return modbus_strerror(errno);
    modbus_ptr ctx(raw);
    modbus_set_error_recovery(ctx.get(), MODBUS_ERROR_RECOVERY_NONE);
    set_timeout(ctx.get(), s_.timeout);
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
    return {};
}

transaction bus_line::before_request(int unit, const request_timing& timing) {
    // t3.5 of silence since the last frame (serial) and the request gap of the bus or the
    // device, then drop anything late still in the buffer so that a late answer is never
    // taken for this request's.
    std::this_thread::sleep_until(send_not_before(timing.gap));
    if (timing.timeout != response_timeout_) {
        set_timeout(ctx_.get(), timing.timeout);
        response_timeout_ = timing.timeout;
    }
    if (address_.network()) {
        // A peer that closed while we were idle is found here, before a request is lost.
        if (auto why = drain_stale(modbus_get_socket(ctx_.get())); !why.empty())
            return {line_error::port, std::move(why), 0, ECONNRESET};
    } else {
        modbus_flush(ctx_.get());
    }
    modbus_set_slave(ctx_.get(), unit);
    return {};
}

transaction bus_line::classify(int err) {
    last_frame_ = std::chrono::steady_clock::now();
    transaction t{line_error::none, modbus_strerror(err), 0, err};
    constexpr int gateway_path = MODBUS_ENOBASE + MODBUS_EXCEPTION_GATEWAY_PATH;
    constexpr int gateway_target = MODBUS_ENOBASE + MODBUS_EXCEPTION_GATEWAY_TARGET;
    if (err == ETIMEDOUT)
        t.error = line_error::timeout;
    else if (err == gateway_path || err == gateway_target) {
        // A Modbus TCP gateway answering for a meter that did not: no answer from the meter.
        t.error = line_error::timeout;
        t.exception = err - MODBUS_ENOBASE;
    } else if (err > MODBUS_ENOBASE && err <= MODBUS_ENOBASE + MODBUS_EXCEPTION_GATEWAY_TARGET) {
        t.error = line_error::exception;
        t.exception = err - MODBUS_ENOBASE;
    } else if (err == EMBBADCRC || err == EMBBADDATA || err == EMBBADEXC || err == EMBMDATA ||
               err == EMBBADSLAVE || err == EMBUNKEXC || err == EINVAL)
        t.error = line_error::bad_frame;
    else
        t.error = line_error::port;
    return t;
}

transaction bus_line::read(int unit, const request_timing& timing, const read_request& r,
                           std::vector<std::uint16_t>& regs) {
    if (!ctx_) return {line_error::port, "port not open"};
    if (auto t = before_request(unit, timing); t.error != line_error::none) return t;
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

transaction bus_line::write(int unit, const request_timing& timing, std::uint16_t address,
                            const std::vector<std::uint16_t>& regs) {
    if (!ctx_) return {line_error::port, "port not open"};
    if (auto t = before_request(unit, timing); t.error != line_error::none) return t;
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
