// Signed commands (docs/security.md): HMAC-SHA256 against RFC 4231's vectors, then what the
// verifier lets through and what it refuses, with a clock the test sets.
#include "bridge/command.hpp"
#include "bridge/command_verifier.hpp"
#include "bridge/hmac_sha256.hpp"
#include "signed_command.hpp"

#include <boost/test/unit_test.hpp>
#include <cctype>
#include <fmt/format.h>
#include <string>

using namespace mb::bridge;
namespace model = mb::model;

namespace {

using mbtest::command_key;
using mbtest::hex;
using mbtest::set_clock;

const std::string& key = command_key;
const std::string topic = "mb/gw1/incomer/cmd";
constexpr std::int64_t t0 = 1764095000000; // when the verifier is made (set_clock's start)

std::string sign(const std::string& body, const std::string& on_topic = topic,
                 const std::string& with_key = key) {
    return mbtest::sign(body, on_topic, with_key);
}

std::string body(const std::string& id, std::int64_t ts) {
    return fmt::format(R"({{"id":"{}","ts":{},"set":{{"do_1":1}}}})", id, ts);
}

} // namespace

BOOST_AUTO_TEST_SUITE(hmac)

BOOST_AUTO_TEST_CASE(rfc4231_vectors) {
    // Test case 2: a key shorter than the block.
    const auto two = hmac_sha256("Jefe", "what do ya want for nothing?");
    BOOST_REQUIRE(two.has_value());
    BOOST_TEST(hex(*two) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    // Test case 6: a key longer than the block (131 bytes of 0xaa).
    const auto six = hmac_sha256(std::string(131, '\xaa'),
                                 "Test Using Larger Than Block-Size Key - Hash Key First");
    BOOST_REQUIRE(six.has_value());
    BOOST_TEST(hex(*six) == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

BOOST_AUTO_TEST_CASE(hex_digits_either_case_and_nothing_else) {
    const std::string lower(64, 'a');
    const auto a = mac_from_hex(lower);
    const auto b = mac_from_hex(std::string(64, 'A'));
    BOOST_REQUIRE(a.has_value());
    BOOST_REQUIRE(b.has_value());
    BOOST_TEST(same_mac(*a, *b));
    BOOST_TEST((*a)[0] == 0xaa);
    BOOST_TEST(!mac_from_hex(std::string(63, 'a')).has_value());
    BOOST_TEST(!mac_from_hex(std::string(65, 'a')).has_value());
    BOOST_TEST(!mac_from_hex(std::string(63, 'a') + "g").has_value());
    auto c = *a;
    c[31] ^= 1U;
    BOOST_TEST(!same_mac(*a, c));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(signed_commands)

BOOST_AUTO_TEST_CASE(a_signed_command_passes_without_its_signature) {
    set_clock clock;
    command_verifier v(key, clock);
    const auto b = body("c-1", t0 + 10);
    const auto r = v.check(topic, sign(b));
    BOOST_TEST(r.error == "");
    BOOST_TEST(r.body == b);
    // and its ts is a key the parser then takes
    model::device_info d;
    d.units = {{"do_1", "1"}};
    d.writable = {{"do_1", {0.0, 1.0}}};
    const auto parsed = parse_command(r.body, d, signing::on);
    BOOST_TEST(parsed.error == "");
    BOOST_TEST(parsed.cmd.has_value());
    // upper-case digits are the same signature
    auto upper = sign(body("c-2", t0 + 10));
    for (auto i = upper.size() - 66; i < upper.size() - 2; ++i)
        upper[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(upper[i])));
    BOOST_TEST(v.check(topic, upper).error == "");
}

BOOST_AUTO_TEST_CASE(unsigned_and_misplaced_signatures_are_refused) {
    set_clock clock;
    command_verifier v(key, clock);
    const auto r = v.check(topic, R"({"id":"evil-1","set":{"do_1":1}})");
    BOOST_TEST(r.error == "unsigned command refused: this gateway takes signed commands only "
                          "(\"ts\" and \"sig\", see docs/security.md)");
    BOOST_TEST(r.body == "");
    const auto signed_payload = sign(body("c-1", t0));
    // the same signature, moved to the front
    const auto sig = signed_payload.substr(signed_payload.size() - 74, 73);
    const auto first = "{" + sig.substr(1) + "," + body("c-1", t0).substr(1);
    BOOST_TEST(v.check(topic, first).error ==
               "sig: must be the last member, written ,\"sig\":\"<64 hex digits>\"} with nothing "
               "after it");
    // a space after it
    BOOST_TEST(v.check(topic, signed_payload + " ").error.starts_with("sig: must be the last"));
    // 64 characters that are not hex digits
    auto bad = signed_payload;
    bad[bad.size() - 3] = 'z';
    BOOST_TEST(v.check(topic, bad).error == "sig: must be 64 hex digits");
}

BOOST_AUTO_TEST_CASE(a_changed_command_another_topic_or_key_does_not_match) {
    set_clock clock;
    command_verifier v(key, clock);
    const std::string mismatch = "sig: does not match (another key, or the command changed on its "
                                 "way)";
    auto changed = sign(body("c-1", t0));
    changed.replace(changed.find(R"("do_1":1)"), 8, R"("do_1":0)");
    BOOST_TEST(v.check(topic, changed).error == mismatch);
    // signed for another device: not valid on this one
    BOOST_TEST(v.check(topic, sign(body("c-2", t0), "mb/gw1/feeder/cmd")).error == mismatch);
    BOOST_TEST(v.check(topic, sign(body("c-3", t0), topic, key + "x")).error == mismatch);
    auto flipped = sign(body("c-4", t0));
    auto& digit = flipped[flipped.size() - 3];
    digit = digit == '0' ? '1' : '0';
    BOOST_TEST(v.check(topic, flipped).error == mismatch);
}

BOOST_AUTO_TEST_CASE(ts_must_be_there_and_within_five_minutes) {
    set_clock clock;
    command_verifier v(key, clock);
    BOOST_TEST(v.check(topic, sign(R"({"id":"a","set":{"do_1":1}})")).error ==
               "ts: missing or not an integer (a signed command carries its time, Unix "
               "milliseconds)");
    BOOST_TEST(v.check(topic, sign(R"({"id":"b","ts":"now","set":{"do_1":1}})"))
                   .error.starts_with("ts: missing or not an integer"));
    BOOST_TEST(v.check(topic, sign(R"({"ts":1764095000000,"set":{"do_1":1}})")).error ==
               "id: missing (a signed command needs an id, used once)");
    clock.now = t0 + 3'600'000;
    BOOST_TEST(v.check(topic, sign(body("c", clock.now - 301'000))).error ==
               "ts: 301 s behind the gateway's clock (at most 300 s either way)");
    BOOST_TEST(v.check(topic, sign(body("d", clock.now + 302'500))).error ==
               "ts: 302 s ahead of the gateway's clock (at most 300 s either way)");
    BOOST_TEST(v.check(topic, sign(body("e", -5))).error ==
               "ts: -5 is not a time in Unix milliseconds");
    BOOST_TEST(v.check(topic, sign(body("f", clock.now - 300'000))).error == "");
    BOOST_TEST(v.check(topic, sign(body("g", clock.now + 300'000))).error == "");
}

BOOST_AUTO_TEST_CASE(what_was_signed_before_the_verifier_existed_is_refused) {
    // It may have been used on the verifier's predecessor (before a restart): nobody remembers.
    set_clock clock;
    command_verifier v(key, clock);
    BOOST_TEST(v.check(topic, sign(body("c-1", t0 - 1500))).error ==
               "ts: signed 1500 ms before this gateway began taking commands, which cannot tell "
               "whether it was used before; sign it again");
}

BOOST_AUTO_TEST_CASE(an_id_is_used_once_per_topic_within_the_window) {
    set_clock clock;
    command_verifier v(key, clock);
    const auto payload = sign(body("c-1", t0 + 1000));
    BOOST_TEST(v.check(topic, payload).error == "");
    clock.now += 60'000;
    BOOST_TEST(v.check(topic, payload).error ==
               "id: already used on this topic within the last 300 s (a replay, or an id given "
               "twice)");
    // a new signature does not make the id new
    BOOST_TEST(v.check(topic, sign(body("c-1", clock.now))).error.starts_with("id: already used"));
    // the same id on another device is another command
    const std::string feeder = "mb/gw1/feeder/cmd";
    BOOST_TEST(v.check(feeder, sign(body("c-1", clock.now), feeder)).error == "");
    // numbers and strings are different ids
    BOOST_TEST(v.check(topic, sign(R"({"id":1,"ts":1764095061000,"set":{"do_1":1}})")).error == "");
    BOOST_TEST(v.check(topic, sign(R"({"id":"1","ts":1764095061000,"set":{"do_1":1}})")).error ==
               "");
    // once the window is over the old payload fails on its time, and the id may come again
    clock.now = t0 + 1000 + 300'001;
    BOOST_TEST(v.check(topic, payload).error.starts_with("ts: 300 s behind"));
    BOOST_TEST(v.check(topic, sign(body("c-1", clock.now))).error == "");
}

BOOST_AUTO_TEST_CASE(at_most_so_many_ids_are_remembered) {
    set_clock clock;
    command_verifier v(key, clock);
    for (std::size_t i = 0; i < command_verifier::max_remembered; ++i)
        BOOST_REQUIRE(v.check(topic, sign(body(fmt::format("c-{}", i), t0))).error.empty());
    BOOST_TEST(v.check(topic, sign(body("one-more", t0))).error ==
               "too many signed commands within 300 s (at most 4096); try again later");
    clock.now = t0 + 300'001; // the first ones age out
    BOOST_TEST(v.check(topic, sign(body("one-more", clock.now))).error == "");
}

BOOST_AUTO_TEST_CASE(without_signing_ts_and_sig_are_refused_by_the_parser) {
    model::device_info d;
    d.units = {{"do_1", "1"}};
    d.writable = {{"do_1", {0.0, 1.0}}};
    const auto r = parse_command(sign(body("c-1", t0)), d);
    BOOST_TEST(!r.cmd.has_value());
    BOOST_TEST(r.id_json == R"("c-1")");
    BOOST_TEST(r.error == "sig: this gateway takes unsigned commands ([uplink] command_key_file "
                          "is not set), so it cannot check a signature; send the command without "
                          "ts and sig");
    BOOST_TEST(parse_command(R"({"id":"x","set":{"do_1":1},"ts":1764095000000})", d)
                   .error.starts_with("ts: this gateway takes unsigned commands"));
    BOOST_TEST(parse_command(R"({"id":"x","set":{"do_1":1},"nonce":1})", d, signing::on).error ==
               "nonce: unknown key (expected id and one of set, read)");
}

BOOST_AUTO_TEST_SUITE_END()
