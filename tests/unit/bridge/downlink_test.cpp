// The downlink on a real uv loop, without a broker: messages in, result payloads out.
#include "bridge/downlink.hpp"
#include "signed_command.hpp"
#include "tests/support/loop_test.hpp"

#include <boost/test/unit_test.hpp>
#include <fmt/format.h>
#include <optional>
#include <string>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using namespace mb::bridge;
namespace model = mb::model;

namespace {

const std::string cmd_topic = "mb/gw1/incomer/cmd";
const std::string result_topic = "mb/gw1/incomer/cmd/result";

model::device_info incomer() {
    model::device_info d;
    d.name = "incomer";
    d.units = {{"do_1", "1"}, {"voltage_l1", "V"}};
    d.writable = {{"do_1", {0.0, 1.0}}};
    return d;
}

incoming_message message(const std::string& topic, const std::string& payload,
                         bool retain = false) {
    incoming_message m;
    m.topic = topic;
    m.payload = payload;
    m.qos = 1;
    m.retain = retain;
    return m;
}

// A downlink for one device, recording what it would publish and what reached the handler.
struct rig {
    uv_loop_t& loop;
    model::device_info device = incomer();
    std::vector<std::pair<std::string, std::string>> replies; // topic, payload
    std::vector<std::string> calls;                           // "write incomer do_1=1"
    std::vector<command_handler::done_fn> waiting;            // answers the test gives later
    std::optional<model::command_outcome> answer;             // given at once when set
    std::unique_ptr<downlink> dl;

    explicit rig(uv_loop_t& l, const downlink_settings& s = {}, bool with_handler = true)
        : loop(l) {
        command_handler h;
        if (with_handler) {
            h.write = [this](const std::string& dev, const model::named_values& v,
                             command_handler::done_fn done) {
                std::string call = "write " + dev;
                for (const auto& [name, value] : v)
                    call += " " + name + "=" + std::to_string(static_cast<int>(value));
                calls.push_back(call);
                take(std::move(done));
            };
            h.read = [this](const std::string& dev, const std::vector<std::string>& names,
                            command_handler::done_fn done) {
                std::string call = "read " + dev;
                for (const auto& n : names)
                    call += " " + n;
                calls.push_back(call);
                take(std::move(done));
            };
        }
        downlink::callbacks cb;
        cb.reply = [this](const std::string& topic, const std::string& payload) {
            replies.emplace_back(topic, payload);
        };
        cb.device = [this](const std::string& name) -> const model::device_info* {
            return name == device.name ? &device : nullptr;
        };
        dl = std::make_unique<downlink>(loop, topics("mb", "gw1"), s, std::move(h), cb);
        BOOST_REQUIRE(!dl->start());
    }
    void take(command_handler::done_fn done) {
        if (answer) {
            done(*answer);
        } else {
            waiting.push_back(std::move(done));
        }
    }
    void send(const std::string& topic, const std::string& payload, bool retain = false) const {
        dl->handle(message(topic, payload, retain));
    }
    [[nodiscard]] std::vector<std::string> payloads_on(const std::string& topic) const {
        std::vector<std::string> out;
        for (const auto& [t, p] : replies)
            if (t == topic) out.push_back(p);
        return out;
    }
};

// Each test's loop; it is left with nothing open.
} // namespace

BOOST_FIXTURE_TEST_SUITE(downlink_commands, mbtest::on_loop)

BOOST_AUTO_TEST_CASE(an_accepted_set_reaches_the_handler_and_its_outcome_is_the_result) {
    rig r(loop);
    r.answer = model::command_outcome{true, {}, {}};
    r.send(cmd_topic, R"({"id":"c-17","set":{"do_1":1}})");
    BOOST_TEST(r.calls == std::vector<std::string>{"write incomer do_1=1"},
               boost::test_tools::per_element());
    BOOST_TEST(r.payloads_on(result_topic) ==
                   std::vector<std::string>{R"({"id":"c-17","ok":true})"},
               boost::test_tools::per_element());
    BOOST_TEST(r.dl->pending() == 0U);

    r.answer = model::command_outcome{true, {}, {{"voltage_l1", 230.1}}};
    r.send(cmd_topic, R"({"id":19,"read":["voltage_l1"]})");
    BOOST_TEST(r.payloads_on(result_topic).back() ==
               R"({"id":19,"ok":true,"values":{"voltage_l1":230.1}})");

    r.answer = model::command_outcome{false, "do_1: meter refused the write", {}};
    r.send(cmd_topic, R"({"id":"c-20","set":{"do_1":0}})");
    BOOST_TEST(r.payloads_on(result_topic).back() ==
               R"({"id":"c-20","ok":false,"error":"do_1: meter refused the write"})");
}

BOOST_AUTO_TEST_CASE(refusals_are_answered_and_never_reach_the_handler) {
    rig r(loop);
    r.send(cmd_topic, R"({"id":"c-18","set":{"voltage_l1":1}})");
    r.send(cmd_topic, R"({"id":"c-19","set":{"do_9":1}})");
    r.send(cmd_topic, R"({"id":"c-20","set":{"do_1":1})");
    r.send("mb/gw1/nope/cmd", R"({"id":5,"read":["voltage_l1"]})");
    BOOST_TEST(r.calls.empty());
    BOOST_TEST(r.payloads_on(result_topic) ==
                   (std::vector<std::string>{
                       R"({"id":"c-18","ok":false,"error":"voltage_l1: not writable"})",
                       R"({"id":"c-19","ok":false,"error":"do_9: unknown value"})",
                       R"({"id":null,"ok":false,"error":"malformed JSON"})"}),
               boost::test_tools::per_element());
    BOOST_TEST(
        r.payloads_on("mb/gw1/nope/cmd/result") ==
            std::vector<std::string>{R"({"id":5,"ok":false,"error":"nope: unknown device"})"},
        boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(an_empty_payload_clears_a_retained_command_and_is_not_answered) {
    rig r(loop);
    // How MQTT deletes a retained message; live subscribers get it with or without the
    // retain flag depending on the broker.
    r.send(cmd_topic, "");
    r.send(cmd_topic, "", true);
    r.send("mb/gw1/nope/cmd", "");
    BOOST_TEST(r.replies.empty());
    BOOST_TEST(r.calls.empty());
}

BOOST_AUTO_TEST_CASE(retained_commands_and_other_topics_are_ignored) {
    rig r(loop);
    r.answer = model::command_outcome{true, {}, {}};
    r.send(cmd_topic, R"({"id":"r-1","set":{"do_1":1}})", true);
    r.send("mb/gw1/incomer/data", R"({"id":"x","set":{"do_1":1}})");
    r.send("mb/gw2/incomer/cmd", R"({"id":"x","set":{"do_1":1}})");
    r.send("mb/gw1/incomer/cmd/result", R"({"id":"x","ok":true})");
    BOOST_TEST(r.replies.empty());
    BOOST_TEST(r.calls.empty());
}

BOOST_AUTO_TEST_CASE(pending_commands_are_limited_per_device) {
    downlink_settings s;
    s.max_pending_per_device = 2;
    rig r(loop, s);
    for (const char* id : {"a", "b", "c"})
        r.send(cmd_topic, fmt::format(R"({{"id":"{}","set":{{"do_1":1}}}})", id));
    BOOST_TEST(r.calls.size() == 2U);
    BOOST_TEST(r.dl->pending() == 2U);
    BOOST_TEST(r.payloads_on(result_topic) ==
                   std::vector<std::string>{
                       R"({"id":"c","ok":false,"error":"incomer: busy, 2 commands pending"})"},
               boost::test_tools::per_element());
    // One answered: room for the next.
    r.waiting.front()({true, {}, {}});
    BOOST_TEST(r.dl->pending() == 1U);
    r.send(cmd_topic, R"({"id":"d","set":{"do_1":0}})");
    BOOST_TEST(r.calls.size() == 3U);
}

BOOST_AUTO_TEST_CASE(a_command_without_answer_times_out_and_a_late_answer_is_ignored) {
    downlink_settings s;
    s.command_timeout = 200ms;
    rig r(loop, s);
    r.send(cmd_topic, R"({"id":"c-19","read":["voltage_l1"]})");
    BOOST_TEST(r.dl->pending() == 1U);
    uv_update_time(&loop);
    const auto sent = uv_now(&loop);
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return !r.replies.empty(); }, 2s));
    BOOST_TEST(uv_now(&loop) - sent >= 200U, "answered by the timeout, not before it");
    BOOST_TEST(
        r.payloads_on(result_topic) ==
            std::vector<std::string>{R"({"id":"c-19","ok":false,"error":"timeout after 200 ms"})"},
        boost::test_tools::per_element());
    BOOST_TEST(r.dl->pending() == 0U);
    r.waiting.front()({true, {}, {{"voltage_l1", 230.0}}});
    BOOST_TEST(r.replies.size() == 1U); // answered once, by the timeout
}

BOOST_AUTO_TEST_CASE(without_a_handler_commands_are_not_supported) {
    rig r(loop, {}, false);
    r.send(cmd_topic, R"({"id":1,"set":{"do_1":1}})");
    r.send(cmd_topic, R"({"id":2,"read":["do_1"]})");
    BOOST_TEST(
        r.payloads_on(result_topic) ==
            (std::vector<std::string>{R"({"id":1,"ok":false,"error":"set: not supported here"})",
                                      R"({"id":2,"ok":false,"error":"read: not supported here"})"}),
        boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(after_stop_or_destruction_answers_go_nowhere) {
    rig r(loop);
    r.send(cmd_topic, R"({"id":1,"set":{"do_1":1}})");
    r.send(cmd_topic, R"({"id":2,"set":{"do_1":0}})");
    BOOST_REQUIRE(r.waiting.size() == 2U);
    r.dl->stop();
    BOOST_TEST(r.dl->pending() == 0U);
    r.waiting[0]({true, {}, {}});
    r.send(cmd_topic, R"({"id":3,"set":{"do_1":1}})"); // no longer taken
    BOOST_TEST(r.calls.size() == 2U);
    r.dl.reset();
    r.waiting[1]({true, {}, {}}); // the downlink is gone: ignored, no crash
    BOOST_TEST(r.replies.empty());
}

BOOST_AUTO_TEST_CASE(with_a_command_key_only_signed_commands_reach_the_handler) {
    mbtest::set_clock clock;
    downlink_settings s;
    s.command_key = mbtest::command_key;
    s.clock = &clock;
    rig r(loop, s);
    r.answer = model::command_outcome{true, {}, {}};
    // what a meter on a shared broker could publish: refused, its id answered
    r.send(cmd_topic, R"({"id":"evil-1","set":{"do_1":1}})");
    BOOST_TEST(r.calls.empty());
    BOOST_TEST(r.payloads_on(result_topic) ==
                   std::vector<std::string>{
                       R"js({"id":"evil-1","ok":false,"error":"unsigned command refused: this )js"
                       R"js(gateway takes signed commands only (\"ts\" and \"sig\", see )js"
                       R"js(docs/security.md)"})js"},
               boost::test_tools::per_element());
    const auto body = fmt::format(R"({{"id":"c-1","ts":{},"set":{{"do_1":1}}}})", clock.now);
    const auto signed_payload = mbtest::sign(body, cmd_topic);
    r.send(cmd_topic, signed_payload);
    BOOST_TEST(r.calls == std::vector<std::string>{"write incomer do_1=1"},
               boost::test_tools::per_element());
    BOOST_TEST(r.payloads_on(result_topic).back() == R"({"id":"c-1","ok":true})");
    // the same message again is a replay
    r.send(cmd_topic, signed_payload);
    BOOST_TEST(r.calls.size() == 1U);
    BOOST_TEST(r.payloads_on(result_topic).back().find("id: already used") != std::string::npos);
    // a signed command is still checked against what the device allows
    r.send(cmd_topic,
           mbtest::sign(fmt::format(R"({{"id":"c-2","ts":{},"set":{{"do_1":7}}}})", clock.now),
                        cmd_topic));
    BOOST_TEST(r.calls.size() == 1U);
    BOOST_TEST(r.payloads_on(result_topic).back() ==
               R"({"id":"c-2","ok":false,"error":"do_1: 7 is out of range 0..1"})");
}

BOOST_AUTO_TEST_SUITE_END()
