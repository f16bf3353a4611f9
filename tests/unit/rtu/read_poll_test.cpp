// `meterbridge read`'s one poll against a scripted meter: every attempt is kept with its
// outcome in words, a merged block refused for a missing register is split (and says so),
// heard/answered tell silence from refusals, and the summary line counts the attempts.
#include "drivers/modbus_rtu/read_poll.hpp"
#include "tests/unit/rtu/plan_helpers.hpp"

#include <boost/test/unit_test.hpp>
#include <functional>
#include <string>
#include <vector>

using namespace mb::drivers::rtu;
using namespace mb::drivers::rtu::testing;
using namespace std::chrono_literals;

namespace {

// Values at 0..3 (one merged block) and 100: two requests.
read_plan two_blocks() {
    return plan_at({0, 1, 2, 3, 100});
}

transaction exception(int code, std::string text) {
    return {line_error::exception, std::move(text), code, 0};
}

// A meter answering from `answer(request)`.
read_fn meter(std::function<transaction(const read_request&)> answer) {
    return [answer = std::move(answer)](const read_request& r, std::vector<std::uint16_t>& regs) {
        auto t = answer(r);
        if (t.error == line_error::none) regs.assign(r.count, 7);
        return t;
    };
}

const poll_context ctx{"rs485-1", "incomer", 1, {300ms}};

} // namespace

BOOST_AUTO_TEST_SUITE(read_poll)

BOOST_AUTO_TEST_CASE(outcomes_in_words) {
    BOOST_TEST(outcome_of({}) == "ok");
    BOOST_TEST(outcome_of({line_error::timeout, "Connection timed out", 0, 0}) == "timeout");
    BOOST_TEST(outcome_of(exception(2, "Illegal data address")) ==
               "exception 2 (illegal data address)");
    BOOST_TEST(outcome_of({line_error::bad_frame, "Invalid CRC", 0, 0}) ==
               "garbled answer (invalid crc)");
    BOOST_TEST(outcome_of({line_error::port, "Bad file descriptor", 0, 0}) ==
               "port error (bad file descriptor)");
}

BOOST_AUTO_TEST_CASE(every_request_answered) {
    auto plan = two_blocks();
    BOOST_TEST_REQUIRE(plan.requests.size() == 2U);
    const auto p = poll_device(meter([](const read_request&) { return transaction{}; }), ctx, plan);
    BOOST_TEST(p.answered);
    BOOST_TEST(p.heard);
    BOOST_TEST_REQUIRE(p.attempts.size() == 2U);
    BOOST_TEST(p.attempts[0].outcome == "ok");
    BOOST_TEST_REQUIRE(p.results.size() == 2U);
    BOOST_TEST(p.errors == std::vector<std::string>({"", ""}));
    BOOST_TEST(p.summary().starts_with("2 requests, 2 ok, 0 failed, "));
    BOOST_TEST(p.summary().ends_with(" ms"));
}

BOOST_AUTO_TEST_CASE(a_refused_block_is_split_and_the_first_attempt_says_so) {
    auto plan = two_blocks();
    // register 2 does not exist: the block 0..3 is refused, its halves 0..1 and 2..3 tried
    const auto p =
        poll_device(meter([](const read_request& r) {
                        return touches(r, 2) ? exception(2, "Illegal data address") : transaction{};
                    }),
                    ctx, plan);
    BOOST_TEST(p.answered);
    BOOST_TEST_REQUIRE(p.attempts.size() >= 3U);
    BOOST_TEST(p.attempts[0].request.count == 4);
    BOOST_TEST(p.attempts[0].outcome == "exception 2 (illegal data address): split and retried");
    // the final requests: one error each where they failed, none where they were answered
    BOOST_TEST_REQUIRE(p.results.size() == p.errors.size());
    int failed = 0;
    for (std::size_t i = 0; i < p.results.size(); ++i) {
        BOOST_TEST(p.results[i].ok == p.errors[i].empty());
        if (!p.results[i].ok) {
            ++failed;
            BOOST_TEST(p.errors[i] == "exception 2 (illegal data address)");
        }
    }
    BOOST_TEST(failed == 1);
    BOOST_TEST(plan.requests.size() > 2U, "the split is kept in the plan");
}

BOOST_AUTO_TEST_CASE(silence_is_neither_heard_nor_answered) {
    auto plan = two_blocks();
    const auto p = poll_device(meter([](const read_request&) {
                                   return transaction{line_error::timeout, "timed out", 0, 0};
                               }),
                               ctx, plan);
    BOOST_TEST(!p.heard);
    BOOST_TEST(!p.answered);
    BOOST_TEST_REQUIRE(p.attempts.size() == 1U, "a timeout ends the poll");
    BOOST_TEST(p.errors == std::vector<std::string>({"timeout"}));
    BOOST_TEST(p.summary().starts_with("1 request, 0 ok, 1 failed, "));
}

BOOST_AUTO_TEST_CASE(only_refusals_are_heard_but_not_answered) {
    auto plan = two_blocks();
    const auto p = poll_device(
        meter([](const read_request&) { return exception(4, "Slave device or server failure"); }),
        ctx, plan);
    BOOST_TEST(p.heard);
    BOOST_TEST(!p.answered);
    BOOST_TEST(p.attempts.size() == 2U, "a device failure is not split, every block asked once");
    BOOST_TEST(p.attempts[0].outcome == "exception 4 (slave device or server failure)");
}

BOOST_AUTO_TEST_SUITE_END()
