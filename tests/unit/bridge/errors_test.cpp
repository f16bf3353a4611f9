// disconnect_text(): every way a connection ends has words of its own, never "Unknown error.".
#include "bridge/link/errors.hpp"
#include "bridge/link/mqtt_link.hpp"

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <mosquitto.h>

using namespace std::chrono_literals;
using mb::bridge::disconnect_text;

BOOST_AUTO_TEST_SUITE(errors)

BOOST_AUTO_TEST_CASE(disconnect_reasons_are_worded) {
    BOOST_TEST(disconnect_text(MOSQ_ERR_KEEPALIVE, 45s, 0) ==
               "no answer from the broker within 45s (keepalive)");
    BOOST_TEST(disconnect_text(MOSQ_ERR_CONN_LOST, 30s, 0) == "the broker closed the connection");
    BOOST_TEST(disconnect_text(MOSQ_ERR_ERRNO, 30s, ECONNRESET) == "Connection reset by peer");
    // The broker's DISCONNECT reason (0x8B server shutting down, 0x8E session taken over).
    BOOST_TEST(disconnect_text(0x8B, 30s, 0) ==
               "the broker ended the session: Server shutting down (reason 0x8b)");
    BOOST_TEST(disconnect_text(0x8E, 30s, 0).find("reason 0x8e") != std::string::npos);
    for (int rc = 0; rc < 0x100; ++rc)
        BOOST_TEST(disconnect_text(rc, 30s, 0).find("Unknown error") == std::string::npos, rc);
}

// A publish libmosquitto refused before queueing it can never succeed; one that failed while
// writing (EPIPE into a reset socket) was queued and is resent after the reconnect: it must
// never be dropped and announced as a gap.
BOOST_AUTO_TEST_CASE(only_messages_libmosquitto_never_took_count_as_refused) {
    using mb::bridge::mqtt_link;
    BOOST_TEST(mqtt_link::never_taken(mb::bridge::make_mosq_error(MOSQ_ERR_OVERSIZE_PACKET)));
    BOOST_TEST(mqtt_link::never_taken(mb::bridge::make_mosq_error(MOSQ_ERR_PAYLOAD_SIZE)));
    BOOST_TEST(mqtt_link::never_taken(mb::bridge::make_mosq_error(MOSQ_ERR_MALFORMED_UTF8)));
    BOOST_TEST(!mqtt_link::never_taken(mb::bridge::make_mosq_error(MOSQ_ERR_NOMEM))); // retry
    BOOST_TEST(!mqtt_link::never_taken(mb::bridge::link_errc::window_full));
    BOOST_TEST(!mqtt_link::never_taken(mb::bridge::link_errc::not_connected));
}

BOOST_AUTO_TEST_SUITE_END()
