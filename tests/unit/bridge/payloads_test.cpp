#include "bridge/payloads.hpp"

#include <boost/test/unit_test.hpp>
#include <map>
#include <string>

using namespace mb::bridge;
namespace model = mb::model;

BOOST_AUTO_TEST_SUITE(payloads)

BOOST_AUTO_TEST_CASE(reading_as_in_design_5_1) {
    model::reading r;
    r.device = "incomer";
    r.ts_ms = 1764095000123;
    r.seq = 1042;
    r.values = {{"voltage_l1", 230.1},
                {"current_l1", 5.03},
                {"active_power_total", 3456},
                {"energy_import_total", 12345.67}};
    BOOST_TEST(reading_payload(r) ==
               R"({"ts":1764095000123,"seq":1042,"values":{"voltage_l1":230.1,"current_l1":5.03,)"
               R"("active_power_total":3456,"energy_import_total":12345.67}})");
}

BOOST_AUTO_TEST_CASE(reading_keeps_read_order_and_may_be_empty) {
    model::reading r;
    r.ts_ms = 1;
    r.seq = 2;
    r.values = {{"voltage_l1", 1}, {"active_power_l1", -0.5}};
    BOOST_TEST(reading_payload(r) ==
               R"({"ts":1,"seq":2,"values":{"voltage_l1":1,"active_power_l1":-0.5}})");
    r.values.clear();
    BOOST_TEST(reading_payload(r) == R"({"ts":1,"seq":2,"values":{}})");
}

BOOST_AUTO_TEST_CASE(gateway_status_as_in_design_5_2) {
    // "oversize" (control messages larger than the broker takes, never sent) is beyond the
    // docs/topics.md example, and always there: 0 says the count is kept.
    BOOST_TEST(gateway_online_payload(1764095000000, "0.1.0", 12, 0, {}, {}) ==
               R"({"state":"online","ts":1764095000000,"version":"0.1.0","devices":12,)"
               R"("oversize":0,"buffer":{"readings":0,"oldest_ts":null,"dropped":0}})");
    model::buffer_stats b;
    b.readings = 7;
    b.oldest_ts = 1764095000000;
    b.dropped = 3;
    BOOST_TEST(gateway_online_payload(5, "0.1.0", 1, 2, {}, b) ==
               R"({"state":"online","ts":5,"version":"0.1.0","devices":1,"oversize":2,)"
               R"("buffer":{"readings":7,"oldest_ts":1764095000000,"dropped":3}})");
    // Beyond the docs/topics.md example, only when there is something to say: errors of a part,
    // drops per device, the buffer file's trouble, and where an unusable file went.
    b.dropped_by_device = {{"m1", 2}, {"m2", 1}};
    b.error = "disk full";
    b.moved_aside = "/var/lib/meterbridge/buffer.db.corrupt-20261130T031500Z";
    const std::map<std::string, std::string> errors{
        {"native[lan]",
         "the broker refused the subscription to \"meters/#\": Not authorized (0x87)"}};
    BOOST_TEST(gateway_online_payload(5, "0.1.0", 1, 0, errors, b) ==
               R"({"state":"online","ts":5,"version":"0.1.0","devices":1,"oversize":0,)"
               R"("errors":{"native[lan]":"the broker refused the subscription to \"meters/#\": )"
               R"j(Not authorized (0x87)"},)j"
               R"("buffer":{"readings":7,"oldest_ts":1764095000000,"dropped":3,)"
               R"("dropped_by_device":{"m1":2,"m2":1},"error":"disk full",)"
               R"("moved_aside":"/var/lib/meterbridge/buffer.db.corrupt-20261130T031500Z"}})");
    BOOST_TEST(gateway_will_payload() == R"({"state":"offline"})");
    BOOST_TEST(gateway_offline_payload(1764095000999) ==
               R"({"state":"offline","ts":1764095000999})");
}

BOOST_AUTO_TEST_CASE(meta_as_in_design_5_3) {
    model::device_info d;
    d.name = "incomer";
    d.profile = "acrel-adw300";
    d.vendor = "Acrel";
    d.model = "ADW300";
    d.source = "rtu";
    d.bus = "rs485-1";
    d.unit = 1;
    d.interval_ms = 10000;
    d.units = {{"voltage_l1", "V"}, {"energy_import_total", "kWh"}};
    BOOST_TEST(meta_payload(d) ==
               R"({"profile":"acrel-adw300","vendor":"Acrel","model":"ADW300","source":"rtu",)"
               R"("bus":"rs485-1","unit":1,"interval_ms":10000,)"
               R"("units":{"energy_import_total":"kWh","voltage_l1":"V"}})");
}

BOOST_AUTO_TEST_CASE(status_as_in_design_5_3) {
    model::device_status s;
    s.device = "incomer";
    s.state = model::device_state::online;
    s.ts_ms = 1764095000123;
    s.polls = 1520;
    s.errors = 3;
    // A native meter: no line.
    BOOST_TEST(status_payload(s) == R"({"state":"online","ts":1764095000123,"last_error":null,)"
                                    R"("polls":1520,"errors":3,"glitches":0})");
    // An RS485 meter: its line's counters, the round trip null until it first answers.
    s.line.emplace();
    s.line->timeouts = 9;
    s.line->skipped = 2;
    s.glitches = 4; // energy counter values the gateway dropped as glitches
    BOOST_TEST(status_payload(s) == R"({"state":"online","ts":1764095000123,"last_error":null,)"
                                    R"("polls":1520,"errors":3,"glitches":4,"timeouts":9,)"
                                    R"("skipped":2,"rtt_ms":null})");
    s.line->rtt_ms = 42;
    BOOST_TEST(status_payload(s).ends_with(R"("timeouts":9,"skipped":2,"rtt_ms":42})"));
    s.line.reset();
    s.state = model::device_state::error;
    s.last_error = "exception 2 \"illegal data address\"";
    BOOST_TEST(status_payload(s) ==
               R"({"state":"error","ts":1764095000123,)"
               R"("last_error":"exception 2 \"illegal data address\"","polls":1520,"errors":3,)"
               R"("glitches":4})");
    s.state = model::device_state::offline;
    BOOST_TEST(status_payload(s).starts_with(R"({"state":"offline",)"));
}

BOOST_AUTO_TEST_CASE(gap_as_in_design_6) {
    BOOST_TEST(gap_payload({"incomer", model::gap_reason::max_size, 1001, 1840, 10, 20}) ==
               R"({"reason":"max_size","from_seq":1001,"to_seq":1840,"from_ts":10,"to_ts":20})");
    BOOST_TEST(gap_payload({"incomer", model::gap_reason::refused, 7, 7, 30, 30}) ==
               R"({"reason":"refused","from_seq":7,"to_seq":7,"from_ts":30,"to_ts":30})");
    BOOST_TEST(gap_payload({"incomer", model::gap_reason::restart, 1, 64, 0, 0})
                   .starts_with(R"({"reason":"restart",)"));
}

BOOST_AUTO_TEST_CASE(a_counter_reset_event) {
    const model::counter_reset e{"incomer", 1764095000123,
                                 *model::measurement_of("energy_import_total"), 12345.67, 5.0};
    BOOST_TEST(event_payload(e) ==
               R"({"ts":1764095000123,"event":"counter_reset","value":"energy_import_total",)"
               R"("from":12345.67,"to":5})");
}

BOOST_AUTO_TEST_CASE(command_results_as_in_design_5_4) {
    BOOST_TEST(cmd_ok_payload(R"("c-17")") == R"({"id":"c-17","ok":true})");
    BOOST_TEST(cmd_error_payload(R"("c-18")", "do_9: not writable") ==
               R"({"id":"c-18","ok":false,"error":"do_9: not writable"})");
    BOOST_TEST(cmd_error_payload("", "malformed JSON") ==
               R"({"id":null,"ok":false,"error":"malformed JSON"})");
    BOOST_TEST(cmd_ok_payload("17") == R"({"id":17,"ok":true})");
    BOOST_TEST(cmd_values_payload(R"("c-19")", {{"energy_import_total", 12345.67}}) ==
               R"({"id":"c-19","ok":true,"values":{"energy_import_total":12345.67}})");
}

BOOST_AUTO_TEST_SUITE_END()
