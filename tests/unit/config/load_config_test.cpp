// load_config: defaults, and one case per class of error with its key and line:column.
#include "config_fixture.hpp"

#include <fstream>
#include <sstream>

using namespace mb::config;
using namespace mb::config::test;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(config_loading)

BOOST_AUTO_TEST_CASE(defaults) {
    temp_dir t;
    const auto c = t.ok(head + device);
    BOOST_TEST(c.gateway.id == "gw1");
    BOOST_TEST((c.gateway.level == log_level::info));
    BOOST_TEST(c.gateway.profile_dirs.size() == 1U);
    BOOST_TEST(c.gateway.profile_dirs[0] == t.path / "profiles");
    BOOST_TEST(c.uplink.url.host == "127.0.0.1");
    BOOST_TEST(c.uplink.url.port == 1883);
    BOOST_TEST(c.uplink.client_id == "meterbridge-gw1");
    BOOST_TEST(!c.uplink.username.has_value());
    BOOST_TEST(c.uplink.password.empty());
    BOOST_TEST(c.uplink.topic_prefix == "meterbridge");
    BOOST_TEST(c.uplink.keepalive.count() == 30'000);
    BOOST_TEST(c.uplink.max_inflight == 32);
    BOOST_TEST(c.uplink.commands);
    BOOST_TEST(c.uplink.reconnect_max.count() == 30'000);
    BOOST_TEST(c.buffer.path == "/var/lib/meterbridge/buffer.db");
    BOOST_TEST(c.buffer.max_size == 256ULL << 20U);
    BOOST_TEST(c.buffer.max_age.count() == 30LL * 86'400'000);
    BOOST_TEST(c.buffer.flush_interval.count() == 1000);
    BOOST_TEST((c.buffer.sync == sync_mode::normal));
    BOOST_REQUIRE(c.buses.size() == 1U);
    const auto& b = c.buses[0];
    BOOST_TEST(b.baud == 9600);
    BOOST_TEST(b.parity == 'N');
    BOOST_TEST(b.data_bits == 8);
    BOOST_TEST(b.stop_bits == 1);
    BOOST_TEST(b.timeout.count() == 300);
    BOOST_TEST(!b.rs485);
    BOOST_TEST(b.max_gap == 8);
    BOOST_TEST(b.request_gap.count() == 0);
    BOOST_REQUIRE(c.devices.size() == 1U);
    BOOST_TEST(c.devices[0].interval.count() == 10'000);
    BOOST_TEST(!c.devices[0].timeout.has_value());
    BOOST_TEST(!c.devices[0].request_gap.has_value());
    BOOST_TEST(c.devices[0].only.empty());
    BOOST_TEST(!c.devices[0].ct_ratio.has_value());
    BOOST_REQUIRE(c.profiles.contains("meter-a"));
    BOOST_TEST(c.profiles.at("meter-a").values.size() == 3U);
    BOOST_TEST(c.source == t.path / "meterbridge.toml");
}

BOOST_AUTO_TEST_CASE(every_key_set) {
    temp_dir t;
    t.write("pw", "s3cret\n");
    t.write("ca.pem", "ca");
    t.write("c.crt", "crt");
    t.write("c.key", "key");
    const auto c = t.ok(R"([gateway]
id = "gw1"
log_level = "debug"
profile_dirs = ["nowhere", "profiles"]
[uplink]
url = "mqtts://broker.example.com"
client_id = "cid"
username = "u"
password_file = "pw"
ca_file = "ca.pem"
cert_file = "c.crt"
key_file = "c.key"
topic_prefix = "site/a"
keepalive = "1m"
max_inflight = 7
commands = false
reconnect_max = "2m"
[buffer]
path = "buf.db"
max_size = "1GiB"
max_age = "24h"
flush_interval = "500ms"
sync = "full"
[[bus]]
name = "b1"
port = "/dev/ttyS1"
baud = 115200
parity = "even"
data_bits = 7
stop_bits = 2
timeout = "1s"
rs485 = true
max_gap = 0
[[device]]
name = "d1"
bus = "b1"
unit = 247
profile = "meter-a"
interval = "100ms"
ct_ratio = 40
pt_ratio = 1.5
only = ["voltage_*", "di_?"]
[[native]]
name = "lan"
url = "mqtt://[::1]:1884"
subscribe = "site/+/meter"
format = "json"
unknown = "ignore"
serial = "topic:1"
ts = "time"
[[native.meter]]
serial = "123"
name = "roof-pv"
[native.values]
voltage_l1 = "ua"
active_power_total = { path = "p", scale = 1000 }
)");
    BOOST_TEST((c.gateway.level == log_level::debug));
    BOOST_TEST(c.uplink.url.tls);
    BOOST_TEST(c.uplink.url.port == 8883);
    BOOST_TEST(c.uplink.password == "s3cret"); // one trailing newline stripped
    BOOST_TEST(*c.uplink.password_file == t.path / "pw");
    BOOST_TEST(c.uplink.client_id == "cid");
    BOOST_TEST(c.uplink.keepalive.count() == 60'000);
    BOOST_TEST(!c.uplink.commands);
    BOOST_TEST(c.uplink.reconnect_max.count() == 120'000);
    BOOST_TEST(c.buffer.path == t.path / "buf.db");
    BOOST_TEST(c.buffer.max_size == 1ULL << 30U);
    BOOST_TEST((c.buffer.sync == sync_mode::full));
    BOOST_TEST(c.buses[0].parity == 'E');
    BOOST_TEST(c.buses[0].baud == 115200);
    BOOST_TEST(c.devices[0].unit == 247);
    BOOST_TEST(*c.devices[0].pt_ratio == 1.5);
    BOOST_TEST(c.devices[0].only.size() == 2U);
    BOOST_REQUIRE(c.natives.size() == 1U);
    const auto& n = c.natives[0];
    BOOST_TEST(n.url.host == "::1");
    BOOST_TEST((n.unknown == unknown_policy::ignore));
    BOOST_TEST(n.serial_path == "topic:1");
    BOOST_TEST(n.meters.size() == 1U);
    BOOST_TEST(n.values.at("active_power_total").scale == 1000.0);
    BOOST_TEST(n.values.at("voltage_l1").path == "ua");
}

BOOST_AUTO_TEST_CASE(native_sources_between_other_tables) {
    // [[native]] tables anywhere in the file, [buffer] keys between them: all loaded as written.
    temp_dir t;
    const auto c = t.ok(head + device + R"([[native]]
name = "lan"
url = "mqtt://127.0.0.1:1884"
subscribe = "a/#"
format = "acrel-json-v2"
offline_after = "90s"
[buffer]
sync = "full"
  path = "buf.db"
max_age = "24h"
[[native]]
name = "site"
url = "mqtt://127.0.0.1:1885"
subscribe = "b/#"
format = "acrel-shadow"
)");
    BOOST_REQUIRE(c.natives.size() == 2U);
    BOOST_TEST(c.natives[0].offline_after.count() == 90'000);
    BOOST_TEST(c.natives[1].offline_after.count() == 180'000, "default 3 minutes");
    BOOST_TEST(c.natives[1].format == "acrel-shadow");
    BOOST_TEST(c.buffer.path == t.path / "buf.db");
    BOOST_TEST((c.buffer.sync == sync_mode::full));
}

BOOST_AUTO_TEST_CASE(a_broken_file_has_errors_not_warnings) {
    temp_dir t;
    const auto e = t.errors(head + device + "[buffer]\nsync = \"sometimes\"\n");
    BOOST_REQUIRE(e.size() == 1U);
    BOOST_TEST(e[0].key == "buffer.sync");
}

BOOST_AUTO_TEST_CASE(shipped_example_checks) {
    // etc/meterbridge.toml against the repository's profiles.
    std::ifstream in(std::string(MB_SOURCE_DIR) + "/etc/meterbridge.toml");
    std::stringstream text;
    text << in.rdbuf();
    std::string s = text.str();
    const std::string dirs =
        R"(profile_dirs = ["/etc/meterbridge/profiles", "/usr/share/meterbridge/profiles"])";
    const auto at = s.find(dirs);
    BOOST_REQUIRE(at != std::string::npos);
    s.replace(at, dirs.size(), "profile_dirs = [\"" MB_SOURCE_DIR "/etc/profiles\"]");
    temp_dir t;
    const auto c = t.ok(s);
    BOOST_TEST(c.gateway.id == "plant1-gw01");
    BOOST_TEST(c.uplink.url.tls);
    BOOST_TEST(c.devices.size() == 3U);
    // [[native]] is shown commented out (it names a site's broker); [buffer] is set, to the
    // defaults.
    BOOST_TEST(c.natives.empty());
    const buffer_config defaults;
    BOOST_TEST(c.buffer.path == defaults.path);
    BOOST_TEST(c.buffer.max_size == defaults.max_size);
    BOOST_TEST(c.buffer.max_age.count() == defaults.max_age.count());
    BOOST_TEST(c.buffer.flush_interval.count() == defaults.flush_interval.count());
    BOOST_TEST((c.buffer.sync == defaults.sync));
}

BOOST_AUTO_TEST_CASE(unknown_key_and_unknown_table) {
    temp_dir t;
    const auto e = t.errors(head + device + "colour = \"red\"\n[frob]\nx = 1\n");
    expect_error(e, "device[0].colour", 14, 1, "unknown key");
    expect_error(e, "frob", 15, 2, "unknown key");
    BOOST_TEST(e.size() == 2U);
}

BOOST_AUTO_TEST_CASE(wrong_type) {
    temp_dir t;
    const auto e = t.errors(head + R"([[device]]
name = "d1"
bus = "b1"
unit = "1"
profile = "meter-a"
interval = 10
)");
    expect_error(e, "device[0].unit", 12, 8, "a string where an integer");
    expect_error(e, "device[0].interval", 14, 12, "an integer where a duration");
}

BOOST_AUTO_TEST_CASE(missing_required_keys) {
    temp_dir t;
    auto e = t.errors("[gateway]\n[uplink]\n[[bus]]\n[[device]]\n[[native]]\n");
    expect_error(e, "gateway.id", 1, 1, "required");
    expect_error(e, "uplink.url", 2, 1, "required");
    expect_error(e, "bus[0].name", 3, 1, "required");
    expect_error(e, "bus[0].port", 3, 1, "required");
    for (const char* k : {"name", "bus", "unit", "profile"})
        expect_error(e, std::string("device[0].") + k, 4, 1, "required");
    for (const char* k : {"name", "url", "subscribe", "format"})
        expect_error(e, std::string("native[0].") + k, 5, 1, "required");
    e = t.errors("");
    expect_error(e, "gateway.id", 1, 1, "required");
    expect_error(e, "uplink.url", 1, 1, "required");
}

BOOST_AUTO_TEST_CASE(out_of_range_numbers) {
    temp_dir t;
    const auto e = t.errors(R"([gateway]
id = "gw1"
profile_dirs = ["profiles"]
[uplink]
url = "mqtt://127.0.0.1"
keepalive = "9s"
max_inflight = 0
reconnect_max = "500ms"
[[bus]]
name = "b1"
port = "/dev/null"
baud = 9601
data_bits = 9
stop_bits = 3
max_gap = 126
parity = "mark"
[[device]]
name = "d1"
bus = "b1"
unit = 300
profile = "meter-a"
interval = "99ms"
ct_ratio = 0
pt_ratio = -1.5
)");
    expect_error(e, "uplink.keepalive", 6, 13, "out of range (10s..65535s)");
    expect_error(e, "uplink.max_inflight", 7, 16, "1..65535");
    expect_error(e, "uplink.reconnect_max", 8, 17, "out of range (1s..1h)");
    expect_error(e, "bus[0].baud", 12, 8, "9600");
    expect_error(e, "bus[0].data_bits", 13, 13, "7..8");
    expect_error(e, "bus[0].stop_bits", 14, 13, "1..2");
    expect_error(e, "bus[0].max_gap", 15, 11, "0..125");
    expect_error(e, "bus[0].parity", 16, 10, "none | even | odd");
    expect_error(e, "device[0].unit", 20, 8, "300 is out of range (1..247)");
    expect_error(e, "device[0].interval", 22, 12, "at least 100ms");
    expect_error(e, "device[0].ct_ratio", 23, 12, "> 0");
    expect_error(e, "device[0].pt_ratio", 24, 12, "> 0");
    BOOST_TEST(e.size() == 12U);
}

BOOST_AUTO_TEST_CASE(request_gap_and_a_device_timeout) {
    temp_dir t;
    const auto c = t.ok(head + "request_gap = \"100ms\"\n" + device +
                        "timeout = \"1500ms\"\nrequest_gap = \"0ms\"\n");
    BOOST_TEST(c.buses.at(0).request_gap.count() == 100);
    BOOST_TEST(c.buses.at(0).timeout.count() == 300);
    BOOST_REQUIRE(c.devices.at(0).timeout.has_value());
    BOOST_TEST(c.devices[0].timeout->count() == 1500);
    BOOST_REQUIRE(c.devices[0].request_gap.has_value());
    BOOST_TEST(c.devices[0].request_gap->count() == 0); // 0 is a value: none for this meter

    const auto e = t.errors(head + "request_gap = \"6s\"\n" + device +
                            "timeout = \"5ms\"\nrequest_gap = \"-20ms\"\n" +
                            "[[device]]\nname = \"d2\"\nbus = \"b1\"\nunit = 2\n"
                            "profile = \"meter-a\"\ntimeout = \"2m\"\nrequest_gap = 50\n");
    expect_error(e, "bus[0].request_gap", 9, 15, "\"6s\" is out of range (0ms..5s)");
    expect_error(e, "device[0].timeout", 15, 11, "\"5ms\" is out of range (10ms..1m)");
    expect_error(e, "device[0].request_gap", 16, 15, "must start with a whole number");
    expect_error(e, "device[1].timeout", 22, 11, "\"2m\" is out of range (10ms..1m)");
    expect_error(e, "device[1].request_gap", 23, 15, "a duration string");
    BOOST_TEST(e.size() == 5U, all(e));
}

BOOST_AUTO_TEST_CASE(max_power_of_a_device) {
    temp_dir t;
    const auto c = t.ok(head + device + "max_power = \"50kW\"\n");
    BOOST_REQUIRE(c.devices.at(0).max_power_w.has_value());
    BOOST_TEST(*c.devices[0].max_power_w == 50'000.0);
    BOOST_TEST(!t.ok(head + device).devices.at(0).max_power_w.has_value());

    const auto e = t.errors(head + device + "max_power = \"1.5kW\"\n" +
                            "[[device]]\nname = \"d2\"\nbus = \"b1\"\nunit = 2\n"
                            "profile = \"meter-a\"\nmax_power = \"0W\"\n" +
                            "[[device]]\nname = \"d3\"\nbus = \"b1\"\nunit = 3\n"
                            "profile = \"meter-a\"\nmax_power = 50000\n");
    expect_error(e, "device[0].max_power", 14, 13, "not a whole number");
    expect_error(e, "device[1].max_power", 20, 13, "out of range (more than 0 W)");
    expect_error(e, "device[2].max_power", 26, 13, "a power string");
    BOOST_TEST(e.size() == 3U, all(e));
}

BOOST_AUTO_TEST_CASE(names_must_match_the_pattern) {
    temp_dir t;
    const auto e = t.errors(R"([gateway]
id = "GW1"
profile_dirs = ["profiles"]
[uplink]
url = "mqtt://127.0.0.1"
[[bus]]
name = "-b"
port = "/dev/null"
[[device]]
name = "my meter"
bus = "-b"
unit = 1
profile = "meter-a"
[[native]]
name = "a_very_long_name_that_goes_on_and_on_past_the_sixty_four_characters_limit"
url = "mqtt://127.0.0.1"
subscribe = "x/#"
format = "acrel-json-v2"
[[native.meter]]
serial = "1"
name = "Roof"
)");
    expect_error(e, "gateway.id", 2, 6, "not a valid name");
    expect_error(e, "bus[0].name", 7, 8, "not a valid name");
    expect_error(e, "device[0].name", 10, 8, "not a valid name");
    expect_error(e, "native[0].name", 15, 8, "not a valid name");
    expect_error(e, "native[0].meter[0].name", 21, 8, "not a valid name");
}

BOOST_AUTO_TEST_CASE(duplicates) {
    temp_dir t;
    const auto e = t.errors(head + device + R"([[bus]]
name = "b1"
port = "/dev/ttyS2"
[[device]]
name = "d1"
bus = "b1"
unit = 2
profile = "meter-a"
[[native]]
name = "lan"
url = "mqtt://127.0.0.1"
subscribe = "x/#"
format = "acrel-json-v2"
[[native.meter]]
serial = "1"
name = "d1"
)");
    expect_error(e, "bus[1].name", 15, 8, "already used by bus[0]");
    expect_error(e, "device[1].name", 18, 8, "already used by device[0]");
    expect_error(e, "native[0].meter[0].name", 29, 8, "already used by device[0]");
}

BOOST_AUTO_TEST_CASE(duplicate_native_sources_and_serials) {
    temp_dir t;
    const auto e = t.errors(head + R"([[native]]
name = "lan"
url = "mqtt://127.0.0.1"
subscribe = "x/#"
format = "acrel-json-v2"
[[native.meter]]
serial = "7"
name = "m1"
[[native.meter]]
serial = "7"
name = "m2"
[[native]]
name = "lan"
url = "mqtt://127.0.0.1"
subscribe = "y/#"
format = "acrel-json-v2"
)");
    expect_error(e, "native[0].meter[1].serial", 18, 10, "already named by native[0].meter[0]");
    expect_error(e, "native[1].name", 21, 8, "already used by native[0]");
}

BOOST_AUTO_TEST_CASE(missing_bus_and_missing_profile) {
    temp_dir t;
    const auto e = t.errors(head + R"([[device]]
name = "d1"
bus = "b9"
unit = 1
profile = "no-such-meter"
)");
    expect_error(e, "device[0].bus", 11, 7, "no [[bus]] named \"b9\" (defined: b1)");
    expect_error(e, "device[0].profile", 13, 11, "no-such-meter.toml");
}

BOOST_AUTO_TEST_CASE(bad_urls) {
    temp_dir t;
    const auto e = t.errors(R"([gateway]
id = "gw1"
[uplink]
url = "http://broker:1883"
[[native]]
name = "lan"
url = "mqtt://127.0.0.1:99999"
subscribe = "a/#/b"
format = "acrel-json-v2"
)");
    expect_error(e, "uplink.url", 4, 7, "mqtt:// or mqtts://");
    expect_error(e, "native[0].url", 7, 7, "bad port");
    expect_error(e, "native[0].subscribe", 8, 13, "topic filter");
}

BOOST_AUTO_TEST_CASE(unreadable_files_and_cert_without_key) {
    temp_dir t;
    t.write("c.crt", "crt");
    t.write("k.key", "key");
    auto e = t.errors(R"([gateway]
id = "gw1"
[uplink]
url = "mqtts://127.0.0.1"
password_file = "missing.pw"
ca_file = "profiles"
cert_file = "c.crt"
)");
    expect_error(e, "uplink.password_file", 5, 17, "No such file");
    expect_error(e, "uplink.ca_file", 6, 11, "is a directory");
    expect_error(e, "uplink.cert_file", 7, 13, "without key_file");
    e = t.errors("[gateway]\nid = \"gw1\"\n[uplink]\nurl = \"mqtts://h\"\nkey_file = \"k.key\"\n");
    expect_error(e, "uplink.key_file", 5, 12, "without cert_file");
}

BOOST_AUTO_TEST_CASE(bad_words) {
    temp_dir t;
    const auto e = t.errors(R"([gateway]
id = "gw1"
log_level = "verbose"
[uplink]
url = "mqtt://h"
[buffer]
sync = "off"
max_age = "10"
max_size = "64KB"
[[native]]
name = "lan"
url = "mqtt://h"
subscribe = "x/#"
format = "acrel-xml"
unknown = "drop"
)");
    expect_error(e, "gateway.log_level", 3, 13, "error | warn | info | debug");
    expect_error(e, "buffer.sync", 7, 8, "normal | full");
    expect_error(e, "buffer.max_age", 8, 11, "no unit");
    expect_error(e, "buffer.max_size", 9, 12, "KiB");
    expect_error(e, "native[0].format", 14, 10, "acrel-json-v2 | acrel-shadow | json");
    expect_error(e, "native[0].unknown", 15, 11, "relay | ignore");
}

BOOST_AUTO_TEST_CASE(only_globs_must_match_a_value) {
    temp_dir t;
    const auto e = t.errors(head + device + "only = [\"voltage_*\", \"thd_*\"]\n");
    expect_error(e, "device[0].only[1]", 14, 22, "matches no value of profile \"meter-a\"");
    BOOST_TEST(e.size() == 1U);
}

BOOST_AUTO_TEST_CASE(static_interval_needs_static_values) {
    temp_dir t;
    // meter-a marks no value static: a refresh period would refresh nothing
    const auto e = t.errors(head + device + "static_interval = \"5m\"\n");
    expect_error(e, "device[0].static_interval", 14, 19, "profile \"meter-a\" marks no value");
    BOOST_TEST(e.size() == 1U);
    t.write("profiles/meter-a.toml", std::string(meter_a) + "[[value]]\nname = \"ct_ratio\"\n"
                                                            "address = 0x40\ntype = \"u16\"\n"
                                                            "static = true\n");
    const auto c = t.ok(head + device + "static_interval = \"5m\"\n");
    BOOST_TEST(c.devices[0].static_interval.count() == 300'000);
    BOOST_TEST(t.ok(head + device).devices[0].static_interval.count() == 600'000);
    expect_error(t.errors(head + device + "static_interval = \"10ms\"\n"),
                 "device[0].static_interval", 14, 19, "");
}

BOOST_AUTO_TEST_CASE(json_format_fields) {
    temp_dir t;
    auto e = t.errors(head + R"([[native]]
name = "a"
url = "mqtt://h"
subscribe = "x/#"
format = "json"
ts = "a..b"
[native.values]
voltage_l9 = "ua"
current_l1 = { path = "i", scale = 0, extra = 1 }
)");
    expect_error(e, "native[0].serial", 9, 1, "required");
    expect_error(e, "native[0].ts", 14, 6, "not a field path");
    expect_error(e, "native[0].values.voltage_l9", 16, 1, "not a measurement name");
    expect_error(e, "native[0].values.current_l1.scale", 17, 36, "not a usable scale");
    expect_error(e, "native[0].values.current_l1.extra", 17, 39, "unknown key");
    e = t.errors(head + R"([[native]]
name = "a"
url = "mqtt://h"
subscribe = "x/#"
format = "acrel-json-v2"
serial = "sn"
)");
    expect_error(e, "native[0].serial", 14, 10, "only allowed with format = \"json\"");
}

BOOST_AUTO_TEST_CASE(every_error_not_just_the_first) {
    temp_dir t;
    const auto e = t.errors(R"([gateway]
id = "gw1"
profile_dirs = ["profiles"]
typo = 1
[uplink]
url = "ftp://h"
[[bus]]
name = "b1"
port = "/dev/null"
baud = 1
[[device]]
name = "d1"
bus = "b1"
unit = 0
profile = "meter-a"
interval = "1.5s"
)");
    BOOST_REQUIRE(e.size() == 5U);
    // In file order, each with its own position.
    BOOST_TEST(e[0].key == "gateway.typo");
    BOOST_TEST(e[1].key == "uplink.url");
    BOOST_TEST(e[2].key == "bus[0].baud");
    BOOST_TEST(e[3].key == "device[0].unit");
    BOOST_TEST(e[4].key == "device[0].interval");
    BOOST_TEST(
        e[4].to_string() ==
        (t.path / "meterbridge.toml").string() +
            ":16:12: device[0].interval: \"1.5s\" is not a whole number (a whole number "
            "followed by ms, s, m, h or d, e.g. \"500ms\", \"10s\", \"5m\", \"24h\", \"30d\")");
}

BOOST_AUTO_TEST_CASE(syntax_error_and_missing_file) {
    temp_dir t;
    auto e = t.errors("[gateway]\nid = \"gw1\n");
    BOOST_REQUIRE(e.size() == 1U);
    BOOST_TEST(e[0].line == 2);
    BOOST_TEST(e[0].message.find("TOML syntax error") != std::string::npos);
    auto r = load_config(t.path / "nope.toml");
    BOOST_REQUIRE(std::holds_alternative<std::vector<config_error>>(r));
    const auto& m = std::get<std::vector<config_error>>(r);
    BOOST_REQUIRE(m.size() == 1U);
    BOOST_TEST(m[0].to_string() == (t.path / "nope.toml").string() +
                                       ": cannot read the file: No such file or directory");
}

BOOST_AUTO_TEST_CASE(profile_dirs_in_order_first_wins) {
    temp_dir t;
    // An override in "local" hides profiles/meter-a.toml; relative dirs start at the config.
    t.write("local/meter-a.toml", R"(id = "meter-a"
[[value]]
name = "frequency"
address = 1
)");
    const auto c = t.ok(R"([gateway]
id = "gw1"
profile_dirs = ["local", "profiles"]
[uplink]
url = "mqtt://h"
[[bus]]
name = "b1"
port = "/dev/null"
)" + device);
    BOOST_REQUIRE(c.profiles.contains("meter-a"));
    BOOST_TEST(c.profiles.at("meter-a").values.size() == 1U);
    BOOST_TEST(c.profiles.at("meter-a").values[0].name == "frequency");
}

BOOST_AUTO_TEST_CASE(profile_errors_are_located_in_the_profile) {
    temp_dir t;
    t.write("profiles/meter-b.toml",
            "id = \"meter-b\"\n[[value]]\nname = \"volts\"\naddress = 1\n");
    const auto e = t.errors(head + device + R"([[device]]
name = "d2"
bus = "b1"
unit = 2
profile = "meter-b"
[[device]]
name = "d3"
bus = "b1"
unit = 3
profile = "meter-b"
)");
    BOOST_REQUIRE(e.size() == 1U); // once, although two devices use it
    BOOST_TEST(e[0].file == t.path / "profiles/meter-b.toml");
    BOOST_TEST(e[0].key == "value[0].name");
    BOOST_TEST(e[0].line == 3);
    BOOST_TEST(e[0].column == 8);
}

BOOST_AUTO_TEST_SUITE_END()
