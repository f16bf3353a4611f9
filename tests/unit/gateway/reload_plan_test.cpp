// A reload changes each key alone and restarts only what that key belongs to: the bus of a
// device, the native source, the uplink; [buffer] waits for a restart; log_level restarts
// nothing. Every settings struct compares whole (operator== = default), so this table is
// where a key that takes no part would show.
#include "daemon/gateway/reload_plan.hpp"
#include "tests/unit/config/config_fixture.hpp"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

namespace {

using mb::daemon::plan_reload;
using mb::daemon::reload_plan;
using strings = std::vector<std::string>;

const std::string bus1 = "rtu:/dev/null";
const std::string bus2 = "rtu:/dev/zero";
const std::string lan = "native:127.0.0.1:1884:lan";

// Every reloadable key, each on a line of its own, so that a case can change one line.
const std::string base = R"([gateway]
id = "gw1"
log_level = "info"
profile_dirs = ["profiles"]

[uplink]
url = "mqtt://127.0.0.1:1883"
client_id = "up"
username = "u"
keepalive = "30s"
protocol = "auto"
topic_prefix = "meterbridge"
max_inflight = 32
commands = true
reconnect_max = "30s"

[buffer]
path = "buf/buffer.db"
max_size = "256MiB"
max_age = "30d"
flush_interval = "1s"
sync = "normal"

[[bus]]
name = "b1"
port = "/dev/null"
baud = 9600
parity = "none"
data_bits = 8
stop_bits = 1
timeout = "300ms"
rs485 = false
max_gap = 8
request_gap = "0ms"

[[bus]]
name = "b2"
port = "/dev/zero"

[[device]]
name = "d1"
bus = "b1"
unit = 1
profile = "meter-a"
interval = "10s"
only = ["voltage_l1", "energy_import_total"]
ct_ratio = 20
pt_ratio = 1
timeout = "500ms"
request_gap = "50ms"
max_power = "50kW"

[[device]]
name = "d2"
bus = "b2"
unit = 1
profile = "meter-b"

[[native]]
name = "lan"
url = "mqtt://127.0.0.1:1884"
client_id = "lan"
username = "n"
keepalive = "30s"
protocol = "auto"
subscribe = "m/#"
format = "acrel-json-v2"
unknown = "relay"
offline_after = "3m"
max_meters = 50000
forget_after = "7d"
max_power = "20kW"

[[native.meter]]
serial = "A1"
name = "m-a1"
max_power = "10kW"
)";

// The change: `from` (in base once) becomes `to`; what restarts: a source key, "uplink",
// "log_level", or "buffer:<key>" (not applied: waits for a restart).
struct reload_case {
    std::string from;
    std::string to;
    std::string restarts;
};

const std::vector<reload_case> cases = {
    {R"(log_level = "info")", R"(log_level = "debug")", "log_level"},
    {R"(id = "gw1")", R"(id = "gw2")", "uplink"},
    {R"(url = "mqtt://127.0.0.1:1883")", R"(url = "mqtt://127.0.0.1:1885")", "uplink"},
    {R"(client_id = "up")", R"(client_id = "up2")", "uplink"},
    {R"(username = "u")", R"(username = "u2")", "uplink"},
    {"keepalive = \"30s\"\nprotocol = \"auto\"\ntopic_prefix",
     "keepalive = \"60s\"\nprotocol = \"auto\"\ntopic_prefix", "uplink"},
    {"protocol = \"auto\"\ntopic_prefix", "protocol = \"5\"\ntopic_prefix", "uplink"},
    {R"(topic_prefix = "meterbridge")", R"(topic_prefix = "mb")", "uplink"},
    {"max_inflight = 32", "max_inflight = 8", "uplink"},
    {"commands = true", "commands = false", "uplink"},
    {R"(reconnect_max = "30s")", R"(reconnect_max = "10s")", "uplink"},
    {R"(path = "buf/buffer.db")", R"(path = "buf/other.db")", "buffer:path"},
    {R"(max_size = "256MiB")", R"(max_size = "1MiB")", "buffer:max_size"},
    {R"(max_age = "30d")", R"(max_age = "1d")", "buffer:max_age"},
    {R"(flush_interval = "1s")", R"(flush_interval = "2s")", "buffer:flush_interval"},
    {R"(sync = "normal")", R"(sync = "full")", "buffer:sync"},
    {"baud = 9600", "baud = 19200", bus1},
    {R"(parity = "none")", R"(parity = "even")", bus1},
    {"data_bits = 8", "data_bits = 7", bus1},
    {"stop_bits = 1", "stop_bits = 2", bus1},
    {R"(timeout = "300ms")", R"(timeout = "1s")", bus1},
    {"rs485 = false", "rs485 = true", bus1},
    {"max_gap = 8", "max_gap = 0", bus1},
    {R"(request_gap = "0ms")", R"(request_gap = "100ms")", bus1},
    {R"(timeout = "500ms")", R"(timeout = "2s")", bus1},
    {R"(request_gap = "50ms")", R"(request_gap = "20ms")", bus1},
    {R"(max_power = "50kW")", R"(max_power = "60kW")", bus1},
    {R"(name = "d1")", R"(name = "d9")", bus1},
    {"unit = 1\nprofile = \"meter-a\"", "unit = 2\nprofile = \"meter-a\"", bus1},
    {R"(profile = "meter-a")", R"(profile = "meter-b")", bus1},
    {R"(interval = "10s")", R"(interval = "5s")", bus1},
    {R"(only = ["voltage_l1", "energy_import_total"])", R"(only = ["voltage_l1"])", bus1},
    {"ct_ratio = 20", "ct_ratio = 40", bus1},
    {"pt_ratio = 1", "pt_ratio = 2", bus1},
    {"username = \"n\"", "username = \"n2\"", lan},
    {"keepalive = \"30s\"\nprotocol = \"auto\"\nsubscribe",
     "keepalive = \"60s\"\nprotocol = "
     "\"auto\"\nsubscribe",
     lan},
    {"protocol = \"auto\"\nsubscribe", "protocol = \"3.1.1\"\nsubscribe", lan},
    {R"(subscribe = "m/#")", R"(subscribe = "m/+/data")", lan},
    {R"(format = "acrel-json-v2")", R"(format = "acrel-shadow")", lan},
    {R"(offline_after = "3m")", R"(offline_after = "5m")", lan},
    {"max_meters = 50000", "max_meters = 10", lan},
    {R"(forget_after = "7d")", R"(forget_after = "1d")", lan},
    {R"(name = "m-a1")", R"(name = "m-b1")", lan},
    {R"(serial = "A1")", R"(serial = "A2")", lan},
    {R"(max_power = "20kW")", R"(max_power = "2MW")", lan},
    {R"(max_power = "10kW")", R"(max_power = "11kW")", lan},
};

std::string replaced(const std::string& text, const std::string& from, const std::string& to) {
    const auto at = text.find(from);
    BOOST_REQUIRE_MESSAGE(at != std::string::npos, "not in the base config: " << from);
    BOOST_REQUIRE_MESSAGE(text.find(from, at + 1) == std::string::npos, "twice: " << from);
    return text.substr(0, at) + to + text.substr(at + from.size());
}

// meter-a of the config fixture under another id (d2 uses it), with `scale` for voltage_l1.
std::string meter_b(const std::string& scale = "0.1") {
    auto text = replaced(mb::config::test::meter_a, "id = \"meter-a\"", "id = \"meter-b\"");
    return replaced(text, "scale = 0.1", "scale = " + scale);
}

struct two_profiles : mb::config::test::temp_dir {
    two_profiles() { write("profiles/meter-b.toml", meter_b()); }
};

} // namespace

BOOST_AUTO_TEST_SUITE(reload_plan_of_one_key)

BOOST_AUTO_TEST_CASE(the_same_file_again_changes_nothing) {
    const two_profiles dir;
    const auto plan = plan_reload(dir.ok(base), dir.ok(base + "# a comment\n"));
    BOOST_TEST(plan.changes_nothing());
    BOOST_TEST(plan.kept == (strings{bus1, bus2, lan}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(each_key_restarts_only_what_it_belongs_to) {
    const two_profiles dir;
    const auto running = dir.ok(base);
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.from << " -> " << c.to) {
            const auto plan = plan_reload(running, dir.ok(replaced(base, c.from, c.to)));
            BOOST_TEST(!plan.changes_nothing());
            const bool source = c.restarts == bus1 || c.restarts == bus2 || c.restarts == lan;
            BOOST_TEST(plan.restarted == (source ? strings{c.restarts} : strings{}),
                       boost::test_tools::per_element());
            BOOST_TEST(plan.started.empty());
            BOOST_TEST(plan.stopped.empty());
            BOOST_TEST(plan.uplink == (c.restarts == "uplink"));
            const auto buffer = c.restarts.starts_with("buffer:")
                                    ? strings{c.restarts.substr(std::string("buffer:").size())}
                                    : strings{};
            BOOST_TEST(plan.buffer == buffer, boost::test_tools::per_element());
            BOOST_TEST(plan.log_level == (c.restarts == "log_level"));
            BOOST_TEST(plan.kept.size() + plan.restarted.size() == 3U);
        }
    }
}

// A profile file edited on disk restarts the buses that use it, and no other.
BOOST_AUTO_TEST_CASE(an_edited_profile_restarts_its_bus_only) {
    const two_profiles dir;
    const auto running = dir.ok(base);
    dir.write("profiles/meter-b.toml", meter_b("0.01"));
    const auto plan = plan_reload(running, dir.ok(base));
    BOOST_TEST(plan.restarted == strings{bus2}, boost::test_tools::per_element());
    BOOST_TEST(!plan.uplink);
}

// A port respelled is another key: the old bus stops, the new one starts once it has.
BOOST_AUTO_TEST_CASE(a_bus_on_another_port_stops_the_old_and_starts_the_new) {
    const two_profiles dir;
    const auto plan = plan_reload(
        dir.ok(base), dir.ok(replaced(base, R"(port = "/dev/zero")", R"(port = "/dev/full")")));
    BOOST_TEST(plan.stopped == strings{bus2}, boost::test_tools::per_element());
    BOOST_TEST(plan.started == strings{"rtu:/dev/full"}, boost::test_tools::per_element());
    BOOST_TEST(plan.restarted.empty());
}

// The native source on the uplink's broker must not relay meterbridge's own topics: a new
// topic prefix restarts it with the new filter (and the uplink).
BOOST_AUTO_TEST_CASE(a_new_prefix_restarts_a_native_source_on_the_uplinks_broker) {
    const two_profiles dir;
    const auto shared =
        replaced(base, R"(url = "mqtt://127.0.0.1:1884")", R"(url = "mqtt://127.0.0.1:1883")");
    const auto plan = plan_reload(
        dir.ok(shared),
        dir.ok(replaced(shared, R"(topic_prefix = "meterbridge")", R"(topic_prefix = "mb")")));
    BOOST_TEST(plan.uplink);
    BOOST_TEST(plan.restarted == strings{"native:127.0.0.1:1883:lan"},
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
