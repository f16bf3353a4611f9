#include "drivers/modbus_rtu/poll_runner.hpp"

#include "bridge/model/log.hpp"
#include "drivers/modbus_rtu/failure_text.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <optional>

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

void run_plan(const read_fn& read, const poll_context& ctx, read_plan& plan,
              const poll_options& opt, const std::stop_token& st, poll_result& out) {
    const bool adapt = opt.adapt;
    if (adapt) {
        plan.tick(opt.now); // refused requests whose back-off has passed come back
        // Every request it would send is refused: ask them now rather than poll nothing.
        const bool nothing_to_send =
            std::none_of(plan.requests.begin(), plan.requests.end(),
                         [&](const auto& q) { return opt.with_static || !q.is_static; });
        if (nothing_to_send) plan.tick(read_plan::time_point::max());
    }
    // What the plan was, in case this poll finds the meter refusing everything.
    std::optional<read_plan> before;
    const auto keep_before = [&] {
        if (!before) before = plan;
    };
    bool one_request = adapt && plan.refusing;
    bool any_answer = false;
    bool any_ok = false;
    bool static_failed = false;
    bool sent_static = false;
    int sent = 0;
    // Splits and refusals, logged once the poll shows they are kept.
    struct note {
        bool warn;
        std::string text;
    };
    std::vector<note> learned;
    for (std::size_t i = 0; i < plan.requests.size();) {
        if (plan.requests[i].is_static && !opt.with_static) {
            ++i;
            continue;
        }
        if (one_request && sent == 1) break; // refusing: one request per poll until answered
        if (st.stop_requested()) {
            out.interrupted = true;
            break;
        }
        ++sent;
        request_result rr{plan.requests[i], {}, false};
        sent_static = sent_static || rr.request.is_static;
        const auto t = read(rr.request, rr.regs);
        if (t.error == line_error::none) {
            rr.ok = true;
            any_answer = true;
            any_ok = true;
            one_request = false; // it answers again: the whole plan
            if (adapt) plan.answered(i);
            out.requests.push_back(std::move(rr));
            ++i;
            continue;
        }
        if (t.error != line_error::timeout && t.error != line_error::port) any_answer = true;
        if (adapt && !one_request && means_missing_register(t) && plan.requests[i].values.size() > 1) {
            keep_before();
            plan.split(i);
            learned.push_back({false, fmt::format("registers {}..{} refused ({}); split",
                                                  rr.request.address,
                                                  rr.request.address + rr.request.count - 1,
                                                  short_failure(t, ctx.timeout))});
            continue; // retry the first half at the same index
        }
        ++out.failed;
        out.last = t;
        out.error = short_failure(t, ctx.timeout);
        if (t.error == line_error::exception) ++out.exceptions;
        const bool is_static = rr.request.is_static;
        out.requests.push_back(std::move(rr));
        if (adapt && !one_request && refused_for_good(t)) {
            // One value the meter does not have: asking every poll would fail every poll.
            keep_before();
            const auto& q = out.requests.back().request;
            plan.refuse(i, opt.now);
            learned.push_back(
                {true, fmt::format("registers {}..{} refused ({}); asking again in {}", q.address,
                                   q.address + q.count - 1, out.error,
                                   pretty_duration(plan.refused.back().backoff))});
            continue; // requests[i] is now the next one
        }
        static_failed = static_failed || is_static;
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
    out.static_done = sent_static && !static_failed && !out.interrupted;
    // Every request answered with an exception, none with its registers: the meter refuses
    // everything for now. Its registers are not all missing, so nothing learned in this poll
    // is kept; it is asked one request per poll until it answers again.
    out.all_refused = !any_ok && out.failed > 0 && out.exceptions == out.failed;
    if (adapt && !out.interrupted) {
        if (out.all_refused) {
            if (before) plan = std::move(*before);
            plan.refusing = true;
            out.static_done = false;
            out.error = fmt::format("every request refused: {}", out.error);
            return;
        }
        if (any_ok) plan.refusing = false;
    }
    for (const auto& n : learned) {
        if (n.warn)
            log::warn("rtu[{}] {}(unit {}): {}", ctx.bus, ctx.device, ctx.unit, n.text);
        else
            log::info("rtu[{}] {}(unit {}): {}", ctx.bus, ctx.device, ctx.unit, n.text);
    }
}

} // namespace mb::drivers::rtu
