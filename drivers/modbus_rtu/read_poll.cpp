#include "drivers/modbus_rtu/read_poll.hpp"

#include <algorithm>
#include <cctype>
#include <fmt/format.h>

namespace mb::drivers::rtu {
namespace {

using steady = std::chrono::steady_clock;

std::string lower(std::string s) {
    for (auto& c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

bool same_range(const read_request& a, const read_request& b) {
    return a.function == b.function && a.address == b.address && a.count == b.count;
}

} // namespace

std::string outcome_of(const transaction& t) {
    switch (t.error) {
    case line_error::none:
        return "ok";
    case line_error::timeout:
        if (t.exception != 0) return fmt::format("timeout (gateway exception {})", t.exception);
        return "timeout";
    case line_error::exception:
        return fmt::format("exception {} ({})", t.exception, lower(t.text));
    case line_error::bad_frame:
        return fmt::format("garbled answer ({})", lower(t.text));
    case line_error::port:
        return fmt::format("port error ({})", lower(t.text));
    }
    return t.text;
}

std::string device_poll::summary() const {
    const auto ok = std::count_if(attempts.begin(), attempts.end(), [](const read_attempt& a) {
        return a.error == line_error::none;
    });
    return fmt::format("{} request{}, {} ok, {} failed, {:.1f} ms", attempts.size(),
                       attempts.size() == 1 ? "" : "s", ok, static_cast<long>(attempts.size()) - ok,
                       std::chrono::duration<double, std::milli>(took).count());
}

device_poll poll_device(const read_fn& read, const poll_context& ctx, read_plan& plan) {
    // The bus thread's own poll rules (run_plan); `read` is wrapped to keep every attempt.
    device_poll out;
    const auto began = steady::now();
    const auto recorded = [&](const read_request& r, std::vector<std::uint16_t>& regs) {
        const auto t0 = steady::now();
        auto t = read(r, regs);
        out.attempts.push_back(
            {r, t.error, outcome_of(t),
             std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - t0)});
        if (t.error != line_error::timeout && t.error != line_error::port) out.heard = true;
        if (t.error == line_error::none) out.answered = true;
        return t;
    };
    poll_result result;
    const std::stop_source never;
    run_plan(recorded, ctx, plan, {true, true, steady::now()}, never.get_token(), result);
    out.results = std::move(result.requests);
    // Each final request's outcome is its last attempt's; earlier attempts of a range that is
    // not among the final requests were split.
    for (const auto& r : out.results) {
        const auto it =
            std::find_if(out.attempts.rbegin(), out.attempts.rend(),
                         [&](const read_attempt& a) { return same_range(a.request, r.request); });
        out.errors.push_back(r.ok || it == out.attempts.rend() ? std::string{} : it->outcome);
    }
    for (auto& a : out.attempts)
        if (a.error == line_error::exception &&
            std::none_of(out.results.begin(), out.results.end(),
                         [&](const auto& r) { return same_range(a.request, r.request); }))
            a.outcome += ": split and retried";
    out.took = std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - began);
    return out;
}

device_poll poll_device(bus_line& line, const poll_context& ctx, read_plan& plan) {
    return poll_device(
        [&](const read_request& r, std::vector<std::uint16_t>& regs) {
            return line.read(ctx.unit, ctx.timing, r, regs);
        },
        ctx, plan);
}

} // namespace mb::drivers::rtu
