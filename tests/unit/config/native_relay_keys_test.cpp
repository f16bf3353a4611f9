// [[native]] max_meters and forget_after (bounds on the meters relayed as sn-<serial>), and the
// warning about configured names in the sn- space, with FILE:LINE:COL each.
#include "config_fixture.hpp"

using namespace mb::config;
using namespace mb::config::test;
using namespace std::chrono_literals;

namespace {

// Lines 1..4 of a [[native]] table (after head: lines 9..12), then `extra`.
std::string native(const std::string& extra) {
    return "[[native]]\nname = \"lan\"\nurl = \"mqtt://127.0.0.1:1884\"\nsubscribe = \"a/#\"\n"
           "format = \"acrel-json-v2\"\n" +
           extra;
}

} // namespace

BOOST_AUTO_TEST_SUITE(native_relay_keys)

BOOST_AUTO_TEST_CASE(defaults_and_values) {
    temp_dir t;
    const auto d = t.ok(head + native(""));
    BOOST_TEST(d.natives[0].max_meters == 50'000U);
    BOOST_TEST((d.natives[0].forget_after == std::chrono::hours(24 * 7)));
    BOOST_TEST(d.warnings.empty());
    const auto c = t.ok(head + native("max_meters = 20\nforget_after = \"2d\"\n"));
    BOOST_TEST(c.natives[0].max_meters == 20U);
    BOOST_TEST((c.natives[0].forget_after == std::chrono::hours(48)));
}

BOOST_AUTO_TEST_CASE(out_of_range_and_not_after_offline) {
    temp_dir t;
    auto e = t.errors(head + native("max_meters = 0\n"));
    expect_error(e, "native[0].max_meters", 14, 14, "out of range");
    e = t.errors(head + native("max_meters = 2000000\n"));
    expect_error(e, "native[0].max_meters", 14, 14, "out of range");
    e = t.errors(head + native("forget_after = \"500ms\"\n"));
    expect_error(e, "native[0].forget_after", 14, 16);
    // Forgotten while still counted online: never what is meant.
    e = t.errors(head + native("offline_after = \"5m\"\nforget_after = \"5m\"\n"));
    expect_error(e, "native[0].forget_after", 15, 16, "not longer than offline_after");
    t.ok(head + native("offline_after = \"1s\"\nforget_after = \"3s\"\n"));
}

BOOST_AUTO_TEST_CASE(a_limit_on_relayed_meters_when_none_are_relayed_is_an_error) {
    temp_dir t;
    const auto e =
        t.errors(head + native("unknown = \"ignore\"\nmax_meters = 10\nforget_after = \"1d\"\n"));
    expect_error(e, "native[0].max_meters", 15, 14, "unknown = \"ignore\" relays none");
    expect_error(e, "native[0].forget_after", 16, 16, "unknown = \"ignore\" relays none");
}

BOOST_AUTO_TEST_CASE(names_in_the_sn_space_are_warned_about_where_they_are_written) {
    temp_dir t;
    const auto c =
        t.ok(head + R"([[device]]
name = "sn-a-b"
bus = "b1"
unit = 1
profile = "meter-a"
)" +
             native("[[native.meter]]\nserial = \"7\"\nname = \"sn-7\"\n[[native.meter]]\n"
                    "serial = \"8\"\nname = \"snow\"\n"));
    BOOST_REQUIRE_EQUAL(c.warnings.size(), 2U);
    BOOST_TEST(c.warnings[0].key == "device[0].name");
    BOOST_TEST(c.warnings[0].line == 10);
    BOOST_TEST(c.warnings[0].column == 8);
    BOOST_TEST(c.warnings[0].message.find("\"sn-a-b\" is in the sn-<serial> names") == 0U);
    BOOST_TEST(c.warnings[1].key == "native[0].meter[0].name");
    BOOST_TEST(c.warnings[1].line == 21);
    BOOST_TEST(c.warnings[0].to_string().starts_with((t.path / "meterbridge.toml").string() +
                                                     ":10:8: device[0].name: "));
}

BOOST_AUTO_TEST_SUITE_END()
