// The device directory and the command router (source_set) on a real uv loop, with test
// sources: which source owns which device, a name two sources claim, what a reload removes,
// and where a command goes (or why it goes nowhere, docs/commands.md).
#include "daemon/gateway/source_set.hpp"
#include "tests/support/loop_test.hpp"
#include "tests/unit/gateway/test_source.hpp"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using mb::daemon::source_set;
using mbtest::bus_list;
using mbtest::config_of;

namespace {

std::vector<std::string> names(const std::vector<mb::model::device_info>& devices) {
    std::vector<std::string> out;
    out.reserve(devices.size());
    for (const auto& d : devices)
        out.push_back(d.name);
    return out;
}

// A source_set making test sources, on the test's loop; stopped sources are counted.
struct rig {
    mbtest::test_sources made;
    mb::daemon::deferred_calls deferred;
    int stopped = 0;
    source_set set;

    explicit rig(uv_loop_t& loop)
        : deferred(loop)
        , set(
              deferred,
              [&loop](const mb::daemon::source_spec& spec) {
                  return spec.make(loop, {}, mb::common::real_clock());
              },
              [this] { ++stopped; }) {}
    ~rig() { deferred.close(); }
    rig(const rig&) = delete;
    rig& operator=(const rig&) = delete;
    rig(rig&&) = delete;
    rig& operator=(rig&&) = delete;

    [[nodiscard]] auto specs(const bus_list& buses) { return made.catalog()(config_of(buses)); }
    [[nodiscard]] mbtest::test_source& source(std::string_view name) const {
        return made.live(name);
    }
    [[nodiscard]] std::string owner(std::string_view device) const {
        const auto* s = set.owner_of(device);
        return s == nullptr ? "none" : s->name();
    }
    [[nodiscard]] std::string route(std::string_view device) const {
        const auto r = set.route_command(device);
        return r.to != nullptr ? r.to->name() : r.refusal;
    }
};

const bus_list two_buses{{"b1", {"a1", "a2"}}, {"b2", {"c1"}}};

} // namespace

BOOST_FIXTURE_TEST_SUITE(source_set_tests, mbtest::on_loop)

BOOST_AUTO_TEST_CASE(each_device_belongs_to_the_source_that_has_it) {
    rig r(loop);
    r.set.add(r.specs(two_buses));
    r.set.start_ready();
    BOOST_TEST(r.owner("a1") == "test[b1]");
    BOOST_TEST(r.owner("a2") == "test[b1]");
    BOOST_TEST(r.owner("c1") == "test[b2]");
    BOOST_TEST(r.owner("zz") == "none");
    const std::vector<std::string> all{"a1", "a2", "c1"};
    BOOST_TEST(names(r.set.devices()) == all, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_command_goes_to_the_running_owner_or_says_why_not) {
    rig r(loop);
    r.set.add(r.specs(two_buses));
    r.set.start_ready();
    BOOST_TEST(r.route("a2") == "test[b1]");
    BOOST_TEST(r.route("c1") == "test[b2]");
    BOOST_TEST(r.route("zz") == "zz: no such device");
}

BOOST_AUTO_TEST_CASE(a_name_two_sources_have_belongs_to_the_first_in_configuration_order) {
    rig r(loop);
    r.set.add(r.specs(two_buses));
    r.set.start_ready();
    // b2's source relays a meter it calls a1 (no gateway here to refuse the name).
    BOOST_REQUIRE(r.source("test[b2]").relay("a1"));
    BOOST_TEST(r.owner("a1") == "test[b1]");
    BOOST_TEST(r.route("a1") == "test[b1]");
}

BOOST_AUTO_TEST_CASE(a_reload_keeps_what_it_did_not_touch_and_removes_what_it_dropped) {
    rig r(loop);
    r.set.add(r.specs(two_buses));
    r.set.start_ready();
    auto* b2 = &r.source("test[b2]");
    auto& old_b1 = r.source("test[b1]");
    old_b1.hold_stop = true; // its bus still ends a request
    // a2 leaves b1 (b1 restarts), a3 joins it; b2 is untouched.
    r.set.replace(r.specs({{"b1", {"a1", "a3"}}, {"b2", {"c1"}}}), {"test:/dev/tty-b2"});
    r.set.start_ready();
    BOOST_TEST(old_b1.stop_asked);
    BOOST_TEST(&r.source("test[b2]") == b2); // the same instance, still running
    BOOST_TEST(!b2->stop_asked);
    BOOST_TEST(r.set.stopping() == 1U);

    // The stopping source owns nothing any more, although it still has a2; the new one has
    // a1 and a3, but cannot take a command before the old one has let go of the port.
    BOOST_TEST(r.owner("a2") == "none");
    BOOST_TEST(r.route("a2") == "a2: no such device");
    BOOST_TEST(r.owner("a3") == "test[b1]");
    BOOST_TEST(r.route("a1") == "a1: its bus is reopening after a reload; try again");
    const std::vector<std::string> all{"a1", "a3", "c1"};
    BOOST_TEST(names(r.set.devices()) == all, boost::test_tools::per_element());

    old_b1.finish_stop();
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return r.stopped == 1; }, 2s));
    BOOST_TEST(r.set.stopping() == 0U);
    BOOST_TEST(r.made.alive() == 2U); // the old b1 is gone
    BOOST_TEST(!r.source("test[b1]").started);
    r.set.start_ready(); // what the gateway does when a source has stopped
    BOOST_TEST(r.source("test[b1]").started);
    BOOST_TEST(r.route("a1") == "test[b1]");

    // A bus the configuration no longer has: its source stops and its devices are nobody's.
    r.set.replace(r.specs({{"b1", {"a1", "a3"}}}), {"test:/dev/tty-b1"});
    BOOST_TEST(r.owner("c1") == "none");
    BOOST_TEST(r.route("c1") == "c1: no such device");
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return r.stopped == 2; }, 2s));
    BOOST_TEST(r.made.named("test[b2]") == nullptr);
}

BOOST_AUTO_TEST_CASE(a_configured_name_ends_the_relay_that_had_it) {
    rig r(loop);
    r.set.add(r.specs(two_buses));
    r.set.start_ready();
    BOOST_REQUIRE(r.source("test[b2]").relay("r1"));
    BOOST_TEST(r.owner("r1") == "test[b2]");
    const std::vector<std::string> ended{"r1"};
    BOOST_TEST(r.set.end_relays({"a1", "r1", "zz"}) == ended, boost::test_tools::per_element());
    BOOST_TEST(r.source("test[b2]").ended == ended, boost::test_tools::per_element());
    BOOST_TEST(r.owner("r1") == "none");
    BOOST_TEST(r.owner("a1") == "test[b1]"); // a configured device is not a relay
}

BOOST_AUTO_TEST_CASE(stop_all_asks_every_running_source_and_counts_each_stopped_one) {
    rig r(loop);
    r.set.add(r.specs(two_buses));
    r.set.start_ready();
    r.source("test[b1]").hold_stop = true;
    r.set.stop_all();
    BOOST_TEST(r.set.size() == 0U);
    BOOST_TEST(r.set.stopping() == 2U);
    BOOST_TEST(r.owner("a1") == "none");
    // b2 stopped at once: it is destroyed from a later loop iteration, never inside its call.
    BOOST_TEST(r.made.alive() == 2U);
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return r.stopped == 1; }, 2s));
    BOOST_TEST(r.made.named("test[b2]") == nullptr);
    BOOST_TEST(r.set.stopping() == 1U);
    r.source("test[b1]").finish_stop();
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return r.stopped == 2; }, 2s));
    BOOST_TEST(r.made.alive() == 0U);
}

BOOST_AUTO_TEST_SUITE_END()
