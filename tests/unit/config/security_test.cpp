// Who may command meters (docs/security.md), as far as the config can tell: [uplink]
// command_key_file, and a [[native]] on the uplink's broker that logs in anonymously or as the
// uplink does (the meters there can likely publish under the uplink's prefix).
#include "config_fixture.hpp"
#include "daemon/config/secret_warnings.hpp"

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <string>
#include <variant>

using namespace mb::config;
using namespace mb::config::test;

namespace {

const std::string key_text = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

// [gateway] and an [uplink] on 127.0.0.1:1883: lines 1..5, then `uplink_extra`.
std::string uplink(const std::string& uplink_extra = "") {
    return "[gateway]\nid = \"gw1\"\nprofile_dirs = [\"profiles\"]\n[uplink]\n"
           "url = \"mqtt://127.0.0.1:1883\"\n" +
           uplink_extra;
}

} // namespace

BOOST_AUTO_TEST_SUITE(command_key_file)

BOOST_AUTO_TEST_CASE(the_key_is_the_file_without_its_line_breaks) {
    temp_dir t;
    t.write("command.key", key_text + "\r\n\n");
    const auto c = t.ok(uplink("command_key_file = \"command.key\"\n"));
    BOOST_TEST(c.uplink.command_key == key_text);
    BOOST_TEST(*c.uplink.command_key_file == t.path / "command.key");
    BOOST_TEST(c.warnings.empty(), all(c.warnings));
    // unset: no key, unsigned commands as before
    BOOST_TEST(!t.ok(uplink()).uplink.command_key_file.has_value());
}

BOOST_AUTO_TEST_CASE(a_missing_short_or_huge_key_is_an_error_at_the_key) {
    temp_dir t;
    auto e = t.errors(uplink("command_key_file = \"none.key\"\n"));
    expect_error(e, "uplink.command_key_file", 6, 20, "No such file or directory");
    t.write("short.key", "secret\n");
    e = t.errors(uplink("command_key_file = \"short.key\"\n"));
    const auto path = (t.path / "short.key").string();
    expect_error(e, "uplink.command_key_file", 6, 20,
                 "the key in \"" + path +
                     "\" is 6 bytes (32..1024; make one with `openssl rand "
                     "-hex 32 > " +
                     path + "`)");
    t.write("huge.key", std::string(1025, 'k'));
    e = t.errors(uplink("command_key_file = \"huge.key\"\n"));
    expect_error(e, "uplink.command_key_file", 6, 20, "is 1025 bytes (32..1024");
}

BOOST_AUTO_TEST_CASE(a_key_with_commands_off_does_nothing_and_says_so) {
    temp_dir t;
    t.write("command.key", key_text);
    const auto c = t.ok(uplink("commands = false\ncommand_key_file = \"command.key\"\n"));
    BOOST_REQUIRE_MESSAGE(c.warnings.size() == 1U, all(c.warnings));
    BOOST_TEST(c.warnings[0].key == "uplink.command_key_file");
    BOOST_TEST(c.warnings[0].line == 7);
    BOOST_TEST(c.warnings[0].message ==
               "commands = false takes no command, signed or not, so the key is not used (remove "
               "it, or set commands = true)");
}

BOOST_AUTO_TEST_CASE(secret_files_others_can_read_are_warned_about_natives_too) {
    temp_dir t;
    const auto key = t.write("command.key", key_text);
    const auto lan = t.write("lan.password", "pw\n");
    const auto own = t.write("own.password", "pw\n");
    std::filesystem::permissions(key, std::filesystem::perms(0644));
    std::filesystem::permissions(lan, std::filesystem::perms(0604));
    std::filesystem::permissions(own, std::filesystem::perms(0600));
    const auto c = t.ok(uplink("command_key_file = \"command.key\"\n") +
                        native("lan", "mqtt://10.0.0.2", "password_file = \"lan.password\"\n") +
                        native("own", "mqtt://10.0.0.3", "password_file = \"own.password\"\n"));
    const auto w = secret_warnings(c);
    BOOST_REQUIRE_MESSAGE(w.size() == 2U, all(w));
    BOOST_TEST(w[0].to_string() == c.source.string() +
                                       ": uplink.command_key_file: " + key.string() +
                                       " is readable by others (mode 0644); chmod 600 it");
    BOOST_TEST(w[1].to_string() == c.source.string() +
                                       ": native[0].password_file: " + lan.string() +
                                       " is readable by others (mode 0604); chmod 600 it");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(shared_broker)

BOOST_AUTO_TEST_CASE(a_native_on_the_uplinks_broker_anonymously_or_as_the_uplink_is_warned_about) {
    temp_dir t;
    t.write("gw.password", "gw-pw\n");
    t.write("meters.password", "m-pw\n");
    // native[0] at line 6, its url at 8:7; native[1] at 12 (url 14:7); native[2] url 22:7
    const auto c = t.ok(uplink("username = \"gw\"\npassword_file = \"gw.password\"\n") +
                        native("anon", "mqtt://127.0.0.01") +
                        native("same", "mqtt://127.0.0.1:1883",
                               "username = \"gw\"\npassword_file = \"gw.password\"\n") +
                        native("own", "mqtt://127.0.0.1",
                               "username = \"meters\"\npassword_file = \"meters.password\"\n") +
                        native("elsewhere", "mqtt://127.0.0.1:1884"));
    const auto file = c.source.string();
    BOOST_REQUIRE_MESSAGE(c.warnings.size() == 2U, all(c.warnings));
    BOOST_TEST(c.warnings[0].to_string() ==
               file + ":10:7: native[0].url: the uplink's broker (127.0.0.1:1883), without "
                      "logging in: unless the broker's ACLs deny it, the meters publishing there "
                      "may also publish under \"meterbridge/\", so command the RS485 meters, "
                      "overwrite retained meta and status, and fake readings (give the meters "
                      "and the gateway users of their own, and deny the meters "
                      "\"meterbridge/#\": docs/security.md)");
    BOOST_TEST(c.warnings[1].key == "native[1].url");
    BOOST_TEST(c.warnings[1].line == 15);
    BOOST_TEST(c.warnings[1].message.starts_with(
        "the uplink's broker (127.0.0.1:1883), logging in as the uplink does (username \"gw\")"));
}

BOOST_AUTO_TEST_CASE(an_anonymous_uplink_and_native_on_one_named_broker) {
    temp_dir t;
    std::vector<std::string> asked;
    load_options options;
    options.resolve = [&](std::string_view host, int port) {
        asked.emplace_back(host);
        return std::vector<std::string>{"127.0.0.1:" + std::to_string(port)};
    };
    const auto file =
        t.write("meterbridge.toml",
                "[gateway]\nid = \"gw1\"\n[uplink]\nurl = \"mqtt://Broker.Lan\"\n"
                "topic_prefix = \"site/a\"\n" +
                    native("lan", "mqtt://broker.lan") + native("local", "mqtt://127.0.0.1:1883"));
    // without resolving: only the spelling that is the same
    auto loaded = load_config(file);
    BOOST_REQUIRE(std::holds_alternative<config>(loaded));
    auto w = std::get<config>(loaded).warnings;
    BOOST_REQUIRE_MESSAGE(w.size() == 1U, all(w));
    BOOST_TEST(w[0].key == "native[0].url");
    BOOST_TEST(w[0].message.find("(broker.lan:1883)") != std::string::npos, w[0].message);
    BOOST_TEST(w[0].message.find("under \"site/a/\"") != std::string::npos, w[0].message);
    // check resolves: the name and the address are one broker
    loaded = load_config(file, options);
    BOOST_REQUIRE(std::holds_alternative<config>(loaded));
    w = std::get<config>(loaded).warnings;
    BOOST_REQUIRE_MESSAGE(w.size() == 2U, all(w));
    BOOST_TEST(w[1].key == "native[1].url");
    BOOST_TEST(w[1].message.find("(127.0.0.1:1883)") != std::string::npos, w[1].message);
    BOOST_TEST(asked == std::vector<std::string>{"Broker.Lan"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
