#include "bridge/command.hpp"

#include <boost/test/unit_test.hpp>

using namespace mb::bridge;
namespace model = mb::model;

namespace {

model::device_info adw300() {
    model::device_info d;
    d.name = "incomer";
    d.units = {{"do_1", "1"}, {"do_2", "1"}, {"voltage_l1", "V"}, {"energy_import_total", "kWh"}};
    d.writable = {{"do_1", {0.0, 1.0}}, {"do_2", {0.0, 1.0}}};
    return d;
}

std::string refusal(std::string_view payload) {
    const auto r = parse_command(payload, adw300());
    BOOST_TEST(!r.cmd.has_value(), payload);
    return r.error;
}

} // namespace

BOOST_AUTO_TEST_SUITE(commands)

BOOST_AUTO_TEST_CASE(set_accepted) {
    const auto r = parse_command(R"({"id":"c-17","set":{"do_1":1}})", adw300());
    BOOST_REQUIRE(r.cmd.has_value());
    BOOST_TEST(r.error.empty());
    BOOST_TEST(r.cmd->id_json == R"("c-17")");
    BOOST_TEST((r.cmd->what == command::kind::set));
    BOOST_REQUIRE(r.cmd->set.size() == 1U);
    BOOST_TEST(r.cmd->set[0].first == "do_1");
    BOOST_TEST(r.cmd->set[0].second == 1.0);
}

BOOST_AUTO_TEST_CASE(read_accepted_with_numeric_id) {
    const auto r =
        parse_command(R"({"read":["energy_import_total","voltage_l1"],"id":19})", adw300());
    BOOST_REQUIRE(r.cmd.has_value());
    BOOST_TEST(r.cmd->id_json == "19");
    BOOST_TEST((r.cmd->what == command::kind::read));
    BOOST_TEST(r.cmd->read == (std::vector<std::string>{"energy_import_total", "voltage_l1"}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(refuses_values_that_are_not_writable) {
    // The device has voltage_l1, but the profile does not let commands set it.
    BOOST_TEST(refusal(R"({"id":"c-18","set":{"voltage_l1":230}})") == "voltage_l1: not writable");
    // All or nothing: one bad value refuses the whole command.
    BOOST_TEST(refusal(R"({"id":1,"set":{"do_1":1,"voltage_l1":0}})") ==
               "voltage_l1: not writable");
}

BOOST_AUTO_TEST_CASE(set_of_a_value_the_device_does_not_have_is_unknown) {
    // Said as read says it: the name is not the device's at all, so "not writable" would
    // suggest it exists.
    BOOST_TEST(refusal(R"({"id":"c-18","set":{"do_9":1}})") == "do_9: unknown value");
    BOOST_TEST(refusal(R"({"id":"c-18","read":["do_9"]})") == "do_9: unknown value");
    BOOST_TEST(refusal(R"({"id":1,"set":{"do_1":1,"do_9":0}})") == "do_9: unknown value");
    // `writable` is asked first: a value there may be set whatever `units` lists.
    auto d = adw300();
    d.units = {{"do_1", "1"}, {"voltage_l1", "V"}, {"energy_import_total", "kWh"}}; // no do_2
    const auto r = parse_command(R"({"id":2,"set":{"do_2":1}})", d);
    BOOST_TEST(r.cmd.has_value());
}

BOOST_AUTO_TEST_CASE(refuses_out_of_range) {
    BOOST_TEST(refusal(R"({"id":"x","set":{"do_1":5}})") == "do_1: 5 is out of range 0..1");
    BOOST_TEST(refusal(R"({"id":"x","set":{"do_1":-0.5}})") == "do_1: -0.5 is out of range 0..1");
}

BOOST_AUTO_TEST_CASE(refuses_wrong_types) {
    BOOST_TEST(refusal(R"({"id":"x","set":{"do_1":"1"}})") == "do_1: value must be a number");
    BOOST_TEST(refusal(R"({"id":"x","set":{"do_1":true}})") == "do_1: value must be a number");
    BOOST_TEST(refusal(R"({"id":"x","set":{"do_1":null}})") == "do_1: value must be a number");
    BOOST_TEST(refusal(R"({"id":"x","set":[1]})") == "set: must be an object of name: number");
    BOOST_TEST(refusal(R"({"id":"x","set":{}})") == "set: names no value");
    BOOST_TEST(refusal(R"({"id":"x","read":"voltage_l1"})") == "read: must be an array of names");
    BOOST_TEST(refusal(R"({"id":"x","read":[1]})") == "read: names must be strings");
    BOOST_TEST(refusal(R"({"id":"x","read":[]})") == "read: names no value");
    BOOST_TEST(refusal(R"({"id":"x","read":["thd_voltage_l1"]})") ==
               "thd_voltage_l1: unknown value");
    BOOST_TEST(refusal(R"({"id":{"a":1},"set":{"do_1":1}})") == "id: must be a string or a number");
    BOOST_TEST(refusal(R"({"set":{"do_1":1}})") == "id: missing");
    BOOST_TEST(refusal(R"([1,2])") == "command must be a JSON object");
    BOOST_TEST(refusal(R"({"id":"x","set":{"do_1":1},"force":true})") ==
               "force: unknown key (expected id and one of set, read)");
}

BOOST_AUTO_TEST_CASE(refuses_malformed_json) {
    BOOST_TEST(refusal(R"({"id":"x","set":{"do_1":1})") == "malformed JSON");
    BOOST_TEST(refusal("") == "malformed JSON");
    BOOST_TEST(refusal("\xff\xfe") == "malformed JSON");
    BOOST_TEST(refusal(std::string(5000, ' ')).starts_with("command too large"));
}

BOOST_AUTO_TEST_CASE(refuses_both_or_neither) {
    BOOST_TEST(refusal(R"({"id":"x","set":{"do_1":1},"read":["do_1"]})") ==
               "set and read: give one, not both");
    BOOST_TEST(refusal(R"({"id":"x"})") == "give one of set or read");
}

BOOST_AUTO_TEST_CASE(keeps_the_id_of_a_refusal_as_it_came) {
    BOOST_TEST(parse_command(R"({"id":"c-18","set":{"do_9":1}})", adw300()).id_json == R"("c-18")");
    BOOST_TEST(parse_command(R"({"id":42,"set":{"do_1":7}})", adw300()).id_json == "42");
    BOOST_TEST(parse_command(R"({"id":"q\"x","read":[]})", adw300()).id_json == R"("q\"x")");
    BOOST_TEST(parse_command(R"({"id":"c",)", adw300()).id_json.empty());
}

BOOST_AUTO_TEST_SUITE_END()
