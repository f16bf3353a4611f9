// The generic `json` format (docs/configuration.md): the field map, serial from a path or a topic
// level, ts as Unix s / Unix ms / ISO 8601 (never a guessed zone), scale, top-level arrays, errors.
#include "drivers/native/decoder.hpp"
#include "drivers/native/json_map_decoder.hpp"
#include "model/measurements.hpp"
#include "tests/unit/native/decoder_helpers.hpp"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

using namespace mb::drivers::native;
using namespace mb::drivers::native::testing;

namespace {

format_settings site_map(std::string serial = "sn", std::string ts = "time") {
    format_settings s;
    s.format = "json";
    s.serial_path = std::move(serial);
    s.ts_path = std::move(ts);
    s.values = {{"voltage_l1", {"ua", 1.0}},
                {"active_power_total", {"p", 1000.0}},
                {"current_l1", {"phases.0.i", 1.0}},
                {"energy_import_total", {"e.import", 0.001}}};
    return s;
}

decode_result decode(std::string_view payload, const format_settings& s = site_map(),
                     std::string_view topic = "site/m17/meter") {
    // A value's name points into its decoder's field map: the decoder must outlive the result.
    static std::vector<std::unique_ptr<decoder>> decoders;
    decoders.push_back(make_decoder(s));
    BOOST_TEST_REQUIRE(decoders.back() != nullptr);
    return decoders.back()->decode(topic, payload);
}

std::optional<std::int64_t> iso(std::string_view text, std::string& problem) {
    problem.clear();
    return parse_iso8601_ms(text, problem);
}

} // namespace

BOOST_AUTO_TEST_SUITE(json_map)

BOOST_AUTO_TEST_CASE(one_object_with_every_kind_of_field) {
    const auto r =
        decode(R"({"sn":"m-17","time":1738468200,"ua":"230.1","p":1.5,"phases":[{"i":5.03}],)"
               R"("e":{"import":12345670},"other":1})");
    BOOST_TEST(r.error == "");
    BOOST_TEST(r.skipped == 0U);
    BOOST_TEST_REQUIRE(r.readings.size() == 1U);
    const auto& m = r.readings[0];
    BOOST_TEST(m.serial == "m-17");
    BOOST_TEST(m.ts_ms == 1738468200000);
    BOOST_TEST(!m.state.has_value());
    BOOST_TEST(!m.iccid.has_value());
    BOOST_TEST(m.values.size() == 4U);
    for (const auto& v : m.values)
        BOOST_TEST(v.unit.empty(), v.name); // the vocabulary's unit, scale already applied
    BOOST_TEST(value_of(m, "voltage_l1")->value == 230.1);
    BOOST_TEST(value_of(m, "active_power_total")->value == 1500.0);
    BOOST_TEST(value_of(m, "current_l1")->value == 5.03);
    BOOST_TEST(value_of(m, "energy_import_total")->value == 12345.67,
               boost::test_tools::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(units_are_the_configured_names) {
    const auto units = make_decoder(site_map())->units();
    const std::map<std::string, std::string> want = {{"active_power_total", "W"},
                                                     {"current_l1", "A"},
                                                     {"energy_import_total", "kWh"},
                                                     {"voltage_l1", "V"}};
    BOOST_TEST(units == want);
}

BOOST_AUTO_TEST_CASE(serial_from_the_topic) {
    auto s = site_map("topic:1");
    const auto r = decode(R"({"time":1,"ua":1})", s, "site/m17/meter");
    BOOST_TEST(r.error == "");
    BOOST_TEST_REQUIRE(r.readings.size() == 1U);
    BOOST_TEST(r.readings[0].serial == "m17");
    BOOST_TEST(decode(R"({"ua":1})", site_map("topic:0"), "site/m17/meter").readings.at(0).serial ==
               "site");
    BOOST_TEST(decode(R"({"ua":1})", site_map("topic:2"), "site/m17/meter").readings.at(0).serial ==
               "meter");
    const auto missing = decode(R"({"ua":1})", site_map("topic:3"), "site/m17/meter");
    BOOST_TEST(missing.error == R"(topic:3: the topic "site/m17/meter" has no level 3)");
    BOOST_TEST(missing.readings.empty());
    BOOST_TEST(decode(R"({"ua":1})", site_map("topic:1"), "site//meter").error ==
               "topic:1: an empty serial");
}

BOOST_AUTO_TEST_CASE(serial_kinds) {
    BOOST_TEST(decode(R"({"sn":24102809510006})").readings.at(0).serial == "24102809510006");
    BOOST_TEST(decode(R"({"sn":{"id":"x"}})", site_map("sn.id")).readings.at(0).serial == "x");
    const std::vector<std::pair<std::string, std::string>> bad = {
        {R"({"ua":1})", "sn: missing"},
        {R"({"sn":null})", "sn: null where a serial (string or number) is expected"},
        {R"({"sn":""})", "sn: an empty serial"},
        {R"({"sn":-3})", "sn: a number that is not a whole serial below 2^53"},
        {R"({"sn":true})", "sn: a boolean where a serial (string or number) is expected"},
        {R"({"sn":"a\u0001b"})", R"(sn: a serial with control characters ("a?b"))"},
    };
    for (const auto& [payload, why] : bad) {
        const auto r = decode(payload);
        BOOST_TEST(r.error == why, payload);
        BOOST_TEST(r.readings.empty(), payload);
    }
}

BOOST_AUTO_TEST_CASE(ts_seconds_or_milliseconds_by_magnitude) {
    const auto ts = [](const std::string& t) {
        return decode(R"({"sn":"a","time":)" + t + "}").readings.at(0).ts_ms;
    };
    BOOST_TEST(ts("1738468200") == 1738468200000);     // s
    BOOST_TEST(ts("1738468200.123") == 1738468200123); // s with a fraction
    BOOST_TEST(ts("\"1738468200\"") == 1738468200000); // numeric string
    BOOST_TEST(ts("99999999999") == 99999999999000);   // just below 1e11: still s
    BOOST_TEST(ts("100000000000") == 100000000000);    // 1e11: ms
    BOOST_TEST(ts("1738468200123") == 1738468200123);  // ms
    BOOST_TEST(ts("0") == 0);
    BOOST_TEST(!ts("null").has_value());
    // absent from the message: arrival, but an error since the map names it
    const auto absent = decode(R"({"sn":"a","ua":1})");
    BOOST_TEST(absent.error == "time: missing");
    BOOST_TEST_REQUIRE(absent.readings.size() == 1U);
    BOOST_TEST(!absent.readings[0].ts_ms.has_value());
    BOOST_TEST(absent.readings[0].values.size() == 1U);
    // not configured: arrival, no error
    const auto none = decode(R"({"sn":"a","time":5})", site_map("sn", ""));
    BOOST_TEST(none.error == "");
    BOOST_TEST(!none.readings.at(0).ts_ms.has_value());
}

BOOST_AUTO_TEST_CASE(ts_iso8601) {
    const auto ts = [](const std::string& t) {
        return decode(R"({"sn":"a","time":")" + t + "\"}");
    };
    BOOST_TEST(ts("2025-01-16T02:05:00.250Z").readings.at(0).ts_ms == 1736993100250);
    BOOST_TEST(ts("2025-01-16T10:05:00.250+08:00").readings.at(0).ts_ms == 1736993100250);
    BOOST_TEST(ts("2025-01-16T10:05:00Z").error == "");
    const auto local = ts("2025-01-16T10:05:00");
    BOOST_TEST(local.error == R"(time: "2025-01-16T10:05:00" has no time zone (Z or +hh:mm): a )"
                              "local time is never guessed");
    BOOST_TEST_REQUIRE(local.readings.size() == 1U);
    BOOST_TEST(!local.readings[0].ts_ms.has_value());
    BOOST_TEST(ts("yesterday").error == R"(time: "yesterday" is not a time (Unix s or ms, or ISO )"
                                        "8601 such as 2025-01-16T10:05:00Z)");
    BOOST_TEST(decode(R"({"sn":"a","time":true})").error ==
               "time: a boolean where a time (Unix s or ms, or ISO 8601) is expected");
}

BOOST_AUTO_TEST_CASE(iso8601_parser) {
    std::string why;
    BOOST_TEST(iso("1970-01-01T00:00:00Z", why) == 0);
    BOOST_TEST(iso("1969-12-31T23:59:59Z", why) == -1000);
    BOOST_TEST(iso("2024-02-29T00:00:00Z", why) == 1709164800000);
    BOOST_TEST(iso("2024-02-29 00:00:00z", why) == 1709164800000);
    BOOST_TEST(iso("2024-02-29t00:00Z", why) == 1709164800000); // no seconds
    BOOST_TEST(iso("2025-01-16T10:05:00-05:30", why) == 1737041700000);
    BOOST_TEST(iso("2025-01-16T10:05:00-0530", why) == 1737041700000);
    BOOST_TEST(iso("2025-01-16T10:05:00-05", why) == 1737041700000 - std::int64_t{30} * 60 * 1000);
    BOOST_TEST(iso("2025-01-16T02:05:00.2Z", why) == 1736993100200);
    BOOST_TEST(iso("2025-01-16T02:05:00.123456789Z", why) == 1736993100123);
    BOOST_TEST(iso("2025-01-16T02:05:00,5Z", why) == 1736993100500);
    const std::vector<std::pair<std::string, std::string>> bad = {
        {"2023-02-29T00:00:00Z", R"("2023-02-29T00:00:00Z" is not a valid date and time)"},
        {"2025-13-01T00:00:00Z", R"("2025-13-01T00:00:00Z" is not a valid date and time)"},
        {"2025-01-01T24:00:00Z", R"("2025-01-01T24:00:00Z" is not a valid date and time)"},
        {"2025-01-01", R"("2025-01-01" is not a time (Unix s or ms, or ISO 8601 such as )"
                       "2025-01-16T10:05:00Z)"},
        {"2025-01-01T00:00:0Z", R"("2025-01-01T00:00:0Z": the seconds are not two digits)"},
        {"2025-01-01T00:00:00.Z", R"("2025-01-01T00:00:00.Z": no digits after the decimal point)"},
        {"2025-01-01T00:00:00+25:00",
         R"("2025-01-01T00:00:00+25:00": the time zone is not +hh:mm)"},
        {"2025-01-01T00:00:00+1", R"("2025-01-01T00:00:00+1": the time zone is not +hh:mm)"},
        {"2025-01-01T00:00:00Zjunk",
         R"("2025-01-01T00:00:00Zjunk": unexpected text after the time)"},
        {"2025-01-01T00:00:00 UTC", R"("2025-01-01T00:00:00 UTC": unexpected text after the time)"},
    };
    for (const auto& [text, want] : bad) {
        BOOST_TEST(!iso(text, why).has_value(), text);
        BOOST_TEST(why == want, text);
    }
}

BOOST_AUTO_TEST_CASE(top_level_array_is_one_reading_per_element) {
    const auto r =
        decode(R"([{"sn":"a","time":1,"ua":1},7,{"time":2,"ua":2},{"sn":"c","time":3,"ua":3}])");
    BOOST_TEST(r.error == "[1]: a number where an object is expected (and 1 more)");
    BOOST_TEST_REQUIRE(r.readings.size() == 2U);
    BOOST_TEST(r.readings[0].serial == "a");
    BOOST_TEST(r.readings[0].ts_ms == 1000);
    BOOST_TEST(r.readings[1].serial == "c");
    BOOST_TEST(r.readings[1].ts_ms == 3000);
    BOOST_TEST(decode(R"([{"sn":"a","time":1},{"time":2}])").error == "[1].sn: missing");
    BOOST_TEST(decode(R"([{"sn":"a","time":1,"ua":"x"}])").error ==
               R"([0].ua: a string where a number is expected ("x"))");
    const auto empty = decode("[]");
    BOOST_TEST(empty.error == "");
    BOOST_TEST(empty.readings.empty());
}

BOOST_AUTO_TEST_CASE(missing_values_are_skipped_wrong_ones_are_errors) {
    const auto r =
        decode(R"({"sn":"a","time":1,"ua":true,"p":null,"phases":[],"e":{"import":""}})");
    BOOST_TEST(r.error == "ua: a boolean where a number is expected");
    BOOST_TEST(r.skipped == 3U); // p null, phases.0 missing, e.import ""
    BOOST_TEST_REQUIRE(r.readings.size() == 1U);
    BOOST_TEST(r.readings[0].values.empty());
    BOOST_TEST(
        decode(R"({"sn":"a","time":1,"phases":{"0":{"i":"2"}}})").readings.at(0).values.size() ==
        1U); // "0" is a key on an object
    BOOST_TEST(decode(R"({"sn":"a","time":1,"phases":[{"i":[]}]})").error ==
               "phases.0.i: an array where a number is expected");
    BOOST_TEST(decode(R"({"sn":"a","time":1,"ua":{"x":1}})").error ==
               "ua: an object where a number is expected");
    BOOST_TEST(decode(R"({"sn":"a","time":1,"ua":"1e400"})").error ==
               R"(ua: a number out of range ("1e400"))");
}

BOOST_AUTO_TEST_CASE(absurd_input) {
    BOOST_TEST(decode("").error == "empty payload");
    BOOST_TEST(decode("42").error == "top level: a number where an object or an array is expected");
    BOOST_TEST(decode("\"sn\"").error ==
               "top level: a string where an object or an array is expected");
    BOOST_TEST(decode("null").error == "top level: null where an object or an array is expected");
    BOOST_TEST(decode("{\"sn\":").error.starts_with("not JSON: "));
    BOOST_TEST(decode(payload_of_size(max_payload_bytes + 1)).error ==
               "payload of 262145 bytes is larger than the 262144 accepted");
    BOOST_TEST(decode(nested_arrays(max_json_depth + 1)).error == "nested deeper than 16 levels");
    BOOST_TEST(decode(nested_arrays(max_json_depth)).error ==
               "[0]: an array where an object is expected");
}

BOOST_AUTO_TEST_CASE(make_decoder_knows_three_formats) {
    format_settings s;
    for (const auto* f : {"acrel-json-v2", "acrel-shadow", "json"}) {
        s.format = f;
        BOOST_TEST((make_decoder(s) != nullptr), f);
    }
    for (const auto* f : {"", "acrel-hw", "JSON"}) {
        s.format = f;
        BOOST_TEST((make_decoder(s) == nullptr), f);
    }
}

BOOST_AUTO_TEST_SUITE_END()
