#include "bridge/link/held_messages.hpp"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <vector>

using namespace std::chrono_literals;
using mb::bridge::held_messages;

namespace {

const auto t0 = std::chrono::steady_clock::time_point{} + 1h;

// A reading (windowed) or a control message, as the link tracks what libmosquitto took.
int reading(held_messages& h, int lib_mid, std::string_view topic = "meters/a",
            std::string_view payload = "{}", std::chrono::steady_clock::time_point at = t0) {
    return h.track(lib_mid, topic, payload, 1, false, true, at);
}

int control(held_messages& h, int lib_mid, std::string_view topic = "status") {
    return h.track(lib_mid, topic, "online", 1, true, false, t0);
}

} // namespace

BOOST_AUTO_TEST_SUITE(held_messages_table)

BOOST_AUTO_TEST_CASE(a_message_keeps_libmosquittos_mid_and_its_copy) {
    held_messages h;
    const int mid = h.track(7, "meters/a", "{\"e\":1}", 1, true, true, t0);
    BOOST_TEST(mid == 7);
    BOOST_TEST(h.size() == 1U);
    const auto& m = h.message(mid);
    BOOST_TEST(m.topic == "meters/a");
    BOOST_TEST(m.payload == "{\"e\":1}");
    BOOST_TEST(m.retain);
    BOOST_TEST((m.sent == t0));
}

BOOST_AUTO_TEST_CASE(a_puback_releases_its_message_once) {
    held_messages h;
    const int mid = reading(h, 5);
    const auto a = h.acknowledged(5);
    BOOST_REQUIRE(a.has_value());
    BOOST_TEST(a->mid == mid);
    BOOST_TEST(a->windowed);
    BOOST_TEST(h.size() == 0U);
    BOOST_TEST(!h.acknowledged(5).has_value(), "a second PUBACK for the mid is not ours");
    BOOST_TEST(!h.acknowledged(0).has_value());
    BOOST_TEST(!h.acknowledged(70000).has_value());
}

BOOST_AUTO_TEST_CASE(pubacks_out_of_order_release_only_their_own) {
    held_messages h;
    reading(h, 1, "a");
    reading(h, 2, "b");
    reading(h, 3, "c");
    BOOST_TEST(h.acknowledged(2)->mid == 2);
    BOOST_TEST(h.size() == 2U);
    BOOST_TEST(h.oldest()->topic == "a");
    BOOST_TEST(h.acknowledged(1)->mid == 1);
    BOOST_TEST(h.oldest()->topic == "c");
    BOOST_TEST((h.in_order() == std::vector<int>{3}));
}

BOOST_AUTO_TEST_CASE(a_mid_reused_before_its_puback_replaces_the_old_message) {
    held_messages h;
    reading(h, 9, "old");
    const int mid = reading(h, 9, "new");
    BOOST_TEST(mid == 9);
    BOOST_TEST(h.size() == 1U);
    BOOST_TEST(h.windowed() == 1U);
    BOOST_TEST(h.message(9).topic == "new");
}

BOOST_AUTO_TEST_CASE(a_fresh_instance_mid_held_by_a_carried_over_copy_gets_another) {
    held_messages h;
    reading(h, 1, "carried");
    h.forget_lib_mids(); // a fresh libmosquitto instance
    h.map(4, 1);         // the copy went out again as its mid 4
    // The fresh instance numbers a new message 1: the link's 1 is still the carried copy.
    const int mid = reading(h, 1, "new");
    BOOST_TEST(mid != 1);
    BOOST_TEST(h.message(1).topic == "carried");
    BOOST_TEST(h.message(mid).topic == "new");
    // PUBACKs under the fresh instance's mids come back as the link's.
    BOOST_TEST(h.acknowledged(4)->mid == 1);
    BOOST_TEST(h.acknowledged(1)->mid == mid);
    BOOST_TEST(h.size() == 0U);
}

BOOST_AUTO_TEST_CASE(a_fresh_instance_knows_none_of_the_old_mids) {
    held_messages h;
    reading(h, 3);
    h.forget_lib_mids();
    BOOST_TEST(!h.acknowledged(3).has_value(), "the old instance's PUBACK cannot come");
    BOOST_TEST(h.held(3));
}

BOOST_AUTO_TEST_CASE(copies_are_carried_over_in_publish_order) {
    held_messages h;
    // Mids wrap: publish order is not mid order.
    reading(h, 65535, "first");
    reading(h, 1, "second");
    reading(h, 2, "third");
    reading(h, 3, "fourth");
    h.acknowledged(2);
    reading(h, 2, "fifth"); // its slot is reused
    std::vector<std::string> topics;
    for (const int mid : h.in_order())
        topics.push_back(h.message(mid).topic);
    BOOST_TEST((topics == std::vector<std::string>{"first", "second", "fourth", "fifth"}));
}

BOOST_AUTO_TEST_CASE(only_readings_count_against_the_window) {
    held_messages h;
    reading(h, 1);
    reading(h, 2);
    control(h, 3);
    BOOST_TEST(h.windowed() == 2U);
    BOOST_TEST(h.size() == 3U);
    const auto c = h.acknowledged(3);
    BOOST_TEST(!c->windowed);
    BOOST_TEST(h.windowed() == 2U);
    h.release(1);
    BOOST_TEST(h.windowed() == 1U);
    h.release(1); // not held any more: nothing
    BOOST_TEST(h.windowed() == 1U);
}

BOOST_AUTO_TEST_CASE(the_oldest_and_the_last_sent) {
    held_messages h;
    BOOST_TEST(h.oldest() == nullptr);
    reading(h, 8, "a", "1", t0);
    reading(h, 2, "b", "2", t0 + 2s);
    BOOST_TEST(h.oldest()->mid == 8);
    BOOST_TEST((h.last_sent() == t0 + 2s));
    h.acknowledged(2);
    BOOST_TEST((h.last_sent() == t0));
}

BOOST_AUTO_TEST_CASE(releasing_as_large_takes_the_topic_at_that_size_or_more) {
    held_messages h;
    reading(h, 1, "meta", "12345");
    reading(h, 2, "meta", "123");
    control(h, 3, "meta"); // "online": 6 bytes
    reading(h, 4, "other", "1234567");
    const auto gone = h.release_as_large("meta", 5);
    BOOST_REQUIRE(gone.size() == 2U);
    BOOST_TEST(gone[0].mid == 1);
    BOOST_TEST(gone[0].windowed);
    BOOST_TEST(gone[1].mid == 3);
    BOOST_TEST(!gone[1].windowed);
    BOOST_TEST((h.in_order() == std::vector<int>{2, 4}));
    BOOST_TEST(h.windowed() == 2U);
}

BOOST_AUTO_TEST_CASE(the_whole_mid_space_full_releases_the_one_a_new_message_takes) {
    held_messages h;
    for (int m = 1; m <= held_messages::max_mid; ++m)
        reading(h, m);
    h.forget_lib_mids(); // all carried over, none sent again yet
    BOOST_TEST(h.size() == std::size_t{held_messages::max_mid});
    const int mid = reading(h, 1, "new");
    BOOST_TEST(h.size() == std::size_t{held_messages::max_mid}, "bounded by the mid space");
    BOOST_TEST(h.message(mid).topic == "new");
}

BOOST_AUTO_TEST_SUITE_END()
