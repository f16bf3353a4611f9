// What the uplink publishes retained, in which order: metas and statuses once each when due,
// everything again on a new connection, clears first, and a name passed from one device to
// another cleared before the new device's meta.
#include "bridge/retained_devices.hpp"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

using mb::bridge::retained_devices;
namespace model = mb::model;

namespace {

model::device_info dev(const std::string& name, const std::string& source = "rtu") {
    model::device_info d;
    d.name = name;
    d.source = source;
    d.units = {{"voltage_l1", "V"}};
    return d;
}

model::device_status status(const std::string& name, model::device_state s,
                            std::uint64_t polls = 1) {
    model::device_status st;
    st.device = name;
    st.state = s;
    st.polls = polls;
    return st;
}

// Every message due now, as "kind device".
std::vector<std::string> drain(retained_devices& r) {
    std::vector<std::string> out;
    while (auto m = r.next()) {
        const char* k = m->what == retained_devices::kind::meta     ? "meta"
                        : m->what == retained_devices::kind::status ? "status"
                                                                    : "clear";
        out.push_back(std::string(k) + " " + m->device);
    }
    return out;
}

using list = std::vector<std::string>;

} // namespace

BOOST_AUTO_TEST_SUITE(retained_device_state)

BOOST_AUTO_TEST_CASE(meta_and_status_once_each_then_only_changes) {
    retained_devices r;
    BOOST_TEST(r.replace_all({dev("a"), dev("b")}));
    r.set_status(status("a", model::device_state::online), false);
    BOOST_TEST(drain(r) == (list{"meta a", "status a", "meta b"}),
               boost::test_tools::per_element());
    BOOST_TEST(!r.replace_all({dev("a"), dev("b")})); // same list, same metas: nothing due
    r.set_status(status("a", model::device_state::online, 5), false);
    BOOST_TEST(drain(r).empty(), "counters alone wait for a refresh");
    r.set_status(status("a", model::device_state::online, 6), true);
    BOOST_TEST(drain(r) == list{"status a"}, boost::test_tools::per_element());
    auto changed = dev("b");
    changed.interval_ms = 5000;
    BOOST_TEST(!r.update({changed}));
    BOOST_TEST(drain(r) == list{"meta b"}, boost::test_tools::per_element());
    BOOST_TEST(r.count() == 2U);
    BOOST_TEST(r.idle());
}

BOOST_AUTO_TEST_CASE(a_new_connection_sends_everything_again_clears_first) {
    retained_devices r;
    r.replace_all({dev("a"), dev("b"), dev("c")});
    r.set_status(status("b", model::device_state::offline), false);
    drain(r);
    r.resend_all();
    BOOST_TEST(r.remove({"c"}));
    BOOST_TEST(drain(r) == (list{"clear c", "meta a", "meta b", "status b"}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_name_given_to_another_device_is_cleared_before_its_new_meta) {
    retained_devices r;
    r.replace_all({dev("sn-a-b", "native")});
    r.set_status(status("sn-a-b", model::device_state::online), false);
    drain(r);
    // A reload: the relayed meter goes, a configured device of the same name comes.
    r.remove({"sn-a-b"});
    r.replace_all({dev("sn-a-b", "rtu")});
    r.set_status(status("sn-a-b", model::device_state::online), false);
    BOOST_TEST(drain(r) == (list{"clear sn-a-b", "meta sn-a-b", "status sn-a-b"}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(what_a_previous_instance_published_is_cleared_when_missing) {
    retained_devices r;
    r.published_before({"gone", "kept"});
    r.replace_all({dev("kept")});
    BOOST_TEST(drain(r) == (list{"clear gone", "meta kept"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_device_removed_before_its_turn_is_skipped) {
    retained_devices r;
    r.replace_all({dev("a"), dev("b")});
    r.remove({"a"});
    BOOST_TEST(drain(r) == (list{"clear a", "meta b"}), boost::test_tools::per_element());
    BOOST_TEST(r.count() == 1U);
    BOOST_TEST(r.info("a") == nullptr);
    BOOST_TEST(r.info("b") != nullptr);
}

BOOST_AUTO_TEST_SUITE_END()
