#include "daemon/read_poll.hpp"

#include <algorithm>
#include <cctype>
#include <fmt/format.h>
#include <modbus.h>

namespace mb::daemon {
namespace {

namespace rtu = drivers::rtu;
using steady = std::chrono::steady_clock;

std::string lower(std::string s) {
    for (auto& c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// The exception code behind libmodbus's message for it (bus_line reports text only).
int exception_code(const std::string& text) {
    for (int c = 1; c <= MODBUS_EXCEPTION_GATEWAY_TARGET; ++c)
        if (text == modbus_strerror(MODBUS_ENOBASE + c)) return c;
    return 0;
}

} // namespace

std::string outcome_of(const rtu::transaction& t) {
    switch (t.error) {
    case rtu::line_error::none:
        return "ok";
    case rtu::line_error::timeout:
        return "timeout";
    case rtu::line_error::exception:
        return fmt::format("exception {} ({})", exception_code(t.text), lower(t.text));
    case rtu::line_error::bad_frame:
        return fmt::format("garbled answer ({})", lower(t.text));
    case rtu::line_error::port:
        return fmt::format("port error ({})", lower(t.text));
    }
    return t.text;
}

std::string device_poll::summary() const {
    const auto ok = std::count_if(attempts.begin(), attempts.end(), [](const read_attempt& a) {
        return a.error == rtu::line_error::none;
    });
    return fmt::format("{} request{}, {} ok, {} failed, {:.1f} ms", attempts.size(),
                       attempts.size() == 1 ? "" : "s", ok, static_cast<long>(attempts.size()) - ok,
                       std::chrono::duration<double, std::milli>(took).count());
}

device_poll poll_device(rtu::bus_line& line, int unit, rtu::read_plan& plan) {
    device_poll out;
    const auto began = steady::now();
    for (std::size_t i = 0; i < plan.requests.size();) {
        rtu::request_result rr{plan.requests[i], {}, false};
        const auto t0 = steady::now();
        const auto t = line.read(unit, rr.request, rr.regs);
        read_attempt a{rr.request, t.error, outcome_of(t),
                       std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - t0)};
        if (t.error != rtu::line_error::timeout && t.error != rtu::line_error::port)
            out.heard = true;
        if (t.error == rtu::line_error::none) {
            rr.ok = true;
            out.answered = true;
            out.attempts.push_back(std::move(a));
            out.results.push_back(std::move(rr));
            out.errors.emplace_back();
            ++i;
            continue;
        }
        if (t.error == rtu::line_error::exception && plan.split(i)) {
            a.outcome += ": split and retried";
            out.attempts.push_back(std::move(a));
            continue; // the first half now sits at i
        }
        out.errors.push_back(a.outcome);
        out.attempts.push_back(std::move(a));
        out.results.push_back(std::move(rr));
        if (t.error == rtu::line_error::port) break;
        if (t.error == rtu::line_error::timeout && !out.heard) break;
        ++i;
    }
    out.took = std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - began);
    return out;
}

} // namespace mb::daemon
