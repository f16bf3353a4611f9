#include "bridge/topics.hpp"

#include <boost/test/unit_test.hpp>

using mb::bridge::topics;

BOOST_AUTO_TEST_SUITE(topic_scheme)

BOOST_AUTO_TEST_CASE(design_section_5_topics) {
    const topics t("meterbridge", "plant1-gw01");
    BOOST_TEST(t.gateway_status() == "meterbridge/plant1-gw01/status");
    BOOST_TEST(t.meta("incomer") == "meterbridge/plant1-gw01/incomer/meta");
    BOOST_TEST(t.status("incomer") == "meterbridge/plant1-gw01/incomer/status");
    BOOST_TEST(t.data("incomer") == "meterbridge/plant1-gw01/incomer/data");
    BOOST_TEST(t.gap("incomer") == "meterbridge/plant1-gw01/incomer/gap");
    BOOST_TEST(t.cmd("incomer") == "meterbridge/plant1-gw01/incomer/cmd");
    BOOST_TEST(t.cmd_result("incomer") == "meterbridge/plant1-gw01/incomer/cmd/result");
    BOOST_TEST(t.cmd_filter() == "meterbridge/plant1-gw01/+/cmd");
}

BOOST_AUTO_TEST_CASE(prefix_may_have_levels) {
    const topics t("site/a", "gw");
    BOOST_TEST(t.data("roof-pv") == "site/a/gw/roof-pv/data");
}

BOOST_AUTO_TEST_CASE(device_of_cmd_topic) {
    const topics t("mb", "gw1");
    BOOST_TEST(t.device_of_cmd("mb/gw1/incomer/cmd").value() == "incomer");
    BOOST_TEST(t.device_of_cmd("mb/gw1/sn-24102809510006/cmd").value() == "sn-24102809510006");
    BOOST_TEST(!t.device_of_cmd("mb/gw1/incomer/cmd/result"));
    BOOST_TEST(!t.device_of_cmd("mb/gw2/incomer/cmd"));
    BOOST_TEST(!t.device_of_cmd("mb/gw1/a/b/cmd"));
    BOOST_TEST(!t.device_of_cmd("mb/gw1/Incomer/cmd"));
    BOOST_TEST(!t.device_of_cmd("mb/gw1//cmd"));
    BOOST_TEST(!t.device_of_cmd("mb/gw1/cmd"));
}

BOOST_AUTO_TEST_CASE(names) {
    BOOST_TEST(mb::bridge::valid_name("plant1-gw01"));
    BOOST_TEST(mb::bridge::valid_name("a_b"));
    BOOST_TEST(!mb::bridge::valid_name("-a"));
    BOOST_TEST(!mb::bridge::valid_name(""));
    BOOST_TEST(!mb::bridge::valid_name(std::string(65, 'a')));
    BOOST_TEST(mb::bridge::valid_name(std::string(64, 'a')));
    BOOST_TEST(!mb::bridge::valid_name("a+b"));
}

BOOST_AUTO_TEST_SUITE_END()
