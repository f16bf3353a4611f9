// The meter table of a native source: lookups by serial and by name, the count of relayed
// meters, erasing the silent ones, and handing the relayed ones to a successor.
#include "drivers/native/meter_table.hpp"

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <string>

using mb::drivers::native::meter_table;
using mb::drivers::native::native_meter;

BOOST_AUTO_TEST_SUITE(meter_tables)

BOOST_AUTO_TEST_CASE(named_and_relayed_meters_by_serial_and_by_name) {
    meter_table t;
    t.add("24102809510006", "roof-pv", false);
    auto& e = t.add("24102809510099", "sn-24102809510099", true);
    BOOST_TEST(t.size() == 2U);
    BOOST_TEST(t.relayed() == 1U);
    BOOST_TEST(t.by_name("sn-24102809510099") == &e);
    BOOST_TEST(t.by_serial("24102809510099") == &e);
    BOOST_TEST(t.by_name("roof-pv")->first == "24102809510006");
    BOOST_TEST(
        (t.by_name("sn-24102809510099")->second.status.state == mb::model::device_state::offline));
    t.erase(e);
    BOOST_TEST(t.by_name("sn-24102809510099") == nullptr);
    BOOST_TEST(t.by_serial("24102809510099") == nullptr);
    BOOST_TEST(t.relayed() == 0U);
}

BOOST_AUTO_TEST_CASE(only_relayed_meters_are_erased_by_a_predicate) {
    meter_table t;
    t.add("1", "named", false).second.seen = true;
    for (int i = 0; i < 100; ++i) // long names: the index must survive every rehash
        t.add("s" + std::to_string(i), "sn-a-rather-long-name-" + std::to_string(i), true)
            .second.seen = i % 2 == 0;
    auto gone = t.erase_relayed_if([](const native_meter& m) { return m.seen; });
    BOOST_TEST(gone.size() == 50U);
    BOOST_TEST(t.relayed() == 50U);
    BOOST_TEST(t.by_name("named") != nullptr);
    BOOST_TEST(std::ranges::count(gone, "sn-a-rather-long-name-0") == 1);
    BOOST_TEST(t.by_name("sn-a-rather-long-name-0") == nullptr);
    BOOST_TEST(t.by_name("sn-a-rather-long-name-1")->first == "s1");
}

BOOST_AUTO_TEST_CASE(relayed_meters_move_to_a_successor_with_their_state) {
    meter_table old;
    old.add("1", "named", false);
    auto& m = old.add("24102809510099", "sn-24102809510099", true).second;
    m.status.polls = 7;
    m.iccid = "8986";
    meter_table next;
    for (auto& [serial, meter] : old.take_relayed())
        next.adopt(serial, std::move(meter));
    BOOST_TEST(old.relayed() == 0U);
    BOOST_TEST(old.size() == 1U);
    BOOST_TEST(old.by_name("sn-24102809510099") == nullptr);
    const auto* e = next.by_name("sn-24102809510099");
    BOOST_REQUIRE(e != nullptr);
    BOOST_TEST(e->first == "24102809510099");
    BOOST_TEST(e->second.status.polls == 7U);
    BOOST_TEST(e->second.iccid == "8986");
    BOOST_TEST(next.relayed() == 1U);
}

BOOST_AUTO_TEST_SUITE_END()
