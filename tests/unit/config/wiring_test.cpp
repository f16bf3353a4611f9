// check_wiring: two [[bus]] on one port and one unit twice on one bus are errors that name
// both places, FILE:LINE:COL each; what merely looks alike is not.
#include "config_fixture.hpp"

#include <algorithm>
#include <filesystem>
#include <string_view>
#include <variant>
#include <vector>

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

BOOST_AUTO_TEST_CASE(converter_host_names_compare_without_case) {
    temp_dir t;
    const auto e = t.errors(head + bus("b2", "tcp://GW.Plant.Local:502") +
                            bus("b3", "tcp://gw.plant.local:502") +
                            bus("b4", "tcp://gw.plant.local:503") + device);
    const auto file = (t.path / "meterbridge.toml").string();
    expect_error(e, "bus[2].port", 14, 8,
                 "\"tcp://gw.plant.local:502\" is the converter at gw.plant.local:502, as is "
                 "bus[1]'s \"tcp://GW.Plant.Local:502\" (" +
                     file + ":11:8): one converter is one bus");
    BOOST_TEST(!has_key(e, "bus[3].port"), all(e));
}

BOOST_AUTO_TEST_CASE(numeric_spellings_of_one_converter_are_one_whatever_the_scheme) {
    temp_dir t;
    // bus[1] at 11:8; every later one reaches the same 127.0.0.1:5020.
    const auto e = t.errors(
        head + bus("b2", "tcp://127.0.0.1:5020") + bus("b3", "rtu+tcp://127.0.0.1:5020") +
        bus("b4", "tcp://127.0.0.01:05020") + bus("b5", "rtu+tcp://[::ffff:127.0.0.1]:5020") +
        bus("b6", "tcp://127.1:5020") + device);
    const auto file = (t.path / "meterbridge.toml").string();
    BOOST_REQUIRE_MESSAGE(e.size() == 4U, all(e));
    BOOST_TEST(e[0].to_string() ==
               file +
                   ":14:8: bus[2].port: \"rtu+tcp://127.0.0.1:5020\" is the converter at "
                   "127.0.0.1:5020, as is bus[1]'s \"tcp://127.0.0.1:5020\" (" +
                   file +
                   ":11:8): one converter is one bus, two would poll its line at once (put the "
                   "devices of both on one [[bus]])");
    expect_error(e, "bus[3].port", 17, 8,
                 "\"tcp://127.0.0.01:05020\" is the converter at 127.0.0.1:5020");
    expect_error(e, "bus[4].port", 20, 8, "as is bus[1]'s \"tcp://127.0.0.1:5020\"");
    expect_error(e, "bus[5].port", 23, 8, "127.0.0.1:5020");
}

BOOST_AUTO_TEST_CASE(other_addresses_ports_and_names_are_other_converters) {
    temp_dir t;
    // Without resolving (run, reload), a name is not an address: no error, no warning.
    const auto c = t.ok(head + bus("b2", "tcp://127.0.0.1:5020") +
                        bus("b3", "tcp://127.0.0.2:5020") + bus("b4", "tcp://127.0.0.1:5021") +
                        bus("b5", "tcp://[::1]:5020") + bus("b6", "tcp://localhost:5020") + device);
    BOOST_TEST(c.buses.size() == 6U);
    BOOST_TEST(c.warnings.empty());
}

BOOST_AUTO_TEST_CASE(names_that_resolve_to_one_converter_are_warned_about_by_check) {
    temp_dir t;
    std::vector<std::string> asked;
    load_options options;
    options.resolve = [&](std::string_view host, int port) {
        asked.push_back(std::string(host) + ":" + std::to_string(port));
        if (host == "conv-a.plant" || host == "conv-b.plant")
            return std::vector<std::string>{"10.0.0.7:" + std::to_string(port)};
        return std::vector<std::string>{};
    };
    // bus[1] 11:8, bus[2] 14:8, bus[3] 17:8, bus[4] 20:8
    const auto file = t.write("meterbridge.toml", head + bus("b2", "tcp://10.0.0.7:502") +
                                                      bus("b3", "rtu+tcp://conv-a.plant:502") +
                                                      bus("b4", "tcp://conv-b.plant:502") +
                                                      bus("b5", "tcp://conv-b.plant:503") + device);
    const auto loaded = load_config(file, options);
    BOOST_REQUIRE(std::holds_alternative<config>(loaded));
    const auto& w = std::get<config>(loaded).warnings;
    BOOST_REQUIRE_MESSAGE(w.size() == 2U, all(w));
    BOOST_TEST(w[0].to_string() ==
               file.string() +
                   ":14:8: bus[2].port: \"rtu+tcp://conv-a.plant:502\" and bus[1]'s "
                   "\"tcp://10.0.0.7:502\" (" +
                   file.string() +
                   ":11:8) both reach 10.0.0.7:502 once host names are resolved: one converter "
                   "is one bus (put the devices of both on one [[bus]], or correct the address)");
    expect_error(w, "bus[3].port", 17, 8, "and bus[1]'s \"tcp://10.0.0.7:502\"");
    // each name asked once; a port nobody else uses needs no answer
    std::ranges::sort(asked);
    BOOST_TEST(asked == (std::vector<std::string>{"conv-a.plant:502", "conv-b.plant:502"}),
               boost::test_tools::per_element());
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
