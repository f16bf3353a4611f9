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

const poll_context ctx{"rs485-1", "incomer", 1, 300ms};

} // namespace

BOOST_AUTO_TEST_SUITE(poll_runner)

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
            run_plan(m.fn(), ctx, plan, true, stop.get_token(), out);
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
            run_plan(m.fn(), ctx, plan, true, stop.get_token(), out);
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
            run_plan(m.fn(), ctx, plan, true, stop.get_token(), next);
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
    run_plan(m.fn(), ctx, plan, true, stop.get_token(), out);
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
    run_plan(m.fn(), ctx, plan, true, stop.get_token(), out);
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
    run_plan(m.fn(), ctx, plan, true, stop.get_token(), out);
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
    run_plan(m.fn(), ctx, plan, true, stop.get_token(), out);
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
