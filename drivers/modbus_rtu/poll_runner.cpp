#include "drivers/modbus_rtu/poll_runner.hpp"

#include "common/log.hpp"
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

namespace {

// One run of run_plan: the plan, the outcome so far, and what this poll learned.
class plan_run {
public:
    plan_run(const poll_context& ctx, read_plan& plan, const poll_options& opt, poll_result& out)
        : ctx_(ctx)
        , plan_(plan)
        , opt_(opt)
        , out_(out)
        , one_request_(opt.adapt && plan.refusing) {}

    void prepare() {
        if (!opt_.adapt) return;
        plan_.tick(opt_.now); // refused requests whose back-off has passed come back
        // Every request it would send is refused: ask them now rather than poll nothing.
        const bool nothing_to_send =
            std::none_of(plan_.requests.begin(), plan_.requests.end(),
                         [&](const auto& q) { return opt_.with_static || !q.is_static; });
        if (nothing_to_send) plan_.tick(read_plan::time_point::max());
    }

    void run(const read_fn& read, const std::stop_token& st) {
        for (std::size_t i = 0; i < plan_.requests.size();) {
            if (plan_.requests[i].is_static && !opt_.with_static) {
                ++i;
                continue;
            }
            if (one_request_ && sent_ == 1) break; // refusing: one request per poll
            if (st.stop_requested()) {
                out_.interrupted = true;
                break;
            }
            ++sent_;
            request_result rr{plan_.requests[i], {}, false};
            sent_static_ = sent_static_ || rr.request.is_static;
            const auto t = read(rr.request, rr.regs);
            if (t.error == line_error::none) {
                answered(i, std::move(rr));
                ++i;
                continue;
            }
            const auto then = failed(i, std::move(rr), t);
            if (then == step::stop) break;
            if (then == step::next) ++i;
        }
    }

    void finish() {
        if (!any_answer_)
            out_.outcome = poll_outcome::no_answer;
        else if (out_.failed > 0)
            out_.outcome = poll_outcome::partial;
        else
            out_.outcome = poll_outcome::answered;
        out_.static_done = sent_static_ && !static_failed_ && !out_.interrupted;
        // Every request answered with an exception, none with its registers: the meter refuses
        // everything for now. Its registers are not all missing, so nothing learned in this
        // poll is kept; it is asked one request per poll until it answers again.
        out_.all_refused = !any_ok_ && out_.failed > 0 && out_.exceptions == out_.failed;
        if (opt_.adapt && !out_.interrupted) {
            if (out_.all_refused) {
                if (before_) plan_ = std::move(*before_);
                plan_.refusing = true;
                out_.static_done = false;
                out_.error = fmt::format("every request refused: {}", out_.error);
                return;
            }
            if (any_ok_) plan_.refusing = false;
        }
        for (const auto& n : learned_) {
            if (n.warn)
                log::warn("rtu[{}] {}(unit {}): {}", ctx_.bus, ctx_.device, ctx_.unit, n.text);
            else
                log::info("rtu[{}] {}(unit {}): {}", ctx_.bus, ctx_.device, ctx_.unit, n.text);
        }
    }

private:
    void answered(std::size_t i, request_result&& rr) {
        rr.ok = true;
        any_answer_ = true;
        any_ok_ = true;
        one_request_ = false; // it answers again: the whole plan
        if (opt_.adapt) plan_.answered(i);
        out_.requests.push_back(std::move(rr));
    }

    // What the poll does after a failed request.
    enum class step : std::uint8_t {
        same, // requests[i] again: the first half of a split, or the one after a refused one
        next, // requests[i + 1]
        stop, // the poll ends
    };

    // requests[i] failed with t.
    step failed(std::size_t i, request_result&& rr, const transaction& t) {
        if (t.error != line_error::timeout && t.error != line_error::port) any_answer_ = true;
        const bool adapt = opt_.adapt && !one_request_;
        if (adapt && means_missing_register(t) && plan_.requests[i].values.size() > 1) {
            keep_before();
            plan_.split(i);
            learned_.push_back(
                {false, fmt::format("registers {}..{} refused ({}); split", rr.request.address,
                                    rr.request.address + rr.request.count - 1,
                                    short_failure(t, ctx_.timing.timeout))});
            return step::same;
        }
        ++out_.failed;
        out_.last = t;
        out_.error = short_failure(t, ctx_.timing.timeout);
        if (t.error == line_error::exception) ++out_.exceptions;
        const auto q = rr.request;
        out_.requests.push_back(std::move(rr));
        if (adapt && refused_for_good(t)) {
            // One value the meter does not have: asking every poll would fail every poll.
            keep_before();
            plan_.refuse(i, opt_.now);
            learned_.push_back(
                {true, fmt::format("registers {}..{} refused ({}); asking again in {}", q.address,
                                   q.address + q.count - 1, out_.error,
                                   pretty_duration(plan_.refused.back().backoff))});
            return step::same;
        }
        static_failed_ = static_failed_ || q.is_static;
        if (t.error == line_error::port) {
            out_.port_open = false;
            return step::stop;
        }
        // A timeout: it stopped answering, one timeout is enough. Otherwise (a transient
        // exception or a bad frame) this request fails this poll only.
        return t.error == line_error::timeout ? step::stop : step::next;
    }

    // What the plan was, in case this poll finds the meter refusing everything.
    void keep_before() {
        if (!before_) before_ = plan_;
    }

    struct note {
        bool warn;
        std::string text;
    };

    const poll_context& ctx_;
    read_plan& plan_;
    const poll_options& opt_;
    poll_result& out_;
    bool one_request_;
    bool any_answer_ = false;
    bool any_ok_ = false;
    bool static_failed_ = false;
    bool sent_static_ = false;
    int sent_ = 0;
    std::optional<read_plan> before_;
    std::vector<note> learned_; // splits and refusals, logged once the poll shows they are kept
};

} // namespace

void run_plan(const read_fn& read, const poll_context& ctx, read_plan& plan,
              const poll_options& opt, const std::stop_token& st, poll_result& out) {
    plan_run run(ctx, plan, opt, out);
    run.prepare();
    run.run(read, st);
    run.finish();
}

} // namespace mb::drivers::rtu
