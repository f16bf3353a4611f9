// check_wiring: two [[bus]] on one port and one unit twice on one bus are errors that name
// both places, FILE:LINE:COL each; what merely looks alike is not.
#include "config_fixture.hpp"

#include <algorithm>
#include <filesystem>

using namespace mb::config;
using namespace mb::config::test;

namespace {

std::string bus(const std::string& name, const std::string& port) {
    return "[[bus]]\nname = \"" + name + "\"\nport = \"" + port + "\"\n";
}

std::string meter(const std::string& name, const std::string& on_bus, int unit) {
    return "[[device]]\nname = \"" + name + "\"\nbus = \"" + on_bus +
           "\"\nunit = " + std::to_string(unit) + "\nprofile = \"meter-a\"\n";
}

bool has_key(const std::vector<config_error>& e, const std::string& key) {
    return std::ranges::any_of(e, [&](const config_error& x) { return x.key == key; });
}

std::string all(const std::vector<config_error>& e) {
    std::string out;
    for (const auto& x : e)
        out += x.to_string() + "\n";
    return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(wiring)

BOOST_AUTO_TEST_CASE(two_buses_on_one_port_name_both_port_keys) {
    temp_dir t;
    // head's bus[0] has port = "/dev/null" at 8:8; bus[1]'s port is at 11:8.
    const auto e = t.errors(head + bus("b2", "/dev/null") + device);
    const auto file = (t.path / "meterbridge.toml").string();
    BOOST_REQUIRE_MESSAGE(e.size() == 1U, all(e));
    BOOST_TEST(e[0].to_string() ==
               file + ":11:8: bus[1].port: \"/dev/null\" is also the port of bus[0] (" + file +
                   ":8:8): a port opens for one bus only, so this one would never poll (put the "
                   "devices of both on one [[bus]])");
}

BOOST_AUTO_TEST_CASE(a_symlink_to_the_same_device_is_the_same_port) {
    temp_dir t;
    std::filesystem::create_symlink("/dev/null", t.path / "ttyLINK");
    const auto e = t.errors(head + bus("b2", (t.path / "ttyLINK").string()) + device);
    const auto file = (t.path / "meterbridge.toml").string();
    expect_error(e, "bus[1].port", 11, 8,
                 "\"/dev/null\" is also the port of bus[0] (" + file + ":8:8)");
}

BOOST_AUTO_TEST_CASE(converter_urls_compare_as_text_with_the_host_lower_cased) {
    temp_dir t;
    const auto e = t.errors(head + bus("b2", "tcp://GW.Plant.Local:502") +
                            bus("b3", "tcp://gw.plant.local:502") +
                            bus("b4", "tcp://gw.plant.local:503") + device);
    const auto file = (t.path / "meterbridge.toml").string();
    expect_error(e, "bus[2].port", 14, 8,
                 "\"tcp://gw.plant.local:502\" is also the port of bus[1] (" + file + ":11:8)");
    BOOST_TEST(!has_key(e, "bus[3].port"), all(e));
}

BOOST_AUTO_TEST_CASE(one_unit_twice_on_one_bus_names_both_unit_keys) {
    temp_dir t;
    // device[0]'s unit at 12:8, device[1]'s at 17:8.
    const auto e = t.errors(head + device + meter("d2", "b1", 1));
    const auto file = (t.path / "meterbridge.toml").string();
    BOOST_REQUIRE_MESSAGE(e.size() == 1U, all(e));
    BOOST_TEST(e[0].to_string() ==
               file + ":17:8: device[1].unit: unit 1 on bus \"b1\" is already device[0].unit (" +
                   file +
                   ":12:8): one meter answers each unit id on a bus (give each meter its own "
                   "unit, 1..247)");
}

BOOST_AUTO_TEST_CASE(distinct_ports_and_units_are_fine) {
    temp_dir t;
    // The same unit on two buses, two units on one bus, two ports: all valid.
    const auto c =
        t.ok(head + bus("b2", "/dev/zero") + device + meter("d2", "b2", 1) + meter("d3", "b1", 2));
    BOOST_TEST(c.buses.size() == 2U);
    BOOST_TEST(c.devices.size() == 3U);
}

BOOST_AUTO_TEST_CASE(a_unit_out_of_range_is_not_also_a_repeat) {
    temp_dir t;
    const auto e = t.errors(head + device + meter("d2", "b1", 0));
    expect_error(e, "device[1].unit", 17, 8, "out of range");
}

BOOST_AUTO_TEST_SUITE_END()
