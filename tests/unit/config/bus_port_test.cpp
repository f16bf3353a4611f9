// [[bus]] port: serial devices, tcp:// and rtu+tcp:// converters (docs/configuration.md); a bad URL
// and serial keys on a converter's bus are errors at their FILE:LINE:COL.
#include "config_fixture.hpp"

using namespace mb::config;
using namespace mb::config::test;

namespace {

// Lines 1..5; the bus starts at line 6, its port is on line 8.
const std::string top = R"([gateway]
id = "gw1"
profile_dirs = ["profiles"]
[uplink]
url = "mqtt://127.0.0.1"
)";

// The whole file: top, the bus with `extra` lines after its port, one device.
std::string with_bus(const std::string& port, const std::string& extra = "") {
    std::string text = top;
    text += "[[bus]]\nname = \"b1\"\nport = \"";
    text += port;
    text += "\"\n";
    text += extra;
    text += device;
    return text;
}

} // namespace

BOOST_AUTO_TEST_SUITE(bus_port)

BOOST_AUTO_TEST_CASE(converters_are_accepted_with_the_keys_that_apply) {
    temp_dir t;
    for (const std::string port :
         {"tcp://10.0.0.7:502", "rtu+tcp://gw.local:4001", "tcp://[::1]:1502", "/dev/ttyS1"}) {
        const auto c = t.ok(with_bus(port, "timeout = \"500ms\"\nmax_gap = 4\n"));
        BOOST_TEST(c.buses.at(0).port == port);
        BOOST_TEST(c.buses.at(0).timeout.count() == 500);
        BOOST_TEST(c.buses.at(0).max_gap == 4);
    }
}

BOOST_AUTO_TEST_CASE(a_bad_url_names_the_key_and_the_forms) {
    temp_dir t;
    const std::pair<const char*, const char*> cases[] = {
        {"tcp://10.0.0.7", "no port (HOST:PORT, e.g. tcp://10.0.0.7:502)"},
        {"tcp://10.0.0.7:0", "\"0\" is not a TCP port (1..65535)"},
        {"rtu+tcp://10.0.0.7:65536", "\"65536\" is not a TCP port (1..65535)"},
        {"tcp://::1:502", "an IPv6 address goes in brackets (tcp://[::1]:502)"},
        {"modbus://10.0.0.7:502", "tcp://HOST:PORT or rtu+tcp://HOST:PORT"},
        {"", "empty"},
    };
    for (const auto& [port, why] : cases) {
        BOOST_TEST_CONTEXT("port = \"" << port << "\"") {
            const auto e = t.errors(with_bus(port));
            expect_error(e, "bus[0].port", 8, 8, why);
        }
    }
}

BOOST_AUTO_TEST_CASE(serial_keys_on_a_converter_are_errors_naming_each_key) {
    temp_dir t;
    const auto e =
        t.errors(with_bus("tcp://10.0.0.7:502", "baud = 9600\nparity = \"even\"\n"
                                                "data_bits = 8\nstop_bits = 1\nrs485 = true\n"));
    const std::string why = "serial settings do not apply to a tcp:// port";
    expect_error(e, "bus[0].baud", 9, 8, why);
    expect_error(e, "bus[0].parity", 10, 10, why);
    expect_error(e, "bus[0].data_bits", 11, 13, why);
    expect_error(e, "bus[0].stop_bits", 12, 13, why);
    expect_error(e, "bus[0].rs485", 13, 9, why);
    BOOST_TEST(e.size() == 5U);

    const auto r = t.errors(with_bus("rtu+tcp://10.0.0.7:4001", "baud = 19200\n"));
    expect_error(r, "bus[0].baud", 9, 8, "serial settings do not apply to an rtu+tcp:// port");
    BOOST_TEST(r.size() == 1U);
}

BOOST_AUTO_TEST_CASE(serial_keys_stay_fine_on_a_serial_port) {
    temp_dir t;
    const auto c = t.ok(with_bus("/dev/ttyS2", "baud = 19200\nparity = \"even\"\nrs485 = true\n"));
    BOOST_TEST(c.buses.at(0).baud == 19200);
    BOOST_TEST(c.buses.at(0).parity == 'E');
    BOOST_TEST(c.buses.at(0).rs485);
}

BOOST_AUTO_TEST_SUITE_END()
