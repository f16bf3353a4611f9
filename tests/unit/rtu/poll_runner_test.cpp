// One poll against a scripted meter: which exceptions split a block, which only fail the
// request for this poll, a timeout mid-poll ends the poll, a stop request ends it before the
// next request; and the words the failures are reported with.
#include "drivers/modbus_rtu/failure_text.hpp"
#include "drivers/modbus_rtu/poll_decode.hpp"
#include "drivers/modbus_rtu/poll_runner.hpp"
#include "tests/unit/rtu/plan_helpers.hpp"

#include <boost/test/unit_test.hpp>
#include <functional>
#include <vector>

using namespace mb::drivers::rtu;
using namespace mb::drivers::rtu::testing;
using namespace std::chrono_literals;

namespace {

// Values at 0..5 (one merged block), 100..101 and 200: three requests.
read_plan three_blocks() {
    return plan_at({0, 1, 2, 3, 4, 5, 100, 101, 200});
}

transaction exception(int code) {
    return {line_error::exception, "exception", code, 0};
}

// A meter answering from `answer(request)`; records every request it saw.
struct scripted_meter {
    explicit scripted_meter(std::function<transaction(const read_request&)> a)
        : answer(std::move(a)) {}
    std::function<transaction(const read_request&)> answer;
    std::vector<read_request> seen;
    read_fn fn() {
        return [this](const read_request& r, std::vector<std::uint16_t>& regs) {
            seen.push_back(r);
            auto t = answer(r);
            if (t.error == line_error::none) regs.assign(r.count, 7);
            return t;
        };
    }
};

const poll_context ctx{"rs485-1", "incomer", 1, {300ms}};
const read_plan::time_point t0{};
const poll_options polling{true, true, t0};

// Values at 0..1 (static), 10..11 and 40: a static request and two others.
read_plan with_static_block() {
    profile p;
    p.values = {val("pt_ratio", 0), val("ct_ratio", 1), val("v10", 10), val("v11", 11),
                val("v40", 40)};
    p.values[0].is_static = true;
    p.values[1].is_static = true;
    return plan_reads(p, {});
}

} // namespace

BOOST_AUTO_TEST_SUITE(poll_runner)

BOOST_AUTO_TEST_CASE(static_requests_are_sent_only_when_asked_for) {
    auto plan = with_static_block();
    BOOST_TEST_REQUIRE(plan.requests.size() == 3U);
    BOOST_TEST(plan.requests[0].is_static);
    scripted_meter m{[](const read_request&) { return transaction{}; }};
    std::stop_source stop;
    poll_result full;
    run_plan(m.fn(), ctx, plan, polling, stop.get_token(), full);
    BOOST_TEST(m.seen.size() == 3U);
    BOOST_TEST(full.static_done);
    m.seen.clear();
    poll_result everyday;
    run_plan(m.fn(), ctx, plan, {true, false, t0}, stop.get_token(), everyday);
    BOOST_TEST_REQUIRE(m.seen.size() == 2U);
    BOOST_TEST(m.seen[0].address == 10);
    BOOST_TEST(!everyday.static_done, "no static request was sent");
}

BOOST_AUTO_TEST_CASE(a_static_request_that_fails_is_not_done) {
    auto plan = with_static_block();
    scripted_meter m{[](const read_request& r) {
        return r.address == 0 ? transaction{line_error::bad_frame, "Invalid CRC", 0, EMBBADCRC}
                              : transaction{};
    }};
    std::stop_source stop;
    poll_result out;
    run_plan(m.fn(), ctx, plan, polling, stop.get_token(), out);
    BOOST_TEST(!out.static_done, "asked again next poll");
    BOOST_TEST((out.outcome == poll_outcome::partial));
}

BOOST_AUTO_TEST_CASE(a_meter_refusing_everything_is_asked_one_request_per_poll) {
    for (int code : {2, 4}) {
        BOOST_TEST_CONTEXT("exception " << code) {
            auto plan = three_blocks();
            const auto before = plan.requests;
            bool fault = true;
            scripted_meter m{
                [&](const read_request&) { return fault ? exception(code) : transaction{}; }};
            std::stop_source stop;
            poll_result first;
            run_plan(m.fn(), ctx, plan, polling, stop.get_token(), first);
            BOOST_TEST(first.all_refused);
            BOOST_TEST((first.outcome == poll_outcome::partial), "it answers: not a miss");
            BOOST_TEST(first.error == (code == 2 ? "every request refused: illegal data address "
                                                   "(exception 2)"
                                                 : "every request refused: server device "
                                                   "failure (exception 4)"));
            BOOST_TEST((plan.requests == before), "no split or refusal was kept");
            BOOST_TEST(plan.refused.empty());
            BOOST_TEST(plan.refusing);
            m.seen.clear();
            poll_result second;
            run_plan(m.fn(), ctx, plan, polling, stop.get_token(), second);
            BOOST_TEST(m.seen.size() == 1U, "one request while it refuses everything");
            BOOST_TEST(second.all_refused);
            // the fault clears: the next poll reads the whole plan again
            fault = false;
            m.seen.clear();
            poll_result third;
            run_plan(m.fn(), ctx, plan, polling, stop.get_token(), third);
            BOOST_TEST((m.seen == before));
            BOOST_TEST(!third.all_refused);
            BOOST_TEST(!plan.refusing);
            BOOST_TEST(decode_results(plan, third.requests).values.size() == 9U);
        }
    }
}

BOOST_AUTO_TEST_CASE(refused_requests_come_back_after_their_back_off_in_time) {
    auto plan = three_blocks();
    bool missing = true;
    scripted_meter m{[&](const read_request& r) {
        return missing && r.address == 200 ? exception(2) : transaction{};
    }};
    std::stop_source stop;
    poll_result out;
    run_plan(m.fn(), ctx, plan, polling, stop.get_token(), out);
    BOOST_TEST_REQUIRE(plan.refused.size() == 1U);
    BOOST_TEST(!out.all_refused, "the others answered: the register is missing");
    // however many polls, not before a minute has passed
    for (int i = 0; i < 500; ++i) {
        m.seen.clear();
        poll_result p;
        run_plan(m.fn(), ctx, plan, {true, true, t0 + 59s}, stop.get_token(), p);
        BOOST_TEST_REQUIRE(m.seen.size() == 2U);
    }
    missing = false; // the meter recovered: read again one back-off step later
    m.seen.clear();
    poll_result back;
    run_plan(m.fn(), ctx, plan, {true, true, t0 + 60s}, stop.get_token(), back);
    BOOST_TEST(m.seen.size() == 3U);
    BOOST_TEST(decode_results(plan, back.requests).values.size() == 9U);
}

BOOST_AUTO_TEST_CASE(a_poll_never_sends_nothing) {
    // Its only everyday request refused, static not due: the refused one is asked anyway
    // rather than a poll with no request (which would look like a meter that went silent).
    auto plan = plan_at({0});
    plan.refuse(0, t0);
    scripted_meter m{[&](const read_request&) { return transaction{}; }};
    std::stop_source stop;
    poll_result out;
    run_plan(m.fn(), ctx, plan, {true, false, t0}, stop.get_token(), out);
    BOOST_TEST(m.seen.size() == 1U);
    BOOST_TEST((out.outcome == poll_outcome::answered));
}

BOOST_AUTO_TEST_CASE(the_test_plan_is_three_requests) {
    const auto plan = three_blocks();
    BOOST_TEST_REQUIRE(plan.requests.size() == 3U);
    BOOST_TEST(plan.requests[0].count == 6);
}

BOOST_AUTO_TEST_CASE(exceptions_that_mean_no_such_register_split_the_block) {
    for (int code : {1, 2, 3}) {
        BOOST_TEST_CONTEXT("exception " << code) {
            auto plan = three_blocks();
            scripted_meter m{[&](const read_request& r) {
                return touches(r, 3) ? exception(code) : transaction{};
            }};
            poll_result out;
            std::stop_source stop;
            run_plan(m.fn(), ctx, plan, polling, stop.get_token(), out);
            BOOST_TEST(plan.requests.size() > 3U, "the block was split");
            BOOST_TEST(out.failed == 1, "only the register itself failed");
            BOOST_TEST((out.outcome == poll_outcome::partial));
            // every value but v3 was read
            const auto decoded = decode_results(plan, out.requests);
            BOOST_TEST(decoded.values.size() == 8U);
            // 01/02 on a single value: the meter lacks it, left out of the next polls
            BOOST_TEST(plan.refused.size() == (code == 3 ? 0U : 1U));
        }
    }
}

BOOST_AUTO_TEST_CASE(transient_exceptions_fail_only_that_request_for_this_poll) {
    for (int code : {4, 5, 6, 10, 11}) {
        BOOST_TEST_CONTEXT("exception " << code) {
            auto plan = three_blocks();
            const auto before = plan.requests;
            bool busy = true;
            scripted_meter m{[&](const read_request& r) {
                return busy && touches(r, 3) ? exception(code) : transaction{};
            }};
            poll_result out;
            std::stop_source stop;
            run_plan(m.fn(), ctx, plan, polling, stop.get_token(), out);
            BOOST_TEST(m.seen.size() == 3U, "no split, the poll went on");
            BOOST_TEST((plan.requests == before), "the plan is unchanged");
            BOOST_TEST(plan.refused.empty());
            BOOST_TEST(out.failed == 1);
            BOOST_TEST(out.exceptions == 1);
            BOOST_TEST(out.last.exception == code);
            BOOST_TEST((out.outcome == poll_outcome::partial));
            // next poll: asked again as it was, and answered
            busy = false;
            m.seen.clear();
            poll_result next;
            run_plan(m.fn(), ctx, plan, polling, stop.get_token(), next);
            BOOST_TEST((m.seen == before));
            BOOST_TEST((next.outcome == poll_outcome::answered));
            BOOST_TEST(decode_results(plan, next.requests).values.size() == 9U);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_timeout_mid_poll_ends_the_poll) {
    auto plan = three_blocks();
    scripted_meter m{[&](const read_request& r) {
        return r.address == 0 ? transaction{} : transaction{line_error::timeout, "t", 0, ETIMEDOUT};
    }};
    poll_result out;
    std::stop_source stop;
    run_plan(m.fn(), ctx, plan, polling, stop.get_token(), out);
    BOOST_TEST(m.seen.size() == 2U, "one timeout, not one per remaining request");
    BOOST_TEST((out.outcome == poll_outcome::partial));
    BOOST_TEST(out.error == "no answer within 300ms");
    // values of the answered block are kept
    BOOST_TEST(decode_results(plan, out.requests).values.size() == 6U);
}

BOOST_AUTO_TEST_CASE(a_dead_meter_costs_one_timeout) {
    auto plan = three_blocks();
    scripted_meter m{[&](const read_request&) {
        return transaction{line_error::timeout, "t", 0, ETIMEDOUT};
    }};
    poll_result out;
    std::stop_source stop;
    run_plan(m.fn(), ctx, plan, polling, stop.get_token(), out);
    BOOST_TEST(m.seen.size() == 1U);
    BOOST_TEST((out.outcome == poll_outcome::no_answer));
}

BOOST_AUTO_TEST_CASE(bad_frames_do_not_end_the_poll) {
    auto plan = three_blocks();
    scripted_meter m{[&](const read_request& r) {
        return r.address == 0 ? transaction{line_error::bad_frame, "Invalid CRC", 0, EMBBADCRC}
                              : transaction{};
    }};
    poll_result out;
    std::stop_source stop;
    run_plan(m.fn(), ctx, plan, polling, stop.get_token(), out);
    BOOST_TEST(m.seen.size() == 3U);
    BOOST_TEST(out.error == "CRC mismatch");
    BOOST_TEST((out.outcome == poll_outcome::partial));
}

BOOST_AUTO_TEST_CASE(a_stop_request_ends_the_poll_before_the_next_request) {
    auto plan = three_blocks();
    std::stop_source stop;
    scripted_meter m{[&](const read_request&) {
        stop.request_stop(); // arrives while the first request is on the line
        return transaction{};
    }};
    poll_result out;
    run_plan(m.fn(), ctx, plan, polling, stop.get_token(), out);
    BOOST_TEST(m.seen.size() == 1U);
    BOOST_TEST(out.interrupted);
}

BOOST_AUTO_TEST_CASE(failure_words) {
    const transaction timeout{line_error::timeout, "Connection timed out", 0, ETIMEDOUT};
    const transaction refused{line_error::exception, "Illegal data address", 2, 0};
    const transaction crc{line_error::bad_frame, "Invalid CRC", 0, EMBBADCRC};
    BOOST_TEST(short_failure(timeout, 300ms) == "no answer within 300ms");
    BOOST_TEST(short_failure(refused, 300ms) == "illegal data address (exception 2)");
    BOOST_TEST(short_failure(crc, 300ms) == "CRC mismatch");
    BOOST_TEST(command_failure(timeout, "incomer", 1, 300ms, "write") ==
               "no answer from incomer (unit 1) within 300ms");
    BOOST_TEST(command_failure(refused, "incomer", 1, 300ms, "write") ==
               "meter refused the write: illegal data address (exception 2)");
    BOOST_TEST(command_failure(crc, "incomer", 1, 300ms, "read") ==
               "bad answer from incomer (unit 1): CRC mismatch");
    BOOST_TEST(exception_name(6) == "server device busy");
    BOOST_TEST(pretty_duration(20s) == "20s");
    BOOST_TEST(pretty_duration(1500ms) == "1.5s");
    BOOST_TEST(pretty_duration(300ms) == "300ms");
    BOOST_TEST(pretty_duration(5min) == "5min");
}

BOOST_AUTO_TEST_SUITE_END()
