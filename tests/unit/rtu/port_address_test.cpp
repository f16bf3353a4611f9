// parse_port: every form a [[bus]] port may take, and why the others are refused.
#include "drivers/modbus_rtu/port_address.hpp"

#include <boost/test/unit_test.hpp>

using namespace mb::drivers::rtu;

BOOST_AUTO_TEST_SUITE(port_address_parsing)

BOOST_AUTO_TEST_CASE(a_serial_device_is_taken_as_written) {
    const auto p = parse_port("/dev/ttyUSB0");
    BOOST_TEST(p.ok());
    BOOST_TEST((p.address.kind == transport::serial));
    BOOST_TEST(!p.address.network());
    BOOST_TEST(p.address.device == "/dev/ttyUSB0");
    BOOST_TEST(p.address.subject() == "port /dev/ttyUSB0");
    BOOST_TEST(p.address.scheme().empty());
}

BOOST_AUTO_TEST_CASE(modbus_tcp_and_rtu_over_tcp) {
    const auto tcp = parse_port("tcp://10.0.0.7:502");
    BOOST_TEST(tcp.ok());
    BOOST_TEST((tcp.address.kind == transport::modbus_tcp));
    BOOST_TEST(tcp.address.host == "10.0.0.7");
    BOOST_TEST(tcp.address.port == 502);
    BOOST_TEST(tcp.address.endpoint() == "10.0.0.7:502");
    BOOST_TEST(tcp.address.subject() == "connection to 10.0.0.7:502");
    BOOST_TEST(tcp.address.scheme() == "tcp://");

    const auto rtu = parse_port("rtu+tcp://gw-3.plant.local:4001");
    BOOST_TEST(rtu.ok());
    BOOST_TEST((rtu.address.kind == transport::rtu_over_tcp));
    BOOST_TEST(rtu.address.host == "gw-3.plant.local");
    BOOST_TEST(rtu.address.port == 4001);
    BOOST_TEST(rtu.address.scheme() == "rtu+tcp://");
    BOOST_TEST(rtu.address.kind_phrase() == "an rtu+tcp:// port");
    BOOST_TEST(tcp.address.kind_phrase() == "a tcp:// port");

    const auto top = parse_port("tcp://h:65535");
    BOOST_TEST(top.ok());
    BOOST_TEST(top.address.port == 65535);
}

BOOST_AUTO_TEST_CASE(ipv6_goes_in_brackets) {
    const auto p = parse_port("tcp://[::1]:502");
    BOOST_TEST(p.ok(), p.error);
    BOOST_TEST(p.address.host == "::1");
    BOOST_TEST(p.address.endpoint() == "[::1]:502");
    const auto q = parse_port("rtu+tcp://[fe80::1:2]:4001");
    BOOST_TEST(q.ok(), q.error);
    BOOST_TEST(q.address.host == "fe80::1:2");

    const auto zoned = parse_port("tcp://[fe80::1%eth0]:502");
    BOOST_TEST(zoned.ok(), zoned.error);
    BOOST_TEST(zoned.address.host == "fe80::1%eth0");
    BOOST_TEST(!parse_port("tcp://[fe80::1%]:502").ok());
    BOOST_TEST(!parse_port("tcp://[fe80::1%e/0]:502").ok());

    const auto bare = parse_port("tcp://::1:502");
    BOOST_TEST(!bare.ok());
    BOOST_TEST(bare.error.find("IPv6 address goes in brackets") != std::string::npos, bare.error);
}

BOOST_AUTO_TEST_CASE(what_is_refused_and_why) {
    const std::pair<const char*, const char*> cases[] = {
        {"", "empty"},
        {"tcp://10.0.0.7", "no port"},
        {"tcp://10.0.0.7:", "is not a TCP port (1..65535)"},
        {"tcp://10.0.0.7:0", "\"0\" is not a TCP port"},
        {"tcp://10.0.0.7:65536", "\"65536\" is not a TCP port"},
        {"tcp://10.0.0.7:50x", "\"50x\" is not a TCP port"},
        {"tcp://10.0.0.7:-1", "\"-1\" is not a TCP port"},
        {"tcp://10.0.0.7:502/path", "is not a TCP port"},
        {"tcp://:502", "no host"},
        {"tcp://bad host:502", "is not a host name"},
        {"tcp://[::1]", "no port after the address"},
        {"tcp://[::1:502", "without \"]\""},
        {"tcp://[]:502", "is not an IPv6 address"},
        {"tcp://[gw]:502", "is not an IPv6 address"},
        {"udp://10.0.0.7:502", "not a known kind of port"},
        {"rtu://10.0.0.7:502", "not a known kind of port"},
    };
    for (const auto& [text, why] : cases) {
        const auto p = parse_port(text);
        BOOST_TEST_INFO(text << " -> " << p.error);
        BOOST_TEST(!p.ok());
        BOOST_TEST_INFO(text << " -> " << p.error);
        BOOST_TEST(p.error.find(why) != std::string::npos);
    }
}

BOOST_AUTO_TEST_SUITE_END()
