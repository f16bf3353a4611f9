#include "bridge/link/poison_watch.hpp"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <string>

using namespace std::chrono_literals;
using mb::bridge::poison_watch;
using verdict = poison_watch::verdict;

namespace {

const auto t0 = std::chrono::steady_clock::time_point{} + 1h;

// The broker closed a connection that came up at `up`, 1 s after message `order` went out
// alone (careful: right after the PUBACK before it).
poison_watch::close_report close_on(std::uint64_t order, std::chrono::steady_clock::time_point up,
                                    std::chrono::seconds after = 1s) {
    poison_watch::close_report r;
    r.broker_closed = true;
    r.oldest = order;
    r.oldest_sent = up;
    r.last_sent = up;
    r.up_since = up;
    r.last_ack = up;
    r.now = up + after;
    return r;
}

} // namespace

BOOST_AUTO_TEST_SUITE(poison)

BOOST_AUTO_TEST_CASE(the_same_message_at_the_close_of_careful_connections_is_given_up) {
    poison_watch w;
    BOOST_TEST(!w.careful());
    BOOST_TEST((w.closed(close_on(4, t0)) == verdict::go_careful));
    BOOST_TEST(w.careful());
    // poison_watch::drops closes in all: the first, then drops - 1 careful ones.
    BOOST_TEST((w.closed(close_on(4, t0 + 10s)) == verdict::suspect));
    BOOST_TEST((w.closed(close_on(4, t0 + 20s)) == verdict::give_up));
    BOOST_TEST(w.careful(), "the link stays careful until a connection stays up");
    // Counting starts over for the next one.
    BOOST_TEST((w.closed(close_on(5, t0 + 30s)) == verdict::suspect));
}

BOOST_AUTO_TEST_CASE(another_message_at_a_close_starts_the_count_over) {
    poison_watch w;
    w.closed(close_on(4, t0));
    BOOST_TEST((w.closed(close_on(4, t0 + 10s)) == verdict::suspect));
    BOOST_TEST((w.closed(close_on(5, t0 + 20s)) == verdict::suspect), "4 was acknowledged");
    BOOST_TEST((w.closed(close_on(5, t0 + 30s)) == verdict::give_up));
}

BOOST_AUTO_TEST_CASE(a_close_later_than_the_window_is_not_counted_and_starts_over) {
    poison_watch w;
    BOOST_TEST((w.closed(close_on(4, t0, poison_watch::window + 1s)) == verdict::unexplained));
    BOOST_TEST(!w.careful());
    w.closed(close_on(4, t0 + 10s));
    BOOST_TEST((w.closed(close_on(4, t0 + 20s)) == verdict::suspect));
    BOOST_TEST(
        (w.closed(close_on(4, t0 + 30s, poison_watch::window + 1s)) == verdict::unexplained));
    BOOST_TEST((w.closed(close_on(4, t0 + 40s)) == verdict::suspect), "counted from one again");
    BOOST_TEST((w.closed(close_on(4, t0 + 50s, poison_watch::window)) == verdict::give_up),
               "at the window itself still counts");
}

BOOST_AUTO_TEST_CASE(careful_times_a_close_from_the_last_puback) {
    poison_watch w;
    w.closed(close_on(4, t0));
    // Up for a minute: message 4 went out long ago, but the PUBACK before it came 1 s ago.
    auto r = close_on(4, t0 + 10s, 60s);
    r.last_ack = r.now - 1s;
    BOOST_TEST((w.closed(r) == verdict::suspect));
    r.last_ack = r.now - poison_watch::window - 1s;
    BOOST_TEST((w.closed(r) == verdict::unexplained));
}

BOOST_AUTO_TEST_CASE(not_careful_times_a_close_from_the_newest_message) {
    poison_watch w;
    auto r = close_on(4, t0, 60s);
    r.last_sent = r.now - 1s; // a later message went out just before the close
    BOOST_TEST((w.closed(r) == verdict::go_careful));
}

BOOST_AUTO_TEST_CASE(a_close_not_by_the_broker_or_with_nothing_held_is_no_poison) {
    poison_watch w;
    auto keepalive = close_on(4, t0);
    keepalive.broker_closed = false;
    BOOST_TEST((w.closed(keepalive) == verdict::unexplained));
    BOOST_TEST((w.closed(close_on(0, t0)) == verdict::unexplained));
    BOOST_TEST(!w.careful());
}

BOOST_AUTO_TEST_CASE(a_careful_connection_up_for_the_window_settles) {
    poison_watch w;
    BOOST_TEST(!w.settled(t0, t0 + 1h), "not careful: nothing to end");
    w.closed(close_on(4, t0));
    BOOST_TEST(!w.settled(t0, t0 + poison_watch::window - 1s));
    BOOST_TEST(w.settled(t0, t0 + poison_watch::window));
    w.closed(close_on(4, t0 + 10s));
    w.end_careful();
    BOOST_TEST(!w.careful());
    // The count started over: careful again first, then drops - 1 closes.
    BOOST_TEST((w.closed(close_on(4, t0 + 20s)) == verdict::go_careful));
    BOOST_TEST((w.closed(close_on(4, t0 + 30s)) == verdict::suspect));
}

BOOST_AUTO_TEST_CASE(a_later_message_as_large_or_larger_on_the_topic_is_refused) {
    poison_watch w;
    BOOST_TEST(!w.refuses("meta/a", 1'000'000));
    w.given_up("meta/a", 300);
    BOOST_TEST(w.refuses("meta/a", 300));
    BOOST_TEST(w.refuses("meta/a", 301));
    BOOST_TEST(!w.refuses("meta/a", 299), "smaller may go");
    BOOST_TEST(!w.refuses("meta/b", 300), "another topic may go");
    w.given_up("meta/a", 500);
    BOOST_TEST(w.refuses("meta/a", 300), "the smallest given up counts");
    w.given_up("meta/a", 200);
    BOOST_TEST(w.refuses("meta/a", 200));
    BOOST_TEST(w.topics() == 1U);
}

BOOST_AUTO_TEST_CASE(the_given_up_table_is_bounded) {
    poison_watch w;
    for (std::size_t i = 0; i < poison_watch::max_topics + 10; ++i)
        w.given_up("t/" + std::to_string(i), 100);
    BOOST_TEST(w.topics() == poison_watch::max_topics);
    BOOST_TEST(w.refuses("t/0", 100));
    BOOST_TEST(!w.refuses("t/" + std::to_string(poison_watch::max_topics), 100),
               "a topic past the bound is not remembered");
    w.given_up("t/0", 50); // a known topic still lowers its size
    BOOST_TEST(w.refuses("t/0", 50));
}

BOOST_AUTO_TEST_SUITE_END()
