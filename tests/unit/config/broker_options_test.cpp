// The connection keys [uplink] and [[native]] share (docs/configuration.md): protocol, and the
// uplink's options on a [[native]], read by one function; client ids clashing on one broker.
#include "config_fixture.hpp"

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <string>

using namespace mb::config;
using namespace mb::config::test;

BOOST_AUTO_TEST_SUITE(broker_options)

BOOST_AUTO_TEST_CASE(protocol_defaults_to_auto_and_takes_5_and_3_1_1) {
    temp_dir t;
    auto c = t.ok(head + native("lan", "mqtt://10.0.0.2"));
    BOOST_TEST((c.uplink.protocol == mqtt_protocol::automatic));
    BOOST_TEST((c.natives[0].protocol == mqtt_protocol::automatic));
    c = t.ok(R"([gateway]
id = "gw1"
[uplink]
url = "mqtt://127.0.0.1"
protocol = "3.1.1"
)" + native("lan", "mqtt://10.0.0.2", "protocol = \"5\"\n"));
    BOOST_TEST((c.uplink.protocol == mqtt_protocol::v311));
    BOOST_TEST((c.natives[0].protocol == mqtt_protocol::v5));
}

BOOST_AUTO_TEST_CASE(a_bad_protocol_says_what_is_accepted) {
    temp_dir t;
    const auto e = t.errors(R"([gateway]
id = "gw1"
[uplink]
url = "mqtt://127.0.0.1"
protocol = "3.1"
)" + native("lan", "mqtt://10.0.0.2", "protocol = 5\n"));
    expect_error(e, "uplink.protocol", 5, 12, R"("3.1" is not accepted (one of auto | 5 | 3.1.1))");
    expect_error(
        e, "native[0].protocol", 11, 12,
        R"(an integer where a string is expected (one of "auto" | "5" | "3.1.1", quoted))");
}

BOOST_AUTO_TEST_CASE(a_native_takes_the_uplinks_connection_options) {
    temp_dir t;
    t.write("pw", "n4tive\n");
    t.write("ca.crt", "ca");
    t.write("c.crt", "crt");
    t.write("c.key", "key");
    const auto c = t.ok(head + native("lan", "mqtts://meters.local", R"(client_id = "gw1-meters"
username = "relay"
password_file = "pw"
ca_file = "ca.crt"
cert_file = "c.crt"
key_file = "c.key"
keepalive = "45s"
protocol = "3.1.1"
)") + native("wifi", "mqtt://127.0.0.1"));
    const auto& n = c.natives[0];
    BOOST_TEST(n.url.tls);
    BOOST_TEST(n.client_id == "gw1-meters");
    BOOST_TEST(*n.username == "relay");
    BOOST_TEST(n.password == "n4tive");
    BOOST_TEST(*n.ca_file == t.path / "ca.crt");
    BOOST_TEST(*n.cert_file == t.path / "c.crt");
    BOOST_TEST(*n.key_file == t.path / "c.key");
    BOOST_TEST(n.keepalive.count() == 45'000);
    BOOST_TEST((n.protocol == mqtt_protocol::v311));
    // Defaults: its own session, also on the uplink's broker.
    const auto& w = c.natives[1];
    BOOST_TEST(w.client_id == "meterbridge-gw1-wifi");
    BOOST_TEST(!w.username.has_value());
    BOOST_TEST(w.keepalive.count() == 30'000);
    BOOST_TEST(c.uplink.client_id == "meterbridge-gw1");
}

BOOST_AUTO_TEST_CASE(native_option_errors_name_the_native) {
    temp_dir t;
    const auto e = t.errors(head + native("lan", "mqtt://10.0.0.2", R"(client_id = ""
password_file = "missing"
cert_file = "missing.crt"
keepalive = "5s"
colour = "red"
)"));
    expect_error(e, "native[0].client_id", 14, 13, R"(leave it out for "meterbridge-gw1-lan")");
    expect_error(e, "native[0].password_file", 15, 17, "No such file");
    expect_error(e, "native[0].keepalive", 17, 13);
    expect_error(e, "native[0].colour", 18, 1);
    BOOST_TEST(std::ranges::any_of(e, [](const config_error& x) {
        return x.key == "native[0].cert_file" &&
               x.message.find("without key_file") != std::string::npos;
    }));
}

BOOST_AUTO_TEST_CASE(client_ids_clashing_on_one_broker_are_refused_with_both_places) {
    temp_dir t;
    // Line 14: native[0] takes the uplink's default id on its broker; line 20's native[1]
    // repeats native[0]'s on the same broker (host case aside); native[2] is elsewhere.
    const auto e =
        t.errors(head + native("a", "mqtt://127.0.0.1:1883", "client_id = \"meterbridge-gw1\"\n") +
                 native("b", "mqtt://127.0.0.1", "client_id = \"meterbridge-gw1\"\n") +
                 native("c", "mqtt://10.0.0.9", "client_id = \"meterbridge-gw1\"\n"));
    const auto file = (t.path / "meterbridge.toml").string();
    expect_error(e, "native[0].client_id", 14, 13,
                 "\"meterbridge-gw1\" is also the client id of uplink (" + file +
                     ":4:1, its default) on the same broker 127.0.0.1:1883");
    expect_error(e, "native[1].client_id", 20, 13,
                 "\"meterbridge-gw1\" is also the client id of uplink (" + file + ":4:1");
    BOOST_TEST(std::ranges::none_of(
        e, [](const config_error& x) { return x.key == "native[2].client_id"; }));
}

BOOST_AUTO_TEST_CASE(two_natives_with_one_id_name_the_first_native) {
    temp_dir t;
    const auto e = t.errors(head + native("a", "mqtt://Meters.Local", "client_id = \"relay\"\n") +
                            native("b", "mqtt://meters.local", "client_id = \"relay\"\n"));
    const auto file = (t.path / "meterbridge.toml").string();
    expect_error(e, "native[1].client_id", 20, 13,
                 "\"relay\" is also the client id of native[0] (" + file +
                     ":14:13) on the same "
                     "broker meters.local:1883: the two would knock each other off");
}

BOOST_AUTO_TEST_SUITE_END()
