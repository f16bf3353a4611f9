#include "drivers/modbus_rtu/poll_runner.hpp"

#include "bridge/model/log.hpp"
#include "drivers/modbus_rtu/failure_text.hpp"

namespace mb::drivers::rtu {
namespace {

// Illegal function or data address on one value: the meter lacks it, asking again will not
// help (illegal data value on one value is a count the meter dislikes: not refused for good).
bool refused_for_good(const transaction& t) {
    return t.error == line_error::exception && (t.exception == 1 || t.exception == 2);
}

} // namespace

bool means_missing_register(const transaction& t) {
    return t.error == line_error::exception && t.exception >= 1 && t.exception <= 3;
}

void run_plan(const read_fn& read, const poll_context& ctx, read_plan& plan, bool split,
              const std::stop_token& st, poll_result& out) {
    if (split) plan.tick(); // refused requests due for a retry come back
    bool any_answer = false;
    for (std::size_t i = 0; i < plan.requests.size();) {
        if (st.stop_requested()) {
            out.interrupted = true;
            break;
        }
        request_result rr{plan.requests[i], {}, false};
        const auto t = read(rr.request, rr.regs);
        if (t.error == line_error::none) {
            rr.ok = true;
            any_answer = true;
            out.requests.push_back(std::move(rr));
            ++i;
            continue;
        }
        if (t.error != line_error::timeout && t.error != line_error::port) any_answer = true;
        if (split && means_missing_register(t) && plan.split(i)) {
            log::info("rtu[{}] {}(unit {}): registers {}..{} refused ({}); split", ctx.bus,
                      ctx.device, ctx.unit, rr.request.address,
                      rr.request.address + rr.request.count - 1, short_failure(t, ctx.timeout));
            continue; // retry the first half at the same index
        }
        ++out.failed;
        out.last = t;
        out.error = short_failure(t, ctx.timeout);
        if (t.error == line_error::exception) ++out.exceptions;
        out.requests.push_back(std::move(rr));
        if (split && refused_for_good(t)) {
            // One value the meter does not have: asking every poll would fail every poll.
            log::warn("rtu[{}] {}(unit {}): registers {}..{} refused ({}); not read again for {} "
                      "polls",
                      ctx.bus, ctx.device, ctx.unit, out.requests.back().request.address,
                      out.requests.back().request.address + out.requests.back().request.count - 1,
                      out.error, read_plan::retry_refused_after);
            plan.refuse(i);
            continue; // requests[i] is now the next one
        }
        if (t.error == line_error::port) {
            out.port_open = false;
            break;
        }
        if (t.error == line_error::timeout) break; // it stopped answering: one timeout is enough
        ++i; // transient exception or bad frame: this request fails this poll only
    }
    if (!any_answer)
        out.outcome = poll_outcome::no_answer;
    else if (out.failed > 0)
        out.outcome = poll_outcome::partial;
    else
        out.outcome = poll_outcome::answered;
}

} // namespace mb::drivers::rtu
