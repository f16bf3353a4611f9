#include "drivers/modbus_rtu/failure_text.hpp"

#include <fmt/format.h>

namespace mb::drivers::rtu {

std::string exception_name(int code) {
    switch (code) {
    case 1:
        return "illegal function";
    case 2:
        return "illegal data address";
    case 3:
        return "illegal data value";
    case 4:
        return "server device failure";
    case 5:
        return "acknowledge (busy with a long command)";
    case 6:
        return "server device busy";
    case 8:
        return "memory parity error";
    case 10:
        return "gateway path unavailable";
    case 11:
        return "gateway target device failed to respond";
    default:
        return fmt::format("exception {}", code);
    }
}

std::string pretty_duration(std::chrono::milliseconds d) {
    const auto ms = d.count();
    if (ms < 1000) return fmt::format("{}ms", ms);
    if (ms % 60'000 == 0) return fmt::format("{}min", ms / 60'000);
    if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
    return fmt::format("{:.1f}s", static_cast<double>(ms) / 1000.0);
}

namespace {

std::string frame_text(const transaction& t) {
    if (t.errnum == EMBBADCRC) return "CRC mismatch";
    return t.text.empty() ? std::string("malformed answer") : t.text;
}

} // namespace

std::string short_failure(const transaction& t, std::chrono::milliseconds timeout) {
    switch (t.error) {
    case line_error::none:
        return {};
    case line_error::timeout:
        if (t.exception != 0) // a Modbus TCP gateway's word for it
            return fmt::format("no answer: {} (exception {})", exception_name(t.exception),
                               t.exception);
        return "no answer within " + pretty_duration(timeout);
    case line_error::exception:
        return fmt::format("{} (exception {})", exception_name(t.exception), t.exception);
    case line_error::bad_frame:
        return frame_text(t);
    case line_error::port:
        return t.text;
    }
    return t.text;
}

std::string command_failure(const transaction& t, std::string_view device, int unit,
                            std::chrono::milliseconds timeout, std::string_view verb) {
    switch (t.error) {
    case line_error::none:
        return {};
    case line_error::timeout:
        if (t.exception != 0)
            return fmt::format("no answer from {} (unit {}): {} (exception {})", device, unit,
                               exception_name(t.exception), t.exception);
        return fmt::format("no answer from {} (unit {}) within {}", device, unit,
                           pretty_duration(timeout));
    case line_error::exception:
        return fmt::format("meter refused the {}: {} (exception {})", verb,
                           exception_name(t.exception), t.exception);
    case line_error::bad_frame:
        return fmt::format("bad answer from {} (unit {}): {}", device, unit, frame_text(t));
    case line_error::port:
        return t.text;
    }
    return t.text;
}

} // namespace mb::drivers::rtu
