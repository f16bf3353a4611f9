// protocol_choice: when "auto" speaks MQTT 3.1.1, and that no broker flap can leave it there.
#include "bridge/link/protocol_choice.hpp"

#include <boost/test/unit_test.hpp>
#include <mosquitto.h>

using mb::bridge::mqtt_protocol;
using mb::bridge::protocol_choice;
using refusal = protocol_choice::refusal;
using next = protocol_choice::next;

BOOST_AUTO_TEST_SUITE(protocol_choice_tests)

BOOST_AUTO_TEST_CASE(fixed_versions_never_change) {
    protocol_choice v5(mqtt_protocol::v5);
    protocol_choice v311(mqtt_protocol::v311);
    for (const auto r : {refusal::none, refusal::closed, refusal::version_refused}) {
        BOOST_TEST((v5.attempt_failed(r) == next::back_off));
        BOOST_TEST((v311.attempt_failed(r) == next::back_off));
    }
    BOOST_TEST(v5.version() == MQTT_PROTOCOL_V5);
    BOOST_TEST(v311.version() == MQTT_PROTOCOL_V311);
    BOOST_TEST(!v5.connack());
    BOOST_TEST(!v311.connack()); // configured, not a fall-back
}

BOOST_AUTO_TEST_CASE(a_connack_refusing_5_falls_back_at_once) {
    protocol_choice p(mqtt_protocol::automatic);
    BOOST_TEST(p.version() == MQTT_PROTOCOL_V5);
    BOOST_TEST((p.attempt_failed(refusal::version_refused) == next::try_3_1_1_now));
    BOOST_TEST(p.version() == MQTT_PROTOCOL_V311);
    BOOST_TEST(p.connack()); // this connection speaks 3.1.1
}

BOOST_AUTO_TEST_CASE(two_closes_in_a_row_then_a_3_1_1_connack_fall_back) {
    // RabbitMQ before 3.13: the socket closed on each MQTT 5 CONNECT, 3.1.1 answered.
    protocol_choice p(mqtt_protocol::automatic);
    BOOST_TEST((p.attempt_failed(refusal::closed) == next::again_v5));
    BOOST_TEST(p.version() == MQTT_PROTOCOL_V5);
    BOOST_TEST((p.attempt_failed(refusal::closed) == next::try_3_1_1_now));
    BOOST_TEST(p.version() == MQTT_PROTOCOL_V311);
    BOOST_TEST(p.connack());
}

BOOST_AUTO_TEST_CASE(a_flap_never_downgrades) {
    // The report: one CONNECT accepted and closed (a broker going down), then the port closed:
    // the next attempt is refused before any CONNECT. That is no answer about the protocol.
    protocol_choice p(mqtt_protocol::automatic);
    BOOST_TEST((p.attempt_failed(refusal::closed) == next::again_v5));
    BOOST_TEST((p.attempt_failed(refusal::none) == next::back_off));
    BOOST_TEST(p.version() == MQTT_PROTOCOL_V5);
    // Later closes start counting from zero again.
    BOOST_TEST((p.attempt_failed(refusal::closed) == next::again_v5));
    BOOST_TEST((p.attempt_failed(refusal::none) == next::back_off));
    BOOST_TEST(p.version() == MQTT_PROTOCOL_V5);
    // A broker that comes back speaking 5 answers the next attempt: no fall-back.
    BOOST_TEST(!p.connack());
    BOOST_TEST(p.version() == MQTT_PROTOCOL_V5);
}

BOOST_AUTO_TEST_CASE(a_3_1_1_attempt_without_a_connack_goes_back_to_5) {
    // Two closes, then the 3.1.1 attempt is refused, times out or is closed too: the broker
    // said nothing about MQTT 3.1.1, so the next attempt (after the back-off) speaks 5.
    for (const auto r : {refusal::none, refusal::closed, refusal::version_refused}) {
        protocol_choice p(mqtt_protocol::automatic);
        p.attempt_failed(refusal::closed);
        p.attempt_failed(refusal::closed);
        BOOST_REQUIRE(p.version() == MQTT_PROTOCOL_V311);
        BOOST_TEST((p.attempt_failed(r) == next::back_off));
        BOOST_TEST(p.version() == MQTT_PROTOCOL_V5);
    }
}

BOOST_AUTO_TEST_CASE(the_next_connection_tries_5_again) {
    // A fall-back holds for one connection: after it drops, MQTT 5 is tried first (a broker
    // upgraded meanwhile is spoken 5 to).
    protocol_choice p(mqtt_protocol::automatic);
    p.attempt_failed(refusal::version_refused);
    BOOST_REQUIRE(p.connack());
    p.start_over();
    BOOST_TEST(p.version() == MQTT_PROTOCOL_V5);
    BOOST_TEST(!p.connack());
}

BOOST_AUTO_TEST_CASE(a_connack_in_5_clears_the_closes) {
    // One close, then a v5 CONNACK (a load balancer's other backend): the next lone close
    // is the first again.
    protocol_choice p(mqtt_protocol::automatic);
    p.attempt_failed(refusal::closed);
    BOOST_TEST(!p.connack());
    p.start_over();
    BOOST_TEST((p.attempt_failed(refusal::closed) == next::again_v5));
}

BOOST_AUTO_TEST_SUITE_END()
