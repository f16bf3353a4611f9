// sn-<serial>: a relayed meter's device name is always a valid one (docs/configuration.md).
#include "drivers/native/native_source.hpp"

#include <boost/test/unit_test.hpp>
#include <string>

using mb::drivers::native::relay_name;

BOOST_AUTO_TEST_SUITE(relayed_names)

BOOST_AUTO_TEST_CASE(serial_made_a_valid_name) {
    BOOST_TEST(relay_name("24102809510006") == "sn-24102809510006");
    BOOST_TEST(relay_name("AB-12_x") == "sn-ab-12_x");
    BOOST_TEST(relay_name("a b/c.d+é") == "sn-a-b-c-d---"); // é is two bytes, each '-'
    BOOST_TEST(relay_name("").empty());
    const std::string long_serial(100, '7');
    const auto name = relay_name(long_serial);
    BOOST_TEST(name.size() == 64U);
    BOOST_TEST(name == "sn-" + std::string(61, '7'));
}

BOOST_AUTO_TEST_SUITE_END()
