#define BOOST_TEST_MODULE config
#include "daemon/config/broker_url.hpp"
#include "daemon/config/quantity.hpp"

#include <boost/test/unit_test.hpp>

using namespace std::chrono_literals;
using mb::config::parse_broker_url;
using mb::config::parse_duration;
using mb::config::parse_size;

BOOST_AUTO_TEST_SUITE(durations)

BOOST_AUTO_TEST_CASE(every_unit) {
    BOOST_TEST(parse_duration("500ms").value.count() == 500);
    BOOST_TEST(parse_duration("10s").value.count() == 10'000);
    BOOST_TEST(parse_duration("5m").value.count() == 300'000);
    BOOST_TEST(parse_duration("24h").value.count() == 86'400'000);
    BOOST_TEST(parse_duration("30d").value.count() == 2'592'000'000LL);
    BOOST_TEST(parse_duration("0s").ok());
    BOOST_TEST(parse_duration("0s").value.count() == 0);
    BOOST_TEST(parse_duration("007s").value.count() == 7000);
}

BOOST_AUTO_TEST_CASE(rejects_what_is_not_a_duration) {
    for (const char* bad : {"10",   "-1s",   "+1s",  "1.5s",  "1,5s",  "",      "s",    "ms",
                            " 10s", "10s ",  "10 s", "10S",   "10sec", "10us",  "10ns", "10w",
                            "10y",  "10min", "1e3s", "0x10s", "10ms5", "10s10s"}) {
        const auto r = parse_duration(bad);
        BOOST_TEST_INFO("input \"" << bad << "\"");
        BOOST_TEST(!r.ok());
    }
    BOOST_TEST(parse_duration("10").error.find("no unit") != std::string::npos);
    BOOST_TEST(parse_duration("1.5s").error.find("whole number") != std::string::npos);
    BOOST_TEST(parse_duration("10w").error.find("unknown unit \"w\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(overflow) {
    // int64 milliseconds hold 9223372036854775807 ms = 106751991167 d.
    BOOST_TEST(parse_duration("9223372036854775807ms").ok());
    BOOST_TEST(parse_duration("9223372036854775807ms").value.count() == INT64_MAX);
    BOOST_TEST(!parse_duration("9223372036854775808ms").ok());
    BOOST_TEST(parse_duration("106751991167d").ok());
    BOOST_TEST(!parse_duration("106751991168d").ok());
    BOOST_TEST(parse_duration("106751991168d").error.find("too large") != std::string::npos);
    BOOST_TEST(!parse_duration("99999999999999999999999999s").ok());
}

BOOST_AUTO_TEST_CASE(formats_back) {
    BOOST_TEST(mb::config::format_duration(500ms) == "500ms");
    BOOST_TEST(mb::config::format_duration(10s) == "10s");
    BOOST_TEST(mb::config::format_duration(5min) == "5m");
    BOOST_TEST(mb::config::format_duration(24h) == "1d");
    BOOST_TEST(mb::config::format_duration(0ms) == "0ms");
    BOOST_TEST(mb::config::format_duration(1500ms) == "1500ms");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sizes)

BOOST_AUTO_TEST_CASE(every_unit) {
    BOOST_TEST(parse_size("100B").value == 100U);
    BOOST_TEST(parse_size("64KiB").value == 65536U);
    BOOST_TEST(parse_size("256MiB").value == 268435456U);
    BOOST_TEST(parse_size("1GiB").value == 1073741824U);
    BOOST_TEST(parse_size("0B").ok());
}

BOOST_AUTO_TEST_CASE(rejects_what_is_not_a_size) {
    for (const char* bad : {"64", "64KB", "64kB", "64kib", "64K", "64M", "1TiB", "1GB", "-1B",
                            "1.5GiB", "", "KiB", " 1B", "1 B", "1B "}) {
        BOOST_TEST_INFO("input \"" << bad << "\"");
        BOOST_TEST(!parse_size(bad).ok());
    }
    BOOST_TEST(parse_size("64KB").error.find("unknown unit \"KB\"") != std::string::npos);
    BOOST_TEST(std::string(mb::config::size_syntax).find("KiB, MiB or GiB") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(overflow) {
    BOOST_TEST(parse_size("18446744073709551615B").ok());
    BOOST_TEST(!parse_size("18446744073709551616B").ok());
    BOOST_TEST(parse_size("17179869183GiB").ok());
    BOOST_TEST(!parse_size("17179869184GiB").ok());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(broker_urls)

BOOST_AUTO_TEST_CASE(parts_and_default_ports) {
    auto u = parse_broker_url("mqtt://127.0.0.1");
    BOOST_TEST(u.ok());
    BOOST_TEST(u.value.host == "127.0.0.1");
    BOOST_TEST(u.value.port == 1883);
    BOOST_TEST(!u.value.tls);
    u = parse_broker_url("mqtts://broker.example.com");
    BOOST_TEST(u.value.tls);
    BOOST_TEST(u.value.port == 8883);
    u = parse_broker_url("mqtts://broker.example.com:9883/");
    BOOST_TEST(u.value.port == 9883);
    u = parse_broker_url("mqtt://[::1]:1884");
    BOOST_TEST(u.ok());
    BOOST_TEST(u.value.host == "::1");
    BOOST_TEST(u.value.port == 1884);
}

BOOST_AUTO_TEST_CASE(rejects) {
    for (const char* bad :
         {"http://x", "x", "mqtt://", "mqtt://:1883", "mqtt://h:0", "mqtt://h:65536",
          "mqtt://h:", "mqtt://h:abc", "mqtt://u:p@h", "mqtt://h/path", "mqtt://[::1",
          "mqtt://[zz]:1", "MQTT://h", "mqtt://h h"}) {
        BOOST_TEST_INFO("input \"" << bad << "\"");
        BOOST_TEST(!parse_broker_url(bad).ok());
    }
}

BOOST_AUTO_TEST_SUITE_END()
