// The normal form of a TCP endpoint: every spelling getaddrinfo() reads as one address is one
// endpoint; host names stay names (lower-cased) and are looked up only when asked.
#include "daemon/config/endpoint.hpp"

#include <boost/test/unit_test.hpp>
#include <string>

using namespace mb::config;

BOOST_AUTO_TEST_SUITE(endpoints)

BOOST_AUTO_TEST_CASE(ipv4_spellings_of_one_address_are_one) {
    for (const char* host : {"127.0.0.1", "127.0.0.01", "127.1", "0x7f.1", "2130706433"}) {
        BOOST_TEST_INFO(host);
        BOOST_TEST(numeric_endpoint(host, 5020).value_or("name") == "127.0.0.1:5020");
    }
    // a leading zero is octal to getaddrinfo, as when the daemon connects
    BOOST_TEST(numeric_endpoint("127.0.0.010", 502).value_or("name") == "127.0.0.8:502");
}

BOOST_AUTO_TEST_CASE(ipv6_is_written_short_and_mapped_ipv4_is_folded) {
    BOOST_TEST(numeric_endpoint("::1", 502).value_or("name") == "[::1]:502");
    BOOST_TEST(numeric_endpoint("0:0:0:0:0:0:0:1", 502).value_or("name") == "[::1]:502");
    BOOST_TEST(numeric_endpoint("FD00::0007", 502).value_or("name") == "[fd00::7]:502");
    BOOST_TEST(numeric_endpoint("::ffff:127.0.0.1", 502).value_or("name") == "127.0.0.1:502");
    BOOST_TEST(numeric_endpoint("::FFFF:7f00:1", 502).value_or("name") == "127.0.0.1:502");
    // a zone stays as written, whether or not the interface exists here
    BOOST_TEST(numeric_endpoint("fe80::1%nosuchif0", 502).value_or("name") ==
               "[fe80::1%nosuchif0]:502");
}

BOOST_AUTO_TEST_CASE(names_are_not_numeric_and_keep_their_identity) {
    BOOST_TEST(!numeric_endpoint("localhost", 502).has_value());
    BOOST_TEST(!numeric_endpoint("gw-3.plant.local", 502).has_value());
    BOOST_TEST(!numeric_endpoint("", 502).has_value());
    BOOST_TEST(endpoint_identity("GW-3.Plant.Local", 502) == "gw-3.plant.local:502");
    BOOST_TEST(endpoint_identity("127.0.0.01", 502) == "127.0.0.1:502");
}

BOOST_AUTO_TEST_CASE(resolving_localhost_stays_on_loopback) {
    // /etc/hosts: no DNS is asked for localhost (tests touch nothing but loopback).
    const auto found = resolve_endpoints("localhost", 5020);
    BOOST_REQUIRE(!found.empty());
    for (const auto& e : found)
        BOOST_TEST((e == "127.0.0.1:5020" || e == "[::1]:5020"), e);
    BOOST_TEST(resolve_endpoints("127.0.0.01", 1) == std::vector<std::string>{"127.0.0.1:1"});
}

BOOST_AUTO_TEST_SUITE_END()
